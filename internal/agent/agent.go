// Package agent wires Headroom together: settings and providers file,
// collector, proxy and the two listeners (proxy, metrics), plus reload and
// graceful shutdown. cmd/exporter is a thin main around it.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/headroomhq/headroom/catalog"
	"github.com/headroomhq/headroom/collector"
	"github.com/headroomhq/headroom/config"
	"github.com/headroomhq/headroom/decide"
	"github.com/headroomhq/headroom/proxy"
	"github.com/headroomhq/headroom/tracing"
)

// Agent is one running Headroom.
type Agent struct {
	Settings config.Settings
	// WebConfigFile is exporter-toolkit's --web.config.file (TLS, basic
	// auth) for the metrics listener.
	WebConfigFile string
	// EnableLifecycle serves POST /-/reload (as Prometheus'
	// --web.enable-lifecycle): off by default because anyone who can reach
	// the metrics port could otherwise trigger reloads.
	EnableLifecycle bool
	Log             *slog.Logger

	cat      *catalog.Catalog
	reg      *prometheus.Registry
	coll     *collector.Collector
	proxy    *proxy.Proxy
	tracing  *tracing.Provider
	decide   *decide.Engine
	cfg      atomic.Pointer[config.Config]
	ready    atomic.Bool
	reloadMu sync.Mutex

	own           []prometheus.Collector // Headroom's own metrics besides the collector's
	reloads       *prometheus.CounterVec
	reloadSuccess prometheus.Gauge
	reloadTime    prometheus.Gauge

	// Bound addresses, known once Start returns.
	ProxyAddr, MetricsAddr string

	proxySrv   *proxy.Server
	metricsSrv *http.Server
	errc       chan error

	ingest ingest // tail mode, access log, probes (tail.go, probe.go)
}

// New loads the configuration and builds the agent; nothing listens yet.
func New(s config.Settings, log *slog.Logger) (*Agent, error) {
	cat, err := catalog.Load()
	if err != nil {
		return nil, err
	}
	cfg, err := config.Load(s.ConfigFile, cat)
	if err != nil {
		return nil, err
	}
	a := &Agent{Settings: s, Log: log, cat: cat, reg: prometheus.NewRegistry()}
	a.decide = a.newDecide()
	a.coll = collector.New(collector.Options{
		Observer:             a.decide,
		MaxModelsPerProvider: s.MaxModelsPerProvider,
		MaxKeysPerProvider:   s.MaxKeysPerProvider,
		MaxSeriesPerProvider: s.MaxSeriesPerProvider,
		StaleGrace:           s.StaleGrace,
		ConcurrencyStaleness: s.ConcurrencyStaleness,
		Logger:               log,
	})
	// a.reg holds everything but the collector's metrics: /metrics serves
	// both, the collector rendering its own (collector.Handler).
	a.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "headroom_config_reloads_total",
		Help: "Configuration reloads, by result.",
	}, []string{"result"})
	// Both results exist at 0 from start (dashboards read 0, not "No data").
	a.reloads.WithLabelValues("success")
	a.reloads.WithLabelValues("failure")
	a.reloadSuccess = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "headroom_config_last_reload_successful",
		Help: "1 if the last configuration (re)load succeeded, 0 if it was rejected and the previous one kept.",
	})
	a.reloadTime = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "headroom_config_last_reload_success_timestamp_seconds",
		Help: "Unix time of the last successful configuration load.",
	})
	a.own = []prometheus.Collector{a.reloads, a.reloadSuccess, a.reloadTime, versioncollector.NewCollector("headroom")}
	a.reg.MustRegister(a.own...)
	a.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := a.startTracing(); err != nil {
		return nil, err
	}
	a.registerDecide()
	hooks, err := a.initIngest()
	if err != nil {
		return nil, err
	}
	a.proxy = proxy.New(cfg, a.coll, proxy.Options{
		Hooks:              hooks,
		Logger:             log,
		Upstream:           &proxy.Upstream{DialTimeout: s.UpstreamDialTimeout, HeaderTimeout: s.UpstreamHeaderTimeout},
		Tracer:             a.Tracer(),
		MaxRequestBody:     s.MaxRequestBodyBytes,
		RequestBodyTimeout: s.RequestBodyTimeout,
		Decide:             a.decide,
	})
	a.apply(cfg)
	return a, nil
}

// Registry gathers the agent's metrics, the collector's included (tests).
func (a *Agent) Registry() prometheus.Gatherer { return prometheus.Gatherers{a.reg, a.coll.Gatherer()} }

// HeadroomCollectors lists every collector of headroom_* metrics, for the
// documentation drift test.
func (a *Agent) HeadroomCollectors() []prometheus.Collector {
	return append(a.coll.Collectors(), a.own...)
}

// Collector exposes the collector (other ingest modes feed it).
func (a *Agent) Collector() *collector.Collector { return a.coll }

// Config returns the active configuration.
func (a *Agent) Config() *config.Config { return a.cfg.Load() }

func (a *Agent) apply(cfg *config.Config) {
	var ps []collector.Provider
	for _, p := range cfg.Providers {
		cp := collector.Provider{Name: p.Name, Family: p.Family, Dialect: p.Dialect.Name(), PerKeyLimits: p.PerKey, KnownModels: p.Models}
		for _, l := range p.Limits {
			cp.Documented = append(cp.Documented, collector.DocumentedLimit{Model: l.Model, Resource: l.Resource, Window: l.Window, Value: l.Value})
		}
		ps = append(ps, cp)
	}
	a.coll.SetProviders(ps)
	a.decide.Update(cfg)
	a.proxy.Update(cfg)
	a.updateIngest(cfg)
	a.cfg.Store(cfg)
	a.reloadSuccess.Set(1)
	a.reloadTime.SetToCurrentTime()
}

// Reload re-reads the providers file. An invalid file is rejected and the
// running configuration kept; in-flight requests finish on their old routes.
func (a *Agent) Reload() error {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	cfg, err := config.Load(a.Settings.ConfigFile, a.cat)
	if err != nil {
		a.reloads.WithLabelValues("failure").Inc()
		a.reloadSuccess.Set(0)
		a.Log.Error("configuration reload rejected; keeping the running configuration", "error", err)
		return err
	}
	a.apply(cfg)
	a.reloads.WithLabelValues("success").Inc()
	a.Log.Info("configuration reloaded", "providers", len(cfg.Providers))
	return nil
}

// Start binds both listeners and serves in the background.
func (a *Agent) Start() error {
	pl, err := net.Listen("tcp", a.Settings.ProxyAddr)
	if err != nil {
		return fmt.Errorf("HEADROOM_PROXY_ADDR %s: %w", a.Settings.ProxyAddr, err)
	}
	ml, err := net.Listen("tcp", a.Settings.MetricsAddr)
	if err != nil {
		pl.Close()
		return fmt.Errorf("HEADROOM_METRICS_ADDR %s: %w", a.Settings.MetricsAddr, err)
	}
	if a.WebConfigFile != "" {
		if err := web.Validate(a.WebConfigFile); err != nil {
			pl.Close()
			ml.Close()
			return fmt.Errorf("--web.config.file: %w", err)
		}
	}
	a.ProxyAddr, a.MetricsAddr = pl.Addr().String(), ml.Addr().String()
	a.proxySrv = &proxy.Server{
		Proxy:             a.proxy,
		ReadHeaderTimeout: a.Settings.ReadHeaderTimeout,
		IdleTimeout:       5 * time.Minute,
		Logger:            a.Log,
	}
	a.metricsSrv = &http.Server{
		Handler:           a.metricsMux(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
	}
	a.errc = make(chan error, 2)
	go func() {
		if err := a.proxySrv.Serve(pl); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.errc <- fmt.Errorf("proxy listener: %w", err)
		}
	}()
	go func() {
		addrs := []string{a.MetricsAddr}
		sysd := false
		flags := &web.FlagConfig{WebListenAddresses: &addrs, WebSystemdSocket: &sysd, WebConfigFile: &a.WebConfigFile}
		if err := web.Serve(ml, a.metricsSrv, flags, a.Log); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.errc <- fmt.Errorf("metrics listener: %w", err)
		}
	}()
	a.startIngest()
	a.ready.Store(true)
	a.Log.Info("headroom started", "proxy", a.ProxyAddr, "metrics", a.MetricsAddr, "providers", len(a.Config().Providers))
	return nil
}

// Errors reports a listener that failed after Start.
func (a *Agent) Errors() <-chan error { return a.errc }

// Shutdown stops accepting, lets in-flight proxied requests drain until ctx
// ends, then closes what is left.
func (a *Agent) Shutdown(ctx context.Context) error {
	a.ready.Store(false)
	err := a.proxySrv.Shutdown(ctx)
	if err != nil {
		a.Log.Warn("in-flight requests did not drain before the deadline; closing them", "error", err)
		a.proxySrv.Close()
	}
	a.stopIngest()
	a.shutdownTracing() // last: flushes the spans of proxied calls, tailed lines and probes
	mctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if merr := a.metricsSrv.Shutdown(mctx); merr != nil {
		a.metricsSrv.Close()
	}
	return err
}

func (a *Agent) metricsMux() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.InstrumentMetricHandler(a.reg, a.coll.Handler(a.reg, collector.HandlerOpts{
		ErrorLog: slog.NewLogLogger(a.Log.Handler(), slog.LevelError),
	})))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !a.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	mux.HandleFunc("GET /api/v1/headroom", a.serveState)
	mux.HandleFunc("GET /probe", a.serveProbe)
	a.decideRoutes(mux)
	mux.HandleFunc("POST /-/reload", func(w http.ResponseWriter, r *http.Request) {
		if !a.EnableLifecycle {
			http.Error(w, "lifecycle API is not enabled (--web.enable-lifecycle)", http.StatusForbidden)
			return
		}
		if err := a.Reload(); err != nil {
			http.Error(w, "reload rejected, previous configuration kept: "+err.Error(), http.StatusBadRequest)
			return
		}
		w.Write([]byte("reloaded\n"))
	})
	mux.HandleFunc("GET /{$}", a.serveLanding)
	return mux
}
