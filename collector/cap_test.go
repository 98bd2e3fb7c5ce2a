package collector

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/headroomhq/headroom/parsers"
)

func twoLimits(limit, rem float64) *parsers.Result {
	return &parsers.Result{Observations: []parsers.Observation{
		{Resource: "requests", Window: "1m", Limit: limit, Remaining: rem, HasLimit: true, HasRemaining: true},
		{Resource: "tokens", Window: "1m", Limit: limit, Remaining: rem, HasLimit: true, HasRemaining: true},
	}}
}

// TestSeriesCap: past MaxSeriesPerProvider a provider's new rate-limit
// series are dropped and each such call is counted once in
// headroom_series_dropped_total; its existing series keep updating, other
// providers are not affected, and expired series make room again.
func TestSeriesCap(t *testing.T) {
	c, reg, clk := newTest(t, Options{MaxSeriesPerProvider: 5, MaxKeysPerProvider: 4, StaleGrace: time.Second})
	for i := range 3 { // 6 series wanted: the third call gets one of its two
		c.ObserveResponse(c.Labels("heroku-us", "claude-4-sonnet", fmt.Sprintf("k-%d", i)), 200, twoLimits(100, 50), clk.Now())
	}
	if n := testutil.CollectAndCount(c, "headroom_ratelimit_limit"); n != 5 {
		t.Fatalf("%d series, want the cap, 5", n)
	}
	if got := testutil.ToFloat64(c.dropped.WithLabelValues("heroku-us")); got != 1 {
		t.Errorf("series_dropped_total = %v after one capped call, want 1", got)
	}
	// Existing series still update.
	c.ObserveResponse(c.Labels("heroku-us", "claude-4-sonnet", "k-0"), 200, twoLimits(100, 7), clk.Now())
	if got := gather(t, reg, "headroom_ratelimit_remaining"); !strings.Contains(got, "key=k-0,model=claude-4-sonnet,provider=heroku-us,resource=requests,window=1m} 7") {
		t.Errorf("a series under the cap stopped updating:\n%s", got)
	}
	// A call whose key is folded into "other" (key cap 4, k-0..k-3 taken
	// after this one) and whose series are capped counts once.
	c.ObserveResponse(c.Labels("heroku-us", "claude-4-sonnet", "k-3"), 200, twoLimits(100, 50), clk.Now())
	c.ObserveResponse(c.Labels("heroku-us", "claude-4-sonnet", "k-4"), 200, twoLimits(100, 50), clk.Now())
	if got := testutil.ToFloat64(c.dropped.WithLabelValues("heroku-us")); got != 3 {
		t.Errorf("series_dropped_total = %v, want 3 (k-2's tokens, k-3 capped, k-4 folded and capped: once)", got)
	}
	// Another provider has its own cap.
	c.ObserveResponse(c.Labels("predictions", "x", "k-0"), 200, twoLimits(60, 1), clk.Now())
	if got := gather(t, reg, "headroom_ratelimit_limit"); strings.Count(got, "provider=predictions") != 2 {
		t.Errorf("predictions limited by heroku-us's cap:\n%s", got)
	}
	// Once the old series expire (1m + 1s), new ones fit again; the handler
	// expires them as a scrape through the registry does.
	clk.Add(62 * time.Second)
	scrape(t, c.Handler(nil, HandlerOpts{}), "", false)
	c.ObserveResponse(c.Labels("heroku-us", "claude-4-sonnet", "k-1"), 200, twoLimits(100, 50), clk.Now())
	got := gather(t, reg, "headroom_ratelimit_limit")
	if strings.Count(got, "provider=heroku-us") != 2 || !strings.Contains(got, "key=k-1,") {
		t.Errorf("no room after expiry:\n%s", got)
	}
	// Removing a provider frees its count too.
	c.SetProviders([]Provider{{Name: "predictions", Family: "predictions", Dialect: "predictions", PerKeyLimits: true}})
	c.SetProviders([]Provider{{Name: "heroku-us", Family: "heroku", Dialect: "heroku"}})
	for i := range 2 {
		c.ObserveResponse(c.Labels("heroku-us", "m", fmt.Sprintf("k-%d", i)), 200, twoLimits(1, 1), clk.Now())
	}
	if n := testutil.CollectAndCount(c, "headroom_ratelimit_limit"); n != 4 {
		t.Errorf("%d series after the provider was removed and re-added, want 4", n)
	}
}

// TestSeriesCapDefault: the default cap holds the 10k series of the scale
// benchmark (docs/benchmarks.md).
func TestSeriesCapDefault(t *testing.T) {
	c, _, clk := newTest(t, Options{})
	for i := range 5001 {
		l := Labels{Provider: "heroku-us", Model: fmt.Sprintf("m-%d", i%100), LimitModel: fmt.Sprintf("m-%d", i%100), Key: fmt.Sprintf("k-%d", i/100)}
		c.ObserveResponse(l, 200, twoLimits(1, 1), clk.Now())
	}
	if n := len(c.Snapshot()); n != DefaultMaxSeriesPerProvider {
		t.Errorf("%d series, want %d", n, DefaultMaxSeriesPerProvider)
	}
}

// TestHandlerConsistentUnderLoad scrapes through Handler while series are
// created, updated and expire: every scrape parses, is sorted without
// duplicates, and shows each series' limit and remaining from the same
// observation (they are always written equal here). Run with -race.
func TestHandlerConsistentUnderLoad(t *testing.T) {
	c, _, clk := newTest(t, Options{MaxKeysPerProvider: 1000, StaleGrace: time.Second})
	h := c.Handler(restRegistry(), HandlerOpts{})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				l := c.Labels("heroku-us", "claude-4-sonnet", fmt.Sprintf("k-%d-%d", g, i%200))
				v := float64(i)
				c.ObserveResponse(l, 200, &parsers.Result{Observations: []parsers.Observation{
					{Resource: "requests", Window: "1m", Limit: v, Remaining: v, HasLimit: true, HasRemaining: true, Reset: clk.Now()},
					{Resource: "tokens", Window: "1s", Limit: v, Remaining: v, HasLimit: true, HasRemaining: true}}}, clk.Now())
				c.ObserveCompletion(l, 200+i%3, time.Duration(i)*time.Millisecond, int64(i), 1)
				if i%50 == 0 {
					clk.Add(100 * time.Millisecond) // the 1s windows expire as we go
				}
			}
		}()
	}
	for n := range 21 {
		gz := n%2 == 0
		switch n % 3 {
		case 0:
			body, _ := scrape(t, h, scrapeFormats[0].accept, gz)
			checkSameObservation(t, n, parseText(t, body))
			// Sorted, no duplicates: the line order of every family.
			var prev, fam string
			for _, line := range strings.Split(body, "\n") {
				if line == "" || line[0] == '#' {
					prev = ""
					continue
				}
				name, _, _ := strings.Cut(line, "{")
				series, _, _ := strings.Cut(line, " ")
				if name != fam {
					fam, prev = name, ""
				}
				if prev != "" && strings.HasPrefix(name, "headroom_ratelimit_") && series <= prev {
					t.Fatalf("scrape %d: %s after %s", n, series, prev)
				}
				prev = series
			}
		case 1:
			body, _ := scrape(t, h, scrapeFormats[1].accept, gz)
			if !strings.HasSuffix(body, "# EOF\n") {
				t.Fatal("OpenMetrics scrape without # EOF")
			}
		case 2:
			// Protobuf families are sized before they are written: a value
			// changing in between would make the stream unreadable.
			body, _ := scrape(t, h, protoAccept, gz)
			mfs := map[string]*dto.MetricFamily{}
			for _, mf := range decodeProto(t, body) {
				mfs[mf.GetName()] = mf
				ms := mf.GetMetric()
				for i := 1; i < len(ms); i++ {
					if slices.Compare(labelValues(ms[i-1]), labelValues(ms[i])) >= 0 {
						t.Fatalf("scrape %d: %s: %v after %v", n, mf.GetName(), labelValues(ms[i]), labelValues(ms[i-1]))
					}
				}
			}
			for _, name := range []string{"headroom_request_duration_seconds", "headroom_requests_total", "headroom_tokens_total"} {
				if mfs[name] == nil {
					t.Fatalf("scrape %d: no %s", n, name)
				}
			}
			checkSameObservation(t, n, mfs)
		}
	}
	close(stop)
	wg.Wait()
}

// checkSameObservation: each series' limit and remaining, written equal,
// come from the same observation.
func checkSameObservation(t *testing.T, n int, mfs map[string]*dto.MetricFamily) {
	t.Helper()
	limits := map[string]float64{}
	for _, m := range mfs["headroom_ratelimit_limit"].GetMetric() {
		limits[fmt.Sprint(labelValues(m))] = m.GetGauge().GetValue()
	}
	rem := mfs["headroom_ratelimit_remaining"].GetMetric()
	if len(rem) != len(limits) || len(rem) == 0 {
		t.Fatalf("scrape %d: %d remaining series, %d limit series", n, len(rem), len(limits))
	}
	for _, m := range rem {
		if l, ok := limits[fmt.Sprint(labelValues(m))]; !ok || l != m.GetGauge().GetValue() {
			t.Fatalf("scrape %d: remaining %v and limit %v (%v) from different observations", n, m.GetGauge().GetValue(), l, ok)
		}
	}
}

func labelValues(m *dto.Metric) []string {
	var out []string
	for _, l := range m.GetLabel() {
		out = append(out, l.GetValue())
	}
	return out
}
