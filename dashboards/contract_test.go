package dashboards

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/headroomhq/headroom/alerts"
	"github.com/headroomhq/headroom/internal/testtool/promcontract"
)

// recordingRules returns each recording rule's name with the expressions that define it.
func recordingRules() map[string][]string {
	out := map[string][]string{}
	for _, g := range alerts.RecordingRules(alerts.DefaultConfig()).Groups {
		for _, r := range g.Rules {
			out[r.Record] = append(out[r.Record], r.Expr)
		}
	}
	return out
}

// TestDashboardQueriesUseOnlyDocumentedMetrics extracts every PromQL expression of every
// panel and variable of the committed dashboards, parses it with the Prometheus parser, and
// checks every metric (and selector label) against docs/metrics.md and the recording rules:
// a renamed metric fails here instead of emptying a panel.
func TestDashboardQueriesUseOnlyDocumentedMetrics(t *testing.T) {
	rules := recordingRules()
	extra := []string{"up", "ALERTS"}
	for r := range rules {
		extra = append(extra, r)
	}
	contract, err := promcontract.New(filepath.Join("..", "docs", "metrics.md"), extra...)
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		qs, vars, err := Expressions(b)
		if err != nil {
			t.Fatal(err)
		}
		if len(qs) < 10 {
			t.Fatalf("%s: only %d queries found", name, len(qs))
		}
		check := func(where, expr string) {
			names, err := contract.Check(promcontract.SubstituteGrafanaVars(expr))
			if err != nil {
				t.Errorf("%s %s: %v\n%s", name, where, err, expr)
			}
			for _, n := range names {
				used[n] = true
			}
			summed, _ := promcontract.SummedMetrics(promcontract.SubstituteGrafanaVars(expr))
			for _, n := range summed {
				if promcontract.IsKeyStateGauge(n) {
					t.Errorf("%s %s sums %s: every replica exports the key's state, use min/max\n%s", name, where, n, expr)
				}
			}
		}
		for _, q := range qs {
			check("panel "+q.Panel+" "+q.RefID, q.Expr)
		}
		for _, v := range vars {
			e, err := promcontract.VariableQueryExpr(v)
			if err != nil {
				t.Errorf("%s variable: %v", name, err)
				continue
			}
			if e != "" {
				check("variable "+v, e)
			}
		}
	}

	// Every documented headroom_* metric is shown somewhere (directly or through the
	// recording rules the dashboards use).
	for changed := true; changed; {
		changed = false
		for r, exprs := range rules {
			if !used[r] {
				continue
			}
			for _, e := range exprs {
				names, _ := contract.Check(e)
				for _, n := range names {
					if !used[n] {
						used[n], changed = true, true
					}
				}
			}
		}
	}
	var missing []string
	for m := range contract.Metrics {
		if !strings.HasPrefix(m, "headroom_") {
			continue
		}
		hit := used[m]
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			hit = hit || used[m+suf]
		}
		if !hit {
			missing = append(missing, m)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("documented metrics no dashboard shows: %v", missing)
	}
}
