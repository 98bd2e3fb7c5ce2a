package probe

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/headroomhq/headroom/collector"
)

// ServeProbe is the blackbox-style endpoint: GET /probe?provider=NAME runs
// one probe of NAME and answers with its result as metrics, in a registry
// of its own (headroom_probe_success, headroom_probe_duration_seconds and
// the headroom_ratelimit_* series the response carried). It does not touch
// /metrics: with Prometheus driving the schedule, the probe's series belong
// to the scrape of /probe alone. A 429 back-off is honoured: while it runs
// the provider is not called and success is 0.
func (s *Scheduler) ServeProbe(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("provider")
	if name == "" {
		http.Error(w, "the provider parameter is missing: /probe?provider=NAME", http.StatusBadRequest)
		return
	}
	p, ok := s.Lookup(name)
	if !ok {
		http.Error(w, fmt.Sprintf("provider %q has no probe configured (add a probe: section with key_env or key_file to its entry in the providers file)", name), http.StatusBadRequest)
		return
	}
	reg := prometheus.NewRegistry()
	coll := collector.New(collector.Options{Logger: s.log})
	coll.SetProviders([]collector.Provider{{Name: p.prov.Name, Family: p.prov.Family, Dialect: p.prov.Dialect.Name(),
		PerKeyLimits: p.prov.PerKey, KnownModels: p.prov.Models}})
	if err := coll.Register(reg); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	m := NewMetrics(false)
	reg.MustRegister(m.Collectors()...)

	ctx := r.Context()
	if v, err := strconv.ParseFloat(r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds"), 64); err == nil && v > 1 {
		// Answer before Prometheus gives up on the scrape.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration((v-0.5)*float64(time.Second)))
		defer cancel()
	}
	o := p.Probe(ctx, coll)
	if o.Skipped {
		m.Success.WithLabelValues(name).Set(0)
		m.Duration.WithLabelValues(name).Set(0)
	}
	m.record(o)
	if o.Err != nil {
		s.log.Debug("probe via /probe failed", "provider", name, "status", o.Status, "error", o.Err.Error())
	}
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}
