package probe

import (
	"net/http"
	"testing"
	"time"

	"github.com/headroomhq/headroom/config"
)

func prober(interval time.Duration, now time.Time) *Prober {
	return &Prober{spec: config.ProbeSpec{Interval: interval}, now: func() time.Time { return now }}
}

func TestNextDelayJitter(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	p := prober(5*time.Minute, now)
	for _, r := range []float64{0, 0.5, 0.999} {
		d := p.NextDelay(func() float64 { return r })
		if d < 270*time.Second || d > 330*time.Second {
			t.Errorf("rnd %v: %v outside 5m ±10%%", r, d)
		}
	}
}

func TestBackoffHonoursRetryAfter(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	p := prober(time.Minute, now)
	p.backoff(Outcome{Status: http.StatusTooManyRequests, RetryAfter: 10 * time.Minute, HasRetryAfter: true}, now)
	if d := p.NextDelay(func() float64 { return 0 }); d != 10*time.Minute {
		t.Errorf("after Retry-After 10m: next in %v", d)
	}
	// A short Retry-After does not shorten the interval.
	p.backoff(Outcome{Status: http.StatusTooManyRequests, RetryAfter: time.Second, HasRetryAfter: true}, now)
	if d := p.NextDelay(func() float64 { return 0.5 }); d != time.Minute {
		t.Errorf("after Retry-After 1s: next in %v", d)
	}
	// Without Retry-After: the interval doubles per consecutive 429, up to 16×.
	p = prober(time.Minute, now)
	want := []time.Duration{2, 4, 8, 16, 16, 16}
	for i, f := range want {
		p.backoff(Outcome{Status: http.StatusTooManyRequests}, now)
		if d := p.NextDelay(func() float64 { return 0 }); d != f*time.Minute {
			t.Errorf("429 #%d: next in %v, want %v", i+1, d, f*time.Minute)
		}
	}
	// Success resets it.
	p.backoff(Outcome{Status: 200, Success: true}, now)
	if d := p.NextDelay(func() float64 { return 0.5 }); d != time.Minute {
		t.Errorf("after success: %v", d)
	}
}

func TestResultLabels(t *testing.T) {
	for o, want := range map[*Outcome]string{
		{Success: true, Status: 200}: ResultSuccess, {Status: 429}: ResultRateLimited,
		{Status: 401}: ResultError, {Skipped: true}: ResultBackoff, {}: ResultError,
	} {
		if got := o.Result(); got != want {
			t.Errorf("%+v: %s, want %s", *o, got, want)
		}
	}
}
