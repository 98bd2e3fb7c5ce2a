package decide

import (
	"time"

	"github.com/headroomhq/headroom/collector"
)

// A limit change is an observed limit that differs from the series'
// previous one: a tier upgrade or downgrade, a provider lowering a limit
// silently. Each is counted (headroom_ratelimit_limit_changes_total, by
// direction) and the last MaxChanges are kept for
// /api/v1/headroom/changes. Series whose model or key is the cardinality
// overflow ("other") mix several identities and are not compared.

// MaxChanges is how many changes the engine keeps.
const MaxChanges = 100

// Change directions.
const (
	Up   = "up"
	Down = "down"
)

// Change is one observed limit change.
type Change struct {
	Time      string  `json:"time"`
	Provider  string  `json:"provider"`
	Model     string  `json:"model"`
	Key       string  `json:"key"`
	Resource  string  `json:"resource"`
	Window    string  `json:"window"`
	Before    float64 `json:"before"`
	After     float64 `json:"after"`
	Direction string  `json:"direction"`
	at        time.Time
}

// changeLog is a bounded ring of changes, newest last.
type changeLog struct {
	max  int
	ring []Change
	next int
}

func (l *changeLog) add(c Change) {
	if len(l.ring) < l.max {
		l.ring = append(l.ring, c)
		return
	}
	l.ring[l.next] = c
	l.next = (l.next + 1) % l.max
}

// list returns the changes, newest first.
func (l *changeLog) list() []Change {
	out := make([]Change, 0, len(l.ring))
	for i := len(l.ring) - 1; i >= 0; i-- {
		out = append(out, l.ring[(l.next+i)%len(l.ring)])
	}
	return out
}

// limitChanged records a change; the caller holds mu.
func (e *Engine) limitChanged(k seriesKey, before, after float64, at time.Time) {
	if k.model == collector.Overflow || k.key == collector.Overflow {
		return
	}
	dir := Up
	if after < before {
		dir = Down
	}
	e.changes.add(Change{Time: at.UTC().Format(time.RFC3339Nano), Provider: k.provider, Model: k.model, Key: k.key,
		Resource: k.resource, Window: k.window, Before: before, After: after, Direction: dir, at: at})
	e.m.changed(k, dir)
	e.opts.Logger.Info("rate limit changed", "provider", k.provider, "model", k.model, "key", k.key,
		"resource", k.resource, "window", k.window, "before", before, "after", after, "direction", dir)
}

// Changes returns the last observed limit changes, newest first.
func (e *Engine) Changes() []Change {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.changes.list()
}
