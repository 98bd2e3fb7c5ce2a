package parsers

import (
	"encoding/json"
	"net/http"
	"strings"
)

// Anthropic (Claude API), as documented at
// https://docs.anthropic.com/en/api/rate-limits#response-headers (now served
// from https://platform.claude.com/docs/en/api/rate-limits):
//
//   - anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}
//     on every response; limits are per minute (RPM, ITPM, OTPM), enforced
//     with a token bucket, so the reset is the RFC 3339 time at which the
//     bucket is fully replenished, not a window boundary;
//   - "-remaining" token counts are rounded to the nearest thousand;
//   - the anthropic-ratelimit-tokens-* family shows the most restrictive
//     token limit in effect (a Workspace limit when one applies, otherwise
//     input + output combined), so it is exported as resource "tokens";
//   - retry-after (seconds) on 429.
//
// Decisions (docs/metrics.md, "Resources" and "Windows"):
//
//   - anthropic-priority-{input,output}-tokens-{limit,remaining,reset}
//     (Priority Tier, https://platform.claude.com/docs/en/api/service-tiers)
//     describe a second, committed-capacity bucket for the same counts and
//     window. They are exported under their own resources,
//     priority_input_tokens and priority_output_tokens (per minute, RFC 3339
//     resets): under input_tokens/1m they would overwrite the standard-tier
//     series that requests outside the commitment draw from. They come only
//     with requests served on Priority Tier, so a response without them is
//     not drift.
//   - anthropic-ratelimit-unified-{5h,7d}-{utilization,reset} (sent to
//     Claude subscription OAuth clients; undocumented, shapes as published
//     in public client code and issue threads such as
//     anomalyco/opencode#49653 and anthropics/claude-code#12829) report the
//     used share of the plan's 5-hour and 7-day allowances (0.42 = 42 %)
//     and when each reopens (Unix seconds). They are exported as resource
//     usage, windows 5h and 7d, limit 1 and remaining 1 − utilisation, per
//     key (model=""): the allowance is the account's, whatever the model.
//     The status, representative-claim, fallback and overage headers are
//     read as known and not exported (they are states, not numbers); the
//     per-model-class weekly windows (unified-7d_<class>-*) are left out
//     because the labels cannot tell them from the account's 7d window. A
//     429 with anthropic-ratelimit-unified-status: rejected and no other
//     exhausted limit is blamed on usage.
//   - A 429 body names the limit it hit ("… of 40,000 input tokens per
//     minute …"); it decides ThrottledResource, which the headers cannot
//     always tell because remaining token counts are rounded and a request
//     is refused when it *would* exceed the limit.
var Anthropic = registerHeaderDialect(&HeaderDialect{
	DialectName: "anthropic",
	Limits: []LimitHeaders{
		{Resource: Requests, Window: "1m", Limit: "anthropic-ratelimit-requests-limit", Remaining: "anthropic-ratelimit-requests-remaining", Reset: "anthropic-ratelimit-requests-reset", ResetFormat: FormatRFC3339},
		{Resource: Tokens, Window: "1m", Limit: "anthropic-ratelimit-tokens-limit", Remaining: "anthropic-ratelimit-tokens-remaining", Reset: "anthropic-ratelimit-tokens-reset", ResetFormat: FormatRFC3339},
		{Resource: InputTokens, Window: "1m", Limit: "anthropic-ratelimit-input-tokens-limit", Remaining: "anthropic-ratelimit-input-tokens-remaining", Reset: "anthropic-ratelimit-input-tokens-reset", ResetFormat: FormatRFC3339},
		{Resource: OutputTokens, Window: "1m", Limit: "anthropic-ratelimit-output-tokens-limit", Remaining: "anthropic-ratelimit-output-tokens-remaining", Reset: "anthropic-ratelimit-output-tokens-reset", ResetFormat: FormatRFC3339},
		{Resource: PriorityInputTokens, Window: "1m", Limit: "anthropic-priority-input-tokens-limit", Remaining: "anthropic-priority-input-tokens-remaining", Reset: "anthropic-priority-input-tokens-reset", ResetFormat: FormatRFC3339, Conditional: true},
		{Resource: PriorityOutputTokens, Window: "1m", Limit: "anthropic-priority-output-tokens-limit", Remaining: "anthropic-priority-output-tokens-remaining", Reset: "anthropic-priority-output-tokens-reset", ResetFormat: FormatRFC3339, Conditional: true},
		{Resource: Usage, Window: "5h", Utilization: "anthropic-ratelimit-unified-5h-utilization", Reset: "anthropic-ratelimit-unified-5h-reset", ResetFormat: FormatEpochSeconds, PerKey: true, Conditional: true},
		{Resource: Usage, Window: "7d", Utilization: "anthropic-ratelimit-unified-7d-utilization", Reset: "anthropic-ratelimit-unified-7d-reset", ResetFormat: FormatEpochSeconds, PerKey: true, Conditional: true},
	},
	RetryAfter: "retry-after",
	BodyStatus: func(status int) bool { return status == http.StatusTooManyRequests },
	Body:       anthropicBody,
	Throttled:  anthropicThrottledHeaders,
	Known: []string{
		"anthropic-ratelimit-unified-status", "anthropic-ratelimit-unified-reset",
		"anthropic-ratelimit-unified-5h-status", "anthropic-ratelimit-unified-7d-status",
		"anthropic-ratelimit-unified-representative-claim",
		"anthropic-ratelimit-unified-fallback", "anthropic-ratelimit-unified-fallback-percentage",
		"anthropic-ratelimit-unified-upgrade-paths",
		"anthropic-ratelimit-unified-overage-*", "anthropic-ratelimit-unified-7d_*",
	},
})

// anthropicThrottledHeaders blames a 429 whose body named no unit: on the
// exhausted limit, else on the subscription allowance when the unified
// status says it refused the request.
func anthropicThrottledHeaders(in *Input, r *Result, from int) string {
	if res := throttledByRemaining(r, from); res != "" {
		return res
	}
	h := headerOf(in)
	if v, ok, _ := h.lookup("Anthropic-Ratelimit-Unified-Status", "anthropic-ratelimit-unified-status"); ok && v == "rejected" {
		return Usage
	}
	return ""
}

// anthropicError is the documented error shape:
// {"type":"error","error":{"type":"rate_limit_error","message":"…"}}.
type anthropicError struct {
	Error struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

func anthropicBody(in *Input, _ clock, r *Result) {
	var e anthropicError
	if err := json.Unmarshal(in.Body, &e); err != nil {
		r.addBodyError(in.Body)
		return
	}
	if e.Error.Type != "rate_limit_error" {
		return
	}
	if res := anthropicThrottled(e.Error.Message); res != "" {
		r.ThrottledResource = res
	}
}

// anthropicThrottled maps the unit named in a rate_limit_error message to a
// resource. Input and output are tested before plain "tokens", which both
// contain. Messages that name no unit ("would exceed your account's rate
// limit", the monthly spend cap) leave the decision to the headers.
func anthropicThrottled(msg string) string {
	switch {
	case strings.Contains(msg, "input tokens per minute"):
		return InputTokens
	case strings.Contains(msg, "output tokens per minute"):
		return OutputTokens
	case strings.Contains(msg, "requests per minute"):
		return Requests
	case strings.Contains(msg, "tokens per minute"):
		return Tokens
	}
	return ""
}
