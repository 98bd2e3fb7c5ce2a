package fakeprovider

import "github.com/headroomhq/headroom/catalog"

// Heroku Managed Inference (seed 000): requests and tokens per minute per
// model over a one-minute sliding window; the reset is the time until the
// oldest entry in the window expires, as a duration ("51s", "1m0s").
var _ = register(&dialect{
	name: "heroku",
	kind: slidingWindow,
	headers: []limitHeader{
		{resource: "requests", window: "1m", limit: "x-ratelimit-limit-requests", remaining: "x-ratelimit-remaining-requests", reset: "x-ratelimit-reset-requests", format: durationSeconds},
		{resource: "tokens", window: "1m", limit: "x-ratelimit-limit-tokens", remaining: "x-ratelimit-remaining-tokens", reset: "x-ratelimit-reset-tokens", format: durationSeconds},
	},
	retryAfter: "Retry-After",
	// The most common row of the seed's table (Claude Sonnet models).
	defaults: []catalog.Limit{
		{Resource: "requests", Window: "1m", Value: 150},
		{Resource: "tokens", Window: "1m", Value: 800000},
	},
	rateLimited: func(*throttle) []byte {
		return []byte(`{"error":{"message":"rate limit exceeded"}}`)
	},
})
