package decide

import (
	"github.com/prometheus/client_golang/prometheus"
)

var seriesLabels = []string{"provider", "model", "key", "resource", "window"}

// metrics are the engine's Prometheus metrics (docs/metrics.md).
type metrics struct {
	e *Engine

	bucketInfo, drain, eta, suspected *prometheus.Desc

	changes *prometheus.CounterVec
	ignore  *prometheus.CounterVec
	admit   *prometheus.CounterVec
}

// Admission answer results (headroom_admit_requests_total).
const (
	ResultAdmitted = "admitted"
	ResultDenied   = "denied"
	ResultRejected = "rejected"
)

func newMetrics(e *Engine) *metrics {
	m := &metrics{
		e: e,
		bucketInfo: prometheus.NewDesc("headroom_bucket_info",
			"One series per key of a configured shared bucket (the providers file's buckets: section).",
			[]string{"provider", "bucket", "key"}, nil),
		drain: prometheus.NewDesc("headroom_ratelimit_drain_per_second",
			"How fast remaining falls, per second (least-squares slope over the window's lookback since its last refill; 0: not draining).",
			seriesLabels, nil),
		eta: prometheus.NewDesc("headroom_ratelimit_exhaustion_eta_seconds",
			"Seconds until the window runs out at its drain rate; present only when it runs out before it resets.",
			seriesLabels, nil),
		suspected: prometheus.NewDesc("headroom_shared_keys_suspected_info",
			"Key pairs of a provider that look like one bucket (same limit, resets within 1 s, remaining moving together) but are in no configured bucket.",
			[]string{"provider", "key", "peer"}, nil),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "headroom_ratelimit_limit_changes_total",
			Help: "Observed limits that differed from the series' previous limit, by direction (up, down).",
		}, append(append([]string(nil), seriesLabels...), "direction")),
		ignore: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "headroom_retry_after_ignored_total",
			Help: "Calls sent while a 429's Retry-After (or the throttled window's reset) for their bucket was still in the future.",
		}, []string{"provider", "key"}),
		admit: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "headroom_admit_requests_total",
			Help: "Answers of GET /api/v1/admit by result: admitted, denied, rejected (a 4xx for a bad query).",
		}, []string{"result"}),
	}
	for _, r := range []string{ResultAdmitted, ResultDenied, ResultRejected} {
		m.admit.WithLabelValues(r)
	}
	return m
}

func (m *metrics) changed(k seriesKey, dir string) {
	m.changes.WithLabelValues(k.provider, k.model, k.key, k.resource, k.window, dir).Inc()
}

func (m *metrics) ignored(provider, key string) {
	m.ignore.WithLabelValues(provider, key).Inc()
}

// Collectors returns the engine's collectors, to register with the agent's
// registry.
func (e *Engine) Collectors() []prometheus.Collector {
	return []prometheus.Collector{stateCollector{e.m}, e.m.changes, e.m.ignore, e.m.admit}
}

// stateCollector exports the gauges computed from the engine's state.
type stateCollector struct{ m *metrics }

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.m.bucketInfo
	ch <- c.m.drain
	ch <- c.m.eta
	ch <- c.m.suspected
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	m, e := c.m, c.m.e
	now := e.opts.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.expire(now)
	for _, b := range e.buckets {
		for _, k := range b.Keys {
			ch <- prometheus.MustNewConstMetric(m.bucketInfo, prometheus.GaugeValue, 1, b.Provider, b.Name, k)
		}
	}
	for k, s := range e.series {
		f, ok := s.forecast(now)
		if !ok {
			continue
		}
		lv := []string{k.provider, k.model, k.key, k.resource, k.window}
		if f.HasDrain {
			ch <- prometheus.MustNewConstMetric(m.drain, prometheus.GaugeValue, f.Drain, lv...)
		}
		if f.ExhaustsBeforeReset {
			ch <- prometheus.MustNewConstMetric(m.eta, prometheus.GaugeValue, f.ETA.Seconds(), lv...)
		}
	}
	for _, p := range e.suspectedPairs() {
		ch <- prometheus.MustNewConstMetric(m.suspected, prometheus.GaugeValue, 1, p.Provider, p.Key, p.Peer)
	}
}
