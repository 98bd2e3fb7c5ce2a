package collector

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestBeforeRead: every way of reading the collector's metrics runs the
// BeforeRead functions first, and sees what they did.
func TestBeforeRead(t *testing.T) {
	c := New(Options{})
	c.SetProviders([]Provider{{Name: "p", Family: "openai", Dialect: "openai"}})
	reg := prometheus.NewRegistry()
	if err := c.Register(reg); err != nil {
		t.Fatal(err)
	}
	runs := 0
	c.BeforeRead(func() {
		runs++
		// What a settler waits for: a call recorded just before the read.
		c.ObserveCompletion(c.Labels("p", "m", "k"), 200, 0, 0, 0)
	})
	requests := func(mfs []*dto.MetricFamily) float64 {
		for _, mf := range mfs {
			if mf.GetName() == "headroom_requests_total" {
				return mf.GetMetric()[0].GetCounter().GetValue()
			}
		}
		return 0
	}
	mfs, err := c.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	if got := requests(mfs); runs != 1 || got != 1 {
		t.Errorf("Gatherer: %d runs, %v requests; want 1, 1", runs, got)
	}
	mfs, err = reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if got := requests(mfs); runs != 2 || got != 2 {
		t.Errorf("registry: %d runs, %v requests; want 2, 2", runs, got)
	}
	rec := httptest.NewRecorder()
	c.Handler(nil, HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if want := `headroom_requests_total{code="200",key="k",model="m",provider="p"} 3`; runs != 3 || !strings.Contains(rec.Body.String(), want) {
		t.Errorf("Handler: %d runs, want 3 and %s in\n%s", runs, want, rec.Body.String())
	}
	// The settler above records no rate-limit series, so a second one
	// does: Snapshot must show it.
	c.BeforeRead(func() {
		c.ObserveResponse(c.Labels("p", "m", "k"), 200, twoLimits(60, 45), time.Now())
	})
	if snap := c.Snapshot(); runs != 4 || len(snap) != 2 {
		t.Errorf("Snapshot: %d runs, %d series; want 4, 2", runs, len(snap))
	}
}
