package fakeprovider

import "github.com/headroomhq/headroom/catalog"

// Infercom Inference Service (seed 001): requests per minute and per day per
// model, in fixed UTC windows; resets are epoch seconds.
var _ = register(&dialect{
	name: "infercom",
	kind: fixedWindow,
	headers: []limitHeader{
		{resource: "requests", window: "1m", limit: "x-ratelimit-limit-requests", remaining: "x-ratelimit-remaining-requests", reset: "x-ratelimit-reset-requests", format: epochSeconds},
		{resource: "requests", window: "1d", limit: "x-ratelimit-limit-requests-day", remaining: "x-ratelimit-remaining-requests-day", reset: "x-ratelimit-reset-requests-day", format: epochSeconds},
	},
	retryAfter: "Retry-After",
	// The smallest Developer-tier row of the seed's tables (Qwen3-32B).
	defaults: []catalog.Limit{
		{Resource: "requests", Window: "1m", Value: 30},
		{Resource: "requests", Window: "1d", Value: 6000},
	},
	rateLimited: func(*throttle) []byte {
		return []byte(`{"error":{"message":"Rate limit exceeded","type":"rate_limit_exceeded"}}`)
	},
})
