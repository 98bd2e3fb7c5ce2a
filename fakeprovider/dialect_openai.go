package fakeprovider

import (
	"fmt"
	"math"
	"time"

	"github.com/headroomhq/headroom/catalog"
)

// OpenAI: requests and tokens per minute; capacity replenishes continuously,
// and the reset is the time until the limit is back to its initial state, as
// a Go duration rounded to milliseconds ("1s", "12ms", "6m0s").
// https://platform.openai.com/docs/guides/rate-limits
var _ = register(&dialect{
	name: "openai",
	kind: tokenBucket,
	headers: []limitHeader{
		{resource: "requests", window: "1m", limit: "x-ratelimit-limit-requests", remaining: "x-ratelimit-remaining-requests", reset: "x-ratelimit-reset-requests", format: durationMillis},
		{resource: "tokens", window: "1m", limit: "x-ratelimit-limit-tokens", remaining: "x-ratelimit-remaining-tokens", reset: "x-ratelimit-reset-tokens", format: durationMillis},
	},
	retryAfter: "retry-after",
	// Limits depend on the organisation's tier; these are the values of the
	// rate-limits guide's 429 example (500 RPM, 30,000 TPM).
	defaults: []catalog.Limit{
		{Resource: "requests", Window: "1m", Value: 500},
		{Resource: "tokens", Window: "1m", Value: 30000},
	},
	rateLimited: openAIRateLimited,
})

// openAIRateLimited is the error OpenAI documents for an exhausted limit.
func openAIRateLimited(t *throttle) []byte {
	unit := "requests per min (RPM)"
	if t.Resource != "requests" {
		unit = "tokens per min (TPM)"
	}
	if t.Window != "1m" {
		unit = fmt.Sprintf("%s per %s", t.Resource, windowPhrase(t.Window))
	}
	msg := fmt.Sprintf("Rate limit reached for %s in organization org-fakeprovider on %s: Limit %s, Used %s, Requested %s. Please try again in %s. Visit https://platform.openai.com/account/rate-limits to learn more.",
		t.Model, unit, formatCount(t.Limit), formatCount(math.Ceil(t.Used)), formatCount(t.Requested), ceilDur(t.RetryAfter, time.Millisecond))
	return openAIError(t.Resource, msg, "rate_limit_exceeded")
}
