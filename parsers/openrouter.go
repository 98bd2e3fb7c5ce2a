package parsers

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
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
//   - A header named more than once in error.metadata.headers (letter case
//     aside, e.g. "X-RateLimit-Remaining":"0" and
//     "x-ratelimit-remaining":"5", or one spelling twice) is read in
//     document order, never through a Go map, whose order is random.
//     Occurrences with the same value (spaces trimmed; the number 5 and the
//     string "5" are the same value) count as one. Occurrences with
//     different values make that header ambiguous, as a response header
//     repeated with different values is (lookup): it is counted as
//     ErrDuplicated, with the first value, and not exported; the object's
//     other headers are still read, and the response headers are not
//     consulted for it (the body did carry it). null and "" are values
//     too (the same one): beside "5" they make the header ambiguous.
//     The response-header fallback follows the same rule.
//   - Only 429 bodies are read (BodyStatus).
var OpenRouter = registerHeaderDialect(&HeaderDialect{
	DialectName: "openrouter",
	RetryAfter:  "Retry-After",
	BodyStatus:  func(status int) bool { return status == http.StatusTooManyRequests },
	Body:        openRouterBody,
	Known:       []string{"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"},
})

type openRouterError struct {
	Error struct {
		Message  string `json:"message"`
		Metadata struct {
			Headers openRouterHeaders `json:"headers"`
		} `json:"metadata"`
	} `json:"error"`
}

// openRouterHeaders is error.metadata.headers as far as Headroom reads it:
// every occurrence of the X-RateLimit-* members, in document order (see the
// rule above). encoding/json into a map would keep one occurrence per
// spelling and hand the spellings back in random order.
type openRouterHeaders struct {
	limit, remaining, reset openRouterValue
}

// openRouterValue is one header of error.metadata.headers.
type openRouterValue struct {
	v    string // the first occurrence's value, trimmed
	seen bool
	dup  bool // a later occurrence has a different value
}

func (f *openRouterValue) add(v string) {
	v = trimSpace(v)
	if !f.seen {
		f.v, f.seen = v, true
	} else if v != f.v {
		f.dup = true
	}
}

// get returns the header's value; "" for an ambiguous one, which it records
// as an error under name.
func (f *openRouterValue) get(name string, r *Result) string {
	if f.dup {
		r.addError(name, f.v, ErrDuplicated)
		return ""
	}
	return f.v
}

func (h *openRouterHeaders) present() bool { return h.limit.seen || h.remaining.seen || h.reset.seen }

// field is the header a member name stands for, nil for the members
// Headroom does not read. Names are compared ignoring case.
func (h *openRouterHeaders) field(key string) *openRouterValue {
	switch {
	case strings.EqualFold(key, "X-RateLimit-Limit"):
		return &h.limit
	case strings.EqualFold(key, "X-RateLimit-Remaining"):
		return &h.remaining
	case strings.EqualFold(key, "X-RateLimit-Reset"):
		return &h.reset
	}
	return nil
}

// UnmarshalJSON reads one JSON object member by member, in document order,
// with encoding/json's tokenizer (a 429 body is a cold path: no scanner of
// Headroom's own). It adds to what h holds: error.metadata.headers sent
// twice (encoding/json matches "Headers" too) is read as one object, in
// document order. null adds nothing.
func (h *openRouterHeaders) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok == nil {
		return nil // null
	}
	if tok != json.Delim('{') {
		return ErrBadBody
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		if f := h.field(tok.(string)); f != nil {
			var s jsonScalar
			if err := s.UnmarshalJSON(raw); err != nil {
				return err
			}
			f.add(string(s))
		}
	}
	_, err = dec.Token() // the closing brace
	return err
}

// jsonScalar accepts a JSON string or number as text: OpenRouter sends the
// header values as strings, but a number must not fail the whole body.
// null is "", and any other value its JSON text (which no count parses).
type jsonScalar string

func (s *jsonScalar) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) > 0 && b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = jsonScalar(v)
	case bytes.Equal(b, []byte("null")):
		*s = ""
	default:
		*s = jsonScalar(b)
	}
	return nil
}

func openRouterBody(in *Input, c clock, r *Result) {
	var e openRouterError
	if err := json.Unmarshal(in.Body, &e); err != nil {
		r.addBodyError(in.Body)
		return
	}
	hd := headerOf(in)
	window := openRouterWindow(e.Error.Message)
	if window == "" {
		return
	}
	r.ThrottledResource = Requests

	var limit, remaining string
	prefix := ""
	h := &e.Error.Metadata.Headers
	fromBody := h.present()
	if fromBody {
		prefix = "body.error.metadata.headers."
		limit = h.limit.get(prefix+"x-ratelimit-limit", r)
		remaining = h.remaining.get(prefix+"x-ratelimit-remaining", r)
	} else {
		limit = single(&hd, "X-Ratelimit-Limit", "x-ratelimit-limit", r)
		remaining = single(&hd, "X-Ratelimit-Remaining", "x-ratelimit-remaining", r)
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
	// The reset is read, and its ambiguity reported, only beside a count.
	var reset string
	if fromBody {
		reset = h.reset.get(prefix+"x-ratelimit-reset", r)
	} else {
		reset = single(&hd, "X-Ratelimit-Reset", "x-ratelimit-reset", r)
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

// single is the value of a response header, or "" when it is absent or
// repeated with different values (counted as ErrDuplicated, as the body's
// headers and the other dialects do: neither value is trusted).
func single(h *header, key, name string, r *Result) string {
	v, _, dup := h.lookup(key, name)
	if dup {
		r.addError(name, v, ErrDuplicated)
		return ""
	}
	return v
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
