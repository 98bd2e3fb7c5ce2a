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
// 503: the dynamic limit is the one a 429 means, so when a response carries
// both it is the one exported; the static pair is the fallback. The docs now
// say the headers come only on 429 responses (togethercomputer/mintlify-docs
// #1269, as synced in https://github.com/togethercomputer/skills/pull/61).
//
// Together sends x-ratelimit-reset as a plain number of seconds, read as
// FormatSeconds (fractions allowed; an epoch value is still recognised).
var Together Dialect = newTogether()

func init() { Register(Together) }

type togetherDialect struct {
	// static and dynamic have the same shape, index by index.
	static, dynamic *HeaderDialect
}

func newTogether() *togetherDialect {
	d := &togetherDialect{
		static: &HeaderDialect{
			DialectName: "together",
			Limits: []LimitHeaders{
				{Resource: Requests, Window: "1s", Limit: "x-ratelimit-limit", Remaining: "x-ratelimit-remaining", Reset: "x-ratelimit-reset", ResetFormat: FormatSeconds},
				{Resource: Tokens, Window: "1s", Limit: "x-tokenlimit-limit", Remaining: "x-tokenlimit-remaining"},
			},
			RetryAfter: "Retry-After",
		},
		dynamic: &HeaderDialect{
			DialectName: "together",
			Limits: []LimitHeaders{
				{Resource: Requests, Window: "1s", Limit: "x-ratelimit-limit-dynamic", Remaining: "x-ratelimit-remaining-dynamic", Reset: "x-ratelimit-reset", ResetFormat: FormatSeconds},
				{Resource: Tokens, Window: "1s", Limit: "x-tokenlimit-limit-dynamic", Remaining: "x-tokenlimit-remaining-dynamic"},
			},
		},
	}
	d.static.compile()
	d.dynamic.compile()
	return d
}

func (d *togetherDialect) Name() string { return "together" }

func (*togetherDialect) readsFields() {}

// WantsBody: the 429 body names the limit that was hit.
func (d *togetherDialect) WantsBody(status int) bool { return status == http.StatusTooManyRequests }

func (d *togetherDialect) Parse(in *Input, r *Result) {
	c := newClock(in)
	h := headerOf(in)
	last := resetMemo{obs: -1}
	from := len(r.Observations)
	for i := range d.dynamic.compiled {
		n := len(r.Observations)
		d.dynamic.parseLimit(&h, &d.dynamic.compiled[i], &c, &last, r)
		if len(r.Observations) == n {
			d.static.parseLimit(&h, &d.static.compiled[i], &c, &last, r)
		}
	}
	d.static.parseRetryAfter(&h, &c, r)
	if in.Status != http.StatusTooManyRequests || r.ThrottledResource != "" {
		return
	}
	switch {
	case bytes.Contains(in.Body, []byte(`dynamic_token_limited`)):
		r.ThrottledResource = Tokens
	case bytes.Contains(in.Body, []byte(`dynamic_request_limited`)):
		r.ThrottledResource = Requests
	default:
		r.ThrottledResource = throttledByRemaining(r, from)
	}
}
