package parsers

import (
	"encoding/json"
	"net/http"
	"strings"
)

// Cerebras Inference, as documented at
// https://inference-docs.cerebras.ai/support/rate-limits ("Rate Limit
// Headers"). Cerebras enforces requests and tokens per minute, hour and day
// (RPM/RPH/RPD, TPM/TPH/TPD) with a token bucket, but documents exactly six
// headers, and only these are read:
//
//	x-ratelimit-limit-requests-day       x-ratelimit-limit-tokens-minute
//	x-ratelimit-remaining-requests-day   x-ratelimit-remaining-tokens-minute
//	x-ratelimit-reset-requests-day       x-ratelimit-reset-tokens-minute
//
// Resets are seconds from now, fractional ("33011.382867097855").
// A 429 body names the limit that was hit, e.g. (grammar-nazi-bot#958,
// opencode#7463):
//
//	{"message":"Requests per minute limit exceeded - too many requests sent.",
//	 "type":"too_many_requests_error","param":"quota","code":"request_quota_exceeded"}
//
// with code token_quota_exceeded and "Tokens per minute limit exceeded" for
// tokens; it decides ThrottledResource (the per-minute request limit has no
// header). Retry-After is not in Cerebras' header table; it is read when
// present because it is the standard header for the purpose.
var Cerebras = registerHeaderDialect(&HeaderDialect{
	DialectName: "cerebras",
	Limits: []LimitHeaders{
		{Resource: Requests, Window: "1d", Limit: "x-ratelimit-limit-requests-day", Remaining: "x-ratelimit-remaining-requests-day", Reset: "x-ratelimit-reset-requests-day", ResetFormat: FormatSeconds},
		{Resource: Tokens, Window: "1m", Limit: "x-ratelimit-limit-tokens-minute", Remaining: "x-ratelimit-remaining-tokens-minute", Reset: "x-ratelimit-reset-tokens-minute", ResetFormat: FormatSeconds},
	},
	RetryAfter: "Retry-After",
	BodyStatus: func(status int) bool { return status == http.StatusTooManyRequests },
	Body:       cerebrasBody,
})

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
