package fakeprovider

import (
	"fmt"
	"strings"

	"github.com/headroomhq/headroom/catalog"
)

// Cerebras Inference, https://inference-docs.cerebras.ai/support/rate-limits:
// requests and tokens per minute, hour and day, every one with its
// x-ratelimit-{limit,remaining,reset}-{requests,tokens}-{minute,hour,day}
// headers (as recorded responses show: parsers/cerebras.go); resets are
// fractional seconds until the end of the window ("33011.382867097855": the
// documented example's minute and day resets share their fraction, so the
// windows are aligned); fixed UTC-aligned windows here, resets in
// milliseconds. A 429 carries the documented error ("Tokens per minute limit
// exceeded - too many tokens processed.") and retry-after, which Cerebras
// does not document.
var _ = register(&dialect{
	name:       "cerebras",
	kind:       fixedWindow,
	headers:    cerebrasHeaders(),
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

// cerebrasHeaders is the grid, requests first, each window shortest first.
func cerebrasHeaders() []limitHeader {
	var out []limitHeader
	for _, res := range []string{"requests", "tokens"} {
		for _, w := range []struct{ word, window string }{{"minute", "1m"}, {"hour", "1h"}, {"day", "1d"}} {
			suffix := "-" + res + "-" + w.word
			out = append(out, limitHeader{resource: res, window: w.window,
				limit: "x-ratelimit-limit" + suffix, remaining: "x-ratelimit-remaining" + suffix, reset: "x-ratelimit-reset" + suffix,
				format: secondsFromNowFrac})
		}
	}
	return out
}

func cerebrasError(message, typ, param, code string) []byte {
	return mustJSON(struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Param   string `json:"param"`
		Code    string `json:"code"`
	}{message, typ, param, code})
}
