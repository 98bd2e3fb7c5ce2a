package fakeprovider

import (
	"fmt"
	"strings"

	"github.com/headroomhq/headroom/catalog"
)

// Cerebras Inference, https://inference-docs.cerebras.ai/support/rate-limits:
// requests and tokens per minute, hour and day, of which only the daily
// requests and the per-minute tokens have headers; resets are fractional
// seconds until the end of the window ("33011.382867097855": the documented
// example's minute and day resets share their fraction, so the windows are
// aligned); fixed UTC-aligned windows here, resets in milliseconds. A 429
// carries the documented error ("Tokens per minute limit exceeded - too many
// tokens processed.") and retry-after, which Cerebras does not document.
var _ = register(&dialect{
	name: "cerebras",
	kind: fixedWindow,
	headers: []limitHeader{
		{resource: "requests", window: "1d", limit: "x-ratelimit-limit-requests-day", remaining: "x-ratelimit-remaining-requests-day", reset: "x-ratelimit-reset-requests-day", format: secondsFromNowFrac},
		{resource: "tokens", window: "1m", limit: "x-ratelimit-limit-tokens-minute", remaining: "x-ratelimit-remaining-tokens-minute", reset: "x-ratelimit-reset-tokens-minute", format: secondsFromNowFrac},
	},
	retryAfter: "retry-after",
	// The free tier's llama3.1-8b.
	defaults: []catalog.Limit{
		{Resource: "requests", Window: "1m", Value: 30},
		{Resource: "requests", Window: "1h", Value: 900},
		{Resource: "requests", Window: "1d", Value: 14400},
		{Resource: "tokens", Window: "1m", Value: 60000},
		{Resource: "tokens", Window: "1h", Value: 1000000},
		{Resource: "tokens", Window: "1d", Value: 1000000},
	},
	rateLimited: func(t *throttle) []byte {
		what, code := "Requests", "request_quota_exceeded"
		tail := "too many requests sent"
		if t.Resource != "requests" {
			what, code, tail = "Tokens", "token_quota_exceeded", "too many tokens processed"
		}
		return cerebrasError(fmt.Sprintf("%s per %s limit exceeded - %s.", what, windowPhrase(t.Window), tail), "too_many_requests_error", "quota", code)
	},
	errorBody: func(status int, kind, message string) []byte {
		code := strings.TrimSuffix(kind, "_error")
		return cerebrasError(message, kind, "", code)
	},
})

func cerebrasError(message, typ, param, code string) []byte {
	return mustJSON(struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Param   string `json:"param"`
		Code    string `json:"code"`
	}{message, typ, param, code})
}
