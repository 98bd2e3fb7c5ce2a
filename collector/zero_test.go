package collector

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/headroomhq/headroom/parsers"
)

// TestZeroSeries: counters whose label values are known exist at 0 before
// anything happened, so rate() and the dashboards read 0, not "No data".
func TestZeroSeries(t *testing.T) {
	c, reg, clk := newTest(t, Options{})
	want := `
# HELP headroom_series_dropped_total Observations whose model or key was folded into "other" by the cardinality caps, or whose rate-limit series was not created because the provider had reached its series cap.
# TYPE headroom_series_dropped_total counter
headroom_series_dropped_total{provider="heroku-us"} 0
headroom_series_dropped_total{provider="predictions"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "headroom_series_dropped_total"); err != nil {
		t.Error(err)
	}
	for _, p := range []string{"heroku-us", "predictions"} {
		for _, r := range UpstreamErrorReasons {
			if v := testutil.ToFloat64(c.upstreamErrors.WithLabelValues(p, r)); v != 0 {
				t.Errorf("upstream errors %s %s = %v", p, r, v)
			}
		}
	}
	if n := testutil.CollectAndCount(c.upstreamErrors); n != 2*len(UpstreamErrorReasons) {
		t.Errorf("%d upstream error series at start, want %d", n, 2*len(UpstreamErrorReasons))
	}
	if n := testutil.CollectAndCount(c.clientErrors); n != 2*len(ClientErrorReasons) {
		t.Errorf("%d client error series at start, want %d", n, 2*len(ClientErrorReasons))
	}
	if n, err := testutil.GatherAndCount(reg, "headroom_ratelimited_total", "headroom_parse_errors_total"); err != nil || n != 0 {
		t.Errorf("%d ratelimited/parse error series before any call (%v), want none: their labels are not known yet", n, err)
	}

	// A call's first observations of two limits: 0 429s on each.
	now := clk.Now()
	l := c.Labels("heroku-us", "claude-4-sonnet", "k-1")
	res := &parsers.Result{Observations: []parsers.Observation{
		{Resource: "requests", Window: "1m", Limit: 150, Remaining: 149, HasLimit: true, HasRemaining: true, Reset: now.Add(time.Minute)},
		{Resource: "tokens", Window: "1m", Limit: 800000, Remaining: 799000, HasLimit: true, HasRemaining: true, Reset: now.Add(time.Minute)},
	}}
	c.ObserveResponse(l, 200, res, now)
	c.ObserveResponse(l, 429, &parsers.Result{ThrottledResource: "requests"}, now)
	want = `
# HELP headroom_ratelimited_total Responses with status 429, by the limit that was hit (unknown when the response does not tell).
# TYPE headroom_ratelimited_total counter
headroom_ratelimited_total{key="k-1",model="claude-4-sonnet",provider="heroku-us",resource="requests"} 1
headroom_ratelimited_total{key="k-1",model="claude-4-sonnet",provider="heroku-us",resource="tokens"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "headroom_ratelimited_total"); err != nil {
		t.Error(err)
	}
	// A reload adds the new provider's series; the zero series are not
	// counted twice.
	c.SetProviders([]Provider{{Name: "heroku-us", Family: "heroku", Dialect: "heroku"}, {Name: "sambanova", Family: "sambanova", Dialect: "sambanova"}})
	if v := testutil.ToFloat64(c.dropped.WithLabelValues("sambanova")); v != 0 {
		t.Errorf("dropped sambanova = %v", v)
	}
	if n := testutil.CollectAndCount(c.upstreamErrors); n != 3*len(UpstreamErrorReasons) {
		t.Errorf("%d upstream error series after the reload, want %d", n, 3*len(UpstreamErrorReasons))
	}
}

// TestUpstreamErrorReasonsDocumented keeps the reasons created at 0 and the
// documented ones the same.
func TestUpstreamErrorReasonsDocumented(t *testing.T) {
	b, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "| `headroom_upstream_errors_total`") {
			if !strings.Contains(line, "`"+strings.Join(UpstreamErrorReasons[:3], "`, `")+"` or `"+UpstreamErrorReasons[3]+"`") {
				t.Errorf("docs/metrics.md's reasons differ from UpstreamErrorReasons %v: %s", UpstreamErrorReasons, line)
			}
			return
		}
	}
	t.Error("docs/metrics.md has no headroom_upstream_errors_total row")
}

// TestClientErrorReasonsDocumented: every reason created at 0 is in the
// documented row, and the row names no other.
func TestClientErrorReasonsDocumented(t *testing.T) {
	b, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	var row string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "| `headroom_client_errors_total`") {
			row = line
		}
	}
	if row == "" {
		t.Fatal("no headroom_client_errors_total row in docs/metrics.md")
	}
	for _, r := range ClientErrorReasons {
		if !strings.Contains(row, "`"+r+"`") {
			t.Errorf("reason %q is not documented", r)
		}
	}
}
