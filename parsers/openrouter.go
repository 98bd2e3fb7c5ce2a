package parsers

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"unicode/utf8"
)

// OpenRouter, as documented at https://openrouter.ai/docs/api-reference/limits:
// rate limits (free-model request caps: 20 requests per minute, and 50 or,
// with at least 10 credits purchased, 1000 requests per day) are reported
// "X-RateLimit-* headers on the error response", i.e. only on 429s; normal
// responses carry none. The 429 body repeats them under
// error.metadata.headers, with X-RateLimit-Reset as a Unix time in
// MILLISECONDS, and its message names the limit:
//
//	{"error":{"message":"Rate limit exceeded: free-models-per-day. Add 10 credits to unlock
//	1000 free model requests per day","code":429,"metadata":{"headers":{
//	"X-RateLimit-Limit":"50","X-RateLimit-Remaining":"0","X-RateLimit-Reset":"1779321600000"},
//	"provider_name":null}},"user_id":"user_…"}
//
// Seen limit names: free-models-per-day, free-models-per-day-high-balance
// (daily), free-models-per-min, limit_rpd/<model>/… (daily) and
// limit_rpm/<model>/… "limited to N requests per minute" (per-model shared
// capacity of a :free variant).
//
// Decisions:
//
//   - The X-RateLimit-* triple does not say its window, so the window comes
//     from the limit name in the message; a 429 whose limit cannot be placed
//     (an upstream provider's 429 relayed by OpenRouter, a new limit name)
//     exports no observation rather than a guessed window.
//   - error.metadata.headers wins over the response headers when both are
//     present (the body is what the brief and the captures show); the
//     response headers are the fallback.
//   - Only 429 bodies are read (BodyStatus).
var OpenRouter = registerHeaderDialect(&HeaderDialect{
	DialectName: "openrouter",
	RetryAfter:  "Retry-After",
	BodyStatus:  func(status int) bool { return status == http.StatusTooManyRequests },
	Body:        openRouterBody,
})

type openRouterError struct {
	Error struct {
		Message  string `json:"message"`
		Metadata struct {
			Headers map[string]jsonScalar `json:"headers"`
		} `json:"metadata"`
	} `json:"error"`
}

// jsonScalar accepts a JSON string or number as text: OpenRouter sends the
// header values as strings, but a number must not fail the whole body.
type jsonScalar string

func (s *jsonScalar) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		// b is a valid JSON string (the decoder checked it): without
		// escapes, and in valid UTF-8, its text is its value, as
		// encoding/json itself decides before unquoting.
		if text := b[1 : len(b)-1]; bytes.IndexByte(text, '\\') < 0 && utf8.Valid(text) {
			*s = jsonScalar(text)
			return nil
		}
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = jsonScalar(v)
		return nil
	}
	if bytes.Equal(b, []byte("null")) {
		*s = ""
		return nil
	}
	*s = jsonScalar(b)
	return nil
}

func openRouterBody(in *Input, c clock, r *Result) {
	var e openRouterError
	if err := json.Unmarshal(in.Body, &e); err != nil {
		r.addBodyError(in.Body)
		return
	}
	window := openRouterWindow(e.Error.Message)
	if window == "" {
		return
	}
	r.ThrottledResource = Requests

	limit, remaining, reset := "", "", ""
	var fromBody bool
	for k, v := range e.Error.Metadata.Headers {
		switch {
		case strings.EqualFold(k, "X-RateLimit-Limit"):
			limit, fromBody = string(v), true
		case strings.EqualFold(k, "X-RateLimit-Remaining"):
			remaining, fromBody = string(v), true
		case strings.EqualFold(k, "X-RateLimit-Reset"):
			reset, fromBody = string(v), true
		}
	}
	prefix := "body.error.metadata.headers."
	if !fromBody {
		prefix = ""
		limit = first(in.Header, "X-Ratelimit-Limit")
		remaining = first(in.Header, "X-Ratelimit-Remaining")
		reset = first(in.Header, "X-Ratelimit-Reset")
	}

	o := Observation{Resource: Requests, Window: window}
	if limit != "" {
		if n, err := ParseCount(limit); err != nil {
			r.addError(prefix+"x-ratelimit-limit", limit, err)
		} else {
			o.Limit, o.HasLimit = n, true
		}
	}
	if remaining != "" {
		if n, err := ParseCount(remaining); err != nil {
			r.addError(prefix+"x-ratelimit-remaining", remaining, err)
		} else {
			o.Remaining, o.HasRemaining = n, true
		}
	}
	if !o.HasLimit && !o.HasRemaining {
		return
	}
	if reset != "" {
		if t, err := parseReset(reset, FormatEpochMillis, &c); err != nil {
			r.addError(prefix+"x-ratelimit-reset", reset, err)
		} else {
			o.Reset = t
		}
	}
	clampRemaining(&o)
	r.Observations = append(r.Observations, o)
}

// openRouterWindow places an OpenRouter limit name in a window; "" when the
// message names no limit Headroom knows.
func openRouterWindow(msg string) string {
	switch {
	case strings.Contains(msg, "free-models-per-day"), strings.Contains(msg, "limit_rpd/"):
		return "1d"
	case strings.Contains(msg, "free-models-per-min"), strings.Contains(msg, "limit_rpm/"),
		strings.Contains(msg, "requests per minute"):
		return "1m"
	}
	return ""
}
