// Package probe is Headroom's probe mode: for providers with no traffic
// path to observe, it sends the cheapest request that returns the
// provider's rate-limit headers (the catalog's probe, or one configured in
// the providers file), on an interval with jitter, and feeds the response
// to the same dialect and collector as the proxy and the tailer. It also
// serves a blackbox-style /probe?provider=NAME endpoint for users who want
// Prometheus to drive the schedule.
//
// API keys come from an environment variable or a mounted file (key_env,
// key_file), read at every probe so rotated secrets are picked up, and are
// never logged: errors name the variable or file, never the value.
//
// A probe spends quota: on 429 the next probe waits at least Retry-After
// (without it, the interval doubles per consecutive 429, up to 16 times),
// and /probe honours the same back-off instead of calling the provider.
package probe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/version"

	"github.com/headroomhq/headroom/calls"
	"github.com/headroomhq/headroom/catalog"
	"github.com/headroomhq/headroom/collector"
	"github.com/headroomhq/headroom/config"
	"github.com/headroomhq/headroom/keyid"
	"github.com/headroomhq/headroom/parsers"
	"github.com/headroomhq/headroom/tracing"
)

// Result values of headroom_probes_total.
const (
	ResultSuccess     = "success"
	ResultRateLimited = "rate_limited"
	ResultBackoff     = "backoff"
	ResultError       = "error"
)

// Outcome is what one probe found.
type Outcome struct {
	Provider string
	// Success: a 2xx response that carried at least one rate-limit
	// observation.
	Success      bool
	Status       int
	Duration     time.Duration
	Observations int
	RetryAfter   time.Duration
	// HasRetryAfter: the provider said when to come back.
	HasRetryAfter bool
	// Err explains a failure in words that are safe to log (never the key).
	Err error
	// Skipped: the probe was not sent because of a 429 back-off.
	Skipped bool
}

// Result is the headroom_probes_total label of o.
func (o Outcome) Result() string {
	switch {
	case o.Skipped:
		return ResultBackoff
	case o.Status == http.StatusTooManyRequests:
		return ResultRateLimited
	case o.Success:
		return ResultSuccess
	}
	return ResultError
}

// Metrics are the probe metrics.
type Metrics struct {
	Success  *prometheus.GaugeVec
	Duration *prometheus.GaugeVec
	Probes   *prometheus.CounterVec
	Next     *prometheus.GaugeVec
}

// NewMetrics builds (unregistered) probe metrics; withSchedule adds the
// scheduler-only ones.
func NewMetrics(withSchedule bool) *Metrics {
	m := &Metrics{
		Success: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "headroom_probe_success",
			Help: "1 if the provider's last probe returned 2xx with rate-limit headers, else 0.",
		}, []string{"provider"}),
		Duration: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "headroom_probe_duration_seconds",
			Help: "How long the provider's last probe took.",
		}, []string{"provider"}),
	}
	if withSchedule {
		m.Probes = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "headroom_probes_total",
			Help: "Probes by result: success, rate_limited, error, backoff (not sent: waiting out a 429).",
		}, []string{"provider", "result"})
		m.Next = prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "headroom_probe_next_timestamp_seconds",
			Help: "Unix time of the provider's next scheduled probe.",
		}, []string{"provider"})
	}
	return m
}

// Collectors lists the metrics for registration.
func (m *Metrics) Collectors() []prometheus.Collector {
	out := []prometheus.Collector{m.Success, m.Duration}
	if m.Probes != nil {
		out = append(out, m.Probes, m.Next)
	}
	return out
}

func (m *Metrics) record(o Outcome) {
	if o.Skipped {
		if m.Probes != nil {
			m.Probes.WithLabelValues(o.Provider, ResultBackoff).Inc()
		}
		return
	}
	s := 0.0
	if o.Success {
		s = 1
	}
	m.Success.WithLabelValues(o.Provider).Set(s)
	m.Duration.WithLabelValues(o.Provider).Set(o.Duration.Seconds())
	if m.Probes != nil {
		m.Probes.WithLabelValues(o.Provider, o.Result()).Inc()
	}
}

// Prober probes one provider.
type Prober struct {
	prov   config.Provider
	spec   config.ProbeSpec
	model  string
	client *http.Client
	now    func() time.Time
	tracer *tracing.Tracer // nil: tracing off

	mu        sync.Mutex
	notBefore time.Time // 429 back-off
	n429      int
}

// NewProber builds the prober of a provider with a probe section.
func NewProber(p config.Provider, client *http.Client) (*Prober, error) {
	if p.ProbeSpec == nil {
		return nil, fmt.Errorf("provider %s has no probe configured (add a probe: section with key_env or key_file to its entry in the providers file)", p.Name)
	}
	if client == nil {
		client = NewClient()
	}
	pr := &Prober{prov: p, spec: *p.ProbeSpec, client: client, now: time.Now}
	var body struct {
		Model string `json:"model"`
	}
	if p.ProbeSpec.Body != "" && json.Unmarshal([]byte(p.ProbeSpec.Body), &body) == nil {
		pr.model = body.Model
	}
	return pr, nil
}

// NewClient is the probes' HTTP client. It never follows redirects: a
// redirect would carry the key to wherever it points.
func NewClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: time.Minute,
			ForceAttemptHTTP2:     true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Name is the provider's name.
func (p *Prober) Name() string { return p.prov.Name }

// Spec is the probe's configuration.
func (p *Prober) Spec() config.ProbeSpec { return p.spec }

// key reads the API key. Errors name where it was looked for, never the
// value.
func (p *Prober) key() (string, error) {
	if p.spec.KeyEnv != "" {
		v := strings.TrimSpace(os.Getenv(p.spec.KeyEnv))
		if v == "" {
			return "", fmt.Errorf("no API key: environment variable %s (probe.key_env) is not set or empty", p.spec.KeyEnv)
		}
		return v, nil
	}
	b, err := os.ReadFile(p.spec.KeyFile)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return "", fmt.Errorf("no API key: cannot read %s (probe.key_file): %v", p.spec.KeyFile, err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("no API key: %s (probe.key_file) is empty", p.spec.KeyFile)
	}
	if strings.ContainsAny(v, "\r\n") {
		return "", fmt.Errorf("no API key: %s (probe.key_file) holds more than one line", p.spec.KeyFile)
	}
	return v, nil
}

const maxBody = 64 << 10

// userAgent is sent when neither the catalog nor probe.headers names one:
// some providers (GitHub) refuse requests without it, and the version lets
// a provider's support tell which release sent a probe.
var userAgent = defaultUserAgent(version.Version)

// defaultUserAgent is headroom-probe/<version>, or the bare product name
// when the build did not set a version (go run, tests) or set one that is
// not an RFC 9110 token and would make the header invalid.
func defaultUserAgent(v string) string {
	if !catalog.ValidHeaderName(v) {
		return "headroom-probe"
	}
	return "headroom-probe/" + v
}

// Probe sends one probe (unless a 429 back-off is running) and records
// what it found in coll.
func (p *Prober) Probe(ctx context.Context, coll *collector.Collector) Outcome {
	o := Outcome{Provider: p.prov.Name}
	now := p.now()
	p.mu.Lock()
	nb := p.notBefore
	p.mu.Unlock()
	if now.Before(nb) {
		o.Skipped = true
		o.Err = fmt.Errorf("backing off after a 429 until %s", nb.UTC().Format(time.RFC3339))
		return o
	}
	key, err := p.key()
	if err != nil {
		o.Err = err
		return o
	}
	u := *p.prov.Upstream
	u.Path = strings.TrimSuffix(u.Path, "/") + p.spec.Path
	u.RawPath = ""
	u.RawQuery = p.spec.Query
	var body io.Reader
	if p.spec.Body != "" {
		body = strings.NewReader(p.spec.Body)
	}
	ctx, cancel := context.WithTimeout(ctx, p.spec.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, p.spec.Method, u.String(), body)
	if err != nil {
		o.Err = fmt.Errorf("cannot build the probe request: %v", err)
		return o
	}
	for k, vs := range p.spec.Header {
		req.Header[k] = vs
	}
	if p.spec.Body != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if req.Header.Get("User-Agent") == "" {
		// Only by default: some providers ask their users to identify
		// their traffic with a User-Agent of their own.
		req.Header.Set("User-Agent", userAgent)
	}
	if p.prov.KeyHeader != "" {
		req.Header.Set(p.prov.KeyHeader, key)
	} else {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	start := time.Now()
	resp, err := p.client.Do(req)
	if err != nil {
		o.Duration = time.Since(start)
		o.Err = fmt.Errorf("probe request failed: %s", safeErr(err))
		return o
	}
	received := p.now()
	o.Status = resp.StatusCode
	in := parsers.Input{Status: resp.StatusCode, Header: resp.Header, Received: received}
	if p.prov.Dialect.WantsBody(resp.StatusCode) {
		in.Body, _ = io.ReadAll(io.LimitReader(resp.Body, maxBody))
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	o.Duration = time.Since(start)
	var res parsers.Result
	p.prov.Dialect.Parse(&in, &res)
	label := keyid.Fingerprint(key)
	if a, ok := p.prov.KeyAlias[label]; ok {
		label = a
	}
	// A probe's call is recorded as any source's (package calls), but
	// uncounted: it is Headroom's traffic, not the users'.
	rec := calls.Recorder{Coll: coll, Tracer: p.tracer}
	c := &calls.Call{
		Source: "probe", Provider: p.prov.Name, Family: p.prov.Family, Labels: coll.Labels(p.prov.Name, p.model, label),
		Method: p.spec.Method, URL: &u, Start: start, End: start.Add(o.Duration), Received: received,
		Status: resp.StatusCode, Result: &res, Uncounted: true,
	}
	rec.Answered(c)
	rec.Done(ctx, c)
	o.Observations = len(res.Observations)
	o.RetryAfter, o.HasRetryAfter = res.RetryAfter, res.HasRetryAfter
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		o.Err = fmt.Errorf("the provider rejected the API key (status %d); check %s", resp.StatusCode, p.keySource())
	case resp.StatusCode == http.StatusTooManyRequests:
		o.Err = errors.New("rate limited (429)")
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		o.Err = fmt.Errorf("status %d", resp.StatusCode)
	case o.Observations == 0:
		o.Err = fmt.Errorf("status %d without rate-limit headers the %s dialect reads; choose a probe request that returns them (probe.method, probe.path, probe.body)", resp.StatusCode, p.prov.Dialect.Name())
	default:
		o.Success = true
	}
	p.backoff(o, received)
	return o
}

func (p *Prober) keySource() string {
	if p.spec.KeyEnv != "" {
		return "the key in " + p.spec.KeyEnv + " (probe.key_env)"
	}
	return "the key in " + p.spec.KeyFile + " (probe.key_file)"
}

// safeErr renders a transport error by its cause alone: no URL (with the
// query from the providers file) and no headers.
func safeErr(err error) string {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			if errors.Is(inner, context.DeadlineExceeded) {
				return "timed out"
			}
			return inner.Error()
		}
	}
	return err.Error()
}

// MaxBackoffFactor bounds the doubling of the interval on 429s without
// Retry-After.
const MaxBackoffFactor = 16

// backoff records a 429: the next probe (scheduled or /probe) waits at
// least Retry-After, or a doubling multiple of the interval without it.
func (p *Prober) backoff(o Outcome, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if o.Status != http.StatusTooManyRequests {
		p.n429 = 0
		p.notBefore = time.Time{}
		return
	}
	p.n429++
	if o.HasRetryAfter {
		p.notBefore = now.Add(o.RetryAfter)
		return
	}
	f := 1 << min(p.n429, 5)
	if f > MaxBackoffFactor {
		f = MaxBackoffFactor
	}
	p.notBefore = now.Add(time.Duration(f) * p.spec.Interval)
}

// NextDelay is how long the scheduler waits after a probe: the interval
// with ±10 % jitter, but never before a 429 back-off ends.
func (p *Prober) NextDelay(rnd func() float64) time.Duration {
	d := time.Duration(float64(p.spec.Interval) * (0.9 + 0.2*rnd()))
	p.mu.Lock()
	nb := p.notBefore
	p.mu.Unlock()
	if wait := nb.Sub(p.now()); wait > d {
		// A little past the provider's Retry-After, never before it.
		d = wait + time.Duration(float64(wait)*0.05*rnd())
	}
	return d
}

// Scheduler runs the enabled probes and serves /probe.
type Scheduler struct {
	coll    *collector.Collector
	log     *slog.Logger
	metrics *Metrics
	client  *http.Client
	tracer  *tracing.Tracer

	mu      sync.Mutex
	probers map[string]*Prober
	running map[string]context.CancelFunc
	wg      sync.WaitGroup
	started bool
	rnd     func() float64
}

// NewScheduler builds a scheduler; nothing runs before Start.
func NewScheduler(coll *collector.Collector, log *slog.Logger) *Scheduler {
	if log == nil {
		log = slog.Default()
	}
	return &Scheduler{coll: coll, log: log, metrics: NewMetrics(true), client: NewClient(),
		probers: map[string]*Prober{}, running: map[string]context.CancelFunc{}, rnd: rand.Float64}
}

// SetTracer makes probes record a span each (see docs/tracing.md); call it
// before Update.
func (s *Scheduler) SetTracer(t *tracing.Tracer) { s.tracer = t }

// Collectors lists the probe metrics.
func (s *Scheduler) Collectors() []prometheus.Collector { return s.metrics.Collectors() }

// Update installs a configuration. Probers whose provider and probe did
// not change keep their schedule and back-off.
func (s *Scheduler) Update(cfg *config.Config) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := map[string]*Prober{}
	for _, p := range cfg.Providers {
		if p.ProbeSpec == nil {
			continue
		}
		if old, ok := s.probers[p.Name]; ok && sameProbe(old, p) {
			next[p.Name] = old
			continue
		}
		pr, err := NewProber(p, s.client)
		if pr != nil {
			pr.tracer = s.tracer
		}
		if err != nil {
			s.log.Error("probe: cannot build", "provider", p.Name, "error", err)
			continue
		}
		next[p.Name] = pr
	}
	for name, cancel := range s.running {
		if np, ok := next[name]; !ok || np != s.probers[name] || !np.spec.Enabled {
			cancel()
			delete(s.running, name)
			s.metrics.Next.DeleteLabelValues(name)
		}
	}
	for name := range s.probers {
		if _, ok := next[name]; !ok {
			s.metrics.Success.DeleteLabelValues(name)
			s.metrics.Duration.DeleteLabelValues(name)
		}
	}
	s.probers = next
	if s.started {
		s.startAll()
	}
}

func sameProbe(old *Prober, p config.Provider) bool {
	o := old.prov
	return o.Upstream.String() == p.Upstream.String() && o.Dialect == p.Dialect && o.KeyHeader == p.KeyHeader &&
		fmt.Sprint(o.KeyAlias) == fmt.Sprint(p.KeyAlias) && fmt.Sprint(old.spec) == fmt.Sprint(*p.ProbeSpec)
}

// Start runs the enabled probes.
func (s *Scheduler) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.started = true
	s.startAll()
}

func (s *Scheduler) startAll() {
	for name, p := range s.probers {
		if !p.spec.Enabled {
			continue
		}
		if _, ok := s.running[name]; ok {
			continue
		}
		ctx, cancel := context.WithCancel(context.Background())
		s.running[name] = cancel
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.loop(ctx, p)
		}()
	}
}

// Stop stops every schedule and waits for probes in flight.
func (s *Scheduler) Stop() {
	s.mu.Lock()
	s.started = false
	for name, cancel := range s.running {
		cancel()
		delete(s.running, name)
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *Scheduler) loop(ctx context.Context, p *Prober) {
	// The first probe soon after start, spread so that many providers do
	// not fire at once.
	first := time.Duration(s.random() * float64(min(p.spec.Interval, 10*time.Second)))
	t := time.NewTimer(first)
	defer t.Stop()
	s.metrics.Next.WithLabelValues(p.Name()).Set(float64(time.Now().Add(first).UnixNano()) / 1e9)
	// Every result of a scheduled provider exists at 0 from start.
	for _, r := range []string{ResultSuccess, ResultRateLimited, ResultError, ResultBackoff} {
		if s.metrics.Probes != nil {
			s.metrics.Probes.WithLabelValues(p.Name(), r)
		}
	}
	lastErr := ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		o := p.Probe(ctx, s.coll)
		if ctx.Err() != nil {
			return
		}
		s.metrics.record(o)
		d := p.NextDelay(s.random)
		s.metrics.Next.WithLabelValues(p.Name()).Set(float64(time.Now().Add(d).UnixNano()) / 1e9)
		switch {
		case o.Err == nil:
			if lastErr != "" {
				s.log.Info("probe: succeeding again", "provider", p.Name())
			}
			lastErr = ""
		case o.Err.Error() != lastErr:
			// Logged when the error changes, not at every interval.
			s.log.Warn("probe failed", "provider", p.Name(), "status", o.Status, "error", o.Err.Error(), "next_in", d.Round(time.Second).String())
			lastErr = o.Err.Error()
		}
		t.Reset(d)
	}
}

func (s *Scheduler) random() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rnd()
}

// Lookup returns the prober of a provider with a probe section.
func (s *Scheduler) Lookup(name string) (*Prober, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.probers[name]
	return p, ok
}
