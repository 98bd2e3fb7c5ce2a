package parsers

import (
	"math"
	"math/rand"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Helpers shared by the together, mistral, fireworks, github and ietf tests.

var dlReceived = time.Date(2026, 5, 23, 12, 0, 0, 0, time.UTC)

// dlInput builds a response from header name/value pairs (a name may repeat).
func dlInput(status int, body string, kv ...string) *Input {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return &Input{Status: status, Header: h, Body: []byte(body), Received: dlReceived}
}

func dlParse(t testing.TB, d Dialect, in *Input) *Result {
	t.Helper()
	var r Result
	d.Parse(in, &r)
	dlCheckInvariants(t, &r)
	return &r
}

// dlCheckInvariants enforces the Dialect contract on a result.
func dlCheckInvariants(t testing.TB, r *Result) {
	t.Helper()
	bad := func(f float64) bool { return f < 0 || math.IsNaN(f) || math.IsInf(f, 0) || f > maxValue }
	for _, o := range r.Observations {
		if (o.HasLimit && bad(o.Limit)) || (o.HasRemaining && bad(o.Remaining)) {
			t.Errorf("invalid observation %+v", o)
		}
		if !o.HasLimit && !o.HasRemaining {
			t.Errorf("empty observation %+v", o)
		}
		if o.HasLimit && o.HasRemaining && o.Remaining > o.Limit {
			t.Errorf("remaining above limit %+v", o)
		}
		if o.Resource == "" || o.Window == "" {
			t.Errorf("unlabelled observation %+v", o)
		}
		if _, err := ParseWindow(o.Window); err != nil {
			t.Errorf("bad window %q", o.Window)
		}
	}
	if r.RetryAfter < 0 {
		t.Errorf("negative retry-after %v", r.RetryAfter)
	}
}

func dlFind(t testing.TB, r *Result, resource, window string) Observation {
	t.Helper()
	o, ok := r.Find(resource, window)
	if !ok {
		t.Fatalf("no %s/%s observation in %+v", resource, window, r.Observations)
	}
	return o
}

// dlAllocs measures allocations of a full parse with a reused Result.
func dlAllocs(d Dialect, in *Input) float64 {
	var r Result
	d.Parse(in, &r)
	return testing.AllocsPerRun(200, func() {
		r.Reset()
		d.Parse(in, &r)
	})
}

// dlFuzzHeaders parses random values under the dialect's header names: the
// contract (no panic, no negative, NaN or infinite value) must hold.
func dlFuzzHeaders(t *testing.T, d Dialect, names []string) {
	values := []string{"", "0", "1", "-1", "NaN", "+Inf", "1e400", "1e15", "1e16", "3.5", "abc", "60s", "-5s",
		"1700000000", "1700000000000", "Mon, 02 Jan 2006 15:04:05 GMT", "2026-05-23T12:00:00Z", `"x";r=1`,
		`"x";q=-1;w=60`, `"x";q=5;w=0`, `limit=5, remaining=9, reset=-1`, "5, 5;w=1", "(1 2)", `"a";r=1;t=99999999999`,
		"99999999999999999999", "0x10", " 7 ", "1_000"}
	rng := rand.New(rand.NewSource(7))
	for n := 0; n < 3000; n++ {
		var kv []string
		for _, name := range names {
			if rng.Intn(3) > 0 {
				kv = append(kv, name, values[rng.Intn(len(values))])
			}
		}
		if rng.Intn(4) == 0 {
			kv = append(kv, "Retry-After", values[rng.Intn(len(values))])
		}
		status := []int{200, 429, 403, 503}[rng.Intn(4)]
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("panic on %q: %v", kv, p)
				}
			}()
			dlParse(t, d, dlInput(status, `{"error":{"type":"dynamic_token_limited"}}`, kv...))
		}()
	}
}

func TestGitHubStyleWindow(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"1h", "1h"}, {"60m", "1h"}, {"15m", "15m"}, {"3600s", "1h"}, {"1d", "1d"},
	} {
		d := NewGitHubStyle("example", tc.in)
		r := dlParse(t, d, dlInput(200, "", "X-RateLimit-Limit", "100", "X-RateLimit-Remaining", "7"))
		if o := dlFind(t, r, Requests, tc.want); o.Limit != 100 || o.Remaining != 7 {
			t.Errorf("%s: %+v", tc.in, o)
		}
		if d.Name() != "example" {
			t.Errorf("Name = %q", d.Name())
		}
	}
	for _, bad := range []string{"", "hourly", "1x"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewGitHubStyle(%q) did not panic", bad)
				}
			}()
			NewGitHubStyle("x", bad)
		}()
	}
}

func TestGitHubStyleIgnoresResource(t *testing.T) {
	// The generic style takes any X-RateLimit-Resource with its own window.
	d := NewGitHubStyle("example", "15m")
	r := dlParse(t, d, dlInput(200, "", "X-RateLimit-Limit", "300", "X-RateLimit-Remaining", "299", "X-RateLimit-Resource", "graphql"))
	dlFind(t, r, Requests, "15m")
}

func TestGitHubResources(t *testing.T) {
	cases := []struct {
		resource, window string // window "" = not exported
	}{
		{"core", "1h"},
		{"search", "1m"},
		{"graphql", ""},     // points, not requests
		{"code_search", ""}, // a second per-minute bucket
		{"integration_manifest", ""},
		{"", "1h"}, // header absent
	}
	for _, tc := range cases {
		kv := []string{"X-RateLimit-Limit", "5000", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "1779537600"}
		if tc.resource != "" {
			kv = append(kv, "X-RateLimit-Resource", tc.resource)
		}
		r := dlParse(t, GitHub, dlInput(http.StatusTooManyRequests, "", kv...))
		switch {
		case tc.window == "" && len(r.Observations) != 0:
			t.Errorf("%s: exported %+v", tc.resource, r.Observations)
		case tc.window == "" && r.ThrottledResource != "":
			t.Errorf("%s: throttled %q", tc.resource, r.ThrottledResource)
		case tc.window != "":
			dlFind(t, r, Requests, tc.window)
			if r.ThrottledResource != Requests {
				t.Errorf("%s: throttled %q", tc.resource, r.ThrottledResource)
			}
		}
	}
}

func TestGitHubUsed(t *testing.T) {
	cases := []struct {
		name    string
		kv      []string
		want    float64
		has     bool
		nErrors int
	}{
		{"used stands in", []string{"X-RateLimit-Limit", "60", "X-RateLimit-Used", "4"}, 56, true, 0},
		{"used over limit", []string{"X-RateLimit-Limit", "60", "X-RateLimit-Used", "75"}, 0, true, 0},
		{"remaining wins", []string{"X-RateLimit-Limit", "60", "X-RateLimit-Remaining", "50", "X-RateLimit-Used", "4"}, 50, true, 0},
		{"no limit", []string{"X-RateLimit-Used", "4", "X-RateLimit-Reset", "1779537600"}, 0, false, 0},
		{"bad used", []string{"X-RateLimit-Limit", "60", "X-RateLimit-Used", "four"}, 0, false, 1},
		{"bad remaining is not replaced", []string{"X-RateLimit-Limit", "60", "X-RateLimit-Remaining", "-", "X-RateLimit-Used", "4"}, 0, false, 1},
	}
	for _, tc := range cases {
		r := dlParse(t, GitHub, dlInput(200, "", tc.kv...))
		o, ok := r.Find(Requests, "1h")
		if tc.has != (ok && o.HasRemaining) || (tc.has && o.Remaining != tc.want) {
			t.Errorf("%s: %+v", tc.name, r.Observations)
		}
		if len(r.Errors) != tc.nErrors {
			t.Errorf("%s: errors %v", tc.name, r.Errors)
		}
	}
}

func TestGitHubReset(t *testing.T) {
	// Epoch seconds, shifted by the skew to the Date header; a small value is
	// seconds from now (many GitHub-style APIs send that).
	in := dlInput(200, "", "Date", "Sat, 23 May 2026 11:59:00 GMT", "X-RateLimit-Limit", "60",
		"X-RateLimit-Remaining", "1", "X-RateLimit-Reset", "1779537600")
	r := dlParse(t, GitHub, in)
	if got := dlFind(t, r, Requests, "1h").Reset; !got.Equal(time.Unix(1779537600, 0).Add(time.Minute)) {
		t.Errorf("skewed epoch reset = %v", got)
	}
	r = dlParse(t, GitHub, dlInput(200, "", "X-RateLimit-Limit", "100", "X-RateLimit-Remaining", "42", "X-RateLimit-Reset", "23"))
	if got := dlFind(t, r, Requests, "1h").Reset; !got.Equal(dlReceived.Add(23 * time.Second)) {
		t.Errorf("relative reset = %v", got)
	}
}

func TestGitHubDuplicates(t *testing.T) {
	r := dlParse(t, GitHub, dlInput(200, "", "X-RateLimit-Limit", "60", "X-RateLimit-Limit", "5000", "X-RateLimit-Remaining", "50", "Retry-After", "1", "Retry-After", "2"))
	if o := dlFind(t, r, Requests, "1h"); o.HasLimit || o.Remaining != 50 {
		t.Errorf("ambiguous limit was used: %+v", o)
	}
	if len(r.Errors) != 2 || r.HasRetryAfter {
		t.Errorf("errors %v, retry-after %v", r.Errors, r.RetryAfter)
	}
	// The same value twice is not ambiguous.
	r = dlParse(t, GitHub, dlInput(200, "", "X-RateLimit-Limit", "60", "X-RateLimit-Limit", "60"))
	if o := dlFind(t, r, Requests, "1h"); o.Limit != 60 || len(r.Errors) != 0 {
		t.Errorf("%+v %v", o, r.Errors)
	}
}

func TestGitHubRandomHeaders(t *testing.T) {
	dlFuzzHeaders(t, GitHub, []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Used", "X-RateLimit-Reset", "X-RateLimit-Resource", "Date"})
}

var gitHubBench = dlInput(200, "",
	"Date", "Mon, 01 Jul 2013 17:27:06 GMT",
	"Content-Type", "application/json; charset=utf-8",
	"X-GitHub-Media-Type", "github.v3; format=json",
	"X-RateLimit-Limit", "5000",
	"X-RateLimit-Remaining", "4966",
	"X-RateLimit-Reset", "1372700873",
	"X-RateLimit-Used", "34",
	"X-RateLimit-Resource", "core",
	"X-GitHub-Request-Id", "7A2B:18BC28:6C2BB7A:6D7253B:66FC3921",
)

func TestGitHubAllocs(t *testing.T) {
	if a := dlAllocs(GitHub, gitHubBench); a > 2 {
		t.Errorf("%v allocations per parse, want ≤ 2", a)
	}
}

func BenchmarkGitHub(b *testing.B) {
	var r Result
	b.ReportAllocs()
	for b.Loop() {
		r.Reset()
		GitHub.Parse(gitHubBench, &r)
	}
}

// parseHTTPDate's fast path (values.go) must agree with http.ParseTime.
func TestParseHTTPDateMatchesNetHTTP(t *testing.T) {
	cases := []string{
		"Mon, 01 Jul 2013 17:27:06 GMT", "Sun, 06 Nov 1994 08:49:37 GMT", "Sat, 29 Feb 2020 23:59:59 GMT",
		"Thu, 31 Dec 2099 00:00:00 GMT", "Wed, 01 Jan 0001 00:00:00 GMT",
		// Not IMF-fixdate: left to http.ParseTime (obsolete forms) or rejected.
		"Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
		"Sat, 29 Feb 2021 12:00:00 GMT", "Mon, 31 Apr 2013 12:00:00 GMT", "Mon, 00 Jul 2013 17:27:06 GMT",
		"Mon, 01 Jul 2013 24:00:00 GMT", "Mon, 01 Jul 2013 17:60:06 GMT", "Mon, 01 Jul 2013 17:27:60 GMT",
		"Xyz, 01 Jul 2013 17:27:06 GMT", "Mon, 01 Jux 2013 17:27:06 GMT", "Mon, 01 Jul 2013 17:27:06 UTC",
		"Mon, 0a Jul 2013 17:27:06 GMT", "Mon, 01 Jul 20x3 17:27:06 GMT", "Mon, 01 Jul 2013 17:27:06 GM",
		"Mon, 1 Jul 2013 17:27:06 GMT", "mon, 01 jul 2013 17:27:06 GMT", "", "1372700873",
	}
	for _, s := range cases {
		got, gotErr := parseHTTPDate(s)
		want, wantErr := http.ParseTime(s)
		if (gotErr == nil) != (wantErr == nil) || !got.Equal(want) {
			t.Errorf("%q: got %v, %v; net/http %v, %v", s, got, gotErr, want, wantErr)
		}
	}
}

// parseSeconds' integer fast path (values.go) must give what ParseFloat
// gives.
func TestParseCountIntegerFastPath(t *testing.T) {
	for _, s := range []string{"0", "00", "7", "007", "4966", "9999834127", "999999999999999", "1000000000000000", "123456789012345678"} {
		got, err := ParseCount(s)
		want, _ := strconv.ParseFloat(s, 64)
		if want > maxValue {
			if err != ErrOverflow {
				t.Errorf("%q: %v, %v; want overflow", s, got, err)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("%q: %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "-0", "+5", "5.0", "1e3", "0x10", "5 ", "١٢"} {
		got, err := ParseCount(s)
		want, werr := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if (err == nil) != (werr == nil) || (err == nil && got != want) {
			t.Errorf("%q: %v, %v; ParseFloat %v, %v", s, got, err, want, werr)
		}
	}
}
