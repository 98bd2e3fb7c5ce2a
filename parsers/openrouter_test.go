package parsers

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestOpenRouterWindow(t *testing.T) {
	for _, tc := range []struct{ msg, want string }{
		{"Rate limit exceeded: free-models-per-day. Add 10 credits to unlock 1000 free model requests per day", "1d"},
		{"Rate limit exceeded: free-models-per-day-high-balance. ", "1d"},
		{"Rate limit exceeded: free-models-per-min. ", "1m"},
		{"Rate limit exceeded: limit_rpd/google/gemini-2.0-flash-thinking-exp-01-21/54276bca", "1d"},
		{"Rate limit exceeded: limit_rpm/qwen/qwen3-coder-480b-a35b-07-25/a9bbd882. High demand …", "1m"},
		{"Rate limit exceeded: cohere/north-mini-code-20260617/d3a1. High demand for cohere/north-mini-code:free on OpenRouter - limited to 15 requests per minute. Please retry shortly.", "1m"},
		{"Provider returned error", ""},
		{"Rate limit exceeded", ""},
	} {
		if got := openRouterWindow(tc.msg); got != tc.want {
			t.Errorf("openRouterWindow(%q) = %q, want %q", tc.msg, got, tc.want)
		}
	}
}

func TestOpenRouter(t *testing.T) {
	now := time.Date(2025, 10, 27, 8, 16, 0, 0, time.UTC)
	midnight := time.Date(2025, 10, 28, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		status    int
		hdr       map[string]string
		body      string
		want      []Observation
		throttled string
		errors    int
	}{
		{"numbers instead of strings in metadata", 429, nil,
			`{"error":{"message":"Rate limit exceeded: free-models-per-min. ","code":429,"metadata":{"headers":{"X-RateLimit-Limit":20,"X-RateLimit-Remaining":0,"X-RateLimit-Reset":1761553020000}}}}`,
			[]Observation{{Resource: Requests, Window: "1m", Limit: 20, HasLimit: true, HasRemaining: true, Reset: time.Date(2025, 10, 27, 8, 17, 0, 0, time.UTC)}}, Requests, 0},
		{"metadata wins over response headers", 429,
			map[string]string{"X-RateLimit-Limit": "1000", "X-RateLimit-Remaining": "7", "X-RateLimit-Reset": "1761609600000"},
			`{"error":{"message":"Rate limit exceeded: free-models-per-day","code":429,"metadata":{"headers":{"X-RateLimit-Limit":"50","X-RateLimit-Remaining":"0","X-RateLimit-Reset":"1761609600000"}}}}`,
			[]Observation{{Resource: Requests, Window: "1d", Limit: 50, HasLimit: true, HasRemaining: true, Reset: midnight}}, Requests, 0},
		{"lower-case keys in metadata", 429, nil,
			`{"error":{"message":"Rate limit exceeded: free-models-per-day","code":429,"metadata":{"headers":{"x-ratelimit-limit":"50","x-ratelimit-remaining":"3","x-ratelimit-reset":"1761609600000"}}}}`,
			[]Observation{{Resource: Requests, Window: "1d", Limit: 50, HasLimit: true, Remaining: 3, HasRemaining: true, Reset: midnight}}, Requests, 0},
		{"upstream provider's 429: no window, nothing exported", 429,
			map[string]string{"X-RateLimit-Limit": "40", "X-RateLimit-Remaining": "0"},
			`{"error":{"message":"Provider returned error","code":429,"metadata":{"raw":"google/gemini-2.0-flash-exp:free is temporarily rate-limited upstream","provider_name":"Google AI Studio"}}}`,
			nil, "", 0},
		{"headers on a 200 are not read", 200,
			map[string]string{"X-RateLimit-Limit": "50", "X-RateLimit-Remaining": "49", "X-RateLimit-Reset": "1761609600000"},
			`{"id":"gen-1","choices":[]}`,
			nil, "", 0},
		{"body not JSON", 429, nil, `<html>Cloudflare</html>`, nil, "", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := hdParse(t, "openrouter", tc.status, tc.hdr, tc.body, now)
			if r.ThrottledResource != tc.throttled {
				t.Errorf("throttled = %q, want %q", r.ThrottledResource, tc.throttled)
			}
			if len(r.Errors) != tc.errors {
				t.Errorf("errors = %v, want %d", r.Errors, tc.errors)
			}
			checkObservations(t, r.Observations, tc.want)
		})
	}
}

func TestOpenRouterBodyOnlyOn429(t *testing.T) {
	d, _ := Lookup("openrouter")
	for status, want := range map[int]bool{200: false, 402: false, 429: true, 503: false} {
		if got := d.WantsBody(status); got != want {
			t.Errorf("WantsBody(%d) = %v, want %v", status, got, want)
		}
	}
}

// TestJSONScalarString: header values sent as JSON strings read as
// encoding/json reads a string, with or without its unquoting shortcut.
func TestJSONScalarString(t *testing.T) {
	for _, in := range []string{`"50"`, `""`, `"1779321600000"`, `"a\"b"`, `"\u00e9t\u00e9"`, `"été"`,
		`"\ud83d\ude00"`, `"\ud83d"`, "\"\xff\xfe\"", "\"caf\xc3\"", `"tab\tline\n"`, `"\/"`} {
		var want string
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		var got struct{ V jsonScalar }
		if err := json.Unmarshal([]byte(`{"V":`+in+`}`), &got); err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if string(got.V) != want {
			t.Errorf("%q: jsonScalar %q, string %q", in, got.V, want)
		}
	}
}

// TestOpenRouterDuplicateHeaders: error.metadata.headers naming a header
// more than once (case variants, or one spelling twice) parses the same on
// every run: agreeing occurrences count as one, disagreeing ones are an
// ErrDuplicated error carrying the first value, and that header is dropped.
// Each case runs many times: with a map in the way, the winner changed with
// Go's map iteration order.
func TestOpenRouterDuplicateHeaders(t *testing.T) {
	now := time.Date(2025, 10, 27, 8, 16, 0, 0, time.UTC)
	midnight := time.Date(2025, 10, 28, 0, 0, 0, 0, time.UTC)
	const msg = `"message":"Rate limit exceeded: free-models-per-day","code":429`
	body := func(headers string) string {
		return `{"error":{` + msg + `,"metadata":{"headers":{` + headers + `},"provider_name":null}}}`
	}
	const (
		lim  = `"X-RateLimit-Limit":"50"`
		rst  = `"X-RateLimit-Reset":"1761609600000"`
		pfx  = "body.error.metadata.headers."
		runs = 50
	)
	obs := func(remaining float64, hasRemaining bool) Observation {
		return Observation{Resource: Requests, Window: "1d", Limit: 50, HasLimit: true,
			Remaining: remaining, HasRemaining: hasRemaining, Reset: midnight}
	}
	dup := func(name, value string) FieldError {
		return FieldError{Header: pfx + name, Value: value, Err: ErrDuplicated}
	}
	for _, tc := range []struct {
		name   string
		hdr    map[string]string
		body   string
		want   []Observation
		errors []FieldError
	}{
		{"two case variants, same value", nil,
			body(lim + `,"X-RateLimit-Remaining":"0","x-ratelimit-remaining":"0",` + rst),
			[]Observation{obs(0, true)}, nil},
		{"two case variants, different values", nil,
			body(lim + `,"X-RateLimit-Remaining":"0","x-ratelimit-remaining":"5",` + rst),
			[]Observation{obs(0, false)}, []FieldError{dup("x-ratelimit-remaining", "0")}},
		{"two case variants, different values, other order", nil,
			body(lim + `,"x-ratelimit-remaining":"5","X-RateLimit-Remaining":"0",` + rst),
			[]Observation{obs(0, false)}, []FieldError{dup("x-ratelimit-remaining", "5")}},
		{"one spelling twice, different values", nil,
			body(lim + `,"X-RateLimit-Remaining":"0","X-RateLimit-Remaining":"5",` + rst),
			[]Observation{obs(0, false)}, []FieldError{dup("x-ratelimit-remaining", "0")}},
		{"three case variants, same value", nil,
			body(`"x-ratelimit-remaining":"3",` + lim + `,"X-RATELIMIT-REMAINING":"3",` + rst + `,"X-RateLimit-Remaining":"3"`),
			[]Observation{obs(3, true)}, nil},
		{"three case variants, the last differs", nil,
			body(lim + `,"X-RateLimit-Remaining":"3","x-ratelimit-remaining":"3","X-RATELIMIT-REMAINING":"4",` + rst),
			[]Observation{obs(0, false)}, []FieldError{dup("x-ratelimit-remaining", "3")}},
		{"three case variants, all differ", nil,
			body(lim + `,"X-RateLimit-Remaining":"1","x-ratelimit-remaining":"2","X-RATELIMIT-REMAINING":"3",` + rst),
			[]Observation{obs(0, false)}, []FieldError{dup("x-ratelimit-remaining", "1")}},
		{"a number and a string with the same text agree", nil,
			body(lim + `,"X-RateLimit-Remaining":5,"x-ratelimit-remaining":" 5 ",` + rst),
			[]Observation{obs(5, true)}, nil},
		{"null beside a value is ambiguous", nil,
			body(lim + `,"X-RateLimit-Remaining":null,"x-ratelimit-remaining":"5",` + rst),
			[]Observation{obs(0, false)}, []FieldError{dup("x-ratelimit-remaining", "")}},
		{"an escaped spelling is the same name", nil,
			body(lim + `,"X-RateLimit-Remaining":"0","x-ratelimit-\u0072emaining":"5",` + rst),
			[]Observation{obs(0, false)}, []FieldError{dup("x-ratelimit-remaining", "0")}},
		{"ambiguous limit, remaining still read", nil,
			body(`"X-RateLimit-Limit":"50","x-ratelimit-limit":"1000","X-RateLimit-Remaining":"7",` + rst),
			[]Observation{{Resource: Requests, Window: "1d", Remaining: 7, HasRemaining: true, Reset: midnight}},
			[]FieldError{dup("x-ratelimit-limit", "50")}},
		{"ambiguous reset: the counts without it", nil,
			body(lim + `,"X-RateLimit-Remaining":"0","X-RateLimit-Reset":"1761609600000","x-ratelimit-reset":"1761523200000"`),
			[]Observation{{Resource: Requests, Window: "1d", Limit: 50, HasLimit: true, HasRemaining: true}},
			[]FieldError{dup("x-ratelimit-reset", "1761609600000")}},
		{"ambiguous counts: nothing exported, the reset not read", nil,
			body(`"X-RateLimit-Limit":"50","x-ratelimit-limit":"1000","X-RateLimit-Remaining":"0","x-ratelimit-remaining":"5",` +
				`"X-RateLimit-Reset":"1761609600000","x-ratelimit-reset":"1"`),
			nil, []FieldError{dup("x-ratelimit-limit", "50"), dup("x-ratelimit-remaining", "0")}},
		{"ambiguous in the body: the response headers are not the fallback",
			map[string]string{"X-RateLimit-Limit": "1000", "X-RateLimit-Remaining": "7"},
			body(lim + `,"X-RateLimit-Remaining":"0","x-ratelimit-remaining":"5",` + rst),
			[]Observation{obs(0, false)}, []FieldError{dup("x-ratelimit-remaining", "0")}},
		{"headers nested elsewhere are not read", nil,
			`{"error":{` + msg + `,"metadata":{"headers":{` + lim + `,"X-RateLimit-Remaining":"2","x-other":{"a":["}\"",{"x-ratelimit-remaining":"9"}]},` +
				rst + `},"raw":{"headers":{"x-ratelimit-remaining":"8"}}}}}`,
			[]Observation{obs(2, true)}, nil},
		{"metadata.headers sent twice (encoding/json matches Headers too): read as one object", nil,
			`{"error":{` + msg + `,"metadata":{"headers":{` + lim + `,"X-RateLimit-Remaining":"0",` + rst + `},` +
				`"Headers":{"x-ratelimit-remaining":"5"}}}}`,
			[]Observation{obs(0, false)}, []FieldError{dup("x-ratelimit-remaining", "0")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first := hdParse(t, "openrouter", 429, tc.hdr, tc.body, now)
			for run := range runs {
				r := hdParse(t, "openrouter", 429, tc.hdr, tc.body, now)
				if !reflect.DeepEqual(r, first) {
					t.Fatalf("run %d: %+v, first run: %+v", run, r, first)
				}
			}
			if first.ThrottledResource != Requests {
				t.Errorf("throttled = %q, want %q", first.ThrottledResource, Requests)
			}
			if !reflect.DeepEqual(first.Errors, tc.errors) {
				t.Errorf("errors = %v, want %v", first.Errors, tc.errors)
			}
			checkObservations(t, first.Observations, tc.want)
		})
	}
}

// mapOpenRouterHeaders is the oracle FuzzOpenRouterHeaders checks the
// document-order reading against: encoding/json into a map, then the
// spellings of each header grouped ignoring case. A map keeps one value per
// exact spelling (the last), so objects that repeat a spelling exactly are
// left out (exact reports whether b has none).
func mapOpenRouterHeaders(b []byte) (h openRouterHeaders, exact bool, err error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return h, false, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	seen := map[string]bool{}
	depth := 0
	expectKey := false
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch tok {
		case json.Delim('{'):
			depth++
			expectKey = depth == 1
			continue
		case json.Delim('}'), json.Delim(']'):
			depth--
		case json.Delim('['):
			depth++
		}
		if k, ok := tok.(string); ok && depth == 1 && expectKey {
			if seen[k] {
				return h, false, nil
			}
			seen[k] = true
			var raw json.RawMessage
			if dec.Decode(&raw) != nil {
				return h, false, nil
			}
		}
	}
	for _, name := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} {
		f := h.field(name)
		var vals []string
		for k, raw := range m {
			if strings.EqualFold(k, name) {
				var s jsonScalar
				if err := s.UnmarshalJSON(raw); err != nil {
					return h, false, err
				}
				vals = append(vals, trimSpace(string(s)))
			}
		}
		for _, v := range vals {
			if !f.seen {
				f.v, f.seen = v, true
			} else if v != f.v {
				f.dup = true
			}
		}
	}
	return h, true, nil
}

// FuzzOpenRouterHeaders: reading error.metadata.headers never panics, and
// on a valid JSON object finds the values, and the ambiguity, that
// encoding/json's map of the object shows.
func FuzzOpenRouterHeaders(f *testing.F) {
	for _, s := range []string{
		`{}`, `null`, `[]`, `"x"`, `{"X-RateLimit-Limit":"50","X-RateLimit-Remaining":"0","X-RateLimit-Reset":"1761609600000"}`,
		`{"X-RateLimit-Remaining":"0","x-ratelimit-remaining":"5"}`,
		`{"x-ratelimit-remaining":3, "X-RATELIMIT-REMAINING" : " 3 ","X-RateLimit-Remaining":null}`,
		`{"x-ratelimit-\u0072emaining":"1","a":{"b":["}\"\\",{"x-ratelimit-limit":"9"}]},"X-RateLimit-Limit":[1,2],"x-ratelimit-reset":{}}`,
		"{\"X-RateLimit-Limit\":\"\xff\",\"x-ratelimit-limit\":true}\n",
		`{"X-RateLimit-Limit":"50"`, `{"a":`, `{"a" "b"}`, `{"a":1,}`, `{"\`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var got openRouterHeaders
		err := got.UnmarshalJSON(b)
		if !json.Valid(b) {
			return // no panic is all there is to check
		}
		trimmed := bytes.TrimSpace(b)
		if string(trimmed) == "null" {
			if err != nil || got != (openRouterHeaders{}) {
				t.Errorf("null: %+v, %v", got, err)
			}
			return
		}
		if trimmed[0] != '{' {
			if err == nil {
				t.Errorf("%q: not an object, no error", b)
			}
			return
		}
		want, exact, werr := mapOpenRouterHeaders(b)
		if !exact {
			return
		}
		// A value of the map's set of spellings may come first in the
		// document or not: compare what does not depend on the order.
		for _, p := range [][2]*openRouterValue{{&got.limit, &want.limit}, {&got.remaining, &want.remaining}, {&got.reset, &want.reset}} {
			g, w := p[0], p[1]
			if (err != nil) != (werr != nil) || g.seen != w.seen || g.dup != w.dup || (!g.dup && g.v != w.v) {
				t.Errorf("%q:\nread %+v, %v\nmap  %+v, %v", b, *g, err, *w, werr)
			}
		}
	})
}

// checkObservations compares what a parse observed with what is wanted,
// field by field (times with Equal).
func checkObservations(t *testing.T, got, want []Observation) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("observations = %+v, want %+v", got, want)
	}
	for i, w := range want {
		o := got[i]
		if o.Resource != w.Resource || o.Window != w.Window || o.HasLimit != w.HasLimit || o.Limit != w.Limit ||
			o.HasRemaining != w.HasRemaining || o.Remaining != w.Remaining || !o.Reset.Equal(w.Reset) {
			t.Errorf("observation %d = %+v, want %+v", i, o, w)
		}
	}
}

// TestOpenRouterDuplicateResponseHeaders: without headers in the body, the
// response's are read; one repeated with different values is reported and
// not used, one repeated with the same value is read.
func TestOpenRouterDuplicateResponseHeaders(t *testing.T) {
	body := `{"error":{"message":"Rate limit exceeded: free-models-per-min. ","code":429}}`
	d, _ := Lookup("openrouter")
	for _, tc := range []struct {
		name      string
		remaining []string
		want      []Observation
		errors    []string
	}{
		{"different values", []string{"3", "5"}, []Observation{{Resource: Requests, Window: "1m", HasLimit: true, Limit: 20}}, []string{"x-ratelimit-remaining"}},
		{"same value", []string{"3", " 3"}, []Observation{{Resource: Requests, Window: "1m", HasLimit: true, Limit: 20, HasRemaining: true, Remaining: 3}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"X-Ratelimit-Limit": {"20"}, "X-Ratelimit-Remaining": tc.remaining}
			var r Result
			d.Parse(&Input{Status: 429, Header: h, Body: []byte(body), Received: time.Now()}, &r)
			checkObservations(t, r.Observations, tc.want)
			var names []string
			for _, e := range r.Errors {
				if !errors.Is(e.Err, ErrDuplicated) {
					t.Errorf("error %v, want ErrDuplicated", e)
				}
				names = append(names, e.Header)
			}
			if !reflect.DeepEqual(names, tc.errors) {
				t.Errorf("errors on %v, want %v", names, tc.errors)
			}
		})
	}
}
