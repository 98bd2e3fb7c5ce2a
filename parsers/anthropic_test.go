package parsers

import (
	"math"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// hdParse runs the named dialect on a synthetic response. Header names are
// canonicalised as net/http does.
func hdParse(t *testing.T, dialect string, status int, hdr map[string]string, body string, received time.Time) Result {
	t.Helper()
	d, ok := Lookup(dialect)
	if !ok {
		t.Fatalf("no dialect %q", dialect)
	}
	h := http.Header{}
	for k, v := range hdr {
		h.Add(k, v)
	}
	in := &Input{Status: status, Header: h, Received: received}
	if body != "" && d.WantsBody(status) {
		in.Body = []byte(body)
	}
	var r Result
	d.Parse(in, &r)
	return r
}

// hdAllocs checks that the header path (a 200 without errors, no body) of
// the named dialect allocates no more than the framework itself does, as
// measured on the openai dialect (a plain table without hooks). Today that
// is one allocation: HeaderDialect.Parse's clock escapes to the heap because
// its address is passed to the Body hook.
func hdAllocs(t *testing.T, dialect string) {
	t.Helper()
	measure := func(d Dialect, in *Input) float64 {
		var r Result
		d.Parse(in, &r) // grow r once
		return testing.AllocsPerRun(100, func() {
			r.Reset()
			d.Parse(in, &r)
		})
	}
	openai, _ := Lookup("openai")
	baseline := measure(openai, readCapture(t, "testdata/golden/openai/doc-example.http"))
	d, _ := Lookup(dialect)
	files, _ := filepath.Glob(filepath.Join("testdata/golden", dialect, "*.http"))
	n := 0
	for _, f := range files {
		in := readCapture(t, f)
		var r Result
		d.Parse(in, &r)
		if in.Status != http.StatusOK || len(r.Errors) > 0 {
			continue // errors allocate their messages; not the hot path
		}
		n++
		if allocs := measure(d, in); allocs > baseline {
			t.Errorf("%s: %v allocations per Parse on the header path, the framework's baseline is %v", f, allocs, baseline)
		}
	}
	if n == 0 {
		t.Fatalf("%s: no clean 200 capture to measure", dialect)
	}
}

var t0 = time.Date(2025, 8, 21, 12, 41, 0, 0, time.UTC)

func TestAnthropicThrottledFromMessage(t *testing.T) {
	for _, tc := range []struct{ msg, want string }{
		{"This request would exceed the rate limit for your organization (x) of 40,000 input tokens per minute. …", InputTokens},
		{"This request would exceed your organization's rate limit of 30,000 input tokens per minute (org: x, model: claude-sonnet-4-20250514).", InputTokens},
		{"This request would exceed the rate limit for your organization (x) of 8,000 output tokens per minute.", OutputTokens},
		{"This request would exceed the rate limit for your organization (x) of 50 requests per minute.", Requests},
		{"This request would exceed the rate limit for your organization (x) of 30,000 tokens per minute.", Tokens},
		{"This request would exceed your account's rate limit. Please try again later.", ""},
		{"You have reached your API usage limits: your organization has crossed its monthly API usage threshold", ""},
	} {
		if got := anthropicThrottled(tc.msg); got != tc.want {
			t.Errorf("anthropicThrottled(%q) = %q, want %q", tc.msg, got, tc.want)
		}
	}
}

func TestAnthropicBody(t *testing.T) {
	hdr := map[string]string{
		"anthropic-ratelimit-requests-limit":     "50",
		"anthropic-ratelimit-requests-remaining": "0",
		"anthropic-ratelimit-requests-reset":     "2025-08-21T12:41:01Z",
	}
	for _, tc := range []struct {
		name, body, throttled string
		errors                int
	}{
		// The body wins over the headers: it names the limit that was hit.
		{"message names the limit", `{"type":"error","error":{"type":"rate_limit_error","message":"… of 8,000 output tokens per minute …"}}`, OutputTokens, 0},
		// No unit in the message: the exhausted header decides.
		{"message without a unit", `{"type":"error","error":{"type":"rate_limit_error","message":"This request would exceed your account's rate limit."}}`, Requests, 0},
		{"another error type", `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`, Requests, 0},
		{"not JSON", `<html>429 Too Many Requests</html>`, Requests, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := hdParse(t, "anthropic", http.StatusTooManyRequests, hdr, tc.body, t0)
			if r.ThrottledResource != tc.throttled {
				t.Errorf("throttled = %q, want %q", r.ThrottledResource, tc.throttled)
			}
			if len(r.Errors) != tc.errors {
				t.Errorf("errors = %v, want %d", r.Errors, tc.errors)
			}
			if o, ok := r.Find(Requests, "1m"); !ok || !o.HasRemaining || o.Remaining != 0 {
				t.Errorf("requests observation = %+v, %v; want remaining 0 exported", o, ok)
			}
		})
	}
}

func TestAnthropicBodyOnlyOn429(t *testing.T) {
	d, _ := Lookup("anthropic")
	for status, want := range map[int]bool{200: false, 400: false, 429: true, 500: false, 529: false} {
		if got := d.WantsBody(status); got != want {
			t.Errorf("WantsBody(%d) = %v, want %v", status, got, want)
		}
	}
}

// Priority Tier and the unified subscription windows each go to their own
// series: the standard tier's input_tokens/1m keeps its numbers.
func TestAnthropicPriorityAndUnified(t *testing.T) {
	r := hdParse(t, "anthropic", 200, map[string]string{
		"anthropic-ratelimit-input-tokens-limit":     "40000",
		"anthropic-ratelimit-input-tokens-remaining": "39000",
		"anthropic-priority-input-tokens-limit":      "10000",
		"anthropic-priority-input-tokens-remaining":  "9618",
		"anthropic-ratelimit-unified-5h-utilization": "0.42",
		"anthropic-ratelimit-unified-5h-reset":       strconv.FormatInt(t0.Unix()+3600, 10),
		"anthropic-ratelimit-unified-7d-utilization": "1.07",
		"anthropic-ratelimit-unified-status":         "allowed",
	}, "", t0)
	want := map[string][2]float64{
		InputTokens + "/1m":         {40000, 39000},
		PriorityInputTokens + "/1m": {10000, 9618},
		Usage + "/5h":               {1, 0.58},
		Usage + "/7d":               {1, 0}, // over the allowance: nothing left, never negative
	}
	if len(r.Observations) != len(want) {
		t.Fatalf("observations = %+v", r.Observations)
	}
	for _, o := range r.Observations {
		w, ok := want[o.Resource+"/"+o.Window]
		if !ok || o.Limit != w[0] || math.Abs(o.Remaining-w[1]) > 1e-12 {
			t.Errorf("%s/%s: %v/%v, want %v", o.Resource, o.Window, o.Limit, o.Remaining, w)
		}
		if o.PerKey != (o.Resource == Usage) {
			t.Errorf("%s/%s: PerKey %v", o.Resource, o.Window, o.PerKey)
		}
	}
	if o, _ := r.Find(Usage, "5h"); !o.Reset.Equal(t0.Add(time.Hour)) {
		t.Errorf("5h reset %v", o.Reset)
	}
	if len(r.Errors) > 0 || r.UnreadHeaders() > 0 {
		t.Errorf("errors %v, unread %v", r.Errors, r.UnreadNames())
	}
}

// A 429 refused by the subscription allowance (its body names no unit)
// is blamed on usage.
func TestAnthropicUnifiedRejected(t *testing.T) {
	body := `{"type":"error","error":{"type":"rate_limit_error","message":"Error"}}`
	for _, tc := range []struct {
		status, want string
	}{{"rejected", Usage}, {"allowed", ""}} {
		r := hdParse(t, "anthropic", 429, map[string]string{
			"anthropic-ratelimit-unified-status":         tc.status,
			"anthropic-ratelimit-unified-5h-utilization": "0.99",
		}, body, t0)
		if r.ThrottledResource != tc.want {
			t.Errorf("status %s: throttled %q, want %q", tc.status, r.ThrottledResource, tc.want)
		}
	}
}

func TestAnthropicHeaderPathAllocs(t *testing.T) { hdAllocs(t, "anthropic") }

// BenchmarkVendorHeaderPath parses each clean 200 golden capture of the
// dialects in anthropic.go, azure.go, groq.go and cerebras.go (openrouter
// has no header path: it reads only 429 bodies).
func BenchmarkVendorHeaderPath(b *testing.B) {
	for _, dialect := range []string{"anthropic", "azure-openai", "groq", "cerebras"} {
		d, _ := Lookup(dialect)
		files, _ := filepath.Glob(filepath.Join("testdata/golden", dialect, "*.http"))
		for _, f := range files {
			in := readCapture(b, f)
			var r Result
			d.Parse(in, &r)
			if in.Status != http.StatusOK || len(r.Errors) > 0 {
				continue
			}
			b.Run(dialect+"/"+filepath.Base(f), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					r.Reset()
					d.Parse(in, &r)
				}
			})
		}
	}
}
