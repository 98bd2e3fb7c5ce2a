package fakeprovider

import (
	"net/http"

	"github.com/headroomhq/headroom/catalog"
)

// Fireworks AI serverless, https://docs.fireworks.ai/serverless/rate-limits:
// per-minute requests (the account-wide 6,000 RPM ceiling, a catalog key
// limit), total prompt tokens and generated tokens per model, reported
// without reset headers; x-ratelimit-over-limit says whether the request
// was served above the limit. The fake caches nothing, so the uncached
// ("cache-adjusted") prompt budget it reports equals the total prompt
// budget. Observed 429s carry no Retry-After, so the fake sends none; their
// body is the generic error below. One-minute sliding windows.
var _ = register(&dialect{
	name: "fireworks",
	kind: slidingWindow,
	headers: []limitHeader{
		{resource: "requests", window: "1m", limit: "x-ratelimit-limit-requests", remaining: "x-ratelimit-remaining-requests"},
		{resource: "input_tokens", window: "1m", limit: "x-ratelimit-limit-tokens-prompt", remaining: "x-ratelimit-remaining-tokens-prompt"},
		{resource: "input_tokens", window: "1m", limit: "x-ratelimit-limit-tokens-cache-adjusted-prompt", remaining: "x-ratelimit-remaining-tokens-cache-adjusted-prompt"},
		{resource: "output_tokens", window: "1m", limit: "x-ratelimit-limit-tokens-generated", remaining: "x-ratelimit-remaining-tokens-generated"},
	},
	// The starting adaptive token limits the catalog quotes (3.6M total
	// prompt, 36k generated per minute); requests come from the catalog's
	// key limit.
	defaults: []catalog.Limit{
		{Resource: "requests", Window: "1m", Value: 60},
		{Resource: "input_tokens", Window: "1m", Value: 3600000},
		{Resource: "output_tokens", Window: "1m", Value: 36000},
	},
	extra: func(h http.Header, _ *emission) { h["x-ratelimit-over-limit"] = []string{"no"} },
	rateLimited: func(*throttle) []byte {
		return []byte(`{"object":"error","type":"invalid_request_error","code":"invalid_request_error","message":"rate limit exceeded, please try again later"}`)
	},
	errorBody: func(_ int, kind, message string) []byte {
		return mustJSON(struct {
			Object  string `json:"object"`
			Type    string `json:"type"`
			Code    string `json:"code"`
			Message string `json:"message"`
		}{"error", kind, kind, message})
	},
})
