// Package tail is Headroom's tail mode: it follows JSON-lines access logs
// written by a proxy that already sits in front of the providers (nginx,
// Envoy, another Headroom, or anything described by a field mapping) and
// feeds each line to the same dialects (parsers) and the same collector as
// the reverse proxy, so the metric contract is the same whatever the source.
//
// A line becomes a parsers.Input (the logged response headers, under their
// canonical names, the status, and the time the response headers arrived,
// worked out from the line's own timestamps; no body) and is recorded with
// collector.ObserveResponse and ObserveCompletion at that time. Lines that
// cannot be used are counted in headroom_tail_lines_total{file,result} and
// logged at most once a minute per file and result.
//
// Files: follow.go follows one file through rotations; json.go reads lines
// without allocating (own code rather than a JSON library, for speed: json.go
// says why); mapping.go decodes any format; nginx.go, envoy.go and
// headroom.go are the built-in formats (package accesslog writes the
// headroom format). Each line's call is recorded through package calls, as
// every source's is.
package tail

import (
	"context"
	"log/slog"
	"net"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/headroomhq/headroom/calls"
	"github.com/headroomhq/headroom/collector"
	"github.com/headroomhq/headroom/config"
	"github.com/headroomhq/headroom/parsers"
	"github.com/headroomhq/headroom/tracing"
)

// route is a configured provider as a tailer needs it.
type route struct {
	name     string
	family   string
	upstream *url.URL
	dialect  parsers.Dialect
	aliases  map[string]string
}

type routeTable struct {
	gen    uint64
	byName map[string]*route
	byHost map[string]*route
}

// Router maps what a log line says (a provider name, an upstream host) to
// a configured provider. It is swapped atomically on reload.
type Router struct {
	p   atomic.Pointer[routeTable]
	gen atomic.Uint64
}

// Update installs cfg's providers.
func (r *Router) Update(cfg *config.Config) {
	t := &routeTable{gen: r.gen.Add(1), byName: map[string]*route{}, byHost: map[string]*route{}}
	ps := append([]config.Provider(nil), cfg.Providers...)
	sort.Slice(ps, func(i, j int) bool { return ps[i].Name < ps[j].Name })
	for _, p := range ps {
		rt := &route{name: p.Name, family: p.Family, upstream: p.Upstream, dialect: p.Dialect, aliases: p.KeyAlias}
		t.byName[p.Name] = rt
		if p.Upstream == nil {
			continue
		}
		for _, h := range hostForms(p.Upstream) {
			if other, taken := t.byHost[h]; taken && other != rt {
				// Two providers behind one host: a line naming it could
				// be either's, so it is neither's (unknown_provider).
				// check-config rejects this for upstream_host.
				t.byHost[h] = nil
			} else {
				t.byHost[h] = rt
			}
		}
	}
	r.p.Store(t)
}

// hostForms lists how a log may name an upstream: host:port, host, and
// host with the scheme's default port.
func hostForms(u *url.URL) []string {
	h := strings.ToLower(u.Host)
	out := []string{h, strings.ToLower(u.Hostname())}
	if u.Port() == "" {
		port := "443"
		if u.Scheme == "http" {
			port = "80"
		}
		out = append(out, net.JoinHostPort(strings.ToLower(u.Hostname()), port))
	}
	return out
}

func (t *routeTable) resolve(v string, pm map[string]string) *route {
	if name, ok := pm[v]; ok {
		return t.byName[name]
	}
	if rt := t.byName[v]; rt != nil {
		return rt
	}
	if rt := t.byHost[v]; rt != nil {
		return rt
	}
	return t.byHost[strings.ToLower(v)]
}

// Metrics are the tail mode's own metrics.
type Metrics struct {
	Lines     *prometheus.CounterVec
	Rotations *prometheus.CounterVec
}

// NewMetrics builds (unregistered) tail metrics.
func NewMetrics() *Metrics {
	return &Metrics{
		Lines: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "headroom_tail_lines_total",
			Help: "Access-log lines read in tail mode, by file and result (ok, invalid_json, missing_fields, too_long, unknown_provider).",
		}, []string{"file", "result"}),
		Rotations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "headroom_tail_rotations_total",
			Help: "Rotations noticed in tailed files, by kind (rename, truncate).",
		}, []string{"file", "kind"}),
	}
}

// Collectors lists the metrics for registration.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.Lines, m.Rotations}
}

var results = []string{ResultOK, ResultInvalidJSON, ResultMissingFields, ResultTooLong, ResultUnknownProvider}

func resultIndex(r string) int {
	for i, x := range results {
		if x == r {
			return i
		}
	}
	return 0
}

// Tailer turns the lines of one file into observations. It is not safe for
// concurrent use: each file has its own.
type Tailer struct {
	cfg    config.Tail
	schema *Schema
	coll   *collector.Collector
	record calls.Recorder
	call   calls.Call // reused: a line's call
	router *Router
	log    *slog.Logger
	now    func() time.Time
	tracer *tracing.Tracer

	counters  [5]prometheus.Counter
	rotations map[string]prometheus.Counter

	rec   *record
	res   parsers.Result
	input parsers.Input
	in    interner
	cache map[string]*route
	gen   uint64

	lastLog    [5]time.Time
	suppressed [5]int
}

// TailerOptions configure a Tailer.
type TailerOptions struct {
	Collector *collector.Collector
	Router    *Router
	Metrics   *Metrics
	Logger    *slog.Logger
	// Now is the clock for lines without a time of their own.
	Now func() time.Time
	// Tracer, when set, records each line as a span (nil: tracing off).
	Tracer *tracing.Tracer
}

// NewTailer builds the line handler of one tail entry.
func NewTailer(cfg config.Tail, o TailerOptions) (*Tailer, error) {
	s, err := SchemaFor(&cfg)
	if err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics()
	}
	t := &Tailer{cfg: cfg, schema: s, coll: o.Collector, record: calls.Recorder{Coll: o.Collector, Tracer: o.Tracer},
		router: o.Router, log: o.Logger, now: o.Now, tracer: o.Tracer,
		rec: newRecord(), in: interner{m: map[string]string{}}, cache: map[string]*route{},
		rotations: map[string]prometheus.Counter{
			"rotated":   o.Metrics.Rotations.WithLabelValues(cfg.Path, "rename"),
			"truncated": o.Metrics.Rotations.WithLabelValues(cfg.Path, "truncate"),
		}}
	for i, r := range results {
		t.counters[i] = o.Metrics.Lines.WithLabelValues(cfg.Path, r)
	}
	return t, nil
}

const maxRouteCache = 1024

func (t *Tailer) route(rec *record) *route {
	tab := t.router.p.Load()
	if tab == nil {
		return nil
	}
	if t.cfg.Provider != "" {
		return tab.byName[t.cfg.Provider]
	}
	if tab.gen != t.gen {
		clear(t.cache)
		t.gen = tab.gen
	}
	if rt, ok := t.cache[rec.provider]; ok {
		return rt
	}
	rt := tab.resolve(rec.provider, t.cfg.ProviderMap)
	if len(t.cache) < maxRouteCache {
		t.cache[strings.Clone(rec.provider)] = rt
	}
	return rt
}

// Line handles one line (without its newline).
//
// The line is read in place, without copying it: every string taken from
// it is either used before Line returns (header values, times, numbers)
// or copied when kept (models, keys and provider values are interned,
// parse-error values are logged synchronously by the collector). b must
// not change during the call; it may be reused afterwards.
func (t *Tailer) Line(b []byte) {
	line := unsafe.String(unsafe.SliceData(b), len(b))
	rec := t.rec
	rec.reset()
	t.res.Reset()
	if r := t.schema.decode(line, rec, &t.res, &t.in); r != ResultOK {
		detail := ""
		if r == ResultMissingFields {
			detail = "missing or malformed field " + rec.missing
		}
		t.skip(r, detail)
		return
	}
	rt := t.route(rec)
	if rt == nil {
		v := t.cfg.Provider
		if v == "" {
			v = rec.provider
		}
		t.skip(ResultUnknownProvider, "no configured provider for "+t.schema.providerField+"="+clip(v))
		return
	}
	received, dur := t.schema.received(rec, t.now())
	key := rec.key
	if key == "" {
		key = t.cfg.Key
	} else if a, ok := rt.aliases[key]; ok {
		key = a
	}
	labels := t.coll.Labels(rt.name, rec.model, key)
	if !t.schema.normalized {
		t.input = parsers.Input{Status: rec.status, Header: rec.header, Received: received}
		rt.dialect.Parse(&t.input, &t.res)
		t.input.Header = nil
	}
	for i := range t.res.Errors {
		// Values may point into the line; the collector may keep them.
		t.res.Errors[i].Value = strings.Clone(t.res.Errors[i].Value)
	}
	start, end := t.schema.span(rec, received, dur)
	op := ""
	if rec.model != "" {
		// Logs carry no request path; a call that names a model is an
		// inference call, and chat is by far the most common one.
		op = "chat"
	}
	c := &t.call
	*c = calls.Call{
		Source: "tail", Provider: rt.name, Family: rt.family, Labels: labels, URL: rt.upstream, Operation: op,
		Start: start, Received: received, End: end, Status: rec.status, Result: &t.res,
		InputTok: rec.input, OutputTok: rec.output,
	}
	t.record.Answered(c)
	t.record.Done(context.Background(), c)
	c.Result = nil
	t.counters[0].Inc()
}

// TooLong counts a line over max_line_bytes.
func (t *Tailer) TooLong() {
	t.skip(ResultTooLong, "line longer than max_line_bytes")
}

// Event counts rotations.
func (t *Tailer) Event(kind string) {
	if c := t.rotations[kind]; c != nil {
		c.Inc()
		t.log.Info("tail: log rotated", "file", t.cfg.Path, "kind", kind)
	}
}

// skip counts an unusable line and logs at most once a minute per result,
// with the number of lines skipped since. Line contents are never logged.
func (t *Tailer) skip(result, detail string) {
	i := resultIndex(result)
	t.counters[i].Inc()
	now := time.Now()
	if !t.lastLog[i].IsZero() && now.Sub(t.lastLog[i]) < time.Minute {
		t.suppressed[i]++
		return
	}
	t.log.Warn("tail: skipping access-log lines", "file", t.cfg.Path, "result", result,
		"detail", detail, "skipped_since_last_message", t.suppressed[i]+1)
	t.lastLog[i], t.suppressed[i] = now, 0
}

// Manager runs one follower per tail entry and keeps them in line with the
// configuration across reloads.
type Manager struct {
	coll    *collector.Collector
	tracer  *tracing.Tracer
	log     *slog.Logger
	metrics *Metrics
	router  Router

	mu      sync.Mutex
	cfg     []config.Tail
	running map[string]*running
	started bool
}

type running struct {
	cfg    config.Tail
	cancel context.CancelFunc
	done   chan struct{}
	fw     *Follower
}

// NewManager builds a manager; nothing runs before Start.
func NewManager(coll *collector.Collector, log *slog.Logger) *Manager {
	if log == nil {
		log = slog.Default()
	}
	return &Manager{coll: coll, log: log, metrics: NewMetrics(), running: map[string]*running{}}
}

// SetTracer makes tailers started from now on record each line as a span
// (see docs/tracing.md); call it before Start.
func (m *Manager) SetTracer(t *tracing.Tracer) { m.tracer = t }

// Collectors lists the tail metrics.
func (m *Manager) Collectors() []prometheus.Collector { return m.metrics.Collectors() }

// Update installs a configuration: the providers lines are matched
// against, and the set of files. Followers whose entry did not change keep
// running; changed ones restart where the previous one stopped.
func (m *Manager) Update(cfg *config.Config) {
	m.router.Update(cfg)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cfg = cfg.Tail
	if m.started {
		m.reconcile()
	}
}

// Start starts following.
func (m *Manager) Start() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.started = true
	m.reconcile()
}

// Stop stops every follower; each reads what is left and saves its
// position first.
func (m *Manager) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.started = false
	for p, r := range m.running {
		r.cancel()
		<-r.done
		delete(m.running, p)
	}
}

func (m *Manager) reconcile() {
	want := map[string]config.Tail{}
	for _, t := range m.cfg {
		want[t.Path] = t
	}
	handover := map[string]Position{}
	for p, r := range m.running {
		if w, ok := want[p]; ok && reflect.DeepEqual(w, r.cfg) {
			continue
		}
		r.cancel()
		<-r.done
		if pos, ok := r.fw.last(); ok {
			handover[p] = pos
		}
		delete(m.running, p)
	}
	for _, t := range m.cfg {
		if _, ok := m.running[t.Path]; ok {
			continue
		}
		var resume *Position
		if pos, ok := handover[t.Path]; ok {
			resume = &pos
		}
		r, err := m.start(t, resume)
		if err != nil {
			m.log.Error("tail: cannot follow log", "file", t.Path, "error", err)
			continue
		}
		m.running[t.Path] = r
	}
}

func (m *Manager) start(t config.Tail, resume *Position) (*running, error) {
	tl, err := NewTailer(t, TailerOptions{Collector: m.coll, Router: &m.router, Metrics: m.metrics, Logger: m.log, Tracer: m.tracer})
	if err != nil {
		return nil, err
	}
	fw := NewFollower(FollowOptions{
		Path: t.Path, StartAtEnd: t.StartAtEnd, PositionFile: t.PositionFile, Resume: resume,
		MaxLineBytes: t.MaxLineBytes, PollInterval: t.PollInterval, RotateWait: t.RotateWait,
		Logger: m.log, Line: tl.Line, TooLong: tl.TooLong, Event: tl.Event,
	})
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cfg: t, cancel: cancel, done: make(chan struct{}), fw: fw}
	go func() {
		defer close(r.done)
		fw.Run(ctx)
	}()
	m.log.Info("tail: following log", "file", t.Path, "format", t.Format)
	return r, nil
}
