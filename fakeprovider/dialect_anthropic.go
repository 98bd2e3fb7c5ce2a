package fakeprovider

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/headroomhq/headroom/catalog"
)

// Anthropic (Claude API), https://docs.anthropic.com/en/api/rate-limits:
// requests, input tokens and output tokens per minute per model, enforced
// with a token bucket; the reset is the RFC 3339 time at which the bucket is
// full again, and token "-remaining" values are rounded to the nearest
// thousand. anthropic-ratelimit-tokens-* is the most restrictive token limit
// in effect: the catalog's tokens/1m when one is set, otherwise input and
// output combined. A 429 carries retry-after, x-should-retry: true and the
// documented error naming the limit. Output tokens are charged at admission
// from max_tokens, as Anthropic estimates them. Like the API, /messages and
// /models answer 400 without an anthropic-version header
// (https://docs.anthropic.com/en/api/versioning).
var _ = register(&dialect{
	name: "anthropic",
	kind: tokenBucket,
	headers: []limitHeader{
		{resource: "requests", window: "1m", limit: "anthropic-ratelimit-requests-limit", remaining: "anthropic-ratelimit-requests-remaining", reset: "anthropic-ratelimit-requests-reset", format: rfc3339},
		{resource: "tokens", window: "1m", limit: "anthropic-ratelimit-tokens-limit", remaining: "anthropic-ratelimit-tokens-remaining", reset: "anthropic-ratelimit-tokens-reset", format: rfc3339, round: 1000},
		{resource: "input_tokens", window: "1m", limit: "anthropic-ratelimit-input-tokens-limit", remaining: "anthropic-ratelimit-input-tokens-remaining", reset: "anthropic-ratelimit-input-tokens-reset", format: rfc3339, round: 1000},
		{resource: "output_tokens", window: "1m", limit: "anthropic-ratelimit-output-tokens-limit", remaining: "anthropic-ratelimit-output-tokens-remaining", reset: "anthropic-ratelimit-output-tokens-reset", format: rfc3339, round: 1000},
		{resource: "priority_input_tokens", window: "1m", limit: "anthropic-priority-input-tokens-limit", remaining: "anthropic-priority-input-tokens-remaining", reset: "anthropic-priority-input-tokens-reset", format: rfc3339, round: 1000},
		{resource: "priority_output_tokens", window: "1m", limit: "anthropic-priority-output-tokens-limit", remaining: "anthropic-priority-output-tokens-remaining", reset: "anthropic-priority-output-tokens-reset", format: rfc3339, round: 1000},
	},
	retryAfter: "retry-after",
	// Tier 1 limits of Claude Haiku 4.5 (the catalog's entry tier).
	defaults: []catalog.Limit{
		{Resource: "requests", Window: "1m", Value: 50},
		{Resource: "input_tokens", Window: "1m", Value: 50000},
		{Resource: "output_tokens", Window: "1m", Value: 10000},
	},
	extra:         anthropicExtra,
	on429:         func(h http.Header, _ *throttle, _ []LimitState, _ time.Time) { h["x-should-retry"] = []string{"true"} },
	rateLimited:   anthropicRateLimited,
	versionHeader: "anthropic-version",
	errorBody: func(_ int, kind, message string) []byte {
		return anthropicError(kind, message)
	},
})

func anthropicExtra(h http.Header, e *emission) {
	anthropicCombinedTokens(h, e)
	anthropicUnified(h, e)
}

// anthropicUnified writes the unified subscription headers of the usage
// allowances that are configured.
func anthropicUnified(h http.Header, e *emission) {
	status, claim, most := "allowed", "", -1.0
	found := false
	for _, w := range []struct{ window, name, claim string }{{"5h", "5h", "five_hour"}, {"7d", "7d", "seven_day"}} {
		s, ok := pickState(e.states, "usage", w.window)
		if !ok || s.Limit <= 0 {
			continue
		}
		found = true
		used := math.Round((s.Limit-s.Remaining)/s.Limit*100) / 100
		st := "allowed"
		if e.status == http.StatusTooManyRequests && s.Remaining < e.cost.of("usage") {
			st, status = "rejected", "rejected"
		}
		if used > most {
			most, claim = used, w.claim
		}
		p := "anthropic-ratelimit-unified-" + w.name + "-"
		h[p+"utilization"] = []string{strconv.FormatFloat(used, 'f', -1, 64)}
		h[p+"reset"] = []string{formatReset(epochSeconds, s.Reset, e.now)}
		h[p+"status"] = []string{st}
	}
	if found {
		h["anthropic-ratelimit-unified-status"] = []string{status}
		h["anthropic-ratelimit-unified-representative-claim"] = []string{claim}
	}
}

// anthropicCombinedTokens writes anthropic-ratelimit-tokens-* as input plus
// output when no tokens limit of its own is configured.
func anthropicCombinedTokens(h http.Header, e *emission) {
	st, now := e.states, e.now
	if _, ok := pickState(st, "tokens", "1m"); ok {
		return
	}
	in, ok1 := pickState(st, "input_tokens", "1m")
	out, ok2 := pickState(st, "output_tokens", "1m")
	if !ok1 || !ok2 {
		return
	}
	reset := in.Reset
	if out.Reset.After(reset) {
		reset = out.Reset
	}
	limit := in.Limit + out.Limit
	h["anthropic-ratelimit-tokens-limit"] = []string{formatCount(limit)}
	h["anthropic-ratelimit-tokens-remaining"] = []string{formatCount(roundRemaining(in.Remaining+out.Remaining, limit, 1000))}
	h["anthropic-ratelimit-tokens-reset"] = []string{formatReset(rfc3339, reset, now)}
}

func anthropicError(kind, message string) []byte {
	type inner struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	}
	return mustJSON(struct {
		Type  string `json:"type"`
		Error inner  `json:"error"`
	}{"error", inner{kind, message}})
}

func anthropicRateLimited(t *throttle) []byte {
	if t.Resource == "usage" {
		// A subscription's allowance: the message names no unit.
		return anthropicError("rate_limit_error", "This request would exceed your account's rate limit. Please try again later.")
	}
	unit := map[string]string{
		"requests": "requests", "tokens": "tokens", "input_tokens": "input tokens", "output_tokens": "output tokens",
	}[t.Resource]
	if unit == "" {
		unit = t.Resource
	}
	msg := fmt.Sprintf("This request would exceed the rate limit for your organization (00000000-0000-4000-8000-fakeprovider) of %s %s per %s. For details, refer to: https://docs.anthropic.com/en/api/rate-limits. You can see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later. You may also contact sales at https://www.anthropic.com/contact-sales to discuss your options for a rate limit increase.",
		thousands(math.Ceil(t.Limit)), unit, windowPhrase(t.Window))
	return anthropicError("rate_limit_error", msg)
}
