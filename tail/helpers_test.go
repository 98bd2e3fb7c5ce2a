package tail

import (
	"bufio"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/headroomhq/headroom/catalog"
	"github.com/headroomhq/headroom/collector"
	"github.com/headroomhq/headroom/config"
)

// The fixtures in testdata/nginx.jsonl were written by a real nginx
// (nginx-light 1.22, Debian 12) with docs/snippets/nginx-log-format.conf in
// front of fakeprovider: heroku-us on 127.0.0.1:18081, predictions (3
// requests/min) on :18082, anthropic on :18083, sambanova on :18084.
const fixtureProviders = `
providers:
  - {name: heroku-us, upstream: "http://127.0.0.1:18081"}
  - {name: predictions, upstream: "http://127.0.0.1:18082"}
  - {name: anthropic, upstream: "http://127.0.0.1:18083"}
  - {name: sambanova, upstream: "http://127.0.0.1:18084"}
`

type env struct {
	t       testing.TB
	cfg     *config.Config
	coll    *collector.Collector
	reg     *prometheus.Registry
	metrics *Metrics
	router  *Router
	now     time.Time
}

func newEnv(t testing.TB, extra string) *env {
	t.Helper()
	f, err := config.Parse([]byte(fixtureProviders + extra))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Resolve(f, catalog.MustLoad())
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, cfg: cfg, reg: prometheus.NewRegistry(), metrics: NewMetrics(), router: &Router{}}
	// The fixtures were written at 2026-11-23T18:35:3xZ; the collector's
	// clock stands just after, so no series is stale.
	e.now = time.Date(2026, 11, 23, 18, 35, 40, 0, time.UTC)
	e.coll = collector.New(collector.Options{Now: func() time.Time { return e.now }, Logger: quiet()})
	var ps []collector.Provider
	for _, p := range cfg.Providers {
		ps = append(ps, collector.Provider{Name: p.Name, Family: p.Family, Dialect: p.Dialect.Name(), PerKeyLimits: p.PerKey, KnownModels: p.Models})
	}
	e.coll.SetProviders(ps)
	if err := e.coll.Register(e.reg); err != nil {
		t.Fatal(err)
	}
	e.reg.MustRegister(e.metrics.Collectors()...)
	e.router.Update(cfg)
	return e
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func (e *env) tailer(tc config.Tail) *Tailer {
	e.t.Helper()
	tl, err := NewTailer(tc, TailerOptions{Collector: e.coll, Router: e.router, Metrics: e.metrics, Logger: quiet(),
		Now: func() time.Time { return e.now }})
	if err != nil {
		e.t.Fatal(err)
	}
	return tl
}

// gauge reads one series' value from the registry ("" label values must
// match too).
func (e *env) value(name string, labels map[string]string) (float64, bool) {
	e.t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			lv := map[string]string{}
			for _, l := range m.GetLabel() {
				lv[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if lv[k] != v {
					continue next
				}
			}
			return m.GetGauge().GetValue() + m.GetCounter().GetValue(), true
		}
	}
	return 0, false
}

func (e *env) expect(want float64, name string, kv ...string) {
	e.t.Helper()
	labels := map[string]string{}
	for _, s := range kv {
		k, v, _ := strings.Cut(s, "=")
		labels[k] = v
	}
	got, ok := e.value(name, labels)
	if !ok {
		e.t.Errorf("%s%v: no such series", name, kv)
	} else if got != want {
		e.t.Errorf("%s%v = %v, want %v", name, kv, got, want)
	}
}

func (e *env) lines(path string) int {
	return int(testutil.ToFloat64(e.metrics.Lines.WithLabelValues(path, ResultOK)))
}

func readLines(t testing.TB, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		out = append(out, append([]byte(nil), sc.Bytes()...))
	}
	return out
}

func tailCfg(format, path string) config.Tail {
	return config.Tail{Path: path, Format: format, ProviderField: config.DefaultProviderField[format], Key: "none",
		MaxLineBytes: config.DefaultMaxLineBytes}
}
