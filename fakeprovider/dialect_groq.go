package fakeprovider

import (
	"fmt"
	"math"
	"time"

	"github.com/headroomhq/headroom/catalog"
)

// Groq, https://console.groq.com/docs/rate-limits: OpenAI's header names, but
// "-requests" is requests per day and "-tokens" tokens per minute; resets are
// Go durations until the bucket is full ("2m59.56s", "7.66s"). Groq also
// enforces RPM and TPD, which no header carries; every limit is a token
// bucket here. A 429 has retry-after and the error naming the limit with its
// figures ("on tokens per minute (TPM): Limit 6000, Used 5034, Requested
// 1443.").
var _ = register(&dialect{
	name: "groq",
	kind: tokenBucket,
	headers: []limitHeader{
		{resource: "requests", window: "1d", limit: "x-ratelimit-limit-requests", remaining: "x-ratelimit-remaining-requests", reset: "x-ratelimit-reset-requests", format: durationMillis},
		{resource: "tokens", window: "1m", limit: "x-ratelimit-limit-tokens", remaining: "x-ratelimit-remaining-tokens", reset: "x-ratelimit-reset-tokens", format: durationMillis},
	},
	retryAfter: "retry-after",
	// The free plan's llama-3.1-8b-instant.
	defaults: []catalog.Limit{
		{Resource: "requests", Window: "1m", Value: 30},
		{Resource: "requests", Window: "1d", Value: 14400},
		{Resource: "tokens", Window: "1m", Value: 6000},
		{Resource: "tokens", Window: "1d", Value: 500000},
	},
	rateLimited: groqRateLimited,
})

func groqRateLimited(t *throttle) []byte {
	names := map[string]string{"requests": "requests", "tokens": "tokens", "input_tokens": "input tokens", "output_tokens": "output tokens"}
	tags := map[string]string{"requests": "R", "tokens": "T", "input_tokens": "IT", "output_tokens": "OT"}
	unit := fmt.Sprintf("%s per %s (%sP%s)", names[t.Resource], windowPhrase(t.Window), tags[t.Resource], map[string]string{"1m": "M", "1h": "H", "1d": "D"}[t.Window])
	typ := "tokens"
	if t.Resource == "requests" {
		typ = "requests"
	}
	msg := fmt.Sprintf("Rate limit reached for model `%s` in organization `org_fakeprovider` service tier `on_demand` on %s: Limit %s, Used %s, Requested %s. Please try again in %s. Visit https://console.groq.com/docs/rate-limits for more information.",
		t.Model, unit, formatCount(t.Limit), formatCount(math.Ceil(t.Used)), formatCount(t.Requested), ceilDur(t.RetryAfter, 10*time.Millisecond))
	type inner struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Code    string `json:"code"`
	}
	return mustJSON(struct {
		Error inner `json:"error"`
	}{inner{msg, typ, "rate_limit_exceeded"}})
}
