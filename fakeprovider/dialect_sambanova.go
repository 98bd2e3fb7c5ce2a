package fakeprovider

import "github.com/headroomhq/headroom/catalog"

// SambaNova Cloud (seed 003): requests per minute, hour and day per model, in
// fixed UTC windows; resets are epoch seconds. The seed does not document the
// 429 body; the fake sends the OpenAI-compatible error SambaNova's API uses
// for its other errors.
var _ = register(&dialect{
	name: "sambanova",
	kind: fixedWindow,
	headers: []limitHeader{
		{resource: "requests", window: "1m", limit: "x-ratelimit-limit-requests", remaining: "x-ratelimit-remaining-requests", reset: "x-ratelimit-reset-requests", format: epochSeconds},
		{resource: "requests", window: "1h", limit: "x-ratelimit-limit-requests-hour", remaining: "x-ratelimit-remaining-requests-hour", reset: "x-ratelimit-reset-requests-hour", format: epochSeconds},
		{resource: "requests", window: "1d", limit: "x-ratelimit-limit-requests-day", remaining: "x-ratelimit-remaining-requests-day", reset: "x-ratelimit-reset-requests-day", format: epochSeconds},
	},
	retryAfter: "Retry-After",
	// The smallest Developer-tier row of the seed's tables (DeepSeek-V3-0324).
	defaults: []catalog.Limit{
		{Resource: "requests", Window: "1m", Value: 10},
		{Resource: "requests", Window: "1h", Value: 50},
		{Resource: "requests", Window: "1d", Value: 600},
	},
	rateLimited: func(t *throttle) []byte {
		return openAIError("rate_limit_exceeded", "Rate limit exceeded: requests per "+windowPhrase(t.Window), "rate_limit_exceeded")
	},
})
