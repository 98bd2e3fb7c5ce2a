package decide

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/headroomhq/headroom/catalog"
	"github.com/headroomhq/headroom/collector"
	"github.com/headroomhq/headroom/config"
	"github.com/headroomhq/headroom/parsers"
)

// t0 is the tests' epoch: a minute boundary.
var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// clock is a settable test clock.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time      { return c.now }
func (c *clock) set(d time.Duration) { c.now = t0.Add(d) }
func at(d time.Duration) time.Time   { return t0.Add(d) }
func sec(s float64) time.Duration    { return time.Duration(s * float64(time.Second)) }
func discard() *slog.Logger          { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
func ptr[T any](v T) *T              { return &v }
func lbl(p, m, k string) collector.Labels {
	return collector.Labels{Provider: p, Model: m, Key: k, LimitModel: m}
}

// testConfig is the providers file of testdata/providers.yaml: openai
// (limits per model) with keys prod, batch and ci in bucket org-a, and
// heroku-us (limits per model) with no bucket.
func testConfig(t testing.TB) *config.Config {
	t.Helper()
	c, err := config.Load("testdata/providers.yaml", catalog.MustLoad())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newTestEngine is an engine on the test config and clock.
func newTestEngine(t testing.TB, c *clock, pacing bool) *Engine {
	e := New(Options{Now: c.Now, Logger: discard(), Pacing: pacing})
	e.Update(testConfig(t))
	return e
}

// obs is a response's observation of one limit.
func obs(res, win string, limit, remaining float64, reset time.Time) parsers.Observation {
	return parsers.Observation{Resource: res, Window: win, Limit: limit, Remaining: remaining, HasLimit: true, HasRemaining: true, Reset: reset}
}

// respond feeds e a response of status carrying os, received at recv.
func respond(e *Engine, l collector.Labels, status int, recv time.Time, os ...parsers.Observation) {
	e.ObservedResponse(l, status, &parsers.Result{Observations: os}, recv)
}
