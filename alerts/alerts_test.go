package alerts

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestGeneratedFilesUpToDate fails when the committed rule files differ from what
// thresholds.yml generates.
func TestGeneratedFilesUpToDate(t *testing.T) {
	files, err := Render(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatalf("%v: run `go generate ./alerts/...` and commit the result", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("alerts/%s is out of date with alerts/thresholds.yml and the generator: run `go generate ./alerts/...` and commit the result", name)
		}
	}
}

func TestEmbeddedThresholdsAreTheCommittedFile(t *testing.T) {
	b, err := os.ReadFile("thresholds.yml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, ThresholdsYAML) {
		t.Fatal("embedded thresholds.yml differs from the file (rebuild)")
	}
}

func TestParseConfigRejectsBadValues(t *testing.T) {
	for name, edit := range map[string]func(string) string{
		"unknown key":         func(s string) string { return s + "\nsurprise: 1\n" },
		"bad duration":        func(s string) string { return strings.Replace(s, "peak_over: 2m", "peak_over: 2 minutes", 1) },
		"ratio above 1":       func(s string) string { return strings.Replace(s, "critical: 0.95", "critical: 1.5", 1) },
		"warning > critical":  func(s string) string { return strings.Replace(s, "warning: 0.8", "warning: 0.99", 1) },
		"runbook fragment":    func(s string) string { return strings.Replace(s, "runbook.md\n", "runbook.md#x\n", 1) },
		"window none to burn": func(s string) string { return strings.Replace(s, "- window: 1h", "- window: none", 1) },
	} {
		t.Run(name, func(t *testing.T) {
			in := edit(string(ThresholdsYAML))
			if in == string(ThresholdsYAML) {
				t.Fatal("edit did not apply: update the test to thresholds.yml")
			}
			if _, err := ParseConfig([]byte(in)); err == nil {
				t.Fatal("ParseConfig accepted it")
			}
		})
	}
}

// TestThresholdsReachGeneratedRules changes thresholds and checks they show up in the rules,
// so the file really is the one place they live.
func TestThresholdsReachGeneratedRules(t *testing.T) {
	c := DefaultConfig()
	c.Saturation.Warning = 0.66
	c.Saturation.For = "7m"
	c.RateLimited.Critical = 0.33
	c.Stale.After["1m"] = "97s"
	c.ScrapeSelector = `job="hr"`
	files, err := Render(c)
	if err != nil {
		t.Fatal(err)
	}
	a, r := string(files[AlertsFile]), string(files[RecordingRulesFile])
	for _, want := range []string{"> 0.66", "for: 7m", "> 0.33", `up{job="hr"} == 0`, "more than 66% used for 7m"} {
		if !strings.Contains(a, want) {
			t.Errorf("alerts.yml lacks %q", want)
		}
	}
	if !strings.Contains(r, `{window="1m"} > 97`) {
		t.Errorf("recording_rules.yml lacks the 1m stale threshold of 97s")
	}
}

// TestEveryAlertIsComplete: severity, summary, description, runbook_url with an anchor
// that docs/runbook.md has.
func TestEveryAlertIsComplete(t *testing.T) {
	runbook, err := os.ReadFile(filepath.Join("..", "docs", "runbook.md"))
	if err != nil {
		t.Fatal(err)
	}
	anchors := markdownAnchors(string(runbook))
	c := DefaultConfig()
	seen := map[string]bool{}
	for _, g := range AlertingRules(c).Groups {
		for _, r := range g.Rules {
			seen[r.Alert] = true
			if s := r.Labels["severity"]; s != "warning" && s != "critical" {
				t.Errorf("%s: severity %q", r.Alert, s)
			}
			for _, a := range []string{"summary", "description", "runbook_url"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("%s: no %s", r.Alert, a)
				}
			}
			url := r.Annotations["runbook_url"]
			base, anchor, _ := strings.Cut(url, "#")
			if base != c.RunbookURL || !strings.HasSuffix(base, "docs/runbook.md") {
				t.Errorf("%s: runbook_url %q does not point at docs/runbook.md", r.Alert, url)
			}
			if !anchors[anchor] {
				t.Errorf("%s: docs/runbook.md has no section with anchor #%s", r.Alert, anchor)
			}
			for _, l := range []string{"$labels.provider"} {
				if r.Alert != AlertDown && r.Alert != AlertNotScraped && !strings.Contains(r.Annotations["description"], l) {
					t.Errorf("%s: description does not name %s", r.Alert, l)
				}
			}
		}
	}
	for _, n := range AlertNames {
		if !seen[n] {
			t.Errorf("alert %s listed in AlertNames but not generated", n)
		}
	}
	if len(seen) != len(AlertNames) {
		t.Errorf("generated %d alert names, AlertNames lists %d", len(seen), len(AlertNames))
	}
}

var headingRE = regexp.MustCompile(`(?m)^#{1,6}\s+(.+?)\s*$`)

// markdownAnchors returns GitHub's anchors for the headings of a Markdown document.
func markdownAnchors(md string) map[string]bool {
	out := map[string]bool{}
	for _, m := range headingRE.FindAllStringSubmatch(md, -1) {
		h := strings.ToLower(m[1])
		var b strings.Builder
		for _, r := range h {
			switch {
			case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
				b.WriteRune(r)
			case r == ' ':
				b.WriteRune('-')
			}
		}
		out[b.String()] = true
	}
	return out
}

// promtoolTests is the shape of alerts/tests/*.yml this test reads.
type promtoolTests struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		Name          string `yaml:"name"`
		AlertRuleTest []struct {
			EvalTime  string `yaml:"eval_time"`
			AlertName string `yaml:"alertname"`
			ExpAlerts []struct {
				ExpLabels      map[string]string `yaml:"exp_labels"`
				ExpAnnotations map[string]string `yaml:"exp_annotations"`
			} `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

// TestUnitTestsCoverEveryAlert: for every alert and severity, a promtool case where it fires
// with its labels and all three annotations, and for every alert a case where it does not.
func TestUnitTestsCoverEveryAlert(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("tests", "*.yml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no alerts/tests/*.yml (%v)", err)
	}
	fires := map[string]bool{} // alert/severity
	quiet := map[string]bool{} // alert
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var pt promtoolTests
		dec := yaml.NewDecoder(bytes.NewReader(b))
		if err := dec.Decode(&pt); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for _, tc := range pt.Tests {
			for _, art := range tc.AlertRuleTest {
				if len(art.ExpAlerts) == 0 {
					quiet[art.AlertName] = true
				}
				for _, ea := range art.ExpAlerts {
					for _, a := range []string{"summary", "description", "runbook_url"} {
						if ea.ExpAnnotations[a] == "" {
							t.Errorf("%s %q: expected %s alert without %s", p, tc.Name, art.AlertName, a)
						}
					}
					fires[art.AlertName+"/"+ea.ExpLabels["severity"]] = true
				}
			}
		}
	}
	want := map[string]bool{}
	for _, g := range AlertingRules(DefaultConfig()).Groups {
		for _, r := range g.Rules {
			want[r.Alert+"/"+r.Labels["severity"]] = true
			if !quiet[r.Alert] {
				quiet[r.Alert] = true // report once
				t.Errorf("no promtool case where %s does not fire", r.Alert)
			}
		}
	}
	var missing []string
	for k := range want {
		if !fires[k] {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	for _, k := range missing {
		t.Errorf("no promtool case where %s fires", k)
	}
}
