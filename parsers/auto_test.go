package parsers

import (
	"errors"
	"net/http"
	"testing"
	"time"
)

// autoObs is what a test expects of one observation.
type autoObs struct {
	resource, window  string
	limit, remaining  float64
	reset             time.Duration // from dlReceived; 0: none
	noLimit, noRemain bool
}

func checkAuto(t *testing.T, name string, r *Result, want []autoObs) {
	t.Helper()
	if len(r.Observations) != len(want) {
		t.Errorf("%s: observations %+v, want %d", name, r.Observations, len(want))
		return
	}
	for i, w := range want {
		o := r.Observations[i]
		if o.Resource != w.resource || o.Window != w.window || o.HasLimit == w.noLimit || o.HasRemaining == w.noRemain ||
			o.Limit != w.limit || o.Remaining != w.remaining {
			t.Errorf("%s: obs %d = %+v, want %+v", name, i, o, w)
		}
		if w.reset != 0 && !o.Reset.Equal(dlReceived.Add(w.reset)) {
			t.Errorf("%s: obs %d reset %v, want +%v", name, i, o.Reset, w.reset)
		}
	}
}

// The spellings of the family, one case each.
func TestAutoNames(t *testing.T) {
	for _, tc := range []struct {
		name             string
		kind             int
		resource, window string
		ok               bool
	}{
		{"x-ratelimit-limit", autoLimit, Requests, "", true},
		{"X-RateLimit-Remaining", autoRemaining, Requests, "", true},
		{"x-rate-limit-reset", autoReset, Requests, "", true},
		{"x-ratelimit-limit-requests", autoLimit, Requests, "", true},
		{"x-ratelimit-limit-request", autoLimit, Requests, "", true},
		{"x-ratelimit-limit-req-minute", autoLimit, Requests, "1m", true},
		{"x-ratelimit-remaining-tokens", autoRemaining, Tokens, "", true},
		{"x-ratelimit-remaining-token-day", autoRemaining, Tokens, "1d", true},
		{"x-ratelimit-limit-input-tokens-minute", autoLimit, InputTokens, "1m", true},
		{"x-ratelimit-limit-output-tokens-1m", autoLimit, OutputTokens, "1m", true},
		{"X-Ratelimit-Limit-Requests-Minute", autoLimit, Requests, "1m", true},
		{"x-ratelimit-limit-requests-min", autoLimit, Requests, "1m", true},
		{"x-ratelimit-limit-requests-60s", autoLimit, Requests, "1m", true},
		{"x-ratelimit-limit-requests-1m", autoLimit, Requests, "1m", true},
		{"x-ratelimit-limit-requests-10-second", autoLimit, Requests, "10s", true},
		{"x-ratelimit-limit-requests-hour", autoLimit, Requests, "1h", true},
		{"x-ratelimit-limit-requests-24h", autoLimit, Requests, "1d", true},
		{"x-ratelimit-limit-tokens-week", autoLimit, Tokens, "7d", true},
		{"x-ratelimit-limit-minute", autoLimit, Requests, "1m", true}, // Kong
		{"x-ratelimit-limit-second", autoLimit, Requests, "1s", true},
		// Not placeable: reported as unread, never guessed.
		{"x-ratelimit-limit-tokens-month", 0, "", "", false},
		{"x-ratelimit-limit-dynamic", 0, "", "", false},
		{"x-ratelimit-limit-tokens_usage_based", 0, "", "", false},
		{"x-ratelimit-limit-requests-0s", 0, "", "", false},
		{"x-ratelimit-limit-requests-1y", 0, "", "", false},
		{"x-ratelimit-limit-requests-10-1m", 0, "", "", false},
		{"x-ratelimit-used", 0, "", "", false},
		{"x-ratelimit-limits", 0, "", "", false},
		{"ratelimit-limit", 0, "", "", false}, // the IETF dialect's
		{"x-ratelimit", 0, "", "", false},
	} {
		kind, res, win, ok := autoName(tc.name)
		if ok != tc.ok || (ok && (kind != tc.kind || res != tc.resource || win != tc.window)) {
			t.Errorf("autoName(%q) = %d %q %q %v, want %d %q %q %v", tc.name, kind, res, win, ok, tc.kind, tc.resource, tc.window, tc.ok)
		}
	}
}

// Families without a window: counted without a configured window,
// exported with one; a named window beside them wins.
func TestAutoWindows(t *testing.T) {
	openaiStyle := []string{
		"x-ratelimit-limit-requests", "500", "x-ratelimit-remaining-requests", "499", "x-ratelimit-reset-requests", "120ms",
		"x-ratelimit-limit-tokens", "30000", "x-ratelimit-remaining-tokens", "29000", "x-ratelimit-reset-tokens", "2s",
	}
	r := dlParse(t, Auto, dlInput(200, "", openaiStyle...))
	checkAuto(t, "no windows", r, nil)
	if len(r.Errors) != 4 {
		t.Errorf("errors %v, want the 4 limits and remainings", r.Errors)
	}
	for _, e := range r.Errors {
		if !errors.Is(e.Err, ErrNoWindow) {
			t.Errorf("error %v, want ErrNoWindow", e)
		}
	}

	d := NewAuto(map[string]string{Requests: "60s", Tokens: "1m"})
	r = dlParse(t, d, dlInput(200, "", openaiStyle...))
	checkAuto(t, "windows", r, []autoObs{
		{resource: Requests, window: "1m", limit: 500, remaining: 499, reset: 120 * time.Millisecond},
		{resource: Tokens, window: "1m", limit: 30000, remaining: 29000, reset: 2 * time.Second},
	})
	if len(r.Errors) != 0 {
		t.Errorf("errors %v", r.Errors)
	}

	// SambaNova-style: the default family is per minute, -day names its
	// window; the same limit under both names is one observation.
	r = dlParse(t, d, dlInput(200, "",
		"x-ratelimit-limit-requests", "20", "x-ratelimit-remaining-requests", "19",
		"x-ratelimit-limit-requests-day", "400", "x-ratelimit-remaining-requests-day", "399",
		"x-ratelimit-limit-requests-minute", "20", "x-ratelimit-remaining-requests-minute", "19"))
	checkAuto(t, "aliases", r, []autoObs{
		{resource: Requests, window: "1m", limit: 20, remaining: 19},
		{resource: Requests, window: "1d", limit: 400, remaining: 399},
	})
	if len(r.Errors) != 0 {
		t.Errorf("aliases: errors %v", r.Errors)
	}
	// Disagreeing: the named window is kept, the other counted.
	r = dlParse(t, d, dlInput(200, "",
		"x-ratelimit-limit-requests", "30", "x-ratelimit-limit-requests-minute", "20", "x-ratelimit-remaining-requests-minute", "19"))
	checkAuto(t, "disagree", r, []autoObs{{resource: Requests, window: "1m", limit: 20, remaining: 19}})
	if len(r.Errors) != 1 || !errors.Is(r.Errors[0].Err, ErrDuplicated) || r.Errors[0].Header != "x-ratelimit-limit-requests" {
		t.Errorf("disagree: errors %v", r.Errors)
	}

	// The IETF fields take the requests window for policies without one.
	r = dlParse(t, d, dlInput(200, "", "RateLimit-Limit", "100", "RateLimit-Remaining", "60", "RateLimit-Reset", "20"))
	checkAuto(t, "ietf fallback", r, []autoObs{{resource: Requests, window: "1m", limit: 100, remaining: 60, reset: 20 * time.Second}})
	r = dlParse(t, Auto, dlInput(200, "", "RateLimit-Limit", "100", "RateLimit-Remaining", "60"))
	checkAuto(t, "ietf without fallback", r, nil)
}

func TestAutoPolicySyntax(t *testing.T) {
	for _, tc := range []struct {
		limit string
		want  []autoObs
		errs  int
	}{
		{"10, 10;w=60", []autoObs{{resource: Requests, window: "1m", limit: 10, remaining: 7}}, 0},
		{`1, 1;w=60;name="first", 4;w=3600;name="second"`, []autoObs{{resource: Requests, window: "1m", limit: 1, remaining: 1}}, 0},
		// No policy with the limit's quota: no window, counted.
		{"10, 50;w=60", nil, 2},
		{"10;w=60", []autoObs{{resource: Requests, window: "1m", limit: 10, remaining: 7}}, 0},
		// A limit that cannot be read, and a remaining without a window.
		{"10, x;;", nil, 2},
		{"-1, -1;w=60", nil, 2},
	} {
		r := dlParse(t, Auto, dlInput(200, "", "x-ratelimit-limit", tc.limit, "x-ratelimit-remaining", "7"))
		checkAuto(t, tc.limit, r, tc.want)
		if len(r.Errors) != tc.errs {
			t.Errorf("%s: errors %v, want %d", tc.limit, r.Errors, tc.errs)
		}
	}
}

func TestAutoRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		kv   []string
		want time.Duration
		errs int
	}{
		{[]string{"retry-after-ms", "1500", "retry-after", "2"}, 1500 * time.Millisecond, 0},
		{[]string{"retry-after", "2"}, 2 * time.Second, 0},
		{[]string{"retry-after-ms", "x", "retry-after", "2"}, 2 * time.Second, 1},
		{[]string{"Retry-After", "Sat, 23 May 2026 12:00:30 GMT"}, 30 * time.Second, 0},
		{[]string{"retry-after", "1", "retry-after", "2"}, 0, 1},
	} {
		r := dlParse(t, Auto, dlInput(http.StatusTooManyRequests, "", tc.kv...))
		if r.RetryAfter != tc.want || r.HasRetryAfter != (tc.want != 0) || len(r.Errors) != tc.errs {
			t.Errorf("%v: retry-after %v (%v), errors %v; want %v", tc.kv, r.RetryAfter, r.HasRetryAfter, r.Errors, tc.want)
		}
	}
}

func TestAutoThrottled(t *testing.T) {
	r := dlParse(t, Auto, dlInput(http.StatusTooManyRequests, "",
		"x-ratelimit-limit-tokens-minute", "100", "x-ratelimit-remaining-tokens-minute", "0",
		"x-ratelimit-limit-requests-minute", "10", "x-ratelimit-remaining-requests-minute", "3"))
	if r.ThrottledResource != Tokens {
		t.Errorf("throttled %q", r.ThrottledResource)
	}
	// An exhausted IETF limit without a window still names the resource.
	r = dlParse(t, Auto, dlInput(http.StatusTooManyRequests, "", "RateLimit", `"x";r=0;t=5`))
	if r.ThrottledResource != Requests {
		t.Errorf("ietf throttled %q", r.ThrottledResource)
	}
}

func TestValidAutoWindow(t *testing.T) {
	for _, tc := range []struct {
		res, win string
		ok       bool
	}{
		{Requests, "1m", true}, {Tokens, "60s", true}, {InputTokens, "1d", true}, {OutputTokens, "10s", true},
		{Concurrency, "1m", false}, {"usage", "5h", false}, {Requests, "none", false}, {Requests, "0s", false},
		{Requests, "soon", false}, {Requests, "", false},
	} {
		if err := ValidAutoWindow(tc.res, tc.win); (err == nil) != tc.ok {
			t.Errorf("ValidAutoWindow(%q, %q) = %v", tc.res, tc.win, err)
		}
	}
}

func TestAutoRandomHeaders(t *testing.T) {
	dlFuzzHeaders(t, NewAuto(map[string]string{Requests: "1m"}), []string{"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset",
		"x-ratelimit-limit-requests", "x-rate-limit-limit-requests", "x-ratelimit-remaining-tokens-minute", "x-ratelimit-reset-tokens-minute",
		"x-ratelimit-limit-tokens-minute", "RateLimit", "RateLimit-Policy", "RateLimit-Limit", "retry-after-ms", "Date"})
}

func TestAutoAllocs(t *testing.T) {
	in := dlInput(200, "", "Date", "Sat, 23 May 2026 12:00:00 GMT",
		"X-Ratelimit-Limit-Requests-Minute", "500", "X-Ratelimit-Remaining-Requests-Minute", "498", "X-Ratelimit-Reset-Requests-Minute", "0.12",
		"X-Ratelimit-Limit-Tokens-Minute", "500000", "X-Ratelimit-Remaining-Tokens-Minute", "483609", "X-Ratelimit-Reset-Tokens-Minute", "1s")
	if a := dlAllocs(Auto, in); a > 2 {
		t.Errorf("%v allocations per parse, want ≤ 2", a)
	}
}
