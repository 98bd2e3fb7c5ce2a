// Package collector keeps the latest rate-limit observation per series and
// serves it, with Headroom's traffic counters, as Prometheus metrics.
//
// Every ingest mode (proxy, log tailer, prober) feeds the same Collector, so
// the metric contract in docs/metrics.md holds whatever the source.
package collector

import (
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/headroomhq/headroom/parsers"
)

// Options tune the collector. Zero values take the documented defaults.
type Options struct {
	// MaxModelsPerProvider caps distinct model label values per provider;
	// models from the catalog do not count. Overflow becomes "other".
	MaxModelsPerProvider int
	// MaxKeysPerProvider caps distinct key label values per provider.
	MaxKeysPerProvider int
	// MaxSeriesPerProvider caps the rate-limit series (model × key ×
	// resource × window) of a provider: observations that would create a
	// series past it are dropped and counted in headroom_series_dropped_total.
	MaxSeriesPerProvider int
	// StaleGrace is added to a series' window before it is dropped.
	StaleGrace time.Duration
	// ConcurrencyStaleness is how long a windowless (concurrency) series
	// lives without a new observation.
	ConcurrencyStaleness time.Duration
	// Now is the clock; tests replace it.
	Now    func() time.Time
	Logger *slog.Logger
	// Observer, when set, is told every response after it is recorded
	// (package decide builds its decisions on them).
	Observer Observer
}

// Observer is told every response ObserveResponse records, from any
// source, on the caller's goroutine: it must be quick.
type Observer interface {
	ObservedResponse(l Labels, status int, r *parsers.Result, received time.Time)
}

func (o *Options) defaults() {
	if o.MaxModelsPerProvider <= 0 {
		o.MaxModelsPerProvider = 200
	}
	if o.MaxKeysPerProvider <= 0 {
		o.MaxKeysPerProvider = 100
	}
	if o.MaxSeriesPerProvider <= 0 {
		o.MaxSeriesPerProvider = DefaultMaxSeriesPerProvider
	}
	if o.StaleGrace <= 0 {
		o.StaleGrace = DefaultStaleGrace
	}
	if o.ConcurrencyStaleness <= 0 {
		o.ConcurrencyStaleness = DefaultConcurrencyStaleness
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Provider is what the collector needs to know about a configured provider.
type Provider struct {
	Name    string
	Family  string
	Dialect string
	// PerKeyLimits: the provider's limits apply per key whatever the model,
	// so rate-limit gauges carry model="" (requests still count per model).
	PerKeyLimits bool
	// KnownModels are always admitted as label values (the catalog's).
	KnownModels []string
	// Documented limits, exported as headroom_ratelimit_documented_limit.
	Documented []DocumentedLimit
}

// DocumentedLimit is one published limit.
type DocumentedLimit struct {
	Model, Resource, Window string
	Value                   float64
}

// Labels are the admitted (capped) label values of one call. Get them once
// per call with Collector.Labels and pass them to every Observe method, so a
// call is counted under one identity even if the caps fill mid-call.
type Labels struct {
	Provider string
	Model    string
	Key      string
	// LimitModel is Model, or "" for providers whose limits are per key.
	LimitModel string
	// folded: the call was already counted in headroom_series_dropped_total.
	folded bool
}

// Overflow is the label value that absorbs models and keys past the caps.
const Overflow = "other"

// DefaultMaxSeriesPerProvider is Options.MaxSeriesPerProvider's default:
// the 10k rate-limit series the scale benchmark (docs/benchmarks.md) holds
// within its scrape-time and memory targets.
const DefaultMaxSeriesPerProvider = 10000

// Defaults of Options.StaleGrace and Options.ConcurrencyStaleness, shared
// with the decide engine so that both forget a series at the same time.
const (
	DefaultStaleGrace           = 2 * time.Minute
	DefaultConcurrencyStaleness = 5 * time.Minute
)

type seriesKey struct {
	provider, model, key, resource, window string
}

// compare orders series as client_golang sorts them: by label values in
// the order of the label names (key, model, provider, resource, window).
func (a *seriesKey) compare(b *seriesKey) int {
	if c := strings.Compare(a.key, b.key); c != 0 {
		return c
	}
	if c := strings.Compare(a.model, b.model); c != 0 {
		return c
	}
	if c := strings.Compare(a.provider, b.provider); c != 0 {
		return c
	}
	if c := strings.Compare(a.resource, b.resource); c != 0 {
		return c
	}
	return strings.Compare(a.window, b.window)
}

type seriesState struct {
	key seriesKey
	// lbl is the label set as the exposition writes it; set at creation,
	// never changed (read by scrapes without the lock).
	lbl                    string
	limit, remaining       float64
	hasLimit, hasRemaining bool
	// gone: deleted from the map; dropped from Collector.order by the next scrape.
	gone     bool
	reset    time.Time
	observed time.Time
	ttl      time.Duration
}

type providerState struct {
	Provider
	known  map[string]struct{}
	models map[string]struct{}
	keys   map[string]struct{}
}

// Collector implements prometheus.Collector for the rate-limit gauges and
// owns the counters and histograms of the metric contract.
type Collector struct {
	opts Options

	mu        sync.Mutex
	series    map[seriesKey]*seriesState
	nseries   map[string]int // live series per provider, for MaxSeriesPerProvider
	providers map[string]*providerState
	lastLog   map[[2]string]time.Time
	// order holds the series in exposition order (seriesKey.compare),
	// including gone ones until the next scrape; added holds series created
	// since, merged in by the next scrape. Both under mu.
	order, added []*seriesState
	labels       labelArena // of order, rebuilt when it changes (under mu)
	// labelsGen counts the rebuilds of labels; pb is labels' protobuf
	// counterpart (pbArena) for generation pbGen, built by the first
	// protobuf scrape after a rebuild, outside mu (Collector.gaugePB).
	labelsGen, pbGen uint64
	pb               *pbArena

	requests       *counterFamily
	ratelimited    *counterFamily
	tokens         *counterFamily
	duration       *histogramFamily
	retryAfter     *prometheus.HistogramVec
	inflight       *prometheus.GaugeVec
	upstreamErrors *prometheus.CounterVec
	clientErrors   *prometheus.CounterVec
	parseErrors    *prometheus.CounterVec
	dropped        *prometheus.CounterVec
	drift          *drift

	descLimit, descRemaining, descReset, descObserved, descDocumented, descInfo *prometheus.Desc

	// low gathers the low-cardinality families, which stay client_golang
	// metrics; own are the families the exposition renders itself, by
	// name; full has everything registered (Gatherer).
	low  *prometheus.Registry
	own  []ownFamily
	full *prometheus.Registry
}

var gaugeLabelNames = []string{"provider", "model", "key", "resource", "window"}

// New builds a collector. Register it with Register.
func New(opts Options) *Collector {
	opts.defaults()
	c := &Collector{
		opts:      opts,
		series:    map[seriesKey]*seriesState{},
		nseries:   map[string]int{},
		providers: map[string]*providerState{},
		lastLog:   map[[2]string]time.Time{},
		requests: newCounterFamily("headroom_requests_total",
			"Requests that completed through Headroom, by the status the client received.",
			"provider", "model", "key", "code"),
		ratelimited: newCounterFamily("headroom_ratelimited_total",
			"Responses with status 429, by the limit that was hit (unknown when the response does not tell).",
			"provider", "model", "key", "resource"),
		tokens: newCounterFamily("headroom_tokens_total",
			"Tokens reported in the usage of responses.",
			"provider", "model", "key", "type"),
		duration: newHistogramFamily("headroom_request_duration_seconds",
			"Time from the request arriving to the last byte of the response.",
			[]float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 20, 40, 80, 160, 320},
			"provider", "model"),
		retryAfter: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "headroom_retry_after_seconds",
			Help:    "Delay providers asked for in Retry-After and equivalent fields.",
			Buckets: []float64{.1, .5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 900, 3600, 86400},
		}, []string{"provider"}),
		inflight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "headroom_inflight_requests",
			Help: "Requests in flight through the proxy.",
		}, []string{"provider", "key"}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "headroom_upstream_errors_total",
			Help: "Requests Headroom answered itself because the upstream failed.",
		}, []string{"provider", "reason"}),
		clientErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "headroom_client_errors_total",
			Help: "Requests Headroom refused because of the client: ambiguous framing, a forbidden method, conflicting credentials, a malformed, stalled or oversized body.",
		}, []string{"provider", "reason"}),
		parseErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "headroom_parse_errors_total",
			Help: "Rate-limit values that could not be parsed and were not exported.",
		}, []string{"provider", "header"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "headroom_series_dropped_total",
			Help: "Observations whose model or key was folded into \"other\" by the cardinality caps, or whose rate-limit series was not created because the provider had reached its series cap.",
		}, []string{"provider"}),
		descLimit: prometheus.NewDesc("headroom_ratelimit_limit",
			"Rate limit reported by the provider.", gaugeLabelNames, nil),
		descRemaining: prometheus.NewDesc("headroom_ratelimit_remaining",
			"Capacity left in the window, as reported by the provider.", gaugeLabelNames, nil),
		descReset: prometheus.NewDesc("headroom_ratelimit_reset_timestamp_seconds",
			"Unix time when capacity returns, on Headroom's clock.", gaugeLabelNames, nil),
		descObserved: prometheus.NewDesc("headroom_ratelimit_observed_timestamp_seconds",
			"Unix time of the response that carried the observation.", gaugeLabelNames, nil),
		descDocumented: prometheus.NewDesc("headroom_ratelimit_documented_limit",
			"Limit published in the provider's documentation.", []string{"provider", "model", "resource", "window"}, nil),
		descInfo: prometheus.NewDesc("headroom_provider_info",
			"One series per configured provider.", []string{"provider", "family", "dialect"}, nil),
	}
	c.drift = newDrift(opts.Logger)
	c.low = prometheus.NewRegistry()
	c.low.MustRegister(metaCollector{c}, c.retryAfter, c.inflight, c.upstreamErrors, c.clientErrors, c.parseErrors, c.dropped)
	c.low.MustRegister(c.drift.collectors()...)
	c.full = prometheus.NewRegistry()
	c.full.MustRegister(c.Collectors()...)
	c.own = c.ownFamilies()
	return c
}

// Collectors lists everything Register registers (for documentation checks).
func (c *Collector) Collectors() []prometheus.Collector {
	return append([]prometheus.Collector{c, c.requests, c.ratelimited, c.tokens, c.duration,
		c.retryAfter, c.inflight, c.upstreamErrors, c.clientErrors, c.parseErrors, c.dropped}, c.drift.collectors()...)
}

// Gatherer gathers every metric of the collector through client_golang
// (tests and tools; /metrics is served by Handler).
func (c *Collector) Gatherer() prometheus.Gatherer { return c.full }

// Register registers the collector and its vectors.
func (c *Collector) Register(reg prometheus.Registerer) error {
	for _, m := range c.Collectors() {
		if err := reg.Register(m); err != nil {
			return err
		}
	}
	return nil
}

// SetProviders replaces the configured providers (on start and on reload).
// Series of providers that are gone are dropped; admitted label values of
// providers that remain are kept, so a reload does not reshuffle the caps.
func (c *Collector) SetProviders(ps []Provider) {
	c.mu.Lock()
	defer c.mu.Unlock()
	next := make(map[string]*providerState, len(ps))
	for _, p := range ps {
		st := &providerState{Provider: p, known: map[string]struct{}{}, models: map[string]struct{}{}, keys: map[string]struct{}{}}
		if old, ok := c.providers[p.Name]; ok {
			st.models, st.keys = old.models, old.keys
		}
		for _, m := range p.KnownModels {
			st.known[m] = struct{}{}
		}
		next[p.Name] = st
	}
	c.providers = next
	c.zeroProviders(ps)
	c.drift.forget(next)
	for k, s := range c.series {
		if _, ok := next[k.provider]; !ok {
			c.deleteSeries(s)
		}
	}
}

// deleteSeries removes a series; the caller holds mu.
func (c *Collector) deleteSeries(s *seriesState) {
	delete(c.series, s.key)
	s.gone = true
	if n := c.nseries[s.key.provider] - 1; n > 0 {
		c.nseries[s.key.provider] = n
	} else {
		delete(c.nseries, s.key.provider)
	}
}

// Labels admits a call's model and key under the cardinality caps.
func (c *Collector) Labels(provider, model, key string) Labels {
	model = labelValue(model)
	c.mu.Lock()
	p := c.providers[provider]
	dropped := false
	if p != nil {
		if _, ok := p.known[model]; !ok && model != "" {
			if _, ok := p.models[model]; !ok {
				if len(p.models) < c.opts.MaxModelsPerProvider {
					p.models[model] = struct{}{}
				} else {
					model, dropped = Overflow, true
				}
			}
		}
		if _, ok := p.keys[key]; !ok {
			if len(p.keys) < c.opts.MaxKeysPerProvider {
				p.keys[key] = struct{}{}
			} else {
				key, dropped = Overflow, true
			}
		}
	}
	perKey := p != nil && p.PerKeyLimits
	c.mu.Unlock()
	if dropped {
		c.dropped.WithLabelValues(provider).Inc()
	}
	l := Labels{Provider: provider, Model: model, Key: key, LimitModel: model, folded: dropped}
	if perKey {
		l.LimitModel = ""
	}
	return l
}

// maxLabelLen bounds label values taken from requests and responses.
const maxLabelLen = 128

// labelValue makes a client-supplied value a safe label: valid UTF-8
// (client_golang panics on anything else, in Collect outside any recover)
// and at most maxLabelLen bytes, cut at a rune boundary.
func labelValue(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) > maxLabelLen {
		i := maxLabelLen
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		s = s[:i]
	}
	return s
}

// ObserveResponse records what a response's headers (and 429 body) said:
// rate-limit state, retry-after, 429s and parse errors.
func (c *Collector) ObserveResponse(l Labels, status int, r *parsers.Result, received time.Time) {
	if r != nil {
		capped, created := false, false
		c.mu.Lock()
		for _, o := range r.Observations {
			k := seriesKey{l.Provider, l.LimitModel, l.Key, o.Resource, o.Window}
			if o.PerKey {
				k.model = "" // the key's limit, whatever the model
			}
			s := c.series[k]
			if s == nil {
				if c.nseries[k.provider] >= c.opts.MaxSeriesPerProvider {
					capped = true
					continue
				}
				s, created = c.newSeries(k), true
			} else if received.Before(s.observed) {
				// Out-of-order delivery (a slow stream finishing after a
				// newer response, a replayed log line): keep the newer state.
				continue
			}
			s.limit, s.hasLimit = o.Limit, o.HasLimit
			s.remaining, s.hasRemaining = o.Remaining, o.HasRemaining
			s.reset = o.Reset
			s.observed = received
		}
		c.mu.Unlock()
		if capped {
			c.seriesCapped(l)
		}
		if created {
			c.zeroRateLimited(l, r)
		}
		for _, e := range r.Errors {
			c.parseError(l.Provider, e)
		}
		c.drift.observe(l, r)
		if r.HasRetryAfter {
			c.retryAfter.WithLabelValues(l.Provider).Observe(r.RetryAfter.Seconds())
		}
	}
	if status == 429 {
		res := parsers.Unknown
		if r != nil && r.ThrottledResource != "" {
			res = r.ThrottledResource
		}
		c.ratelimited.add(1, l.Provider, l.Model, l.Key, res)
	}
	if c.opts.Observer != nil {
		c.opts.Observer.ObservedResponse(l, status, r, received)
	}
}

// newSeries creates a series; the caller holds mu.
func (c *Collector) newSeries(k seriesKey) *seriesState {
	s := &seriesState{key: k, ttl: c.ttl(k.window),
		lbl: `{key="` + escapeLabelValue(k.key) + `",model="` + escapeLabelValue(k.model) +
			`",provider="` + escapeLabelValue(k.provider) + `",resource="` + escapeLabelValue(k.resource) +
			`",window="` + escapeLabelValue(k.window) + `"}`}
	c.series[k] = s
	c.nseries[k.provider]++
	c.added = append(c.added, s)
	return s
}

// seriesCapped counts a call that could not create a rate-limit series,
// once (a call whose model or key was folded is counted already), and
// says so in the log at most once a minute per provider.
func (c *Collector) seriesCapped(l Labels) {
	if !l.folded {
		c.dropped.WithLabelValues(l.Provider).Inc()
	}
	if c.logDue([2]string{l.Provider, "\x00series cap"}) {
		c.opts.Logger.Warn("rate-limit series cap reached; new series of this provider are not exported (HEADROOM_MAX_SERIES_PER_PROVIDER)",
			"provider", l.Provider, "max_series", c.opts.MaxSeriesPerProvider)
	}
}

// ObserveCompletion records a finished call: its status, duration and usage.
func (c *Collector) ObserveCompletion(l Labels, status int, d time.Duration, inputTokens, outputTokens int64) {
	c.requests.add(1, l.Provider, l.Model, l.Key, statusText(status))
	if d > 0 {
		c.duration.observe(d.Seconds(), l.Provider, l.Model)
	}
	if inputTokens > 0 {
		c.tokens.add(uint64(inputTokens), l.Provider, l.Model, l.Key, "input")
	}
	if outputTokens > 0 {
		c.tokens.add(uint64(outputTokens), l.Provider, l.Model, l.Key, "output")
	}
}

// Completions remembers the series a caller's last call used (its
// in-flight gauge, and what ObserveCompletion updated), for a caller that
// observes many alike calls in a row (one proxy connection: the same
// provider, model, key and status, call after call). Looking a series up
// takes its family's lock, shared by every connection; the cached series
// are updated directly. Series of these families are never deleted, so a
// cached one stays the one scraped. Not safe for concurrent use.
type Completions struct {
	l       Labels
	status  int
	req     *counter
	dur     *histogram
	in, out *counter

	inflight                  prometheus.Gauge
	inflightProv, inflightKey string
}

// ObserveCompletionCached is ObserveCompletion through cc, which is
// refreshed when l or status differ from its last call. A nil cc makes it
// ObserveCompletion.
func (c *Collector) ObserveCompletionCached(cc *Completions, l Labels, status int, d time.Duration, inputTokens, outputTokens int64) {
	if cc == nil {
		c.ObserveCompletion(l, status, d, inputTokens, outputTokens)
		return
	}
	if cc.req == nil || cc.l != l || cc.status != status {
		cc.l, cc.status, cc.dur, cc.in, cc.out = l, status, nil, nil, nil
		cc.req = c.requests.get(l.Provider, l.Model, l.Key, statusText(status))
	}
	cc.req.n.Add(1)
	if d > 0 {
		if cc.dur == nil {
			cc.dur = c.duration.get(l.Provider, l.Model)
		}
		c.duration.observeSeries(cc.dur, d.Seconds())
	}
	if inputTokens > 0 {
		if cc.in == nil {
			cc.in = c.tokens.get(l.Provider, l.Model, l.Key, "input")
		}
		cc.in.n.Add(uint64(inputTokens))
	}
	if outputTokens > 0 {
		if cc.out == nil {
			cc.out = c.tokens.get(l.Provider, l.Model, l.Key, "output")
		}
		cc.out.n.Add(uint64(outputTokens))
	}
}

// InflightCached is Inflight through cc, which is refreshed when the
// provider or key differ from its last call's.
func (c *Collector) InflightCached(cc *Completions, l Labels) prometheus.Gauge {
	if cc.inflight == nil || cc.inflightProv != l.Provider || cc.inflightKey != l.Key {
		cc.inflight = c.Inflight(l)
		cc.inflightProv, cc.inflightKey = l.Provider, l.Key
	}
	return cc.inflight
}

// Inflight returns the in-flight gauge of a provider and key, for the
// proxy to Inc/Dec around a call.
func (c *Collector) Inflight(l Labels) prometheus.Gauge {
	return c.inflight.WithLabelValues(l.Provider, l.Key)
}

// ClientError counts a request Headroom refused because of the client
// (provider is empty when the request named no configured provider).
func (c *Collector) ClientError(provider, reason string) {
	c.clientErrors.WithLabelValues(provider, reason).Inc()
}

// UpstreamError counts a request Headroom answered itself.
func (c *Collector) UpstreamError(provider, reason string) {
	c.upstreamErrors.WithLabelValues(provider, reason).Inc()
}

// logDue reports whether the warning keyed k may be logged now: at most
// once a minute per key.
func (c *Collector) logDue(k [2]string) bool {
	now := c.opts.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if last, seen := c.lastLog[k]; seen && now.Sub(last) < time.Minute {
		return false
	}
	c.lastLog[k] = now
	return true
}

// parseError counts an unparseable value and logs it at most once a minute
// per provider and header, so a provider sending garbage on every response
// cannot flood the logs.
func (c *Collector) parseError(provider string, e parsers.FieldError) {
	c.parseErrors.WithLabelValues(provider, e.Header).Inc()
	if c.logDue([2]string{provider, e.Header}) {
		c.opts.Logger.Warn("unparseable rate-limit value; not exported",
			"provider", provider, "header", e.Header, "value", e.Value, "error", e.Err.Error())
	}
}

func (c *Collector) ttl(window string) time.Duration {
	if window == parsers.WindowNone {
		return c.opts.ConcurrencyStaleness
	}
	d, err := parsers.ParseWindow(window)
	if err != nil || d <= 0 {
		return c.opts.ConcurrencyStaleness
	}
	return d + c.opts.StaleGrace
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.descLimit
	ch <- c.descRemaining
	ch <- c.descReset
	ch <- c.descObserved
	ch <- c.descDocumented
	ch <- c.descInfo
}

// Collect implements prometheus.Collector. Expired series are removed here
// (and by Handler): a scrape is the only moment anyone can see them.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	now := c.opts.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	lv := make([]string, 5)
	for k, s := range c.series {
		if now.Sub(s.observed) > s.ttl {
			c.deleteSeries(s)
			continue
		}
		lv[0], lv[1], lv[2], lv[3], lv[4] = k.provider, k.model, k.key, k.resource, k.window
		if s.hasLimit {
			ch <- prometheus.MustNewConstMetric(c.descLimit, prometheus.GaugeValue, s.limit, lv...)
		}
		if s.hasRemaining {
			ch <- prometheus.MustNewConstMetric(c.descRemaining, prometheus.GaugeValue, s.remaining, lv...)
		}
		if !s.reset.IsZero() {
			ch <- prometheus.MustNewConstMetric(c.descReset, prometheus.GaugeValue, unixSeconds(s.reset), lv...)
		}
		ch <- prometheus.MustNewConstMetric(c.descObserved, prometheus.GaugeValue, unixSeconds(s.observed), lv...)
	}
	c.collectMeta(ch)
}

// metaCollector collects the documented limits and provider info, which
// Handler gathers through client_golang with the other small families.
type metaCollector struct{ c *Collector }

func (m metaCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.c.descDocumented
	ch <- m.c.descInfo
}

func (m metaCollector) Collect(ch chan<- prometheus.Metric) {
	m.c.mu.Lock()
	defer m.c.mu.Unlock()
	m.c.collectMeta(ch)
}

// collectMeta emits documented limits and provider info; the caller holds mu.
func (c *Collector) collectMeta(ch chan<- prometheus.Metric) {
	for _, p := range c.providers {
		ch <- prometheus.MustNewConstMetric(c.descInfo, prometheus.GaugeValue, 1, p.Name, p.Family, p.Dialect)
		for _, d := range p.Documented {
			ch <- prometheus.MustNewConstMetric(c.descDocumented, prometheus.GaugeValue, d.Value, p.Name, d.Model, d.Resource, d.Window)
		}
	}
}

// Snapshot is one series' current state, for the JSON API and tests.
type Snapshot struct {
	Provider, Model, Key, Resource, Window string
	Limit, Remaining                       float64
	HasLimit, HasRemaining                 bool
	Reset, Observed                        time.Time
}

// Snapshot returns the live (non-expired) series.
func (c *Collector) Snapshot() []Snapshot {
	now := c.opts.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Snapshot, 0, len(c.series))
	for k, s := range c.series {
		if now.Sub(s.observed) > s.ttl {
			continue
		}
		out = append(out, Snapshot{Provider: k.provider, Model: k.model, Key: k.key, Resource: k.resource, Window: k.window,
			Limit: s.limit, Remaining: s.remaining, HasLimit: s.hasLimit, HasRemaining: s.hasRemaining,
			Reset: s.reset, Observed: s.observed})
	}
	return out
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

var statusTexts = func() (m [600]string) {
	for i := range m {
		m[i] = strconv.Itoa(i)
	}
	return
}()

func statusText(code int) string {
	if code >= 0 && code < len(statusTexts) {
		return statusTexts[code]
	}
	return strconv.Itoa(code)
}
