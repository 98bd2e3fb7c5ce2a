package alerts

import (
	"path/filepath"
	"testing"

	"github.com/headroomhq/headroom/internal/testtool/promcontract"
)

// RecordNames returns the names of the recording rules.
func recordNames(c *Config) []string {
	var out []string
	for _, g := range RecordingRules(c).Groups {
		for _, r := range g.Rules {
			out = append(out, r.Record)
		}
	}
	return out
}

// TestRulesUseOnlyDocumentedMetrics parses every rule expression with the Prometheus parser
// and checks each metric (and selector label) it uses against docs/metrics.md; recording-rule
// names and Prometheus' `up` are allowed.
func TestRulesUseOnlyDocumentedMetrics(t *testing.T) {
	c := DefaultConfig()
	records := recordNames(c)
	contract, err := promcontract.New(filepath.Join("..", "docs", "metrics.md"), append(records, "up")...)
	if err != nil {
		t.Fatal(err)
	}
	defined := map[string]bool{}
	used := map[string]bool{}
	for _, f := range []RuleFile{RecordingRules(c), AlertingRules(c)} {
		for _, g := range f.Groups {
			for _, r := range g.Rules {
				names, err := contract.Check(r.Expr)
				if err != nil {
					t.Errorf("%s%s: %v\n%s", r.Record, r.Alert, err, r.Expr)
				}
				summed, _ := promcontract.SummedMetrics(r.Expr)
				for _, n := range summed {
					if promcontract.IsKeyStateGauge(n) {
						t.Errorf("%s%s sums %s over replicas: use min/max\n%s", r.Record, r.Alert, n, r.Expr)
					}
				}
				for _, n := range names {
					used[n] = true
					// A recording rule may only use rules recorded before it (same
					// group order) so each evaluation sees fresh values.
					if isRecord(records, n) && r.Record != "" && !defined[n] && n != r.Record {
						t.Errorf("recording rule %s uses %s before it is recorded", r.Record, n)
					}
				}
				if r.Record != "" {
					defined[r.Record] = true
				}
			}
		}
	}
	for _, r := range records {
		if !used[r] && r != RuleTokensPerMinute && r != RuleRateLimitedRate && r != RuleObservedAge {
			// The exceptions are for dashboards; the dashboards' contract test checks
			// those are used.
			t.Logf("recording rule %s is used by no rule", r)
		}
	}
}

func isRecord(records []string, n string) bool {
	for _, r := range records {
		if r == n {
			return true
		}
	}
	return false
}
