package parsers

import (
	"encoding/json"
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
			if len(r.Observations) != len(tc.want) {
				t.Fatalf("observations = %+v, want %+v", r.Observations, tc.want)
			}
			for i, w := range tc.want {
				o := r.Observations[i]
				if o.Resource != w.Resource || o.Window != w.Window || o.HasLimit != w.HasLimit || o.Limit != w.Limit ||
					o.HasRemaining != w.HasRemaining || o.Remaining != w.Remaining || !o.Reset.Equal(w.Reset) {
					t.Errorf("observation %d = %+v, want %+v", i, o, w)
				}
			}
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
