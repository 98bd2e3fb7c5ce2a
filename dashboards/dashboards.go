// Package dashboards builds Headroom's Grafana dashboards as code (grafana-foundation-sdk)
// and renders the committed, import-ready classic dashboard JSON:
//
//	go generate ./dashboards/...
//
// rewrites overview.json and provider.json; TestGeneratedFilesUpToDate fails when they are
// out of date. Thresholds come from alerts/thresholds.yml (the alerts package), so panel
// colours match the alerts. Queries use the recording rules of alerts/recording_rules.yml,
// which aggregate several Headroom replicas correctly; where a panel aggregates further,
// gauges of a key's state use min (remaining) / max (limit, reset, age), never sum.
package dashboards

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"

	"github.com/grafana/grafana-foundation-sdk/go/bargauge"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/heatmap"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/headroomhq/headroom/alerts"
)

//go:generate go run ./gen -out .

// File names and uids of the generated dashboards.
const (
	OverviewFile = "overview.json"
	ProviderFile = "provider.json"
	OverviewUID  = "headroom-overview"
	ProviderUID  = "headroom-provider"
)

// MayBeEmpty lists panels whose queries legitimately return nothing on a healthy system
// (no stale series, no parse errors, ...), by dashboard file and panel title. The end-to-end
// test requires data from every other panel.
var MayBeEmpty = map[string]map[string]bool{
	OverviewFile: {
		"Stale series (older than the window's threshold)": true,
		"Upstream errors":                    true,
		"Client errors":                      true,
		"Observations folded into \"other\"": true,
		"Configuration reloads":              true,
		"Tailed log lines by result":         true,
		"Log rotations noticed":              true,
		"Probes":                             true,
		"Probes by result":                   true,
		"Trace spans exported and dropped":   true,
		"Access-log lines dropped":           true,
		// Shared buckets and decisions: empty without buckets:, limit changes or retries
		// during Retry-After (test/e2e/decide_test.go fills them).
		"Shared buckets":                  true,
		"Who drains each bucket":          true,
		"Keys that look shared":           true,
		"Keys sending during Retry-After": true,
		"Calls during Retry-After":        true,
		"Limit changes":                   true,
	},
	ProviderFile: {
		"Retry-After asked by the provider":           true,
		"Retry-After distribution":                    true,
		"Projected time to exhaustion (long windows)": true,
		"Parse errors":                                true,
		"Upstream errors":                             true,
		"Concurrency: in flight vs limit":             true,
		"Concurrency utilisation":                     true,
		"Documented vs observed limits":               true,
		"Observations folded into \"other\"":          true,
		"Time to exhaustion, every window":            true,
		"Rate-limit headers Headroom does not read":   true,
		"Header families that stopped arriving":       true,
	},
}

// Label filters built from the dashboard variables. Rate-limit state uses model=~"$model|":
// limits a provider reports per key (no model label) apply to every model.
const (
	fTraffic = `provider=~"$provider", model=~"$model", key=~"$key"`
	fLimits  = `provider=~"$provider", model=~"$model|", key=~"$key"`
	fPM      = `provider=~"$provider", model=~"$model"`
	fPK      = `provider=~"$provider", key=~"$key"`
	fP       = `provider=~"$provider"`
	fDoc     = `provider=~"$provider", model=~"$model|"`
)

func dsRef() common.DataSourceRef {
	return common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}
}

// query is one panel target.
type query struct {
	expr, legend string
	instant      bool
	format       prometheus.PromQueryFormat
}

func rangeQ(expr, legend string) query { return query{expr: expr, legend: legend} }
func tableQ(expr string) query {
	return query{expr: expr, instant: true, format: prometheus.PromQueryFormatTable}
}

// targets turns queries into SDK targets with refIds A, B, ... and the templated datasource.
func targets(qs ...query) []cog.Builder[variants.Dataquery] {
	out := make([]cog.Builder[variants.Dataquery], 0, len(qs))
	for i, q := range qs {
		b := prometheus.NewDataqueryBuilder().
			Datasource(dsRef()).
			RefId(string(rune('A' + i))).
			Expr(q.expr)
		if q.legend != "" {
			b.LegendFormat(q.legend)
		}
		if q.instant {
			b.Instant()
		} else {
			b.Range()
		}
		if q.format != "" {
			b.Format(q.format)
		}
		out = append(out, b)
	}
	return out
}

type step struct {
	v     float64
	color string
}

// thresholds returns absolute thresholds: the base colour, then each step from its value up.
func thresholds(base string, steps ...step) *dashboard.ThresholdsConfigBuilder {
	s := []dashboard.Threshold{{Color: base}}
	for _, st := range steps {
		s = append(s, dashboard.Threshold{Value: cog.ToPtr(round(st.v)), Color: st.color})
	}
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(s)
}

// round removes float noise (1 - 0.95 = 0.050000000000000044) from threshold values.
func round(v float64) float64 { return math.Round(v*1e9) / 1e9 }

// Thresholds shared by panels, derived from the alert thresholds.
type panelThresholds struct {
	c *alerts.Config
}

// remainingShare colours 1 - utilisation: red once the critical saturation threshold is
// crossed, orange past the warning one.
func (t panelThresholds) remainingShare() *dashboard.ThresholdsConfigBuilder {
	return thresholds("red",
		step{1 - t.c.Saturation.Critical, "orange"},
		step{1 - t.c.Saturation.Warning, "green"})
}

// rateLimitedShare colours the share of requests answered 429.
func (t panelThresholds) rateLimitedShare() *dashboard.ThresholdsConfigBuilder {
	return thresholds("green", step{t.c.RateLimited.Warning, "orange"}, step{t.c.RateLimited.Critical, "red"})
}

func (t panelThresholds) concurrency() *dashboard.ThresholdsConfigBuilder {
	return thresholds("green", step{t.c.Concurrency.Warning, "red"})
}

// bucketShare colours a bucket's remaining share by the bucket alert's thresholds.
func (t panelThresholds) bucketShare() *dashboard.ThresholdsConfigBuilder {
	return thresholds("red",
		step{1 - t.c.Bucket.Critical, "orange"},
		step{1 - t.c.Bucket.Warning, "green"})
}

func (t panelThresholds) documentedRatio() *dashboard.ThresholdsConfigBuilder {
	return thresholds("red", step{t.c.LimitBelowDocumented.Ratio, "green"})
}

func legend(calcs ...string) *common.VizLegendOptionsBuilder {
	b := common.NewVizLegendOptionsBuilder().ShowLegend(true).Placement(common.LegendPlacementBottom)
	if len(calcs) > 0 {
		b.DisplayMode(common.LegendDisplayModeTable).Calcs(calcs)
	} else {
		b.DisplayMode(common.LegendDisplayModeList).Calcs([]string{})
	}
	return b
}

func tooltip() *common.VizTooltipOptionsBuilder {
	return common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderDescending)
}

func dashedThresholds() *common.GraphThresholdsStyleConfigBuilder {
	return common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed)
}

func ts(title, desc, unit string, qs ...query) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Title(title).Description(desc).Datasource(dsRef()).Unit(unit).
		Targets(targets(qs...)).
		Legend(legend("lastNotNull", "max")).Tooltip(tooltip()).
		LineWidth(1).FillOpacity(10).ShowPoints(common.VisibilityModeNever).
		Height(8).Span(12)
}

func statPanel(title, desc, unit string, q query) *stat.PanelBuilder {
	q.instant, q.format = true, ""
	return stat.NewPanelBuilder().
		Title(title).Description(desc).Datasource(dsRef()).Unit(unit).
		Targets(targets(q)).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Values(false)).
		ColorMode(common.BigValueColorModeBackground).GraphMode(common.BigValueGraphModeNone).
		TextMode(common.BigValueTextModeValue).
		Height(4).Span(4)
}

// column describes one value column of a merged table.
type column struct {
	name, unit string
	expr       string
	thresholds *dashboard.ThresholdsConfigBuilder
}

// mergedTable joins instant queries that share labels into one row per label set.
func mergedTable(title, desc string, hide []string, cols ...column) *table.PanelBuilder {
	qs := make([]query, len(cols))
	rename := map[string]any{}
	exclude := map[string]any{"Time": true}
	for _, h := range hide {
		exclude[h] = true
	}
	b := table.NewPanelBuilder().Title(title).Description(desc).Datasource(dsRef()).
		Footer(common.NewTableFooterOptionsBuilder().Show(false).Reducer([]string{}).CountRows(false)).
		CellHeight(common.TableCellHeightSm).Filterable(true).
		Height(10).Span(24)
	for i, c := range cols {
		qs[i] = tableQ(c.expr)
		field := "Value"
		if len(cols) > 1 {
			field = fmt.Sprintf("Value #%c", 'A'+i)
		}
		rename[field] = c.name
		props := []dashboard.DynamicConfigValue{{Id: "unit", Value: c.unit}}
		// Overrides match the display name, which the organize transformation renamed.
		if c.thresholds != nil {
			th, err := c.thresholds.Build()
			if err != nil {
				panic(err)
			}
			props = append(props,
				dashboard.DynamicConfigValue{Id: "thresholds", Value: th},
				dashboard.DynamicConfigValue{Id: "custom.cellOptions", Value: map[string]any{"type": "color-background", "mode": "basic"}})
		}
		b.OverrideByName(c.name, props)
	}
	b.Targets(targets(qs...))
	if len(cols) > 1 {
		b.WithTransformation(dashboard.DataTransformerConfig{Id: "merge", Options: map[string]any{}})
	}
	b.WithTransformation(dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{
		"excludeByName": exclude,
		"renameByName":  rename,
	}})
	return b
}

// variables common to both dashboards.
func datasourceVar() *dashboard.DatasourceVariableBuilder {
	return dashboard.NewDatasourceVariableBuilder("datasource").Label("Data source").Type("prometheus")
}

func queryVar(name, label, q string, multi bool) *dashboard.QueryVariableBuilder {
	v := dashboard.NewQueryVariableBuilder(name).Label(label).
		Datasource(dsRef()).
		Query(dashboard.StringOrMap{String: cog.ToPtr(q)}).
		Definition(q).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortAlphabeticalAsc).
		Multi(multi)
	if multi {
		// .* rather than the list of values: an empty label (per-key limits have no model)
		// matches too.
		v.IncludeAll(true).AllValue(".*").Current(dashboard.VariableOption{
			Text:  dashboard.StringOrArrayOfString{String: cog.ToPtr("All")},
			Value: dashboard.StringOrArrayOfString{String: cog.ToPtr("$__all")},
		})
	}
	return v
}

func links(self string) []cog.Builder[dashboard.DashboardLink] {
	return []cog.Builder[dashboard.DashboardLink]{
		dashboard.NewDashboardLinkBuilder("Headroom").Type(dashboard.DashboardLinkTypeDashboards).
			Tags([]string{"headroom"}).AsDropdown(false).IncludeVars(true).KeepTime(true).
			TargetBlank(false).Icon("external link").Tooltip("").Url(""),
	}
}

func newDashboard(title, uid, desc string) *dashboard.DashboardBuilder {
	return dashboard.NewDashboardBuilder(title).
		Uid(uid).
		Description(desc).
		Tags([]string{"headroom", "rate-limits"}).
		Editable().
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Refresh("30s").
		Time("now-3h", "now").
		Timezone("browser").
		Links(links(uid))
}

// Overview builds the overview dashboard: every provider × model at a glance.
func Overview(c *alerts.Config) (dashboard.Dashboard, error) {
	th := panelThresholds{c}
	up := fmt.Sprintf("up{%s}", c.ScrapeSelector)
	b := newDashboard("Headroom overview", OverviewUID,
		"Rate-limit headroom of every provider and model through Headroom: remaining share of each limit, 429s, time to reset, token use against token limits, stale data. Needs Headroom's recording rules (alerts/recording_rules.yml).").
		WithVariable(datasourceVar()).
		WithVariable(queryVar("provider", "Provider", "label_values(headroom_provider_info, provider)", true)).
		WithVariable(queryVar("model", "Model", `label_values(headroom_requests_total{provider=~"$provider"}, model)`, true)).
		WithVariable(queryVar("key", "Key", `label_values(headroom_requests_total{provider=~"$provider"}, key)`, true))

	b.WithRow(dashboard.NewRowBuilder("At a glance"))
	b.WithPanel(statPanel("Lowest remaining share", "The least headroom left on any selected limit (1 - utilisation), over all keys, resources and windows.", "percentunit",
		tableQ(fmt.Sprintf("min(1 - %s{%s})", alerts.RuleUtilisation, fLimits))).
		Thresholds(th.remainingShare()).Min(0).Max(1))
	b.WithPanel(statPanel("Requests answered 429", "Share of requests through Headroom answered 429 over 5m, all selected providers.", "percentunit",
		tableQ(fmt.Sprintf(`sum(%[1]s{code="429", %[2]s}) / sum(%[1]s{%[2]s})`, alerts.RuleRequestsRate, fTraffic))).
		Thresholds(th.rateLimitedShare()))
	b.WithPanel(statPanel("Requests through Headroom", "Requests per second through all Headroom replicas.", "reqps",
		tableQ(fmt.Sprintf(`sum(%s{%s})`, alerts.RuleRequestsRate, fTraffic))).
		Thresholds(thresholds("blue")))
	b.WithPanel(statPanel("Stale series", "Rate-limit series older than their window's staleness threshold (see alerts/thresholds.yml).", "short",
		tableQ(fmt.Sprintf("count(%s{%s}) or vector(0)", alerts.RuleStaleAge, fLimits))).
		Thresholds(thresholds("green", step{1, "orange"})))
	b.WithPanel(statPanel("Headroom replicas up", "Headroom targets Prometheus scrapes successfully.", "short",
		tableQ(fmt.Sprintf("sum(%s) or vector(0)", up))).
		Thresholds(thresholds("red", step{1, "green"})))
	b.WithPanel(statPanel("Headroom alerts firing", "Headroom alerts currently firing in this Prometheus.", "short",
		tableQ(`count(ALERTS{alertname=~"Headroom.*", alertstate="firing"}) or vector(0)`)).
		Thresholds(thresholds("green", step{1, "red"})))

	b.WithRow(dashboard.NewRowBuilder("Remaining share of each limit"))
	b.WithPanel(bargauge.NewPanelBuilder().
		Title("Remaining share of limit, now (worst key)").
		Description("Per provider, model, resource and window: the lowest remaining/limit over the selected keys. Red past the critical saturation threshold, orange past the warning one. Limits with no model are per key and apply to every model.").
		Datasource(dsRef()).Unit("percentunit").Min(0).Max(1).
		Targets(targets(query{expr: fmt.Sprintf("min by (provider, model, resource, window) (1 - %s{%s})", alerts.RuleUtilisation, fLimits),
			legend: "{{provider}} {{model}} {{resource}}/{{window}}", instant: true})).
		Thresholds(th.remainingShare()).
		DisplayMode(common.BarGaugeDisplayModeGradient).Orientation(common.VizOrientationHorizontal).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Values(false)).
		ShowUnfilled(true).
		Height(10).Span(12))
	b.WithPanel(ts("Remaining share of limit",
		"Per provider, model, resource and window, the lowest remaining/limit over the selected keys; dashed lines: alert thresholds.",
		"percentunit",
		rangeQ(fmt.Sprintf("min by (provider, model, resource, window) (1 - %s{%s})", alerts.RuleUtilisation, fLimits),
			"{{provider}} {{model}} {{resource}}/{{window}}")).
		Thresholds(th.remainingShare()).ThresholdsStyle(dashedThresholds()).Min(0).Max(1).Height(10))
	b.WithPanel(mergedTable("Limits by provider and model",
		"Per provider, model, resource and window over the selected keys: lowest remaining share and remaining, highest limit, longest time to reset and oldest observation.",
		nil,
		column{name: "remaining share", unit: "percentunit", expr: fmt.Sprintf("min by (provider, model, resource, window) (1 - %s{%s})", alerts.RuleUtilisation, fLimits), thresholds: th.remainingShare()},
		column{name: "remaining", unit: "short", expr: fmt.Sprintf("min by (provider, model, resource, window) (%s{%s})", alerts.RuleRemaining, fLimits)},
		column{name: "limit", unit: "short", expr: fmt.Sprintf("max by (provider, model, resource, window) (%s{%s})", alerts.RuleLimit, fLimits)},
		column{name: "time to reset", unit: "s", expr: fmt.Sprintf("max by (provider, model, resource, window) (%s{%s})", alerts.RuleReset, fLimits)},
		column{name: "observed ago", unit: "s", expr: fmt.Sprintf("max by (provider, model, resource, window) (%s{%s})", alerts.RuleObservedAge, fLimits)},
	))

	b.WithRow(dashboard.NewRowBuilder("429s and time to reset"))
	b.WithPanel(ts("429 responses", "Responses answered 429 per second, by provider, model and the limit that was hit (unknown when the response did not say).", "reqps",
		rangeQ(fmt.Sprintf("sum by (provider, model, resource) (%s{%s})", alerts.RuleRateLimitedRate, fTraffic), "{{provider}} {{model}} {{resource}}")))
	b.WithPanel(ts("Share of requests answered 429", "Per provider and model over 5m; dashed lines: the 429 alert thresholds.", "percentunit",
		rangeQ(fmt.Sprintf(`sum by (provider, model) (%[1]s{code="429", %[2]s}) / sum by (provider, model) (%[1]s{%[2]s})`, alerts.RuleRequestsRate, fTraffic), "{{provider}} {{model}}")).
		Thresholds(th.rateLimitedShare()).ThresholdsStyle(dashedThresholds()).Min(0))
	b.WithPanel(ts("Time to reset", "Seconds until capacity returns, per provider, model, resource and window (the longest over the selected keys).", "s",
		rangeQ(fmt.Sprintf("max by (provider, model, resource, window) (%s{%s})", alerts.RuleReset, fLimits), "{{provider}} {{model}} {{resource}}/{{window}}")).Min(0))
	b.WithPanel(ts("Tokens per minute vs token limit", "Tokens per minute through Headroom (input + output, usage reported by the provider) per provider, model and key, against the per-minute token limits the provider reports (dashed).", "short",
		rangeQ(fmt.Sprintf("sum by (provider, model, key) (%s{%s})", alerts.RuleTokensPerMinute, fTraffic), "{{provider}} {{model}} {{key}} used"),
		rangeQ(fmt.Sprintf(`max by (provider, model, key, resource) (%s{resource=~"tokens|input_tokens|output_tokens", window="1m", %s})`, alerts.RuleLimit, fLimits), "{{provider}} {{model}} {{key}} {{resource}} limit")).
		OverrideByRegexp(".* limit$", []dashboard.DynamicConfigValue{
			{Id: "custom.lineStyle", Value: map[string]any{"fill": "dash", "dash": []int{10, 10}}},
			{Id: "custom.fillOpacity", Value: 0},
		}).Min(0))

	b.WithRow(dashboard.NewRowBuilder("Freshness and Headroom itself"))
	b.WithPanel(mergedTable("Stale series (older than the window's threshold)",
		"Series whose last observation is older than their window's staleness threshold: the provider stopped sending the headers, or no request went through for a while. Empty is good.",
		nil,
		column{name: "observed ago", unit: "s", expr: fmt.Sprintf("%s{%s}", alerts.RuleStaleAge, fLimits)}).
		Height(8).Span(12).NoValue("no stale series"))
	b.WithPanel(ts("Age of the latest observation", "Seconds since the provider last reported each limit (the oldest over the selected keys).", "s",
		rangeQ(fmt.Sprintf("max by (provider, model, resource, window) (%s{%s})", alerts.RuleObservedAge, fLimits), "{{provider}} {{model}} {{resource}}/{{window}}")).Min(0))
	b.WithPanel(ts("Requests by status", "Requests per second through Headroom by the status the client received.", "reqps",
		rangeQ(fmt.Sprintf("sum by (provider, code) (%s{%s})", alerts.RuleRequestsRate, fTraffic), "{{provider}} {{code}}")).Min(0))
	b.WithPanel(ts("Upstream errors", "Requests Headroom answered itself because the upstream failed, by reason.", "reqps",
		rangeQ(fmt.Sprintf("sum by (provider, reason) (rate(headroom_upstream_errors_total{%s}[$__rate_interval]))", fP), "{{provider}} {{reason}}")).Min(0))
	b.WithPanel(ts("Client errors", "Requests Headroom refused because of the client (ambiguous framing, conflicting credentials, a stalled, malformed or oversized body, unknown provider): never sent upstream, never counted as upstream errors. provider is empty when the request named no configured provider.", "reqps",
		rangeQ("sum by (provider, reason) (rate(headroom_client_errors_total[$__rate_interval]))", "{{provider}} {{reason}}")).Min(0))
	b.WithPanel(ts("Observations folded into \"other\"", "Observations whose model or key exceeded Headroom's cardinality caps (HEADROOM_MAX_MODELS_PER_PROVIDER, HEADROOM_MAX_KEYS_PER_PROVIDER), or new series dropped past HEADROOM_MAX_SERIES_PER_PROVIDER.", "ops",
		rangeQ(fmt.Sprintf("sum by (provider) (rate(headroom_series_dropped_total{%s}[$__rate_interval]))", fP), "{{provider}}")).Min(0))
	b.WithPanel(mergedTable("Headroom builds", "Running Headroom replicas by version.", []string{"goversion"},
		column{name: "replicas", unit: "short", expr: "count by (version, revision, goversion) (headroom_build_info)"}).Height(8).Span(12))
	b.WithPanel(mergedTable("Configuration per replica", "Whether each Headroom replica's last configuration (re)load succeeded (a rejected file keeps the previous configuration), and how long ago the configuration in use was loaded.", nil,
		column{name: "last reload ok", unit: "bool_yes_no", expr: "min by (instance) (headroom_config_last_reload_successful)", thresholds: thresholds("red", step{1, "green"})},
		column{name: "loaded ago", unit: "s", expr: "time() - max by (instance) (headroom_config_last_reload_success_timestamp_seconds)"}).Height(8).Span(12))
	b.WithPanel(ts("Configuration reloads", "Configuration reloads (SIGHUP) by result, summed over replicas.", "short",
		rangeQ("sum by (result) (increase(headroom_config_reloads_total[$__rate_interval]))", "{{result}}")).Min(0))

	decisionsRow(b, th)

	// The other two ways in (docs/tail.md, docs/probe.md) and span export
	// (docs/tracing.md): empty unless those modes are configured.
	b.WithRow(dashboard.NewRowBuilder("Log tailing, probes and tracing"))
	b.WithPanel(ts("Tailed log lines by result", "Access-log lines read per second by file and result; anything but ok means lines Headroom skipped (invalid JSON, missing fields, too long, unknown provider).", "ops",
		rangeQ("sum by (file, result) (rate(headroom_tail_lines_total[$__rate_interval]))", "{{file}} {{result}}")).Min(0))
	b.WithPanel(ts("Log rotations noticed", "Rotations of tailed files, by kind (rename + create, or copytruncate).", "short",
		rangeQ("sum by (file, kind) (increase(headroom_tail_rotations_total[$__rate_interval]))", "{{file}} {{kind}}")).Min(0))
	b.WithPanel(mergedTable("Probes", "Per provider: whether the last probe succeeded (on the worst replica), how long it took, and when the next one is due (later than usual while backing off after a 429).", nil,
		column{name: "last probe ok", unit: "bool_yes_no", expr: fmt.Sprintf("min by (provider) (headroom_probe_success{%s})", fP), thresholds: thresholds("red", step{1, "green"})},
		column{name: "duration", unit: "s", expr: fmt.Sprintf("max by (provider) (headroom_probe_duration_seconds{%s})", fP)},
		column{name: "next in", unit: "s", expr: fmt.Sprintf("max by (provider) (headroom_probe_next_timestamp_seconds{%s}) - time()", fP)}).Height(8).Span(12))
	b.WithPanel(ts("Probes by result", "Scheduled probes per second by result (success, rate_limited, error, backoff), summed over replicas.", "ops",
		rangeQ(fmt.Sprintf("sum by (provider, result) (rate(headroom_probes_total{%s}[$__rate_interval]))", fP), "{{provider}} {{result}}")).Min(0))
	b.WithPanel(ts("Trace spans exported and dropped", "Spans handed to the OTLP exporter, and spans dropped rather than slowing traffic (queue full, export failed, shutdown).", "ops",
		rangeQ("sum(rate(headroom_tracing_spans_exported_total[$__rate_interval]))", "exported"),
		rangeQ("sum by (reason) (rate(headroom_tracing_spans_dropped_total[$__rate_interval]))", "dropped {{reason}}")).Min(0))
	b.WithPanel(ts("Access-log lines dropped", "Lines of Headroom's own access log (HEADROOM_ACCESS_LOG) dropped because the log could not be written fast enough.", "ops",
		rangeQ("sum(rate(headroom_access_log_dropped_lines_total[$__rate_interval]))", "dropped")).Min(0))

	return b.Build()
}

// Provider builds the provider detail dashboard: one provider, per key and model.
func Provider(c *alerts.Config) (dashboard.Dashboard, error) {
	th := panelThresholds{c}
	full := "provider, model, key, resource, window"
	b := newDashboard("Headroom provider detail", ProviderUID,
		"One provider through Headroom, per key and model: every window, retry-after, latency, concurrency, parse errors, documented vs observed limits. Needs Headroom's recording rules (alerts/recording_rules.yml).").
		WithVariable(datasourceVar()).
		WithVariable(queryVar("provider", "Provider", "label_values(headroom_provider_info, provider)", false)).
		WithVariable(queryVar("model", "Model", `label_values(headroom_requests_total{provider=~"$provider"}, model)`, true)).
		WithVariable(queryVar("key", "Key", `label_values(headroom_requests_total{provider=~"$provider"}, key)`, true))

	b.WithRow(dashboard.NewRowBuilder("Limits per key and model"))
	b.WithPanel(mergedTable("Current limits",
		"Every limit of the provider per model, key, resource and window, aggregated over Headroom replicas (lowest remaining, highest limit).",
		[]string{"provider"},
		column{name: "remaining share", unit: "percentunit", expr: fmt.Sprintf("1 - %s{%s}", alerts.RuleUtilisation, fLimits), thresholds: th.remainingShare()},
		column{name: "remaining", unit: "short", expr: fmt.Sprintf("%s{%s}", alerts.RuleRemaining, fLimits)},
		column{name: "limit", unit: "short", expr: fmt.Sprintf("%s{%s}", alerts.RuleLimit, fLimits)},
		column{name: "time to reset", unit: "s", expr: fmt.Sprintf("%s{%s}", alerts.RuleReset, fLimits)},
		column{name: "observed ago", unit: "s", expr: fmt.Sprintf("%s{%s}", alerts.RuleObservedAge, fLimits)},
	))
	b.WithPanel(ts("Remaining share of limit, all windows", "remaining/limit per model, key, resource and window; dashed lines: alert thresholds.", "percentunit",
		rangeQ(fmt.Sprintf("1 - %s{%s}", alerts.RuleUtilisation, fLimits), "{{model}} {{key}} {{resource}}/{{window}}")).
		Thresholds(th.remainingShare()).ThresholdsStyle(dashedThresholds()).Min(0).Max(1))
	b.WithPanel(ts("Remaining and limit", "Remaining (solid, lowest over replicas) and limit (dashed, highest over replicas) per model, key, resource and window.", "short",
		rangeQ(fmt.Sprintf("%s{%s}", alerts.RuleRemaining, fLimits), "{{model}} {{key}} {{resource}}/{{window}} remaining"),
		rangeQ(fmt.Sprintf("%s{%s}", alerts.RuleLimit, fLimits), "{{model}} {{key}} {{resource}}/{{window}} limit")).
		OverrideByRegexp(".* limit$", []dashboard.DynamicConfigValue{
			{Id: "custom.lineStyle", Value: map[string]any{"fill": "dash", "dash": []int{10, 10}}},
			{Id: "custom.fillOpacity", Value: 0},
		}).Min(0))
	b.WithPanel(ts("Time to reset", "Seconds until capacity returns, per model, key, resource and window.", "s",
		rangeQ(fmt.Sprintf("%s{%s}", alerts.RuleReset, fLimits), "{{model}} {{key}} {{resource}}/{{window}}")).Min(0))
	b.WithPanel(ts("Projected time to exhaustion (long windows)", "At the recent consumption rate, seconds until the long windows' remaining reaches 0 (solid), against the time to their reset (dashed): an alert fires while the first stays below the second.", "s",
		rangeQ(fmt.Sprintf("%s{%s}", alerts.RuleExhaustion, fLimits), "{{model}} {{key}} {{resource}}/{{window}} exhausted in"),
		rangeQ(fmt.Sprintf("%s{%s} and on (%s) %s", alerts.RuleReset, fLimits, full, alerts.RuleExhaustion), "{{model}} {{key}} {{resource}}/{{window}} resets in")).
		OverrideByRegexp(".* resets in$", []dashboard.DynamicConfigValue{
			{Id: "custom.lineStyle", Value: map[string]any{"fill": "dash", "dash": []int{10, 10}}},
		}).Min(0))

	b.WithPanel(ts("Time to exhaustion, every window", "Headroom's forecast for every window, short ones included (docs/decide.md): seconds until it runs out at its drain rate, shown only while that comes before its reset (the shortest over replicas).", "s",
		rangeQ(fmt.Sprintf("min by (%s) (headroom_ratelimit_exhaustion_eta_seconds{%s})", full, fLimits), "{{model}} {{key}} {{resource}}/{{window}}")).Min(0))
	b.WithPanel(ts("Drain rate", "How fast remaining falls, per second, per model, key, resource and window: the least-squares slope since the window last refilled (the highest over replicas; 0: not draining).", "short",
		rangeQ(fmt.Sprintf("max by (%s) (headroom_ratelimit_drain_per_second{%s})", full, fLimits), "{{model}} {{key}} {{resource}}/{{window}}")).Min(0))

	b.WithRow(dashboard.NewRowBuilder("Traffic"))
	b.WithPanel(ts("Requests by status", "Requests per second through Headroom by model, key and the status the client received.", "reqps",
		rangeQ(fmt.Sprintf("sum by (model, key, code) (%s{%s})", alerts.RuleRequestsRate, fTraffic), "{{model}} {{key}} {{code}}")).Min(0))
	b.WithPanel(ts("Share of requests answered 429", "Per model and key over 5m; dashed lines: the 429 alert thresholds.", "percentunit",
		rangeQ(fmt.Sprintf("%s{%s}", alerts.RuleRateLimitedRatio, fTraffic), "{{model}} {{key}}")).
		Thresholds(th.rateLimitedShare()).ThresholdsStyle(dashedThresholds()).Min(0))
	b.WithPanel(ts("429 responses by limit", "Responses answered 429 per second by model, key and the limit that was hit.", "reqps",
		rangeQ(fmt.Sprintf("sum by (model, key, resource) (%s{%s})", alerts.RuleRateLimitedRate, fTraffic), "{{model}} {{key}} {{resource}}")).Min(0))
	b.WithPanel(ts("Tokens per minute vs token limit", "Tokens per minute by model, key and direction, against the per-minute token limits (dashed).", "short",
		rangeQ(fmt.Sprintf("sum by (model, key, type) (%s{%s})", alerts.RuleTokensPerMinute, fTraffic), "{{model}} {{key}} {{type}}"),
		rangeQ(fmt.Sprintf(`%s{resource=~"tokens|input_tokens|output_tokens", window="1m", %s}`, alerts.RuleLimit, fLimits), "{{model}} {{key}} {{resource}} limit")).
		OverrideByRegexp(".* limit$", []dashboard.DynamicConfigValue{
			{Id: "custom.lineStyle", Value: map[string]any{"fill": "dash", "dash": []int{10, 10}}},
			{Id: "custom.fillOpacity", Value: 0},
		}).Min(0))
	b.WithPanel(ts("Latency", "Time from the request arriving at Headroom to the last byte of the response, by model (p50, p90, p99).", "s",
		rangeQ(fmt.Sprintf("histogram_quantile(0.5, sum by (le, model) (rate(headroom_request_duration_seconds_bucket{%s}[$__rate_interval])))", fPM), "{{model}} p50"),
		rangeQ(fmt.Sprintf("histogram_quantile(0.9, sum by (le, model) (rate(headroom_request_duration_seconds_bucket{%s}[$__rate_interval])))", fPM), "{{model}} p90"),
		rangeQ(fmt.Sprintf("histogram_quantile(0.99, sum by (le, model) (rate(headroom_request_duration_seconds_bucket{%s}[$__rate_interval])))", fPM), "{{model}} p99")).Min(0))
	b.WithPanel(ts("Retry-After asked by the provider", "The delay the provider asked clients to wait (Retry-After, retry-after-ms, body fields): p50, p90, p99.", "s",
		rangeQ(fmt.Sprintf("histogram_quantile(0.5, sum by (le) (rate(headroom_retry_after_seconds_bucket{%s}[$__rate_interval])))", fP), "p50"),
		rangeQ(fmt.Sprintf("histogram_quantile(0.9, sum by (le) (rate(headroom_retry_after_seconds_bucket{%s}[$__rate_interval])))", fP), "p90"),
		rangeQ(fmt.Sprintf("histogram_quantile(0.99, sum by (le) (rate(headroom_retry_after_seconds_bucket{%s}[$__rate_interval])))", fP), "p99")).Min(0))
	b.WithPanel(heatmap.NewPanelBuilder().
		Title("Retry-After distribution").
		Description("How many responses asked for each Retry-After delay bucket.").
		Datasource(dsRef()).Unit("s").
		Targets(targets(query{
			expr:   fmt.Sprintf("sum by (le) (increase(headroom_retry_after_seconds_bucket{%s}[$__rate_interval]))", fP),
			legend: "{{le}}", format: prometheus.PromQueryFormatHeatmap})).
		Calculate(false).
		YAxis(heatmap.NewYAxisConfigBuilder().Unit("s")).
		Color(heatmap.NewHeatmapColorOptionsBuilder().Mode(heatmap.HeatmapColorModeScheme).Scheme("Oranges").Steps(64).Fill("dark-orange").Scale(heatmap.HeatmapColorScaleExponential).Exponent(0.5).Reverse(false)).
		CellValues(heatmap.NewCellValuesBuilder().Unit("short")).
		ShowValue(common.VisibilityModeNever).
		Tooltip(heatmap.NewHeatmapTooltipBuilder().Mode(common.TooltipDisplayModeSingle).YHistogram(true).ShowColorScale(false)).
		Height(8).Span(12))

	b.WithRow(dashboard.NewRowBuilder("Concurrency"))
	b.WithPanel(ts("Concurrency: in flight vs limit", "Requests in flight through Headroom per key, summed over replicas (each carries its own requests), against the provider's concurrency limit (dashed).", "short",
		rangeQ(fmt.Sprintf("sum by (key) (headroom_inflight_requests{%s})", fPK), "{{key}} in flight"),
		rangeQ(fmt.Sprintf(`max by (key) (%s{resource="concurrency", %s})`, alerts.RuleLimit, fPK), "{{key}} limit")).
		OverrideByRegexp(".* limit$", []dashboard.DynamicConfigValue{
			{Id: "custom.lineStyle", Value: map[string]any{"fill": "dash", "dash": []int{10, 10}}},
			{Id: "custom.fillOpacity", Value: 0},
		}).Min(0))
	b.WithPanel(ts("Concurrency utilisation", "In-flight requests as a share of the concurrency limit; dashed line: the alert threshold.", "percentunit",
		rangeQ(fmt.Sprintf("%s{%s}", alerts.RuleConcurrencyUtil, fPK), "{{model}} {{key}}")).
		Thresholds(th.concurrency()).ThresholdsStyle(dashedThresholds()).Min(0))

	b.WithRow(dashboard.NewRowBuilder("Parsing and the catalog"))
	b.WithPanel(mergedTable("Documented vs observed limits",
		"The limit the provider's documentation publishes (Headroom's catalog or config override) against the lowest limit any selected key observes. Red: observed below documented.",
		[]string{"provider"},
		column{name: "documented", unit: "short", expr: fmt.Sprintf("%s{%s}", alerts.RuleDocumentedLimit, fDoc)},
		column{name: "lowest observed", unit: "short", expr: fmt.Sprintf("min by (provider, model, resource, window) (%s{%s})", alerts.RuleLimit, fLimits)},
		column{name: "observed / documented", unit: "percentunit",
			expr:       fmt.Sprintf("min by (provider, model, resource, window) (%s{%s}) / on (provider, model, resource, window) %s", alerts.RuleLimit, fLimits, alerts.RuleDocumentedLimit),
			thresholds: th.documentedRatio()},
	).Height(8).Span(12))
	b.WithPanel(ts("Parse errors", "Header values (or body fields) Headroom could not parse, per second, by header.", "ops",
		rangeQ(fmt.Sprintf("sum by (header) (rate(headroom_parse_errors_total{%s}[$__rate_interval]))", fP), "{{header}}")).Min(0))
	b.WithPanel(ts("Upstream errors", "Requests Headroom answered itself because the upstream failed, by reason.", "reqps",
		rangeQ(fmt.Sprintf("sum by (reason) (rate(headroom_upstream_errors_total{%s}[$__rate_interval]))", fP), "{{reason}}")).Min(0))
	b.WithPanel(ts("Observations folded into \"other\"", "Observations whose model or key exceeded Headroom's cardinality caps.", "ops",
		rangeQ(fmt.Sprintf("sum(rate(headroom_series_dropped_total{%s}[$__rate_interval]))", fP), "folded")).Min(0))
	b.WithPanel(mergedTable("Provider configuration", "The provider instance as Headroom is configured: family (catalog entry) and header dialect.", nil,
		column{name: "replicas", unit: "short", expr: fmt.Sprintf("count by (provider, family, dialect) (headroom_provider_info{%s})", fP)}).Height(6).Span(12))

	b.WithRow(dashboard.NewRowBuilder("Header drift"))
	b.WithPanel(mergedTable("Rate-limit headers Headroom does not read",
		"Rate-limit-looking headers (names with ratelimit, rate-limit, retry-after or quota) in the provider's responses that its dialect does not read, per second over the last hour: a new or renamed header family whose limits are not exported. Empty is good.",
		[]string{"provider"},
		column{name: "responses/s", unit: "reqps", expr: fmt.Sprintf("%s{%s}", alerts.RuleUnreadHeadersRate, fP)}).
		Height(8).Span(12).NoValue("every rate-limit header is read"))
	b.WithPanel(ts("Header families that stopped arriving", "Responses per second of a model that lack a header family of the dialect its earlier responses carried (the limit is no longer observed), by model and family.", "reqps",
		rangeQ(fmt.Sprintf("sum by (model, family) (%s{%s})", alerts.RuleMissingHeadersRate, fPM), "{{model}} {{family}}")).Min(0))

	return b.Build()
}

// Render returns the generated dashboards by file name.
func Render(c *alerts.Config) (map[string][]byte, error) {
	out := map[string][]byte{}
	for name, build := range map[string]func(*alerts.Config) (dashboard.Dashboard, error){
		OverviewFile: Overview,
		ProviderFile: Provider,
	} {
		d, err := build(c)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		numberPanels(&d)
		b, err := marshal(d)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out[name] = b
	}
	return out, nil
}

// numberPanels gives every panel and row a unique id (Grafana needs them unique).
func numberPanels(d *dashboard.Dashboard) {
	id := uint32(1)
	for _, p := range d.Panels {
		switch {
		case p.Panel != nil:
			p.Panel.Id = cog.ToPtr(id)
		case p.RowPanel != nil:
			p.RowPanel.Id = id
			for i := range p.RowPanel.Panels {
				p.RowPanel.Panels[i].Id = cog.ToPtr(id + uint32(i) + 1)
			}
			id += uint32(len(p.RowPanel.Panels))
		}
		id++
	}
}

func marshal(d dashboard.Dashboard) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(d); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Expressions returns every PromQL expression of a dashboard JSON: panel targets (rows'
// nested panels too) and query variables. Variable queries are returned as written
// (label_values(...)); see promcontract.VariableQueryExpr.
func Expressions(dashboardJSON []byte) (panels []PanelQuery, variables []string, err error) {
	var d struct {
		Panels     []jsonPanel `json:"panels"`
		Templating struct {
			List []struct {
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(dashboardJSON, &d); err != nil {
		return nil, nil, err
	}
	var walk func([]jsonPanel)
	walk = func(ps []jsonPanel) {
		for _, p := range ps {
			for _, t := range p.Targets {
				panels = append(panels, PanelQuery{Panel: p.Title, Type: p.Type, RefID: t.RefID, Expr: t.Expr, Instant: t.Instant})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		switch q := v.Query.(type) {
		case string:
			variables = append(variables, q)
		case map[string]any:
			if s, ok := q["query"].(string); ok {
				variables = append(variables, s)
			}
		default:
			return nil, nil, fmt.Errorf("variable query of unexpected shape %T", v.Query)
		}
	}
	return panels, variables, nil
}

// PanelQuery is one target of a panel.
type PanelQuery struct {
	Panel, Type, RefID, Expr string
	Instant                  bool
}

type jsonPanel struct {
	Type    string      `json:"type"`
	Title   string      `json:"title"`
	Panels  []jsonPanel `json:"panels"`
	Targets []struct {
		RefID   string `json:"refId"`
		Expr    string `json:"expr"`
		Instant bool   `json:"instant"`
	} `json:"targets"`
}

// decisionsRow adds the shared buckets and what package decide exports
// (docs/decide.md) to the overview.
func decisionsRow(b *dashboard.DashboardBuilder, th panelThresholds) {
	b.WithRow(dashboard.NewRowBuilder("Shared buckets and decisions"))
	b.WithPanel(mergedTable("Shared buckets",
		"Each shared bucket (the providers file's buckets:) per model, resource and window: the lowest remaining any member key reports against the highest limit, over replicas. One bucket, whatever the number of keys and replicas.",
		nil,
		column{name: "remaining share", unit: "percentunit", expr: fmt.Sprintf("1 - %s{%s}", alerts.RuleBucketUtilisation, fP), thresholds: th.bucketShare()},
		column{name: "remaining", unit: "short", expr: fmt.Sprintf("%s{%s}", alerts.RuleBucketRemaining, fP)},
		column{name: "limit", unit: "short", expr: fmt.Sprintf("%s{%s}", alerts.RuleBucketLimit, fP)},
	).Height(8).Span(12))
	b.WithPanel(mergedTable("Who drains each bucket",
		"Per bucket and member key: requests per second and tokens per minute through Headroom (all replicas), so the noisiest key of a bucket is the top row.",
		nil,
		column{name: "requests/s", unit: "reqps", expr: fmt.Sprintf("sort_desc(%s{%s})", alerts.RuleBucketRequests, fPK)},
		column{name: "tokens/min", unit: "short", expr: fmt.Sprintf("%s{%s}", alerts.RuleBucketTokens, fPK)},
	).Height(8).Span(12))
	b.WithPanel(ts("Calls during Retry-After", "Calls per second each key sent while a 429's Retry-After (or the throttled window's reset) still ran for its bucket, summed over replicas: clients that ignore Retry-After, or retry in step.", "reqps",
		rangeQ(fmt.Sprintf("%s{%s}", alerts.RuleRetryIgnoredRate, fPK), "{{provider}} {{key}}")).Min(0))
	b.WithPanel(mergedTable("Keys sending during Retry-After",
		"The keys sending during Retry-After over the last 5m, with their bucket (empty for keys in none): who to fix first.",
		nil,
		column{name: "calls/s", unit: "reqps", expr: fmt.Sprintf("(%[1]s{%[2]s} > 0) * on (provider, key) group_left (bucket) %[3]s\nor\n(%[1]s{%[2]s} > 0 unless on (provider, key) %[3]s)", alerts.RuleRetryIgnoredRate, fPK, alerts.RuleBucketInfo)},
	).Height(8).Span(12))
	b.WithPanel(mergedTable("Keys that look shared",
		"Key pairs in no bucket whose limits behave as one (same limit, resets within 1 s, remaining moving together). Headroom never merges them on its own: if they share an organisation's limit, name them in a buckets: entry.",
		nil,
		column{name: "replicas seeing it", unit: "short", expr: fmt.Sprintf("count by (provider, key, peer) (headroom_shared_keys_suspected_info{%s})", fP)},
	).Height(8).Span(12))
	b.WithPanel(ts("Limit changes", "Observed limits that changed (up or down) per provider, model, key, resource and window, as the replica that saw most of them counted (/api/v1/headroom/changes lists before and after).", "short",
		rangeQ(fmt.Sprintf("max by (provider, model, key, resource, window, direction) (increase(headroom_ratelimit_limit_changes_total{%s}[$__rate_interval]))", fLimits), "{{provider}} {{model}} {{key}} {{resource}}/{{window}} {{direction}}")).Min(0))
	b.WithPanel(ts("Admission answers", "Answers of GET /api/v1/admit per second by result (admitted, denied, rejected: a bad query), summed over replicas.", "reqps",
		rangeQ("sum by (result) (rate(headroom_admit_requests_total[$__rate_interval]))", "{{result}}")).Min(0))
}
