package alerts

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/headroomhq/headroom/internal/testtool"
)

func run(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestPromtoolCheckRules runs `promtool check rules` (syntax, templates, lint) on the
// committed rule files.
func TestPromtoolCheckRules(t *testing.T) {
	promtool := testtool.Require(t, "promtool")
	run(t, ".", promtool, "check", "rules", RecordingRulesFile, AlertsFile)
}

// TestPromtoolCheckRulesOfEveryConfig: rules generated from a config with other thresholds
// are valid too (the Helm chart templates them).
func TestPromtoolCheckRulesOfOtherConfig(t *testing.T) {
	promtool := testtool.Require(t, "promtool")
	c := DefaultConfig()
	c.Saturation.Windows = []string{"1m"}
	c.LimitBelowDocumented.Ratio = 0.9
	c.Stale.After = nil
	c.Exhaustion = c.Exhaustion[:1]
	files, err := Render(c)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run(t, dir, promtool, "check", "rules", RecordingRulesFile, AlertsFile)
}

// TestPromtoolUnitTests runs alerts/tests/*.yml: every alert fires with its exact labels and
// annotations, and stays quiet just under its threshold.
func TestPromtoolUnitTests(t *testing.T) {
	promtool := testtool.Require(t, "promtool")
	paths, err := filepath.Glob(filepath.Join("tests", "*.yml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no alerts/tests/*.yml (%v)", err)
	}
	run(t, ".", promtool, append([]string{"test", "rules"}, paths...)...)
}

// TestAlertmanagerExample checks the example config and that it routes by severity.
func TestAlertmanagerExample(t *testing.T) {
	amtool := testtool.Require(t, "amtool")
	const cfg = "alertmanager.example.yml"
	run(t, ".", amtool, "check-config", cfg)
	for sev, want := range map[string]string{"critical": "headroom-critical", "warning": "headroom-warning"} {
		run(t, ".", amtool, "config", "routes", "test", "--config.file="+cfg, "--verify.receivers="+want,
			"alertname="+AlertSaturated, "severity="+sev, "provider=openai")
	}
}
