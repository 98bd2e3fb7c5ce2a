package fakeprovider

import (
	"fmt"
	"math"
	"sync"
	"time"
)

// LimitState is one limit as the fake reports it at one instant.
type LimitState struct {
	Model    string // "" for key-level limits
	Resource string
	Window   string // "none" for concurrency
	Limit    float64
	// Remaining may be fractional for token buckets; headers floor it.
	Remaining float64
	// Reset is when capacity returns: the window's end (fixed), when the
	// oldest entry expires (sliding), when the bucket is full (bucket). Zero
	// for concurrency.
	Reset time.Time
}

// limitDef is one effective limit of a model.
type limitDef struct {
	Resource, Window string
	dur              time.Duration // 0 for concurrency
	Value            float64
	keyScope         bool // counted per key across models
}

func (l *limitDef) concurrency() bool { return l.Resource == "concurrency" }

type meterKey struct {
	key, model, resource, window string
}

type entry struct {
	at     time.Time
	amount float64
}

// meter is the state of one (key, model, resource, window).
type meter struct {
	// sliding: the entries in the window, oldest first.
	entries []entry
	// level is what the window holds (sliding: the entries' total; bucket:
	// the bucket's level). at is the start of the current window (fixed,
	// anchored) or when the bucket was last brought up to date.
	at    time.Time
	level float64
}

type flight struct {
	end time.Time // expected end on the real clock
}

type accountant struct {
	kind windowKind
	// shared maps a credential of a SharedKeys group to the group's
	// accounting key (read-only after share).
	shared map[string]string

	mu       sync.Mutex
	meters   map[meterKey]*meter
	inflight map[meterKey]map[*flight]struct{} // resource "concurrency"
}

func newAccountant(kind windowKind) *accountant {
	return &accountant{kind: kind, meters: map[meterKey]*meter{}, inflight: map[meterKey]map[*flight]struct{}{}}
}

// share makes each group of credentials one bucket: its keys are counted
// under one accounting key (the group's first key, with a prefix no
// credential has: "\x00shared:").
func (a *accountant) share(groups [][]string) error {
	for i, g := range groups {
		if len(g) == 0 {
			return fmt.Errorf("SharedKeys[%d]: empty group", i)
		}
		for j, k := range g {
			if k == "" {
				return fmt.Errorf("SharedKeys[%d][%d]: empty key", i, j)
			}
			if _, dup := a.shared[k]; dup {
				return fmt.Errorf("SharedKeys[%d][%d]: key already in a group", i, j)
			}
			if a.shared == nil {
				a.shared = map[string]string{}
			}
			a.shared[k] = "\x00shared:" + g[0]
		}
	}
	return nil
}

// account is the accounting key of a credential: its group's, or itself.
func (a *accountant) account(key string) string {
	if k, ok := a.shared[key]; ok {
		return k
	}
	return key
}

// cost is a request's estimated consumption.
type cost struct {
	prompt, completion float64
}

func (c cost) of(resource string) float64 {
	switch resource {
	case "tokens", "dynamic_tokens", "usage": // usage: an allowance counted in tokens
		return c.prompt + c.completion
	case "input_tokens", "priority_input_tokens":
		return c.prompt
	case "output_tokens", "priority_output_tokens":
		return c.completion
	}
	return 1 // requests, dynamic_requests, images
}

// advance brings m up to now and returns what it holds.
func (a *accountant) advance(m *meter, l *limitDef, now time.Time) float64 {
	switch a.kind {
	case slidingWindow:
		// entries is a queue: expired entries leave from the front and the
		// running total (level) follows; the backing array is compacted once
		// half of it is dead.
		i := 0
		for i < len(m.entries) && !m.entries[i].at.Add(l.dur).After(now) {
			m.level -= m.entries[i].amount
			i++
		}
		if i > 0 {
			m.entries = m.entries[i:]
			if len(m.entries) == 0 {
				m.entries, m.level = nil, 0
			} else if cap(m.entries) > 64 && len(m.entries) < cap(m.entries)/2 {
				m.entries = append([]entry(nil), m.entries...)
			}
		}
		return m.level
	case tokenBucket:
		if el := now.Sub(m.at); el > 0 && l.Value > 0 {
			m.level = math.Max(0, m.level-float64(el)*l.Value/float64(l.dur))
		}
		if now.After(m.at) {
			m.at = now
		}
		return m.level
	case anchoredWindow:
		if !m.at.IsZero() && !now.Before(m.at.Add(l.dur)) {
			m.at, m.level = time.Time{}, 0
		}
		return m.level
	default:
		start := now.Truncate(l.dur)
		if !start.Equal(m.at) {
			m.at, m.level = start, 0
		}
		return m.level
	}
}

// reset is when m's capacity returns, for the reset header.
func (a *accountant) reset(m *meter, l *limitDef, now time.Time) time.Time {
	switch a.kind {
	case slidingWindow:
		if len(m.entries) == 0 {
			return now
		}
		return m.entries[0].at.Add(l.dur)
	case tokenBucket:
		if l.Value <= 0 {
			return now.Add(l.dur)
		}
		return now.Add(bucketDur(m.level, l))
	case anchoredWindow:
		if m.at.IsZero() {
			return now.Add(l.dur)
		}
		return m.at.Add(l.dur)
	default:
		return m.at.Add(l.dur)
	}
}

// bucketDur is how long the bucket of l takes to drain amount.
func bucketDur(amount float64, l *limitDef) time.Duration {
	return time.Duration(math.Round(amount * float64(l.dur) / l.Value))
}

// wait is how long until c fits into m (used already advanced to now).
func (a *accountant) wait(m *meter, l *limitDef, used, c float64, now time.Time) time.Duration {
	if c > l.Value {
		// Never fits: wait a whole window.
		return l.dur
	}
	need := used + c - l.Value
	if need <= 0 {
		return 0
	}
	switch a.kind {
	case slidingWindow:
		freed := 0.0
		for _, e := range m.entries {
			freed += e.amount
			if freed >= need {
				return e.at.Add(l.dur).Sub(now)
			}
		}
		return l.dur
	case tokenBucket:
		return bucketDur(need, l)
	default:
		return a.reset(m, l, now).Sub(now)
	}
}

func (a *accountant) charge(m *meter, c float64, now time.Time) {
	switch a.kind {
	case slidingWindow:
		m.entries = append(m.entries, entry{at: now, amount: c})
		m.level += c
	case anchoredWindow:
		if m.at.IsZero() {
			m.at = now
		}
		m.level += c
	default:
		m.level += c
	}
}

func (a *accountant) meter(k meterKey) *meter {
	m := a.meters[k]
	if m == nil {
		m = &meter{}
		a.meters[k] = m
	}
	return m
}

func scopeKey(key, model string, l *limitDef) meterKey {
	if l.keyScope {
		model = ""
	}
	return meterKey{key: key, model: model, resource: l.Resource, window: l.Window}
}

// admission is the outcome of admit.
type admission struct {
	states   []LimitState
	throttle *throttle // nil when admitted
	release  func()    // non-nil when admitted
}

// admit charges a request against every limit of model for key, or rejects
// it without charging when any limit lacks room. expectedEnd is when the
// request is expected to finish on the real clock (for concurrency
// Retry-After).
func (a *accountant) admit(now time.Time, key, model string, defs []limitDef, c cost, expectedEnd time.Time) admission {
	key = a.account(key)
	a.mu.Lock()
	defer a.mu.Unlock()

	used := make([]float64, len(defs))
	var th *throttle
	for i := range defs {
		l := &defs[i]
		if l.concurrency() {
			continue
		}
		m := a.meter(scopeKey(key, model, l))
		used[i] = a.advance(m, l, now)
		if w := a.wait(m, l, used[i], c.of(l.Resource), now); w > 0 || c.of(l.Resource) > l.Value-used[i] {
			if th == nil || w > th.RetryAfter {
				th = &throttle{Model: model, Resource: l.Resource, Window: l.Window, Limit: l.Value, Used: used[i], Requested: c.of(l.Resource), RetryAfter: w, Reset: a.reset(m, l, now)}
			}
		}
	}
	if th == nil {
		for i := range defs {
			l := &defs[i]
			if !l.concurrency() {
				continue
			}
			fl := a.inflight[scopeKey(key, model, l)]
			if active := float64(len(fl)); active >= l.Value {
				w := time.Duration(math.MaxInt64)
				realNow := time.Now()
				for f := range fl {
					w = min(w, f.end.Sub(realNow))
				}
				if w == time.Duration(math.MaxInt64) || w < 0 {
					w = 0
				}
				th = &throttle{Model: model, Resource: l.Resource, Window: l.Window, Limit: l.Value, Used: active, Requested: 1, RetryAfter: w, Concurrency: true}
				break
			}
		}
	}
	if th != nil {
		return admission{states: a.states(now, key, model, defs), throttle: th}
	}

	f := &flight{end: expectedEnd}
	var held []meterKey
	for i := range defs {
		l := &defs[i]
		k := scopeKey(key, model, l)
		if l.concurrency() {
			set := a.inflight[k]
			if set == nil {
				set = map[*flight]struct{}{}
				a.inflight[k] = set
			}
			set[f] = struct{}{}
			held = append(held, k)
			continue
		}
		a.charge(a.meter(k), c.of(l.Resource), now)
	}
	st := a.states(now, key, model, defs)
	var once sync.Once
	return admission{states: st, release: func() {
		once.Do(func() {
			a.mu.Lock()
			defer a.mu.Unlock()
			for _, k := range held {
				set := a.inflight[k]
				delete(set, f)
				if len(set) == 0 {
					delete(a.inflight, k)
				}
			}
		})
	}}
}

// states reports every limit of model for key at now. Callers hold a.mu.
func (a *accountant) states(now time.Time, key, model string, defs []limitDef) []LimitState {
	out := make([]LimitState, 0, len(defs))
	for i := range defs {
		l := &defs[i]
		k := scopeKey(key, model, l)
		s := LimitState{Model: k.model, Resource: l.Resource, Window: l.Window, Limit: l.Value}
		if l.concurrency() {
			s.Remaining = math.Max(0, l.Value-float64(len(a.inflight[k])))
			out = append(out, s)
			continue
		}
		m := a.meter(k)
		used := a.advance(m, l, now)
		s.Remaining = math.Max(0, l.Value-used)
		s.Reset = a.reset(m, l, now)
		out = append(out, s)
	}
	return out
}

// snapshot is states under the lock.
func (a *accountant) snapshot(now time.Time, key, model string, defs []limitDef) []LimitState {
	key = a.account(key)
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.states(now, key, model, defs)
}
