package collector

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// TestObserveCompletionCachedMatches: a run of calls observed through one
// Completions cache exports exactly what the same calls observed one by
// one do, whatever changes from call to call.
func TestObserveCompletionCachedMatches(t *testing.T) {
	type call struct {
		provider, model, key string
		status               int
		d                    time.Duration
		in, out              int64
	}
	calls := []call{
		{"heroku-us", "claude-4-sonnet", "k-1", 200, 120 * time.Millisecond, 10, 20},
		{"heroku-us", "claude-4-sonnet", "k-1", 200, 3 * time.Second, 0, 5},       // no input tokens
		{"heroku-us", "claude-4-sonnet", "k-1", 200, 0, 7, 0},                     // no duration
		{"heroku-us", "claude-4-sonnet", "k-1", 429, 10 * time.Millisecond, 0, 0}, // status changes
		{"heroku-us", "claude-4-sonnet", "k-1", 200, 50 * time.Millisecond, 1, 1},
		{"heroku-us", "claude-4-sonnet", "k-2", 200, 50 * time.Millisecond, 1, 1}, // key changes
		{"heroku-us", "other-model", "k-2", 200, 50 * time.Millisecond, 1, 1},     // model changes
		{"predictions", "", "k-2", 200, time.Second, 3, 3},                        // provider changes
		{"predictions", "", "k-2", 499, 0, 0, 0},
		{"heroku-us", "claude-4-sonnet", "k-1", 200, 120 * time.Millisecond, 10, 20}, // back to the first
	}
	one, regOne, _ := newTest(t, Options{})
	cached, regCached, _ := newTest(t, Options{})
	var cc Completions
	for round := 0; round < 3; round++ {
		for _, c := range calls {
			one.ObserveCompletion(one.Labels(c.provider, c.model, c.key), c.status, c.d, c.in, c.out)
			cached.ObserveCompletionCached(&cc, cached.Labels(c.provider, c.model, c.key), c.status, c.d, c.in, c.out)
		}
	}
	cached.ObserveCompletionCached(nil, cached.Labels("heroku-us", "", "k-3"), 200, time.Second, 1, 1)
	one.ObserveCompletion(one.Labels("heroku-us", "", "k-3"), 200, time.Second, 1, 1)
	got, want := expose(t, regCached), expose(t, regOne)
	if got != want {
		t.Errorf("through the cache:\n%s\none by one:\n%s", got, want)
	}
	if !strings.Contains(want, `headroom_requests_total{code="499",key="k-2",model="",provider="predictions"} 3`) {
		t.Errorf("exposition lacks the expected series:\n%s", want)
	}
}

func expose(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		switch mf.GetName() {
		case "headroom_requests_total", "headroom_tokens_total", "headroom_request_duration_seconds":
			if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
				t.Fatal(err)
			}
		}
	}
	return b.String()
}

// TestInflightCached: the cached in-flight gauge is the provider and key's
// own, and changes with them.
func TestInflightCached(t *testing.T) {
	c, _, _ := newTest(t, Options{})
	var cc Completions
	k1, k2 := c.Labels("heroku-us", "claude-4-sonnet", "k-1"), c.Labels("heroku-us", "other-model", "k-2")
	for _, l := range []Labels{k1, k1, k2, k1} {
		if got, want := c.InflightCached(&cc, l), c.Inflight(l); got != want {
			t.Errorf("InflightCached(%+v) is not Inflight's gauge", l)
		}
	}
	// A model change alone keeps the gauge (it has no model label).
	k3 := c.Labels("heroku-us", "other-model", "k-1")
	if c.InflightCached(&cc, k3) != c.Inflight(k1) {
		t.Error("a model change replaced the gauge")
	}
}
