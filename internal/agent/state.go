package agent

import (
	"encoding/json"
	"html/template"
	"net/http"
	"sort"
	"strconv"
	"time"
)

// SeriesState is one series in /api/v1/headroom. Pointers are nil where the
// provider did not report the value: absent is not zero.
type SeriesState struct {
	Provider       string   `json:"provider"`
	Model          string   `json:"model"`
	Key            string   `json:"key"`
	Resource       string   `json:"resource"`
	Window         string   `json:"window"`
	Limit          *float64 `json:"limit"`
	Remaining      *float64 `json:"remaining"`
	RemainingRatio *float64 `json:"remaining_ratio"`
	Reset          *string  `json:"reset"`
	ResetInSeconds *float64 `json:"reset_in_seconds"`
	Observed       string   `json:"observed"`
	AgeSeconds     float64  `json:"age_seconds"`
	// The forecast (package decide, docs/decide.md): drain per second
	// (null: unknown), seconds until the window runs out (null when
	// nothing drains or the reset comes first), and whether it runs out
	// before its reset.
	DrainPerSecond       *float64 `json:"drain_per_second"`
	ExhaustionETASeconds *float64 `json:"exhaustion_eta_seconds"`
	ExhaustionAt         *string  `json:"exhaustion_at"`
	ExhaustsBeforeReset  bool     `json:"exhausts_before_reset"`
}

// State is the body of /api/v1/headroom.
type State struct {
	Time      string        `json:"time"`
	Providers []string      `json:"providers"`
	Series    []SeriesState `json:"series"`
}

func (a *Agent) state() State {
	now := time.Now()
	st := State{Time: now.UTC().Format(time.RFC3339Nano), Series: []SeriesState{}}
	for _, p := range a.Config().Providers {
		st.Providers = append(st.Providers, p.Name)
	}
	for _, s := range a.coll.Snapshot() {
		ss := SeriesState{Provider: s.Provider, Model: s.Model, Key: s.Key, Resource: s.Resource, Window: s.Window,
			Observed: s.Observed.UTC().Format(time.RFC3339Nano), AgeSeconds: now.Sub(s.Observed).Seconds()}
		if s.HasLimit {
			v := s.Limit
			ss.Limit = &v
		}
		if s.HasRemaining {
			v := s.Remaining
			ss.Remaining = &v
		}
		if s.HasLimit && s.HasRemaining && s.Limit > 0 {
			v := s.Remaining / s.Limit
			ss.RemainingRatio = &v
		}
		if !s.Reset.IsZero() {
			r := s.Reset.UTC().Format(time.RFC3339Nano)
			in := max(s.Reset.Sub(now).Seconds(), 0)
			ss.Reset, ss.ResetInSeconds = &r, &in
		}
		a.addForecast(&ss)
		st.Series = append(st.Series, ss)
	}
	sort.Slice(st.Series, func(i, j int) bool {
		a, b := st.Series[i], st.Series[j]
		if a.Provider != b.Provider {
			return a.Provider < b.Provider
		}
		if a.Model != b.Model {
			return a.Model < b.Model
		}
		if a.Key != b.Key {
			return a.Key < b.Key
		}
		if a.Resource != b.Resource {
			return a.Resource < b.Resource
		}
		return a.Window < b.Window
	})
	return st
}

func (a *Agent) serveState(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(a.state())
}

var landing = template.Must(template.New("landing").Funcs(template.FuncMap{
	"pct": func(p *float64) float64 {
		if p == nil {
			return 0
		}
		return *p * 100
	},
	"secs": func(p *float64) string {
		if p == nil {
			return "–"
		}
		return strconv.FormatFloat(*p, 'f', 0, 64) + " s"
	},
	"num": func(p *float64) string {
		if p == nil {
			return "–"
		}
		return template.HTMLEscapeString(formatNum(*p))
	},
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Headroom</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin-top:1em}
td,th{padding:4px 10px;border-bottom:1px solid #ddd;text-align:left;font-size:14px}
.bar{width:160px;height:12px;background:#eee;border-radius:3px;overflow:hidden}
.fill{height:100%;background:#2e7d32}.warn{background:#f9a825}.crit{background:#c62828}
code{background:#f4f4f4;padding:1px 4px}
</style></head><body>
<h1>Headroom</h1>
<p>How close you are to your inference providers' rate limits. Proxy on <code>{{.ProxyAddr}}</code>: point clients at <code>http://&lt;headroom&gt;/&lt;provider&gt;/…</code>.</p>
<p><a href="/metrics">Metrics</a> · <a href="/api/v1/headroom">State (JSON)</a> · <a href="/healthz">Health</a> · <a href="/readyz">Readiness</a></p>
<h2>Providers</h2>
<table><tr><th>provider</th><th>dialect</th><th>upstream</th></tr>
{{range .Providers}}<tr><td>{{.Name}}</td><td>{{.Dialect}}</td><td>{{.Upstream}}</td></tr>{{end}}
</table>
<h2>Remaining capacity</h2>
{{if not .State.Series}}<p>No rate-limit headers observed yet.</p>{{else}}
<table id="state"><tr><th>provider</th><th>model</th><th>key</th><th>resource</th><th>window</th><th>remaining</th><th>limit</th><th></th><th>resets in</th><th>age</th></tr>
{{range .State.Series}}<tr><td>{{.Provider}}</td><td>{{.Model}}</td><td>{{.Key}}</td><td>{{.Resource}}</td><td>{{.Window}}</td>
<td>{{num .Remaining}}</td><td>{{num .Limit}}</td>
<td><div class="bar"><div class="fill{{if .RemainingRatio}}{{if lt (pct .RemainingRatio) 10.0}} crit{{else if lt (pct .RemainingRatio) 25.0}} warn{{end}}{{end}}" style="width:{{printf "%.0f" (pct .RemainingRatio)}}%"></div></div></td>
<td>{{secs .ResetInSeconds}}</td><td>{{printf "%.0f" .AgeSeconds}} s</td></tr>
{{end}}</table>{{end}}
</body></html>
`))

type landingProvider struct{ Name, Dialect, Upstream string }

func (a *Agent) serveLanding(w http.ResponseWriter, r *http.Request) {
	var ps []landingProvider
	for _, p := range a.Config().Providers {
		ps = append(ps, landingProvider{p.Name, p.Dialect.Name(), p.Upstream.String()})
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = landing.Execute(w, map[string]any{"ProxyAddr": a.ProxyAddr, "Providers": ps, "State": a.state()})
}

func formatNum(v float64) string {
	b, _ := json.Marshal(v)
	return string(b)
}
