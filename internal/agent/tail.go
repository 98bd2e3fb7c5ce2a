package agent

import (
	"sync/atomic"

	"github.com/headroomhq/headroom/accesslog"
	"github.com/headroomhq/headroom/calls"
	"github.com/headroomhq/headroom/config"
	"github.com/headroomhq/headroom/tail"
)

// ingest holds the ingest modes besides the proxy: tail mode, the proxy's
// own access log, and probe mode (probe.go).
type ingest struct {
	tail      *tail.Manager
	accessLog *accesslog.AccessLog
	probes    *probeState
	started   atomic.Bool
}

// initIngest builds tail mode, the access log (HEADROOM_ACCESS_LOG) and
// probe mode, registers their metrics, and returns the proxy hooks.
func (a *Agent) initIngest() ([]calls.Hook, error) {
	var hooks []calls.Hook
	a.ingest.tail = tail.NewManager(a.coll, a.Log)
	a.ingest.tail.SetTracer(a.Tracer())
	a.registerOwn(a.ingest.tail.Collectors()...)
	dropped := accesslog.NewDroppedCounter()
	a.registerOwn(dropped)
	if dest := a.Settings.AccessLog; dest != "" {
		al, err := accesslog.OpenAccessLog(dest, a.Log, dropped)
		if err != nil {
			return nil, err
		}
		a.ingest.accessLog = al
		hooks = append(hooks, al)
	}
	a.initProbes()
	return hooks, nil
}

// registerOwn registers Headroom metrics and lists them for the
// documentation check (HeadroomCollectors).
func (a *Agent) registerOwn(cs ...Collector) {
	a.reg.MustRegister(cs...)
	a.own = append(a.own, cs...)
}

// updateIngest applies a (re)loaded configuration. On reload it also
// reopens the access log, so logrotate's postrotate can send SIGHUP.
func (a *Agent) updateIngest(cfg *config.Config) {
	a.ingest.tail.Update(cfg)
	a.updateProbes(cfg)
	if a.ingest.started.Load() && a.ingest.accessLog != nil {
		if err := a.ingest.accessLog.Reopen(); err != nil {
			a.Log.Error("access log: cannot reopen", "error", err)
		}
	}
}

// startIngest starts following logs and probing.
func (a *Agent) startIngest() {
	a.ingest.tail.Start()
	a.startProbes()
	a.ingest.started.Store(true)
}

// stopIngest stops them; it runs after the proxy drained, so the access
// log has every call.
func (a *Agent) stopIngest() {
	a.stopProbes()
	a.ingest.tail.Stop()
	if a.ingest.accessLog != nil {
		a.ingest.accessLog.Close()
	}
	a.ingest.started.Store(false)
}
