package agent

import (
	"net/http"
	"time"

	"github.com/headroomhq/headroom/decide"
)

// newDecide builds the decision engine (package decide) with the
// collector's expiry and caps, so both forget a series at the same time.
func (a *Agent) newDecide() *decide.Engine {
	s := a.Settings
	return decide.New(decide.Options{
		MaxSeriesPerProvider: s.MaxSeriesPerProvider,
		StaleGrace:           s.StaleGrace,
		ConcurrencyStaleness: s.ConcurrencyStaleness,
		Pacing:               s.PacingHeaders,
		Logger:               a.Log,
	})
}

// registerDecide registers the engine's metrics and gives spans its
// forecasts (after tracing started).
func (a *Agent) registerDecide() {
	a.registerOwn(a.decide.Collectors()...)
	a.Tracer().SetForecaster(a.decide)
}

// decideRoutes serves the engine's endpoints on the metrics listener.
func (a *Agent) decideRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/admit", a.decide.ServeAdmit)
	mux.HandleFunc("GET /api/v1/headroom/changes", a.decide.ServeChanges)
	mux.HandleFunc("GET /api/v1/headroom/buckets", a.decide.ServeBuckets)
}

// Decide exposes the decision engine (tests).
func (a *Agent) Decide() *decide.Engine { return a.decide }

// addForecast fills a series' forecast fields in /api/v1/headroom.
func (a *Agent) addForecast(ss *SeriesState) {
	f, ok := a.decide.Forecast(ss.Provider, ss.Model, ss.Key, ss.Resource, ss.Window)
	if !ok {
		return
	}
	if f.HasDrain {
		v := f.Drain
		ss.DrainPerSecond = &v
	}
	if f.ExhaustsBeforeReset {
		eta := f.ETA.Seconds()
		at := f.At.UTC().Format(time.RFC3339Nano)
		ss.ExhaustionETASeconds, ss.ExhaustionAt, ss.ExhaustsBeforeReset = &eta, &at, true
	}
}
