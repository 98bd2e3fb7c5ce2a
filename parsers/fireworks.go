package parsers

import "net/http"

// Fireworks AI serverless inference, https://docs.fireworks.ai/serverless/rate-limits:
// adaptive per-account, per-model limits on three token rates, "Total Prompt
// TPM" (input tokens, cached and uncached), "Uncached Prompt TPM" and
// "Generated TPM" (output tokens), reported as
//
//	x-ratelimit-limit-tokens-prompt / x-ratelimit-remaining-tokens-prompt
//	x-ratelimit-limit-tokens-cache-adjusted-prompt / x-ratelimit-remaining-tokens-cache-adjusted-prompt
//	x-ratelimit-limit-tokens-generated / x-ratelimit-remaining-tokens-generated
//	x-ratelimit-over-limit: yes|no (served above the limit at lower priority)
//
// and, in the earlier dynamic-limits scheme
// (https://docs.fireworks.ai/guides/quotas_usage/rate-limits),
// x-ratelimit-limit-requests / x-ratelimit-remaining-requests: "the maximum
// number of requests or tokens that are permitted per minute".
//
// The window is one minute. The current page says the headers are
// "described in tokens per second", but it also says "Enforcement uses TPM",
// and the values Fireworks' own published measurements show are per-minute
// figures: 216000 generated and 5400000 cache-adjusted prompt for a large
// model, exactly the page's per-minute ceilings (216k Generated TPM, 5.4M
// Uncached Prompt TPM), in https://github.com/fw-ai/.github
// kimi-k2p6-rpm-stress.json (5 August 2026).
//
// Total prompt tokens are input_tokens/1m and generated tokens
// output_tokens/1m. The uncached (cache-adjusted) prompt budget has no
// resource label of its own and is not exported (it would overwrite
// input_tokens/1m with a different budget); it is read so that a 429 with
// that budget exhausted is blamed on input_tokens. No reset headers exist;
// over-limit is a flag, not a number, and is not exported. Observed 429s
// carry no Retry-After, but one is read if sent.
var Fireworks Dialect = newFireworks()

func init() { Register(Fireworks) }

type fireworksDialect struct {
	*HeaderDialect
	uncached compiledLimit
}

func newFireworks() *fireworksDialect {
	d := &fireworksDialect{HeaderDialect: &HeaderDialect{
		DialectName: "fireworks",
		Limits: []LimitHeaders{
			{Resource: Requests, Window: "1m", Limit: "x-ratelimit-limit-requests", Remaining: "x-ratelimit-remaining-requests"},
			{Resource: InputTokens, Window: "1m", Limit: "x-ratelimit-limit-tokens-prompt", Remaining: "x-ratelimit-remaining-tokens-prompt"},
			{Resource: OutputTokens, Window: "1m", Limit: "x-ratelimit-limit-tokens-generated", Remaining: "x-ratelimit-remaining-tokens-generated"},
		},
		RetryAfter: "Retry-After",
		// The uncached budget is read below; over-limit is a flag.
		Known: []string{"x-ratelimit-limit-tokens-cache-adjusted-prompt", "x-ratelimit-remaining-tokens-cache-adjusted-prompt",
			"x-ratelimit-over-limit"},
	}}
	d.compile()
	u := (&HeaderDialect{Limits: []LimitHeaders{{
		Resource:  InputTokens,
		Window:    "1m",
		Limit:     "x-ratelimit-limit-tokens-cache-adjusted-prompt",
		Remaining: "x-ratelimit-remaining-tokens-cache-adjusted-prompt",
	}}}).compile()
	d.uncached = u.compiled[0]
	return d
}

func (d *fireworksDialect) Parse(in *Input, r *Result) {
	d.HeaderDialect.Parse(in, r)
	// The uncached budget: validated (bad values are reported like any
	// other) and used only to attribute a 429.
	h := headerOf(in)
	if v, ok := d.value(&h, d.uncached.limitKey, d.uncached.limitName, -1, r); ok {
		if _, err := parseCount(v); err != nil {
			r.addError(d.uncached.limitName, v, err)
		}
	}
	v, ok := d.value(&h, d.uncached.remainingKey, d.uncached.remainingName, -1, r)
	if !ok {
		return
	}
	n, err := parseCount(v)
	if err != nil {
		r.addError(d.uncached.remainingName, v, err)
		return
	}
	if n == 0 && in.Status == http.StatusTooManyRequests && r.ThrottledResource == "" {
		r.ThrottledResource = InputTokens
	}
}
