package parsers

import (
	"net/http"
	"testing"
	"time"
)

func TestIETFCurrentDraft(t *testing.T) {
	type obs struct {
		key              string // resource/window
		limit, remaining float64
		hasLimit, hasRem bool
		reset            time.Duration // from received; -1 none
	}
	cases := []struct {
		name    string
		kv      []string
		want    []obs
		nErrors int
	}{
		{"policy only", []string{"RateLimit-Policy", `"default";q=100;w=10`},
			[]obs{{"requests/10s", 100, 0, true, false, -1}}, 0},
		{"qu requests and request", []string{"RateLimit-Policy", `"a";q=1;qu="requests";w=1, "b";q=2;qu="request";w=60`},
			[]obs{{"requests/1s", 1, 0, true, false, -1}, {"requests/1m", 2, 0, true, false, -1}}, 0},
		{"content-bytes skipped", []string{"RateLimit-Policy", `"bytes";q=65535;qu="content-bytes";w=10`, "RateLimit", `"bytes";r=10;t=1`},
			nil, 0},
		{"unregistered unit skipped", []string{"RateLimit-Policy", `"tok";q=1000;qu="tokens";w=60`},
			nil, 0},
		{"concurrency", []string{"RateLimit-Policy", `"c";q=10;qu="concurrent-requests";w=60`, "RateLimit", `"c";r=0`},
			[]obs{{"concurrency/none", 10, 0, true, true, -1}}, 0},
		{"t optional", []string{"RateLimit-Policy", `"d";q=10;w=60`, "RateLimit", `"d";r=999;pk=:dHJpYWwxMjEzMjM=:`},
			[]obs{{"requests/1m", 10, 10, true, true, -1}}, 0}, // r clamped to q
		{"vendor parameters ignored", []string{"RateLimit-Policy", `"d";q=10;w=60;acme-burst=5;comment="x"`, "RateLimit", `"d";r=5;t=3;acme-x=?1`},
			[]obs{{"requests/1m", 10, 5, true, true, 3 * time.Second}}, 0},
		{"repeated parameter: last wins", []string{"RateLimit-Policy", `"d";q=10;w=60;q=20`, "RateLimit", `"d";r=1;r=2;t=3`},
			[]obs{{"requests/1m", 20, 2, true, true, 3 * time.Second}}, 0},
		{"usage before policy in the response", []string{"RateLimit", `"d";r=4;t=2`, "RateLimit-Policy", `"d";q=10;w=60`},
			[]obs{{"requests/1m", 10, 4, true, true, 2 * time.Second}}, 0},
		{"unknown policy name: no window", []string{"RateLimit-Policy", `"d";q=10;w=60`, "RateLimit", `"other";r=4;t=2`},
			[]obs{{"requests/1m", 10, 0, true, false, -1}}, 0},
		{"same window twice: lower remaining kept", []string{"RateLimit-Policy", `"a";q=100;w=60, "b";q=50;w=60`, "RateLimit", `"a";r=90, "b";r=10`},
			[]obs{{"requests/1m", 50, 10, true, true, -1}}, 0},
		{"odd window", []string{"RateLimit-Policy", `"d";q=10;w=90`},
			[]obs{{"requests/1m30s", 10, 0, true, false, -1}}, 0},

		{"missing q", []string{"RateLimit-Policy", `"d";w=60`, "RateLimit", `"d";r=1;t=1`}, nil, 1},
		{"negative q", []string{"RateLimit-Policy", `"d";q=-1;w=60`}, nil, 1},
		{"decimal w", []string{"RateLimit-Policy", `"d";q=1;w=1.5`}, nil, 1},
		{"zero w", []string{"RateLimit-Policy", `"d";q=1;w=0`}, nil, 1},
		{"huge w", []string{"RateLimit-Policy", `"d";q=1;w=999999999999`}, nil, 1},
		{"qu not a string", []string{"RateLimit-Policy", `"d";q=1;w=60;qu=requests`}, nil, 1},
		{"token policy name", []string{"RateLimit-Policy", `d;q=1;w=60`}, nil, 1},
		{"missing r", []string{"RateLimit-Policy", `"d";q=10;w=60`, "RateLimit", `"d";t=5`},
			[]obs{{"requests/1m", 10, 0, true, false, -1}}, 1},
		{"negative r", []string{"RateLimit-Policy", `"d";q=10;w=60`, "RateLimit", `"d";r=-1`},
			[]obs{{"requests/1m", 10, 0, true, false, -1}}, 1},
		{"negative t", []string{"RateLimit-Policy", `"d";q=10;w=60`, "RateLimit", `"d";r=1;t=-5`},
			[]obs{{"requests/1m", 10, 0, true, false, -1}}, 1},
		{"t beyond a year", []string{"RateLimit-Policy", `"d";q=10;w=60`, "RateLimit", `"d";r=1;t=999999999999`},
			[]obs{{"requests/1m", 10, 0, true, false, -1}}, 1},
		{"invalid policy drops its usage", []string{"RateLimit-Policy", `"d";q=-10;w=60`, "RateLimit", `"d";r=1;t=5`}, nil, 1},
		{"syntax error in RateLimit-Policy", []string{"RateLimit-Policy", `"d";q=10;w=60,`, "RateLimit", `"d";r=1;t=5`}, nil, 1},
		{"syntax error in RateLimit", []string{"RateLimit-Policy", `"d";q=10;w=60`, "RateLimit", `"d";r=1;t=5;`},
			[]obs{{"requests/1m", 10, 0, true, false, -1}}, 1},
		{"mixed list", []string{"RateLimit", `"d";r=1, 5`}, nil, 1},
	}
	for _, tc := range cases {
		r := dlParse(t, IETF, dlInput(200, "", tc.kv...))
		if len(r.Errors) != tc.nErrors {
			t.Errorf("%s: errors %v, want %d", tc.name, r.Errors, tc.nErrors)
		}
		if len(r.Observations) != len(tc.want) {
			t.Errorf("%s: %+v, want %+v", tc.name, r.Observations, tc.want)
			continue
		}
		for i, w := range tc.want {
			o := r.Observations[i]
			if o.Resource+"/"+o.Window != w.key || o.HasLimit != w.hasLimit || o.HasRemaining != w.hasRem || o.Limit != w.limit || o.Remaining != w.remaining {
				t.Errorf("%s: [%d] %+v, want %+v", tc.name, i, o, w)
			}
			if (w.reset < 0) != o.Reset.IsZero() || (w.reset >= 0 && !o.Reset.Equal(dlReceived.Add(w.reset))) {
				t.Errorf("%s: [%d] reset %v, want +%v", tc.name, i, o.Reset, w.reset)
			}
		}
	}
}

func TestIETFOlderDrafts(t *testing.T) {
	cases := []struct {
		name      string
		kv        []string
		key       string
		limit     float64
		remaining float64
		hasRem    bool
		reset     time.Duration
		n         int
		nErrors   int
	}{
		{"draft-07 without reset", []string{"RateLimit-Policy", "100;w=60", "RateLimit", "limit=100, remaining=5"}, "requests/1m", 100, 5, true, -1, 1, 0},
		{"draft-07 policy picked by quota", []string{"RateLimit-Policy", "10;w=1, 50;w=60", "RateLimit", "limit=50, remaining=5, reset=30"}, "requests/1m", 50, 5, true, 30 * time.Second, 2, 0},
		{"draft-07 negative remaining", []string{"RateLimit-Policy", "100;w=60", "RateLimit", "limit=100, remaining=-5, reset=1"}, "requests/1m", 100, 0, false, time.Second, 1, 1},
		{"draft-07 token reset", []string{"RateLimit-Policy", "100;w=60", "RateLimit", "limit=100, remaining=5, reset=soon"}, "requests/1m", 100, 5, true, -1, 1, 1},
		{"draft-07 dictionary without limit keys", []string{"RateLimit-Policy", "100;w=60", "RateLimit", "foo=1"}, "requests/1m", 100, 0, false, -1, 1, 1},
		{"separate fields, policy field", []string{"RateLimit-Policy", "100;w=60", "RateLimit-Limit", "100", "RateLimit-Remaining", "42", "RateLimit-Reset", "10"}, "requests/1m", 100, 42, true, 10 * time.Second, 1, 0},
		{"windowed RateLimit-Limit", []string{"RateLimit-Limit", "100;w=60", "RateLimit-Remaining", "42"}, "requests/1m", 100, 42, true, -1, 1, 0},
		{"remaining only, one policy", []string{"RateLimit-Policy", "100;w=3600", "RateLimit-Remaining", "7"}, "requests/1h", 100, 7, true, -1, 1, 0},
		{"epoch reset tolerated", []string{"RateLimit-Policy", "100;w=60", "RateLimit-Limit", "100", "RateLimit-Remaining", "1", "RateLimit-Reset", "1779537630"}, "requests/1m", 100, 1, true, 30 * time.Second, 1, 0},
		{"bad remaining", []string{"RateLimit-Policy", "100;w=60", "RateLimit-Limit", "100", "RateLimit-Remaining", "many"}, "requests/1m", 100, 0, false, -1, 1, 1},
		{"bad limit", []string{"RateLimit-Policy", "100;w=60", "RateLimit-Limit", "a lot", "RateLimit-Remaining", "3"}, "requests/1m", 100, 3, true, -1, 1, 1},
		{"repeated remaining", []string{"RateLimit-Policy", "100;w=60", "RateLimit-Limit", "100", "RateLimit-Remaining", "3", "RateLimit-Remaining", "4"}, "requests/1m", 100, 0, false, -1, 1, 1},
	}
	for _, tc := range cases {
		r := dlParse(t, IETF, dlInput(200, "", tc.kv...))
		if len(r.Errors) != tc.nErrors || len(r.Observations) != tc.n {
			t.Errorf("%s: %+v %v", tc.name, r.Observations, r.Errors)
			continue
		}
		o := r.Observations[0]
		if o.Resource+"/"+o.Window != tc.key || !o.HasLimit || o.Limit != tc.limit || o.HasRemaining != tc.hasRem || o.Remaining != tc.remaining {
			t.Errorf("%s: %+v", tc.name, o)
		}
		if (tc.reset < 0) != o.Reset.IsZero() || (tc.reset >= 0 && !o.Reset.Equal(dlReceived.Add(tc.reset))) {
			t.Errorf("%s: reset %v, want +%v", tc.name, o.Reset, tc.reset)
		}
	}
}

func TestIETFFallbackWindow(t *testing.T) {
	d := NewIETF("ietf-minute", "60s")
	if d.Name() != "ietf-minute" {
		t.Error(d.Name())
	}
	for _, kv := range [][]string{
		{"RateLimit", `"default";r=50;t=30`},
		{"RateLimit", "limit=100, remaining=50, reset=30"},
		{"RateLimit-Limit", "100", "RateLimit-Remaining", "50", "RateLimit-Reset", "30"},
	} {
		r := dlParse(t, d, dlInput(200, "", kv...))
		if o := dlFind(t, r, Requests, "1m"); o.Remaining != 50 || !o.Reset.Equal(dlReceived.Add(30*time.Second)) {
			t.Errorf("%q: %+v", kv, o)
		}
		// Without a fallback nothing is exported.
		if r := dlParse(t, IETF, dlInput(200, "", kv...)); len(r.Observations) != 0 {
			t.Errorf("%q: %+v", kv, r.Observations)
		}
	}
	// A policy's own window wins over the fallback.
	r := dlParse(t, d, dlInput(200, "", "RateLimit-Policy", `"h";q=1000;w=3600`, "RateLimit", `"h";r=1`))
	dlFind(t, r, Requests, "1h")
	func() {
		defer func() {
			if recover() == nil {
				t.Error("NewIETF with a bad window did not panic")
			}
		}()
		NewIETF("x", "soon")
	}()
}

func TestIETF429(t *testing.T) {
	cases := []struct {
		name string
		kv   []string
		want string
	}{
		{"exhausted policy", []string{"RateLimit-Policy", `"d";q=10;w=60`, "RateLimit", `"d";r=0;t=5`}, Requests},
		{"exhausted concurrency", []string{"RateLimit-Policy", `"c";q=10;qu="concurrent-requests"`, "RateLimit", `"c";r=0`}, Concurrency},
		{"exhausted without window", []string{"RateLimit", `"d";r=0;t=5`}, Requests},
		{"exhausted, older draft without window", []string{"RateLimit", "limit=10, remaining=0, reset=5"}, Requests},
		{"nothing exhausted", []string{"RateLimit-Policy", `"d";q=10;w=60`, "RateLimit", `"d";r=3;t=5`}, ""},
		{"exhausted bytes", []string{"RateLimit-Policy", `"b";q=10;qu="content-bytes";w=60`, "RateLimit", `"b";r=0`}, ""},
	}
	for _, tc := range cases {
		r := dlParse(t, IETF, dlInput(http.StatusTooManyRequests, "", tc.kv...))
		if r.ThrottledResource != tc.want {
			t.Errorf("%s: throttled %q, want %q", tc.name, r.ThrottledResource, tc.want)
		}
	}
	r := dlParse(t, IETF, dlInput(http.StatusTooManyRequests, "", "Retry-After", "later"))
	if r.HasRetryAfter || len(r.Errors) != 1 {
		t.Errorf("%v %v", r.RetryAfter, r.Errors)
	}
}

func TestIETFManyPolicies(t *testing.T) {
	// More policies than the scratch space: no panic, the first ones kept.
	v := `"p1";q=1;w=1, "p2";q=1;w=2, "p3";q=1;w=3, "p4";q=1;w=4, "p5";q=1;w=5, "p6";q=1;w=6, "p7";q=1;w=7, "p8";q=1;w=8, "p9";q=1;w=9, "p10";q=1;w=10`
	r := dlParse(t, IETF, dlInput(200, "", "RateLimit-Policy", v, "RateLimit", `"p10";r=0, "p1";r=0`))
	if len(r.Observations) != ietfMaxPolicies {
		t.Errorf("%d observations", len(r.Observations))
	}
	if o := dlFind(t, r, Requests, "1s"); o.Remaining != 0 || !o.HasRemaining {
		t.Errorf("%+v", o)
	}
}

func TestIETFRandomHeaders(t *testing.T) {
	dlFuzzHeaders(t, IETF, []string{"RateLimit", "RateLimit-Policy", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "Date"})
	dlFuzzHeaders(t, NewIETF("ietf-fallback", "1m"), []string{"RateLimit", "RateLimit-Policy", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"})
}

var ietfBench = dlInput(200, "",
	"Date", "Sat, 23 May 2026 12:00:00 GMT",
	"Content-Type", "application/json",
	"RateLimit-Policy", `"burst";q=100;w=60;pk=:cHsdsRa894==:, "daily";q=1000;w=86400;pk=:cHsdsRa894==:`,
	"RateLimit", `"burst";r=50;t=30;pk=:cHsdsRa894==:, "daily";r=900;t=3600;pk=:cHsdsRa894==:`,
)

func TestIETFAllocs(t *testing.T) {
	if a := dlAllocs(IETF, ietfBench); a > 2 {
		t.Errorf("%v allocations per parse, want ≤ 2", a)
	}
}

func BenchmarkIETF(b *testing.B) {
	var r Result
	b.ReportAllocs()
	for b.Loop() {
		r.Reset()
		IETF.Parse(ietfBench, &r)
	}
}
