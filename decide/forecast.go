package decide

import (
	"time"
)

// The drain rate of a series is the least-squares slope of its remaining
// capacity over time (what Prometheus' deriv computes), fitted to the
// observations of the last Lookback(window) — but only those since the
// window last refilled: an observation that arrives at or after the reset
// the previous one announced starts the history over, as does a changed
// limit. Fixed windows thus never mix two windows' counters (deriv over a
// range that spans a reset does); sliding windows and token buckets, which
// refill continuously, give their net drain: consumption minus refill.
//
// Observations are kept in histSlots slots about Lookback/histSlots apart
// (the newest always in the last slot), so any traffic rate costs the same
// memory per series and the fit spans the whole lookback.

// histSlots is the number of samples kept per series.
const histSlots = 20

// histSpacing: stored samples are at least Lookback/histSpacing apart.
const histSpacing = 16

// sample is 16 bytes, not time.Time's 24 + 8: the history is most of what
// a series costs the engine (20 samples; 10k series: 3.2 MB less).
type sample struct {
	t int64 // unix nanoseconds
	v float64
}

// history is a ring of samples of one series' remaining.
type history struct {
	s     [histSlots]sample
	head  int // index of the oldest
	n     int
	limit float64 // the limit the samples were taken under (-1: none)
}

// Lookback is how far back the drain rate of a window is fitted. Windows up
// to a minute (1s, 10s, 1m): the window itself. Longer ones: a fraction of
// the window, so the rate follows changes within the window — 1h: 15m,
// 1d: 1h, 30d: 6h, the lookbacks of the PromQL exhaustion alerts
// (alerts/thresholds.yml; a test keeps the two in step). Concurrency has no
// window and no drain: 0.
func Lookback(window time.Duration) time.Duration {
	switch {
	case window <= 0:
		return 0
	case window <= time.Minute:
		return window
	case window <= time.Hour:
		return window / 4
	case window <= 24*time.Hour:
		return window / 24
	default:
		return window / 120
	}
}

// add records remaining v at t. prevReset is the reset the previous
// observation announced (zero: unknown).
func (h *history) add(t time.Time, v, limit float64, prevReset time.Time, lookback time.Duration) {
	if lookback <= 0 {
		return
	}
	if h.n > 0 && (limit != h.limit || (!prevReset.IsZero() && !t.Before(prevReset))) {
		h.n, h.head = 0, 0 // a new window, or a new limit: start over
	}
	h.limit = limit
	spacing := lookback / histSpacing
	ns := t.UnixNano()
	switch {
	case h.n >= 2 && time.Duration(ns-h.at(h.n-2).t) < spacing:
		// The newest slot is still open: it moves to t.
		*h.ref(h.n - 1) = sample{ns, v}
	case h.n < histSlots:
		*h.ref(h.n) = sample{ns, v}
		h.n++
	default:
		h.s[h.head] = sample{ns, v}
		h.head = (h.head + 1) % histSlots
	}
}

func (h *history) ref(i int) *sample { return &h.s[(h.head+i)%histSlots] }
func (h *history) at(i int) sample   { return h.s[(h.head+i)%histSlots] }

// slope fits remaining against time over the samples no older than
// lookback before the newest; ok is false with fewer than two samples
// there or no time between them.
func (h *history) slope(lookback time.Duration) (perSecond float64, ok bool) {
	if h.n < 2 {
		return 0, false
	}
	last := h.at(h.n - 1).t
	from := last - int64(lookback)
	// Times relative to the newest sample keep the sums small.
	var n, sx, sy, sxx, sxy float64
	for i := 0; i < h.n; i++ {
		s := h.at(i)
		if s.t < from {
			continue
		}
		x := time.Duration(s.t - last).Seconds()
		n++
		sx += x
		sy += s.v
		sxx += x * x
		sxy += x * s.v
	}
	den := n*sxx - sx*sx
	if n < 2 || den == 0 {
		return 0, false
	}
	return (n*sxy - sx*sy) / den, true
}

// Forecast is a series' drain and exhaustion forecast at one instant.
type Forecast struct {
	// Drain is how fast remaining falls, per second (0: not draining);
	// valid when HasDrain.
	Drain    float64
	HasDrain bool
	// ExhaustsBeforeReset: at this drain the window runs out before it
	// resets (or it is out already). ETA, from now, and At are valid only
	// then: otherwise the reset comes first, or nothing drains.
	ExhaustsBeforeReset bool
	ETA                 time.Duration
	At                  time.Time
}

// forecast computes a series' forecast at now; ok is false when there is
// nothing to say (no remaining, a window that has reset or is older than
// itself: the data describes a window that is over).
func (s *series) forecast(now time.Time) (f Forecast, ok bool) {
	if !s.hasRemaining || s.window <= 0 {
		return f, false
	}
	if (!s.reset.IsZero() && !now.Before(s.reset)) || now.Sub(s.observed) > s.window {
		return f, false
	}
	if slope, ok := s.hist.slope(Lookback(s.window)); ok {
		f.Drain, f.HasDrain = max(-slope, 0), true
	}
	switch {
	case s.remaining <= 0:
		f.At = s.observed
	case f.Drain > 0:
		f.At = s.observed.Add(time.Duration(s.remaining / f.Drain * float64(time.Second)))
	default:
		return f, true
	}
	if s.reset.IsZero() || f.At.Before(s.reset) {
		f.ExhaustsBeforeReset = true
		f.ETA = max(f.At.Sub(now), 0)
	} else {
		f.At = time.Time{}
	}
	return f, true
}

// Forecast returns the forecast of one series (labels as the collector
// exports them); ok is false when the engine holds no forecast for it.
func (e *Engine) Forecast(provider, model, key, resource, window string) (Forecast, bool) {
	now := e.opts.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.series[seriesKey{provider, model, key, resource, window}]
	if s == nil {
		return Forecast{}, false
	}
	return s.forecast(now)
}

// SpanForecast is Forecast for span attributes (tracing.Forecaster): model
// is the model the call asked for, turned into the limit model here.
func (e *Engine) SpanForecast(provider, model, key, resource, window string) (drain, eta float64, hasETA, ok bool) {
	e.mu.Lock()
	if pi := e.providers[provider]; pi != nil && pi.perKey {
		model = ""
	}
	e.mu.Unlock()
	f, ok := e.Forecast(provider, model, key, resource, window)
	if !ok || !f.HasDrain {
		return 0, 0, false, false
	}
	return f.Drain, f.ETA.Seconds(), f.ExhaustsBeforeReset, true
}
