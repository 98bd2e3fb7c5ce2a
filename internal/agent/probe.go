package agent

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/headroomhq/headroom/config"
	"github.com/headroomhq/headroom/probe"
)

// Collector is a Prometheus collector (shorthand for registerOwn).
type Collector = prometheus.Collector

type probeState struct {
	sched *probe.Scheduler
}

func (a *Agent) initProbes() {
	a.ingest.probes = &probeState{sched: probe.NewScheduler(a.coll, a.Log)}
	a.ingest.probes.sched.SetTracer(a.Tracer())
	a.registerOwn(a.ingest.probes.sched.Collectors()...)
}

func (a *Agent) updateProbes(cfg *config.Config) { a.ingest.probes.sched.Update(cfg) }

func (a *Agent) startProbes() { a.ingest.probes.sched.Start() }

func (a *Agent) stopProbes() { a.ingest.probes.sched.Stop() }

// serveProbe is GET /probe?provider=NAME on the metrics listener.
func (a *Agent) serveProbe(w http.ResponseWriter, r *http.Request) {
	a.ingest.probes.sched.ServeProbe(w, r)
}
