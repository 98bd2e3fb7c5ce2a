package parsers

import (
	"bytes"
	"net/http"
)

// Together AI serverless inference, https://docs.together.ai/docs/rate-limits:
// "We measure rate limits in seconds, but display them in minutes": the
// headers are per second, so the window is 1s.
//
//	x-ratelimit-limit              requests per second permitted
//	x-ratelimit-remaining          requests per second remaining
//	x-ratelimit-reset              time until the request limit resets (seconds)
//	x-tokenlimit-limit             tokens per second permitted
//	x-tokenlimit-remaining         tokens per second remaining
//	x-ratelimit-limit-dynamic      the dynamic request limit (per second)
//	x-ratelimit-remaining-dynamic  remaining under it
//	x-tokenlimit-limit-dynamic     the dynamic token limit (per second)
//	x-tokenlimit-remaining-dynamic remaining under it
//
// There is no token reset header. Since the dynamic limits (rolled out from
// 26 January 2026) a request above the dynamic rate gets 429 with error type
// "dynamic_request_limited" or "dynamic_token_limited", one at or below it a
// 503. The docs now say the headers come only on 429 responses
// (togethercomputer/mintlify-docs #1269, as synced in
// https://github.com/togethercomputer/skills/pull/61).
//
// Decisions (docs/metrics.md, "Resources"):
//
//   - Both limits are exported. The static limit is the contract's
//     requests and tokens per second (resource requests and tokens), the
//     dynamic one a second bucket under its own resources,
//     dynamic_requests and dynamic_tokens, so that neither overwrites the
//     other and a dashboard shows both side by side.
//   - x-ratelimit-reset is the reset of both request limits.
//   - A 429 is blamed on the dynamic bucket its body names
//     (dynamic_request_limited → dynamic_requests, dynamic_token_limited →
//     dynamic_tokens); otherwise on the exhausted limit.
//   - The dynamic headers are conditional for drift: a response without
//     them is not a family that stopped (Result.Families).
//
// Together sends x-ratelimit-reset as a plain number of seconds, read as
// FormatSeconds (fractions allowed; an epoch value is still recognised).
var Together = registerHeaderDialect(&HeaderDialect{
	DialectName: "together",
	Limits: []LimitHeaders{
		{Resource: Requests, Window: "1s", Limit: "x-ratelimit-limit", Remaining: "x-ratelimit-remaining", Reset: "x-ratelimit-reset", ResetFormat: FormatSeconds},
		{Resource: Tokens, Window: "1s", Limit: "x-tokenlimit-limit", Remaining: "x-tokenlimit-remaining"},
		{Resource: DynamicRequests, Window: "1s", Limit: "x-ratelimit-limit-dynamic", Remaining: "x-ratelimit-remaining-dynamic", Reset: "x-ratelimit-reset", ResetFormat: FormatSeconds, Conditional: true},
		{Resource: DynamicTokens, Window: "1s", Limit: "x-tokenlimit-limit-dynamic", Remaining: "x-tokenlimit-remaining-dynamic", Conditional: true},
	},
	RetryAfter: "Retry-After",
	BodyStatus: func(status int) bool { return status == http.StatusTooManyRequests },
	Body:       togetherBody,
})

// togetherBody names the dynamic bucket a 429 hit. The error type is all
// that is read, so the body is searched rather than decoded.
func togetherBody(in *Input, _ clock, r *Result) {
	switch {
	case bytes.Contains(in.Body, []byte(`dynamic_token_limited`)):
		r.ThrottledResource = DynamicTokens
	case bytes.Contains(in.Body, []byte(`dynamic_request_limited`)):
		r.ThrottledResource = DynamicRequests
	}
}
