package agent

import (
	"context"
	"os"
	"time"

	"github.com/prometheus/common/version"

	"github.com/headroomhq/headroom/tracing"
)

// tracingShutdownTimeout bounds the final flush of spans at shutdown, after
// the proxy has drained: a dead collector cannot hold Headroom's exit longer.
const tracingShutdownTimeout = 5 * time.Second

// startTracing builds the tracer provider from the OTEL_* environment (see
// docs/tracing.md) and registers Headroom's tracing metrics, which exist at
// zero when tracing is off so that the metric contract does not depend on
// the configuration. Invalid OTEL_* values stop the agent at start.
func (a *Agent) startTracing() error {
	cfg, err := tracing.ConfigFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	m := tracing.NewMetrics()
	a.reg.MustRegister(m.Collectors()...)
	a.own = append(a.own, m.Collectors()...)
	a.tracing, err = tracing.New(context.Background(), cfg, tracing.Options{Logger: a.Log, Version: version.Version, Metrics: m})
	return err
}

// Tracer returns the tracer for other ingest modes (log tailing, probes),
// which record their calls with tracing.RecordCall; nil when tracing is off.
func (a *Agent) Tracer() *tracing.Tracer { return a.tracing.Tracer() }

// shutdownTracing exports the spans of the drained requests, giving up
// after tracingShutdownTimeout (what is left is counted as dropped).
func (a *Agent) shutdownTracing() {
	ctx, cancel := context.WithTimeout(context.Background(), tracingShutdownTimeout)
	defer cancel()
	if err := a.tracing.Shutdown(ctx); err != nil {
		a.Log.Warn("trace export did not finish before the shutdown deadline; remaining spans are dropped", "error", err)
	}
}
