package parsers

import (
	"encoding/json"
	"net/http"
	"strings"
)

// Cerebras Inference, https://inference-docs.cerebras.ai/support/rate-limits
// ("Rate Limit Headers"). Cerebras enforces requests and tokens per minute,
// hour and day (RPM/RPH/RPD, TPM/TPH/TPD) with a token bucket. Its docs list
// six headers (requests per day, tokens per minute), but responses carry the
// whole grid, as captured in public repositories (e.g. the Cerebras
// provider fixtures of https://github.com/maruel/genai):
//
//	x-ratelimit-{limit,remaining,reset}-{requests,tokens}-{minute,hour,day}
//
// and all eighteen are read: windows 1m, 1h and 1d for requests and tokens.
// Resets are seconds from now, fractional ("33011.382867097855").
// A 429 body names the limit that was hit, e.g. (grammar-nazi-bot#958,
// opencode#7463):
//
//	{"message":"Requests per minute limit exceeded - too many requests sent.",
//	 "type":"too_many_requests_error","param":"quota","code":"request_quota_exceeded"}
//
// with code token_quota_exceeded and "Tokens per minute limit exceeded" for
// tokens; it decides ThrottledResource. Retry-After is not in Cerebras'
// header table; it is read when present because it is the standard header
// for the purpose.
var Cerebras = registerHeaderDialect(&HeaderDialect{
	DialectName: "cerebras",
	Limits:      cerebrasLimits(),
	RetryAfter:  "Retry-After",
	BodyStatus:  func(status int) bool { return status == http.StatusTooManyRequests },
	Body:        cerebrasBody,
})

// cerebrasLimits is the grid: requests and tokens, each per minute, hour
// and day.
func cerebrasLimits() []LimitHeaders {
	var out []LimitHeaders
	for _, res := range []string{Requests, Tokens} {
		for _, w := range []struct{ word, window string }{{"minute", "1m"}, {"hour", "1h"}, {"day", "1d"}} {
			suffix := "-" + res + "-" + w.word
			out = append(out, LimitHeaders{Resource: res, Window: w.window,
				Limit: "x-ratelimit-limit" + suffix, Remaining: "x-ratelimit-remaining" + suffix, Reset: "x-ratelimit-reset" + suffix,
				ResetFormat: FormatSeconds})
		}
	}
	return out
}

type cerebrasError struct {
	Message string `json:"message"`
	Code    string `json:"code"`
}

func cerebrasBody(in *Input, _ clock, r *Result) {
	var e cerebrasError
	if err := json.Unmarshal(in.Body, &e); err != nil {
		r.addBodyError(in.Body)
		return
	}
	switch {
	case e.Code == "request_quota_exceeded" || strings.HasPrefix(e.Message, "Requests per"):
		r.ThrottledResource = Requests
	case e.Code == "token_quota_exceeded" || strings.HasPrefix(e.Message, "Tokens per"):
		r.ThrottledResource = Tokens
	}
}
