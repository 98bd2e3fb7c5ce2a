package parsers

import (
	"net/http"
	"testing"
)

func TestMistralWindows(t *testing.T) {
	cases := []struct {
		header, resource, window string
	}{
		{"x-ratelimit-limit-req-minute", Requests, "1m"},
		{"x-ratelimit-limit-req-second", Requests, "1s"},
		{"x-ratelimit-limit-req-10-second", Requests, "10s"},
		{"x-ratelimit-limit-req-60-second", Requests, "1m"},
		{"x-ratelimit-limit-req-5-minute", Requests, "5m"},
		{"x-ratelimit-limit-req-hour", Requests, "1h"},
		{"x-ratelimit-limit-req-day", Requests, "1d"},
		{"x-ratelimit-limit-req-week", Requests, "7d"},
		{"x-ratelimit-limit-tokens-minute", Tokens, "1m"},
		{"x-ratelimit-limit-tokens-month", Tokens, "30d"},
		{"x-ratelimit-limit-tokens-90-second", Tokens, "1m30s"},
	}
	for _, tc := range cases {
		r := dlParse(t, Mistral, dlInput(200, "", tc.header, "100"))
		if o := dlFind(t, r, tc.resource, tc.window); o.Limit != 100 || o.HasRemaining {
			t.Errorf("%s: %+v", tc.header, o)
		}
	}
}

func TestMistralIgnoresOtherHeaders(t *testing.T) {
	r := dlParse(t, Mistral, dlInput(200, "",
		"x-ratelimit-limit-requests", "100", // OpenAI style
		"x-ratelimit-limit-tokens", "100",
		"x-ratelimit-limit-tokens-prompt", "100", // Fireworks style
		"x-ratelimit-limit-req-fortnight", "5",
		"x-ratelimit-limit-req-0-second", "5",
		"x-ratelimit-limit-req--second", "5",
		"x-ratelimit-limit-req-x-second", "5",
		"x-ratelimit-limit-req-99999999-day", "5",
		"x-ratelimit-tokens-query-cost", "52",
	))
	if len(r.Observations) != 0 || len(r.Errors) != 0 {
		t.Errorf("%+v %v", r.Observations, r.Errors)
	}
}

// Header maps iterate in random order; the output must not.
func TestMistralDeterministicOrder(t *testing.T) {
	in := dlInput(200, "",
		"x-ratelimit-limit-tokens-month", "1000", "x-ratelimit-remaining-tokens-month", "900",
		"x-ratelimit-limit-tokens-minute", "100", "x-ratelimit-remaining-tokens-minute", "90",
		"x-ratelimit-limit-req-minute", "60", "x-ratelimit-remaining-req-minute", "59",
		"x-ratelimit-limit-req-10-second", "2", "x-ratelimit-remaining-req-10-second", "1",
	)
	want := []string{"requests/10s", "requests/1m", "tokens/1m", "tokens/30d"}
	for i := 0; i < 50; i++ {
		r := dlParse(t, Mistral, in)
		if len(r.Observations) != len(want) {
			t.Fatalf("%+v", r.Observations)
		}
		for j, o := range r.Observations {
			if got := o.Resource + "/" + o.Window; got != want[j] {
				t.Fatalf("run %d: order %d = %s, want %s", i, j, got, want[j])
			}
		}
	}
}

func TestMistralSameWindowTwice(t *testing.T) {
	// -req-minute and -req-60-second are both requests/1m: the lower
	// remaining is kept, whatever the header order.
	for i := 0; i < 20; i++ {
		r := dlParse(t, Mistral, dlInput(200, "",
			"x-ratelimit-limit-req-minute", "720", "x-ratelimit-remaining-req-minute", "700",
			"x-ratelimit-limit-req-60-second", "360", "x-ratelimit-remaining-req-60-second", "174",
		))
		if len(r.Observations) != 1 {
			t.Fatalf("%+v", r.Observations)
		}
		if o := r.Observations[0]; o.Remaining != 174 || o.Limit != 360 {
			t.Fatalf("%+v", o)
		}
	}
}

func TestMistralPartialPairs(t *testing.T) {
	r := dlParse(t, Mistral, dlInput(200, "", "x-ratelimit-remaining-tokens-minute", "5", "x-ratelimit-limit-req-minute", "60"))
	if o := dlFind(t, r, Tokens, "1m"); o.HasLimit || o.Remaining != 5 {
		t.Errorf("%+v", o)
	}
	if o := dlFind(t, r, Requests, "1m"); o.HasRemaining || o.Limit != 60 {
		t.Errorf("%+v", o)
	}
	// Remaining above the limit is clamped.
	r = dlParse(t, Mistral, dlInput(200, "", "x-ratelimit-limit-req-minute", "60", "x-ratelimit-remaining-req-minute", "61"))
	if o := dlFind(t, r, Requests, "1m"); o.Remaining != 60 {
		t.Errorf("%+v", o)
	}
}

func TestMistralErrors(t *testing.T) {
	r := dlParse(t, Mistral, dlInput(200, "",
		"x-ratelimit-limit-req-minute", "60", "x-ratelimit-limit-req-minute", "120",
		"x-ratelimit-remaining-req-minute", "1e999",
	))
	if len(r.Observations) != 0 || len(r.Errors) != 2 {
		t.Fatalf("%+v %v", r.Observations, r.Errors)
	}
	if r.Errors[0].Header != "x-ratelimit-limit-req-minute" || r.Errors[0].Err != ErrDuplicated || r.Errors[1].Err != ErrOverflow {
		t.Errorf("%v", r.Errors)
	}
}

func TestMistral429(t *testing.T) {
	body := `{"object":"error","message":"Rate limit exceeded","type":"rate_limited","param":null,"code":"1300","raw_status_code":429}`
	r := dlParse(t, Mistral, dlInput(http.StatusTooManyRequests, body, "Retry-After", "Sat, 23 May 2026 12:00:30 GMT",
		"x-ratelimit-limit-tokens-minute", "500000", "x-ratelimit-remaining-tokens-minute", "0",
		"x-ratelimit-limit-req-minute", "60", "x-ratelimit-remaining-req-minute", "0"))
	if r.ThrottledResource != Tokens && r.ThrottledResource != Requests {
		t.Errorf("throttled %q", r.ThrottledResource)
	}
	if !r.HasRetryAfter || r.RetryAfter.Seconds() != 30 {
		t.Errorf("retry-after %v", r.RetryAfter)
	}
	// Nothing exhausted: unknown.
	r = dlParse(t, Mistral, dlInput(http.StatusTooManyRequests, body, "x-ratelimit-limit-req-minute", "60", "x-ratelimit-remaining-req-minute", "3"))
	if r.ThrottledResource != "" {
		t.Errorf("throttled %q", r.ThrottledResource)
	}
}

func TestMistralManyWindows(t *testing.T) {
	// More distinct windows than the fixed scratch space: the extra ones
	// are dropped, nothing breaks.
	var kv []string
	for _, w := range []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "11", "12"} {
		kv = append(kv, "x-ratelimit-limit-req-"+w+"-second", "10")
	}
	r := dlParse(t, Mistral, dlInput(200, "", kv...))
	if len(r.Observations) != mistralMaxLimits {
		t.Errorf("%d observations", len(r.Observations))
	}
}

func TestMistralRandomHeaders(t *testing.T) {
	dlFuzzHeaders(t, Mistral, []string{"x-ratelimit-limit-req-minute", "x-ratelimit-remaining-req-minute", "x-ratelimit-limit-tokens-minute",
		"x-ratelimit-remaining-tokens-minute", "x-ratelimit-limit-tokens-month", "x-ratelimit-remaining-tokens-month",
		"x-ratelimit-limit-req-10-second", "x-ratelimit-remaining-req-10-second"})
}

var mistralBench = dlInput(200, "",
	"Access-Control-Allow-Origin", "*",
	"Cf-Cache-Status", "DYNAMIC",
	"Content-Type", "application/json",
	"Date", "Sun, 14 Dec 2025 12:55:32 GMT",
	"Mistral-Correlation-Id", "019b1cee-386c-76ff-a038-3622f52eff4c",
	"Server", "cloudflare",
	"X-Envoy-Upstream-Service-Time", "68",
	"X-Kong-Proxy-Latency", "7",
	"X-Kong-Request-Id", "019b1cee-386c-76ff-a038-3622f52eff4c",
	"X-Kong-Upstream-Latency", "70",
	"X-Ratelimit-Limit-Req-60-Second", "360",
	"X-Ratelimit-Limit-Tokens-Minute", "2000000",
	"X-Ratelimit-Limit-Tokens-Month", "10000000000",
	"X-Ratelimit-Remaining-Req-60-Second", "174",
	"X-Ratelimit-Remaining-Tokens-Minute", "1980746",
	"X-Ratelimit-Remaining-Tokens-Month", "9999834127",
	"X-Ratelimit-Tokens-Query-Cost", "14",
)

func TestMistralAllocs(t *testing.T) {
	if a := dlAllocs(Mistral, mistralBench); a > 2 {
		t.Errorf("%v allocations per parse, want ≤ 2", a)
	}
}

func BenchmarkMistral(b *testing.B) {
	var r Result
	b.ReportAllocs()
	for b.Loop() {
		r.Reset()
		Mistral.Parse(mistralBench, &r)
	}
}
