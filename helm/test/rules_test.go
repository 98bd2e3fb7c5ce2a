package helmtest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/headroomhq/headroom/helm/test/chartsync"
	yamlv3 "gopkg.in/yaml.v3"
	"sigs.k8s.io/yaml"
)

// skipWithoutSource skips while alerts/ or dashboards/ have not landed yet (the chart is
// written alongside them); once they exist the tests run.
func skipWithoutSource(t *testing.T, err error) {
	t.Helper()
	if errors.Is(err, chartsync.ErrNoSource) {
		t.Skipf("%v: nothing to compare the chart's copies with yet", err)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestChartCopiesInSync fails when helm/headroom/files/ differs from what helm/sync.sh makes
// of alerts/ (the rule generator and thresholds.yml) and dashboards/.
func TestChartCopiesInSync(t *testing.T) {
	root := repoRoot(t)
	for _, set := range []struct {
		name, dir, glob string
		build           func(string) (map[string][]byte, error)
	}{
		{"rules", chartsync.ChartRulesDir, "*", chartsync.ChartRules},
		{"dashboards", chartsync.ChartDashboardsDir, "*.json", chartsync.ChartDashboards},
		{"values", chartsync.ChartDir, "values.yaml", chartsync.ChartValues},
	} {
		t.Run(set.name, func(t *testing.T) {
			want, err := set.build(root)
			skipWithoutSource(t, err)
			diffs, err := chartsync.Diff(filepath.Join(root, set.dir), set.glob, want)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range diffs {
				t.Errorf("%s", d)
			}
			if len(diffs) > 0 {
				t.Error("the chart's copies are out of date: run helm/sync.sh (it also refreshes the golden files)")
			}
		})
	}
}

// TestValuesThresholdsMatchSource: values.yaml's prometheusRule.thresholds are the defaults of
// alerts/thresholds.yml, key for key.
func TestValuesThresholdsMatchSource(t *testing.T) {
	root := repoRoot(t)
	src, err := os.ReadFile(filepath.Join(root, chartsync.ThresholdsFile))
	if os.IsNotExist(err) {
		skipWithoutSource(t, fmt.Errorf("%s: %w", chartsync.ThresholdsFile, chartsync.ErrNoSource))
	}
	if err != nil {
		t.Fatal(err)
	}
	var want any
	if err := yaml.Unmarshal(src, &want); err != nil {
		t.Fatal(err)
	}
	vb, err := os.ReadFile(filepath.Join(root, chartsync.ChartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var values struct {
		PrometheusRule struct {
			Thresholds any `json:"thresholds"`
		} `json:"prometheusRule"`
	}
	if err := yaml.Unmarshal(vb, &values); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(values.PrometheusRule.Thresholds, want) {
		got, _ := yaml.Marshal(values.PrometheusRule.Thresholds)
		exp, _ := yaml.Marshal(want)
		t.Errorf("prometheusRule.thresholds in helm/headroom/values.yaml differ from %s: copy them over (keep the comments)\n%s",
			chartsync.ThresholdsFile, lineDiff(string(exp), string(got)))
	}
}

// ruleGroups renders the chart with values and returns the PrometheusRule's groups as plain
// data.
func ruleGroups(t *testing.T, valuesFiles []string, sets ...string) []any {
	t.Helper()
	out := mustRender(t, valuesFiles, sets...)
	for _, d := range splitDocs(out) {
		m := generic(t, d)
		if m["kind"] == "PrometheusRule" {
			spec, _ := m["spec"].(map[string]any)
			groups, _ := spec["groups"].([]any)
			return groups
		}
	}
	t.Fatal("no PrometheusRule rendered")
	return nil
}

// fileGroups returns the groups of rule files, in RuleFiles order, as plain data.
func fileGroups(t *testing.T, files map[string][]byte) []any {
	t.Helper()
	var groups []any
	for _, name := range chartsync.RuleFiles {
		var f struct {
			Groups []any `json:"groups"`
		}
		if err := yaml.Unmarshal(files[name], &f); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		groups = append(groups, f.Groups...)
	}
	return groups
}

func compareGroups(t *testing.T, what string, got, want []any) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	g, _ := yaml.Marshal(got)
	w, _ := yaml.Marshal(want)
	t.Errorf("%s:\n%s", what, lineDiff(string(w), string(g)))
}

// TestRulesMatchSource: with the default thresholds the PrometheusRule holds exactly the
// groups of alerts/recording_rules.yml and alerts/alerts.yml.
func TestRulesMatchSource(t *testing.T) {
	root := repoRoot(t)
	thresholds := filepath.Join(root, chartsync.ThresholdsFile)
	if _, err := os.Stat(thresholds); err != nil {
		skipWithoutSource(t, fmt.Errorf("%s: %w", chartsync.ThresholdsFile, chartsync.ErrNoSource))
	}
	generated, err := chartsync.Generate(root, thresholds)
	if err != nil {
		t.Fatal(err)
	}
	got := ruleGroups(t, nil, "prometheusRule.enabled=true")
	compareGroups(t, "the chart's rules (default values) differ from alerts/gen's for alerts/thresholds.yml", got, fileGroups(t, generated))

	committed := map[string][]byte{}
	for _, name := range chartsync.RuleFiles {
		b, err := os.ReadFile(filepath.Join(root, chartsync.AlertsDir, name))
		if err != nil {
			t.Fatalf("%v (alerts/gen writes it)", err)
		}
		committed[name] = b
		if !bytes.Equal(b, generated[name]) {
			t.Logf("note: alerts/%s is not what alerts/gen makes of alerts/thresholds.yml right now (alerts' own test reports that); compared with the generator's output", name)
			return
		}
	}
	compareGroups(t, "the chart's rules (default values) differ from alerts/*.yml", got, fileGroups(t, committed))
}

// TestRulesFollowThresholds: with every threshold changed, the PrometheusRule holds exactly
// what alerts/gen generates for those thresholds; this proves the chart's placeholders
// cover every place, and every form, a threshold reaches.
func TestRulesFollowThresholds(t *testing.T) {
	root := repoRoot(t)
	src, err := os.ReadFile(filepath.Join(root, chartsync.ThresholdsFile))
	if os.IsNotExist(err) {
		skipWithoutSource(t, fmt.Errorf("%s: %w", chartsync.ThresholdsFile, chartsync.ErrNoSource))
	}
	if err != nil {
		t.Fatal(err)
	}
	custom, err := changeThresholds(src)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	thresholds := filepath.Join(dir, "thresholds.yml")
	if err := os.WriteFile(thresholds, custom, 0o644); err != nil {
		t.Fatal(err)
	}
	generated, err := chartsync.Generate(root, thresholds)
	if err != nil {
		t.Fatal(err)
	}

	var tv any
	if err := yaml.Unmarshal(custom, &tv); err != nil {
		t.Fatal(err)
	}
	vb, err := yaml.Marshal(map[string]any{"prometheusRule": map[string]any{"enabled": true, "thresholds": tv}})
	if err != nil {
		t.Fatal(err)
	}
	values := filepath.Join(dir, "values.yaml")
	if err := os.WriteFile(values, vb, 0o644); err != nil {
		t.Fatal(err)
	}
	got := ruleGroups(t, []string{values})
	compareGroups(t, fmt.Sprintf("the chart's rules differ from alerts/gen's for changed thresholds\n%s", custom), got, fileGroups(t, generated))

	// And the rendered object decodes into the Prometheus Operator's type.
	out := mustRender(t, []string{values})
	for _, d := range splitDocs(out) {
		if _, _, err := decoder.Decode(d.YAML, nil, nil); err != nil {
			t.Errorf("%s: %v", d.Source, err)
		}
	}
}

// changeThresholds gives every scalar of a thresholds document another valid value, in the
// shape the chart's rules were generated for: numbers (i+2)/16 in document order (exact in
// binary, increasing so warning stays below critical), durations of other lengths and forms
// (minutes, hours and minutes, seconds), URLs and label selectors of their own.
func changeThresholds(src []byte) ([]byte, error) {
	var doc yamlv3.Node
	if err := yamlv3.Unmarshal(src, &doc); err != nil {
		return nil, err
	}
	i := 0
	var walk func(n *yamlv3.Node, inMap bool)
	walk = func(n *yamlv3.Node, inMap bool) {
		switch n.Kind {
		case yamlv3.DocumentNode:
			for _, c := range n.Content {
				walk(c, false)
			}
		case yamlv3.MappingNode:
			for j := 1; j < len(n.Content); j += 2 {
				walk(n.Content[j], true)
			}
		case yamlv3.SequenceNode:
			for _, c := range n.Content {
				if c.Kind != yamlv3.ScalarNode {
					walk(c, false)
				}
			}
		case yamlv3.ScalarNode:
			if !inMap {
				return
			}
			i++
			switch {
			case n.Tag == "!!int" || n.Tag == "!!float":
				// Increasing (warning below critical), below 1 (ratios) for up to
				// 125 thresholds, and exact in binary (the chart's arithmetic).
				n.Tag, n.Value = "!!float", strconv.FormatFloat(float64(i+2)/128, 'g', -1, 64)
			case strings.HasPrefix(n.Value, "http"):
				n.Value = "https://runbooks.example.com/headroom"
			case durationLike(n.Value):
				n.Value = []string{fmt.Sprintf("%dm", i+3), fmt.Sprintf("1h%dm", i), fmt.Sprintf("%ds", 90+i)}[i%3]
			default:
				n.Value = fmt.Sprintf(`job="headroom-%d",namespace!="kube-system"`, i)
			}
			n.Style = 0
		}
	}
	walk(&doc, false)
	return yamlv3.Marshal(&doc)
}

func durationLike(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789ywdhms", r) {
			return false
		}
	}
	return true
}

// TestAlertsDisabledAndLabelled: prometheusRule.alerts.disabled drops alerts by name and
// alerts.labels adds labels without replacing the rules' own (severity).
func TestAlertsDisabledAndLabelled(t *testing.T) {
	if _, err := os.Stat(filepath.Join(repoRoot(t), chartsync.ChartRulesDir, chartsync.AlertingRules)); err != nil {
		t.Skip("the chart carries no rules yet")
	}
	groups := ruleGroups(t, nil, "prometheusRule.enabled=true",
		"prometheusRule.alerts.disabled={HeadroomParseErrors,HeadroomNotScraped}",
		"prometheusRule.alerts.labels.team=ml-platform", "prometheusRule.alerts.labels.severity=none")
	alerts := 0
	for _, g := range groups {
		for _, r := range g.(map[string]any)["rules"].([]any) {
			rule := r.(map[string]any)
			name, ok := rule["alert"].(string)
			if !ok {
				continue
			}
			alerts++
			if name == "HeadroomParseErrors" || name == "HeadroomNotScraped" {
				t.Errorf("disabled alert %s rendered", name)
			}
			l, _ := rule["labels"].(map[string]any)
			if l["team"] != "ml-platform" {
				t.Errorf("%s: labels %v lack team=ml-platform", name, l)
			}
			if l["severity"] != "warning" && l["severity"] != "critical" {
				t.Errorf("%s: severity %v was overridden", name, l["severity"])
			}
		}
	}
	if alerts == 0 {
		t.Error("no alerts rendered")
	}
	none := ruleGroups(t, nil, "prometheusRule.enabled=true", "prometheusRule.alerts.enabled=false")
	for _, g := range none {
		for _, r := range g.(map[string]any)["rules"].([]any) {
			if _, ok := r.(map[string]any)["alert"]; ok {
				t.Fatal("alerts.enabled=false still renders alerts")
			}
		}
	}
}
