package decide

import (
	"log/slog"
	"sync"
	"time"

	"github.com/headroomhq/headroom/collector"
	"github.com/headroomhq/headroom/config"
	"github.com/headroomhq/headroom/parsers"
)

// Options tune the engine. Zero values take the collector's defaults.
type Options struct {
	// MaxSeriesPerProvider bounds the series the engine keeps per provider,
	// as HEADROOM_MAX_SERIES_PER_PROVIDER bounds the collector's.
	MaxSeriesPerProvider int
	// StaleGrace and ConcurrencyStaleness expire series as the collector
	// does (a window plus the grace; concurrency after its staleness).
	StaleGrace           time.Duration
	ConcurrencyStaleness time.Duration
	// Pacing adds RateLimit / RateLimit-Policy fields to proxied answers
	// (HEADROOM_PACING_HEADERS).
	Pacing bool
	// Now is the clock; tests replace it.
	Now    func() time.Time
	Logger *slog.Logger
}

func (o *Options) defaults() {
	if o.MaxSeriesPerProvider <= 0 {
		o.MaxSeriesPerProvider = collector.DefaultMaxSeriesPerProvider
	}
	if o.StaleGrace <= 0 {
		o.StaleGrace = collector.DefaultStaleGrace
	}
	if o.ConcurrencyStaleness <= 0 {
		o.ConcurrencyStaleness = collector.DefaultConcurrencyStaleness
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// seriesKey is a rate-limit series as the collector labels it (model is
// the limit model: "" for providers whose limits are per key).
type seriesKey struct {
	provider, model, key, resource, window string
}

// series is one rate-limit series' latest state and recent history.
type series struct {
	limit, remaining       float64
	hasLimit, hasRemaining bool
	reset, observed        time.Time
	window                 time.Duration // 0: concurrency or unknown
	hist                   history
}

// providerInfo is what the engine needs of a configured provider.
type providerInfo struct {
	perKey bool
	// bucketOf maps member key labels to their configured bucket.
	bucketOf map[string]string
	// aliases are the key labels the provider configures (key_aliases
	// values), accepted by the admission API besides fingerprints;
	// aliasOf maps those fingerprints to them (labels are aliases).
	aliases map[string]bool
	aliasOf map[string]string
}

// label is the key label of a key alias or fingerprint.
func (pi *providerInfo) label(key string) string {
	if a, ok := pi.aliasOf[key]; ok {
		return a
	}
	return key
}

// Engine holds the decision state. It is safe for concurrent use.
type Engine struct {
	opts Options

	mu        sync.Mutex
	providers map[string]*providerInfo
	buckets   []config.Bucket
	series    map[seriesKey]*series
	nseries   map[string]int
	bk        map[bucketKey]*bucket
	shared    sharedDetector
	changes   changeLog

	m *metrics
}

// New builds an engine; Update gives it the configuration.
func New(opts Options) *Engine {
	opts.defaults()
	e := &Engine{
		opts:      opts,
		providers: map[string]*providerInfo{},
		series:    map[seriesKey]*series{},
		nseries:   map[string]int{},
		bk:        map[bucketKey]*bucket{},
		shared:    newSharedDetector(),
		changes:   changeLog{max: MaxChanges},
	}
	e.m = newMetrics(e)
	return e
}

// Update applies a (re)loaded configuration. Series of providers that are
// gone are dropped; when bucket membership changed, bucket state starts
// over (calls in flight end on their old bucket, which nobody reads).
func (e *Engine) Update(cfg *config.Config) {
	ps := make(map[string]*providerInfo, len(cfg.Providers))
	for _, p := range cfg.Providers {
		pi := &providerInfo{perKey: p.PerKey, bucketOf: map[string]string{}, aliases: map[string]bool{}, aliasOf: p.KeyAlias}
		for _, a := range p.KeyAlias {
			pi.aliases[a] = true
		}
		ps[p.Name] = pi
	}
	for _, b := range cfg.Buckets {
		for _, k := range b.Keys {
			ps[b.Provider].bucketOf[k] = b.Name
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if !sameBuckets(e.buckets, cfg.Buckets) {
		e.bk = map[bucketKey]*bucket{}
		e.shared = newSharedDetector()
	}
	e.buckets = cfg.Buckets
	e.providers = ps
	for k := range e.series {
		if ps[k.provider] == nil {
			e.deleteSeries(k)
		}
	}
	for k := range e.bk {
		if ps[k.provider] == nil {
			delete(e.bk, k)
		}
	}
}

func sameBuckets(a, b []config.Bucket) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || a[i].Provider != b[i].Provider || len(a[i].Keys) != len(b[i].Keys) {
			return false
		}
		for j := range a[i].Keys {
			if a[i].Keys[j] != b[i].Keys[j] {
				return false
			}
		}
	}
	return true
}

// ObservedResponse implements collector.Observer: every response any
// source observed, after the collector recorded it.
func (e *Engine) ObservedResponse(l collector.Labels, status int, r *parsers.Result, received time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	pi := e.providers[l.Provider]
	if pi == nil {
		return
	}
	b := e.bucketFor(pi, l.Provider, l.LimitModel, l.Key, true)
	if r != nil {
		for i := range r.Observations {
			e.observe(pi, b, l, &r.Observations[i], received)
		}
	}
	if status == 429 {
		e.throttled(b, r, received)
	}
}

// observe records one observation; the caller holds mu.
func (e *Engine) observe(pi *providerInfo, b *bucket, l collector.Labels, o *parsers.Observation, received time.Time) {
	k := seriesKey{l.Provider, l.LimitModel, l.Key, o.Resource, o.Window}
	s := e.series[k]
	if s == nil {
		if e.nseries[k.provider] >= e.opts.MaxSeriesPerProvider {
			return
		}
		s = &series{}
		if d, err := parsers.ParseWindow(o.Window); err == nil {
			s.window = d
		}
		e.series[k] = s
		e.nseries[k.provider]++
	} else if received.Before(s.observed) {
		// Out of order (a slow stream, a replayed log line): the newer
		// state stays, as in the collector.
		return
	}
	if s.hasLimit && o.HasLimit && s.limit != o.Limit {
		e.limitChanged(k, s.limit, o.Limit, received)
	}
	if o.HasRemaining {
		limit := o.Limit
		if !o.HasLimit {
			limit = -1
		}
		s.hist.add(received, o.Remaining, limit, s.reset, Lookback(s.window))
	}
	s.limit, s.hasLimit = o.Limit, o.HasLimit
	s.remaining, s.hasRemaining = o.Remaining, o.HasRemaining
	s.reset, s.observed = o.Reset, received
	b.observe(o, received, l.Key)
	if o.HasRemaining && o.HasLimit && pi.bucketOf[l.Key] == "" {
		e.shared.observe(e, k, o, received, s.window)
	}
}

// deleteSeries drops a series; the caller holds mu.
func (e *Engine) deleteSeries(k seriesKey) {
	delete(e.series, k)
	if n := e.nseries[k.provider] - 1; n > 0 {
		e.nseries[k.provider] = n
	} else {
		delete(e.nseries, k.provider)
	}
}

// ttl is how long a series lives without a new observation: as in the
// collector.
func (e *Engine) ttl(s *series) time.Duration {
	if s.window <= 0 {
		return e.opts.ConcurrencyStaleness
	}
	return s.window + e.opts.StaleGrace
}

// expire drops series and buckets nobody can see any more; the caller
// holds mu. It runs on every scrape (Collect), as the collector's does.
func (e *Engine) expire(now time.Time) {
	for k, s := range e.series {
		if now.Sub(s.observed) > e.ttl(s) {
			e.deleteSeries(k)
		}
	}
	for k, b := range e.bk {
		if b.idle(now, e.opts.StaleGrace, e.opts.ConcurrencyStaleness) {
			delete(e.bk, k)
		}
	}
	e.shared.expire(now)
}

// Call is one call a source sends, from Start to End. The zero Call (no
// engine, or an unknown provider) is valid and does nothing.
type Call struct {
	b         *bucket
	provider  string
	maxTokens int64
}

// Start reports a call's start: labels, time and the output tokens it
// reserves (its max_tokens; 0 when it names none). It is counted against
// its bucket until the next observation of that bucket, and judged against
// a running Retry-After (compliance.go).
func (e *Engine) Start(l collector.Labels, at time.Time, maxTokens int64) Call {
	if e == nil {
		return Call{}
	}
	maxTokens = max(maxTokens, 0)
	e.mu.Lock()
	pi := e.providers[l.Provider]
	if pi == nil {
		e.mu.Unlock()
		return Call{}
	}
	b := e.bucketFor(pi, l.Provider, l.LimitModel, l.Key, true)
	b.started++
	b.reserved += uint64(maxTokens)
	b.lastUse = at
	ignored := at.Before(b.blockedUntil)
	e.mu.Unlock()
	if ignored {
		e.m.ignored(l.Provider, l.Key)
	}
	return Call{b: b, provider: l.Provider, maxTokens: maxTokens}
}

// End reports that a call ended (answered, failed or abandoned): its
// concurrency slot is free again.
func (e *Engine) End(c Call) {
	if e == nil || c.b == nil {
		return
	}
	e.mu.Lock()
	c.b.ended++
	e.mu.Unlock()
}
