package collector

import (
	"log/slog"
	"math/bits"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/headroomhq/headroom/parsers"
)

// Header drift: a provider that starts sending a rate-limit header family
// its dialect does not read, or stops sending one its dialect reads, is
// noticed before a user files a bug. The dialects report what they saw
// (parsers.Result: the unread rate-limit-looking names, the header
// families that arrived); the collector counts, per provider:
//
//   - headroom_header_drift_unread_total{provider, header}: responses
//     carrying a rate-limit-looking header the dialect did not read, by
//     name (lower case), at most MaxUnreadNames names per provider, then
//     "other";
//   - headroom_header_drift_missing_total{provider, model, family}:
//     responses of a model that carried some of its dialect's headers but
//     not this family, which earlier responses for that model carried.
//     Responses without any of the dialect's headers (bodies-only 429s,
//     errors) say nothing about a family. What a model sent is remembered
//     for the life of the process.

// MaxUnreadNames bounds the header label values of
// headroom_header_drift_unread_total per provider; later names count
// as OtherHeader.
const MaxUnreadNames = 50

// OtherHeader is the header label of unread names past MaxUnreadNames.
const OtherHeader = "other"

type drift struct {
	unread  *prometheus.CounterVec
	missing *prometheus.CounterVec
	log     *slog.Logger

	mu    sync.Mutex                               // names, other; writes of seen
	names map[string]map[string]prometheus.Counter // provider → name → counter
	other map[string]prometheus.Counter            // provider → the "other" counter
	// seen is read on every response that carried a family: read-locked,
	// and the bits updated atomically, so that the common case (nothing
	// new, nothing missing) takes no exclusive lock.
	seenMu sync.RWMutex
	seen   map[string]map[string]*familiesSeen // provider → model → families
}

// familiesSeen is what one model's responses carried: the families of the
// dialect whose FamilyNames names is.
type familiesSeen struct {
	names []string
	bits  atomic.Uint64
}

func newDrift(log *slog.Logger) *drift {
	return &drift{
		unread: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "headroom_header_drift_unread_total",
			Help: "Responses carrying a rate-limit-looking header that the provider's dialect does not read, by header name (at most 50 names per provider, then other).",
		}, []string{"provider", "header"}),
		missing: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "headroom_header_drift_missing_total",
			Help: "Responses of a model that carried some of its dialect's rate-limit headers but not this header family, which earlier responses for the model carried.",
		}, []string{"provider", "model", "family"}),
		log:   log,
		names: map[string]map[string]prometheus.Counter{},
		other: map[string]prometheus.Counter{},
		seen:  map[string]map[string]*familiesSeen{},
	}
}

// observe counts what r says about drift.
func (d *drift) observe(l Labels, r *parsers.Result) {
	if r.UnreadHeaders() > 0 {
		d.mu.Lock()
		for i := 0; i < r.UnreadHeaders(); i++ {
			d.unreadCounter(l.Provider, r.UnreadHeader(i)).Inc()
		}
		d.mu.Unlock()
	}
	if r.Families == 0 {
		return
	}
	d.seenMu.RLock()
	st := d.seen[l.Provider][l.Model]
	d.seenMu.RUnlock()
	if st == nil || !sameNames(st.names, r.FamilyNames) {
		// First sight, or the provider's dialect changed on a reload:
		// its families are other families.
		st = &familiesSeen{names: r.FamilyNames}
		d.seenMu.Lock()
		m := d.seen[l.Provider]
		if m == nil {
			m = map[string]*familiesSeen{}
			d.seen[l.Provider] = m
		}
		if old := m[l.Model]; old != nil && sameNames(old.names, r.FamilyNames) {
			st = old // another response got here first
		} else {
			m[l.Model] = st
		}
		d.seenMu.Unlock()
	}
	for {
		was := st.bits.Load()
		now := was | r.Families
		if was == now || st.bits.CompareAndSwap(was, now) {
			d.countMissing(l, r, was&^r.Families)
			return
		}
	}
}

// countMissing counts the families in gone (bits of r.FamilyNames).
func (d *drift) countMissing(l Labels, r *parsers.Result, gone uint64) {
	for gone != 0 {
		i := bits.TrailingZeros64(gone)
		gone &^= 1 << uint(i)
		if i < len(r.FamilyNames) {
			d.missing.WithLabelValues(l.Provider, l.Model, r.FamilyNames[i]).Inc()
		}
	}
}

// unreadCounter is the counter of one unread name; d.mu is held.
func (d *drift) unreadCounter(provider string, name []byte) prometheus.Counter {
	set := d.names[provider]
	if set == nil {
		set = map[string]prometheus.Counter{}
		d.names[provider] = set
	}
	if c, ok := set[string(name)]; ok {
		return c
	}
	if len(set) < MaxUnreadNames {
		n := string(name)
		c := d.unread.WithLabelValues(provider, n)
		set[n] = c
		d.log.Warn("the provider sends a rate-limit header its dialect does not read; counted in headroom_header_drift_unread_total",
			"provider", provider, "header", n)
		return c
	}
	c := d.other[provider]
	if c == nil {
		c = d.unread.WithLabelValues(provider, OtherHeader)
		d.other[provider] = c
		d.log.Warn("more unread rate-limit headers than the label allows; counted as other",
			"provider", provider, "max_names", MaxUnreadNames)
	}
	return c
}

// sameNames reports whether two FamilyNames are the same dialect's (the
// dialects hand out one slice each).
func sameNames(a, b []string) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// forget drops the state of providers that are no longer configured.
func (d *drift) forget(keep map[string]*providerState) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for p := range d.names {
		if keep[p] == nil {
			delete(d.names, p)
			delete(d.other, p)
		}
	}
	d.seenMu.Lock()
	defer d.seenMu.Unlock()
	for p := range d.seen {
		if keep[p] == nil {
			delete(d.seen, p)
		}
	}
}

func (d *drift) collectors() []prometheus.Collector {
	return []prometheus.Collector{d.unread, d.missing}
}
