package decide

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/headroomhq/headroom/alerts"
	"github.com/headroomhq/headroom/internal/testtool"
)

// The Go forecast and the PromQL exhaustion alerts agree: the cases of
// testdata/forecast.yaml marked promql go through the recording rules the
// alerts use (alerts/recording_rules.yml, generated from the committed
// thresholds) in promtool, scraped once per sample, and the drain
// (headroom:ratelimit_consumption:per_second) and ETA
// (headroom:ratelimit_exhaustion:seconds) must be the Go numbers.
func TestForecastAgreesWithPromQL(t *testing.T) {
	promtool := testtool.Require(t, "promtool")
	dir := t.TempDir()
	files, err := alerts.Render(alerts.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	rules := filepath.Join(dir, alerts.RecordingRulesFile)
	if err := os.WriteFile(rules, files[alerts.RecordingRulesFile], 0o644); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "rule_files: [%s]\nevaluation_interval: 1m\ntests:\n", rules)
	n := 0
	for _, fc := range loadForecastCases(t) {
		if !fc.PromQL {
			continue
		}
		n++
		f, ok := fc.run(t)
		if !ok || !f.ExhaustsBeforeReset {
			t.Fatalf("%s: no Go forecast", fc.Name)
		}
		sel := fmt.Sprintf(`{provider="heroku-us",model="claude-4-sonnet",key="k-aaaaaaaaaaaa",resource=%q,window=%q}`, fc.Resource, fc.Window)
		vals := make([]string, len(fc.Remaining))
		for i, v := range fc.Remaining {
			vals[i] = strconv.FormatFloat(v, 'f', -1, 64)
		}
		last := int(fc.Every) * (len(fc.Remaining) - 1)
		in := strings.TrimSuffix(sel, "}") + `,instance="a",job="headroom"}`
		fmt.Fprintf(&b, "  - name: %q\n    interval: %ds\n    input_series:\n", fc.Name, int(fc.Every))
		fmt.Fprintf(&b, "      - series: 'headroom_ratelimit_remaining%s'\n        values: '%s'\n", in, strings.Join(vals, " "))
		fmt.Fprintf(&b, "      - series: 'headroom_ratelimit_limit%s'\n        values: '%gx%d'\n", in, fc.Limit, len(vals)-1)
		fmt.Fprintf(&b, "      - series: 'headroom_ratelimit_reset_timestamp_seconds%s'\n        values: '%gx%d'\n", in, *fc.Reset, len(vals)-1)
		fmt.Fprintf(&b, "    promql_expr_test:\n")
		for _, q := range []struct {
			rule  string
			value float64
		}{{alerts.RuleConsumption, f.Drain}, {alerts.RuleExhaustion, f.ETA.Seconds()}} {
			fmt.Fprintf(&b, "      - expr: '%s'\n        eval_time: %ds\n        exp_samples:\n          - labels: '%s%s'\n            value: %s\n",
				q.rule, last, q.rule, sel, strconv.FormatFloat(q.value, 'g', -1, 64))
		}
	}
	if n < 2 {
		t.Fatalf("only %d cases marked promql", n)
	}
	test := filepath.Join(dir, "forecast_test.yml")
	if err := os.WriteFile(test, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "test", "rules", test).CombinedOutput(); err != nil {
		t.Fatalf("promtool: %v\n%s\n%s", err, out, b.String())
	}
}
