package fakeprovider

import (
	"github.com/headroomhq/headroom/catalog"
	"github.com/headroomhq/headroom/parsers"
)

// Two spellings of the OpenAI-style x-ratelimit family as providers outside
// Headroom's catalog send them (parsers/auto.go), read by Headroom's
// generic dialect auto. With the fake's openai dialect (OpenAI's names,
// which state no window: auto reads them with the provider's windows), they
// stand for the providers a user configures without a dialect.

// generic-windowed: the window in every name, in mixed case as some servers
// send it (X-RateLimit-Limit-Requests-Minute, as Cerebras and Kong do);
// resets are fractional seconds from now; fixed windows; Retry-After on 429.
var _ = register(&dialect{
	name: "generic-windowed",
	kind: fixedWindow,
	headers: []limitHeader{
		{resource: "requests", window: "1m", limit: "X-RateLimit-Limit-Requests-Minute", remaining: "X-RateLimit-Remaining-Requests-Minute", reset: "X-RateLimit-Reset-Requests-Minute", format: secondsFromNowFrac},
		{resource: "tokens", window: "1m", limit: "X-RateLimit-Limit-Tokens-Minute", remaining: "X-RateLimit-Remaining-Tokens-Minute", reset: "X-RateLimit-Reset-Tokens-Minute", format: secondsFromNowFrac},
		{resource: "requests", window: "1d", limit: "X-RateLimit-Limit-Requests-Day", remaining: "X-RateLimit-Remaining-Requests-Day", reset: "X-RateLimit-Reset-Requests-Day", format: secondsFromNowFrac},
	},
	retryAfter: "Retry-After",
	defaults: []catalog.Limit{
		{Resource: "requests", Window: "1m", Value: 60},
		{Resource: "tokens", Window: "1m", Value: 100000},
		{Resource: "requests", Window: "1d", Value: 10000},
	},
	rateLimited: func(t *throttle) []byte {
		return openAIError("rate_limit_exceeded", "Rate limit exceeded: "+t.Resource+" per "+windowPhrase(t.Window), "rate_limit_exceeded")
	},
	parser: parsers.Auto,
})

// generic-hyphenated: "rate-limit" hyphenated, windows as durations
// (x-rate-limit-limit-requests-1m, x-rate-limit-remaining-tokens-60s),
// resets as Unix seconds; sliding windows; only retry-after-ms on 429.
var _ = register(&dialect{
	name: "generic-hyphenated",
	kind: slidingWindow,
	headers: []limitHeader{
		{resource: "requests", window: "1m", limit: "x-rate-limit-limit-requests-1m", remaining: "x-rate-limit-remaining-requests-1m", reset: "x-rate-limit-reset-requests-1m", format: epochSeconds},
		{resource: "tokens", window: "1m", limit: "x-rate-limit-limit-tokens-60s", remaining: "x-rate-limit-remaining-tokens-60s", reset: "x-rate-limit-reset-tokens-60s", format: epochSeconds},
	},
	retryAfterMillis: "retry-after-ms",
	defaults: []catalog.Limit{
		{Resource: "requests", Window: "1m", Value: 30},
		{Resource: "tokens", Window: "1m", Value: 50000},
	},
	rateLimited: func(t *throttle) []byte {
		return openAIError("rate_limit_error", "Too many "+t.Resource+"; slow down", nil)
	},
	parser: parsers.Auto,
})
