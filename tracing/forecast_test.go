package tracing

import (
	"context"
	"testing"
	"time"

	"github.com/headroomhq/headroom/parsers"
)

// fixedForecaster forecasts one series of one call.
type fixedForecaster struct{ calls []string }

func (f *fixedForecaster) SpanForecast(provider, model, key, resource, window string) (float64, float64, bool, bool) {
	f.calls = append(f.calls, provider+" "+model+" "+key+" "+resource+" "+window)
	switch resource {
	case "requests":
		return 0.5, 24, true, true // runs out in 24 s, before its reset
	case "tokens":
		return 3, 0, false, true // drains, but the reset comes first
	}
	return 0, 0, false, false
}

// The span of a call that observed a series carries its forecast.
func TestSpanForecast(t *testing.T) {
	tr, rec := newRecorded(t, TracerOptions{})
	f := &fixedForecaster{}
	tr.SetForecaster(f)
	start := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	RecordCall(context.Background(), tr, CallInfo{Provider: "openai", Family: "openai", Model: "gpt-4o", Key: "prod", Start: start, Status: 200,
		Result: &parsers.Result{Observations: []parsers.Observation{
			{Resource: "requests", Window: "1m", Limit: 100, Remaining: 12, HasLimit: true, HasRemaining: true},
			{Resource: "tokens", Window: "1m", Limit: 1000, Remaining: 800, HasLimit: true, HasRemaining: true},
			{Resource: "concurrency", Window: "none", Limit: 5, HasLimit: true},
		}}})
	got := attrMap(rec.Ended()[0].Attributes())
	for k, v := range map[string]string{
		"headroom.ratelimit.requests.1m.drain_rate":     "0.5",
		"headroom.ratelimit.requests.1m.exhaustion_eta": "24",
		"headroom.ratelimit.tokens.1m.drain_rate":       "3",
	} {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	for _, k := range []string{"headroom.ratelimit.tokens.1m.exhaustion_eta", "headroom.ratelimit.concurrency.none.drain_rate"} {
		if _, ok := got[k]; ok {
			t.Errorf("%s set", k)
		}
	}
	if len(f.calls) != 3 || f.calls[0] != "openai gpt-4o prod requests 1m" {
		t.Errorf("asked %q", f.calls)
	}
	var none *Tracer
	none.SetForecaster(f) // nil tracer: nothing
}
