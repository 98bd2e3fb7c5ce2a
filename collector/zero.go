package collector

import "github.com/headroomhq/headroom/parsers"

// Counters whose label values are known in advance exist at 0 from the
// moment they are known (Prometheus' instrumentation practice: a series
// that appears only with the first event makes rate() and the dashboards
// read "No data" rather than 0 while all is well, and hides the first
// increase from rate() and increase()). What is known, and when:
//
//   - a configured provider: its headroom_upstream_errors_total and
//     headroom_client_errors_total for every reason and its
//     headroom_series_dropped_total;
//   - a rate-limit series, when it is first observed: the provider, model
//     and key of the call and the limit's resource, in
//     headroom_ratelimited_total (0 429s on a limit Headroom watches).
//
// Values that are not known in advance get no series before their first
// event: the header of headroom_parse_errors_total (the field that failed,
// which depends on what the provider sends), models and keys before a call
// names them. Every zero series is bounded by the configuration or by the
// rate-limit series, which are capped.

// UpstreamErrorReasons are the values of headroom_upstream_errors_total's
// reason label (docs/metrics.md).
var UpstreamErrorReasons = []string{"connect", "timeout", "reset", "other"}

// ClientErrorReasons are the values of headroom_client_errors_total's
// reason label (docs/metrics.md): what the proxy refuses of a client.
var ClientErrorReasons = []string{"framing", "method", "credential", "path", "unknown_provider",
	"header_too_large", "header_timeout", "body_timeout", "body_too_large", "bad_body"}

// zeroProviders creates the per-provider counters of ps at 0; the caller
// holds mu (the vectors take their own locks and never call back).
func (c *Collector) zeroProviders(ps []Provider) {
	for _, p := range ps {
		for _, r := range UpstreamErrorReasons {
			c.upstreamErrors.WithLabelValues(p.Name, r)
		}
		for _, r := range ClientErrorReasons {
			c.clientErrors.WithLabelValues(p.Name, r)
		}
		c.dropped.WithLabelValues(p.Name)
	}
}

// zeroRateLimited creates headroom_ratelimited_total at 0 for the call's
// labels and every resource r reports, after r created a rate-limit series
// (so once per series, not per call).
func (c *Collector) zeroRateLimited(l Labels, r *parsers.Result) {
	for _, o := range r.Observations {
		c.ratelimited.get(l.Provider, l.Model, l.Key, o.Resource)
	}
}
