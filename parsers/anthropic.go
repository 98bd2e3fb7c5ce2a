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
// Decisions:
//
//   - anthropic-priority-{input,output}-tokens-* (Priority Tier only) are not
//     exported. They describe a second, committed-capacity bucket for the
//     same resources and window; the closed label set has no tier label, so
//     exporting them as input_tokens/1m would overwrite the standard-tier
//     series that every request also draws from. See
//     https://platform.claude.com/docs/en/api/service-tiers.
//   - anthropic-ratelimit-unified-* (sent to Claude subscription OAuth
//     clients, undocumented) carry utilisation fractions, not counts, and are
//     not exported.
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
	},
	RetryAfter: "retry-after",
	BodyStatus: func(status int) bool { return status == http.StatusTooManyRequests },
	Body:       anthropicBody,
})

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
