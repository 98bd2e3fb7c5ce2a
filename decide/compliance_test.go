package decide

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/headroomhq/headroom/parsers"
)

func TestRetryAfterCompliance(t *testing.T) {
	c := &clock{}
	e := newTestEngine(t, c, false)
	model := "gpt-4o"
	// prod is answered 429 at 10s with Retry-After 5s: the bucket org-a
	// (prod, batch, ci) is blocked until 15s.
	e.ObservedResponse(lbl("openai", model, "prod"), 429, &parsers.Result{HasRetryAfter: true, RetryAfter: 5 * time.Second,
		Observations: []parsers.Observation{obs(parsers.Requests, "1m", 100, 0, at(time.Minute))}}, at(10*time.Second))
	for _, s := range []struct {
		key string
		at  time.Duration
	}{{"prod", 11 * time.Second}, {"prod", 12 * time.Second}, {"batch", 14 * time.Second}, {"prod", 15 * time.Second}, {"ci", 20 * time.Second}} {
		e.End(e.Start(lbl("openai", model, s.key), at(s.at), 0))
	}
	// heroku-us: a 429 naming the throttled resource but no Retry-After
	// blocks until that window resets (30s).
	hl := lbl("heroku-us", "claude-4-sonnet", "k-aaaaaaaaaaaa")
	e.ObservedResponse(hl, 429, &parsers.Result{ThrottledResource: parsers.Tokens, Observations: []parsers.Observation{
		obs(parsers.Requests, "1m", 10, 5, at(50*time.Second)), obs(parsers.Tokens, "1m", 1000, 0, at(30*time.Second))}}, at(10*time.Second))
	for _, d := range []time.Duration{29 * time.Second, 30 * time.Second} {
		e.End(e.Start(hl, at(d), 0))
	}
	// Another model of heroku-us has limits of its own: not blocked.
	e.End(e.Start(lbl("heroku-us", "gpt-oss-120b", "k-aaaaaaaaaaaa"), at(20*time.Second), 0))

	for _, w := range []struct {
		provider, key string
		n             float64
	}{{"openai", "prod", 2}, {"openai", "batch", 1}, {"openai", "ci", 0}, {"heroku-us", "k-aaaaaaaaaaaa", 1}} {
		if got := testutil.ToFloat64(e.m.ignore.WithLabelValues(w.provider, w.key)); got != w.n {
			t.Errorf("%s %s: %v calls ignored Retry-After, want %v", w.provider, w.key, got, w.n)
		}
	}
	// While blocked, the admission answer says wait.
	c.set(12 * time.Second)
	if a := e.Admit(Request{Provider: "openai", Model: model, Key: "ci", Requests: 1}); a.Admit || a.Reason != ReasonExhausted || a.WaitSeconds != 48 {
		t.Errorf("during Retry-After: %+v (the requests limit is out until its reset at 60s)", a)
	}
	// A 429 whose headers show room (a limit the provider does not
	// report): the Retry-After alone decides.
	al := lbl("anthropic", "claude-sonnet-4", "agents")
	e.ObservedResponse(al, 429, &parsers.Result{HasRetryAfter: true, RetryAfter: 20 * time.Second,
		Observations: []parsers.Observation{obs(parsers.Requests, "1m", 50, 30, at(time.Minute))}}, at(10*time.Second))
	if a := e.Admit(Request{Provider: "anthropic", Model: "claude-sonnet-4", Key: "agents", Requests: 1}); a.Admit || a.Reason != ReasonRetryAfter || a.WaitSeconds != 18 {
		t.Errorf("Retry-After alone: %+v", a)
	}
	c.set(30 * time.Second)
	if a := e.Admit(Request{Provider: "anthropic", Model: "claude-sonnet-4", Key: "agents", Requests: 1}); !a.Admit || a.Reason != ReasonWithinLimits {
		t.Errorf("after Retry-After: %+v", a)
	}
}
