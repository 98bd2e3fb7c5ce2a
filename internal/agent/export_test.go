package agent

import "net/http"

// The tests of this directory are in package agent_test, so that they can
// start agents through internal/testenv (which imports this package); these
// give them the handlers they drive without a listener.

// MetricsHandler is what the metrics listener serves (/metrics, /healthz, ...).
func (a *Agent) MetricsHandler() http.Handler { return a.metricsMux() }
