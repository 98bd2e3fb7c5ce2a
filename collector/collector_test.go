package collector

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/headroomhq/headroom/parsers"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeClock) Now() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.t }
func (f *fakeClock) Add(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

func newTest(t *testing.T, opts Options) (*Collector, *prometheus.Registry, *fakeClock) {
	t.Helper()
	clk := &fakeClock{t: time.Unix(1700000000, 0)}
	opts.Now = clk.Now
	c := New(opts)
	reg := prometheus.NewPedanticRegistry()
	if err := c.Register(reg); err != nil {
		t.Fatal(err)
	}
	c.SetProviders([]Provider{
		{Name: "heroku-us", Family: "heroku", Dialect: "heroku", KnownModels: []string{"claude-4-sonnet"},
			Documented: []DocumentedLimit{{Model: "claude-4-sonnet", Resource: "requests", Window: "1m", Value: 150}}},
		{Name: "predictions", Family: "predictions", Dialect: "predictions", PerKeyLimits: true},
	})
	return c, reg, clk
}

func gather(t *testing.T, reg *prometheus.Registry, names ...string) string {
	t.Helper()
	var b strings.Builder
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	for _, mf := range mfs {
		if !want[mf.GetName()] {
			continue
		}
		for _, m := range mf.GetMetric() {
			var lv []string
			for _, l := range m.GetLabel() {
				lv = append(lv, l.GetName()+"="+l.GetValue())
			}
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
			fmt.Fprintf(&b, "%s{%s} %g\n", mf.GetName(), strings.Join(lv, ","), v)
		}
	}
	return b.String()
}

func TestZeroRemainingIsExported(t *testing.T) {
	c, reg, clk := newTest(t, Options{})
	l := c.Labels("heroku-us", "claude-4-sonnet", "k-abc")
	r := &parsers.Result{Observations: []parsers.Observation{{
		Resource: "requests", Window: "1m", Limit: 150, Remaining: 0, HasLimit: true, HasRemaining: true,
		Reset: clk.Now().Add(7 * time.Second)}}}
	c.ObserveResponse(l, 429, r, clk.Now())
	got := gather(t, reg, "headroom_ratelimit_remaining", "headroom_ratelimit_limit", "headroom_ratelimit_reset_timestamp_seconds", "headroom_ratelimited_total")
	for _, want := range []string{
		"headroom_ratelimit_remaining{key=k-abc,model=claude-4-sonnet,provider=heroku-us,resource=requests,window=1m} 0",
		"headroom_ratelimit_limit{key=k-abc,model=claude-4-sonnet,provider=heroku-us,resource=requests,window=1m} 150",
		"headroom_ratelimit_reset_timestamp_seconds{key=k-abc,model=claude-4-sonnet,provider=heroku-us,resource=requests,window=1m} 1.700000007e+09",
		"headroom_ratelimited_total{key=k-abc,model=claude-4-sonnet,provider=heroku-us,resource=unknown} 1",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %s in\n%s", want, got)
		}
	}
}

func TestMissingValuesAreNotExported(t *testing.T) {
	c, reg, clk := newTest(t, Options{})
	l := c.Labels("heroku-us", "claude-4-sonnet", "k-abc")
	// A limit without remaining (the remaining header was malformed).
	r := &parsers.Result{Observations: []parsers.Observation{{Resource: "tokens", Window: "1m", Limit: 800000, HasLimit: true}},
		Errors: []parsers.FieldError{{Header: "x-ratelimit-remaining-tokens", Value: "abc", Err: parsers.ErrSyntax}}}
	c.ObserveResponse(l, 200, r, clk.Now())
	got := gather(t, reg, "headroom_ratelimit_remaining", "headroom_ratelimit_reset_timestamp_seconds", "headroom_parse_errors_total")
	if strings.Contains(got, "headroom_ratelimit_remaining") || strings.Contains(got, "reset_timestamp") {
		t.Errorf("exported a value that was not observed:\n%s", got)
	}
	if !strings.Contains(got, "headroom_parse_errors_total{header=x-ratelimit-remaining-tokens,provider=heroku-us} 1") {
		t.Errorf("parse error not counted:\n%s", got)
	}
}

func TestStaleSeriesDisappear(t *testing.T) {
	c, reg, clk := newTest(t, Options{StaleGrace: 30 * time.Second})
	l := c.Labels("heroku-us", "claude-4-sonnet", "k-abc")
	c.ObserveResponse(l, 200, &parsers.Result{Observations: []parsers.Observation{
		{Resource: "requests", Window: "1m", Limit: 150, Remaining: 149, HasLimit: true, HasRemaining: true},
		{Resource: "requests", Window: "1d", Limit: 15000, Remaining: 1, HasLimit: true, HasRemaining: true},
	}}, clk.Now())
	clk.Add(89 * time.Second)
	if n := testutil.CollectAndCount(c, "headroom_ratelimit_remaining"); n != 2 {
		t.Fatalf("before expiry: %d series, want 2", n)
	}
	clk.Add(2 * time.Second) // 91s > 1m + 30s grace
	got := gather(t, reg, "headroom_ratelimit_remaining")
	if strings.Contains(got, "window=1m") || !strings.Contains(got, "window=1d") {
		t.Errorf("after 91s the 1m series must be gone and the 1d one kept:\n%s", got)
	}
}

func TestOutOfOrderObservationIgnored(t *testing.T) {
	c, reg, clk := newTest(t, Options{})
	l := c.Labels("heroku-us", "claude-4-sonnet", "k")
	obs := func(rem float64, at time.Time) {
		c.ObserveResponse(l, 200, &parsers.Result{Observations: []parsers.Observation{
			{Resource: "requests", Window: "1m", Limit: 150, Remaining: rem, HasLimit: true, HasRemaining: true}}}, at)
	}
	obs(10, clk.Now())
	obs(50, clk.Now().Add(-time.Second))
	if got := gather(t, reg, "headroom_ratelimit_remaining"); !strings.HasSuffix(strings.TrimSpace(got), " 10") {
		t.Errorf("older observation overwrote newer: %s", got)
	}
}

func TestCardinalityCaps(t *testing.T) {
	c, reg, _ := newTest(t, Options{MaxModelsPerProvider: 3, MaxKeysPerProvider: 2})
	for i := 0; i < 1000; i++ {
		l := c.Labels("heroku-us", fmt.Sprintf("random-%d", i), fmt.Sprintf("k-%d", i))
		c.ObserveCompletion(l, 200, time.Millisecond, 1, 1)
	}
	// The catalog model is always admitted, even past the cap.
	l := c.Labels("heroku-us", "claude-4-sonnet", "k-0")
	if l.Model != "claude-4-sonnet" {
		t.Errorf("catalog model folded: %+v", l)
	}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "headroom_requests_total" {
			// 3 admitted models × keys k-0,k-1 + other combos: bounded.
			if n := len(mf.GetMetric()); n > 3*2+3 {
				t.Errorf("headroom_requests_total has %d series", n)
			}
		}
	}
	if got := gather(t, reg, "headroom_series_dropped_total"); !strings.Contains(got, "provider=heroku-us} 998") {
		t.Errorf("drops not counted: %s", got)
	}
}

func TestPerKeyProviderDropsModelFromGauges(t *testing.T) {
	c, reg, clk := newTest(t, Options{})
	l := c.Labels("predictions", "owner/model", "k")
	c.ObserveResponse(l, 200, &parsers.Result{Observations: []parsers.Observation{
		{Resource: "requests", Window: "1m", Limit: 60, Remaining: 45, HasLimit: true, HasRemaining: true}}}, clk.Now())
	c.ObserveCompletion(l, 200, time.Second, 0, 0)
	got := gather(t, reg, "headroom_ratelimit_remaining", "headroom_requests_total")
	for _, want := range []string{
		"headroom_ratelimit_remaining{key=k,model=,provider=predictions,resource=requests,window=1m} 45",
		"headroom_requests_total{code=200,key=k,model=owner/model,provider=predictions} 1",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %s in\n%s", want, got)
		}
	}
}

func TestDocumentedAndInfo(t *testing.T) {
	_, reg, _ := newTest(t, Options{})
	got := gather(t, reg, "headroom_ratelimit_documented_limit", "headroom_provider_info")
	for _, want := range []string{
		"headroom_ratelimit_documented_limit{model=claude-4-sonnet,provider=heroku-us,resource=requests,window=1m} 150",
		"headroom_provider_info{dialect=heroku,family=heroku,provider=heroku-us} 1",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %s in\n%s", want, got)
		}
	}
}

func TestConcurrentUpdatesAndScrapes(t *testing.T) {
	c, reg, clk := newTest(t, Options{})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				l := c.Labels("heroku-us", "claude-4-sonnet", fmt.Sprintf("k-%d", g))
				c.ObserveResponse(l, 200, &parsers.Result{Observations: []parsers.Observation{
					{Resource: "requests", Window: "1m", Limit: 150, Remaining: float64(i % 150), HasLimit: true, HasRemaining: true}}}, clk.Now())
				c.ObserveCompletion(l, 200, time.Millisecond, 1, 2)
			}
		}(g)
	}
	for i := 0; i < 50; i++ {
		if _, err := reg.Gather(); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
}
