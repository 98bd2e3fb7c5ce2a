package helmtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// notesChart copies the chart to a temporary directory with NOTES.txt also rendered into a
// ConfigMap, because `helm template` does not print NOTES and `helm install --dry-run` needs
// a cluster.
func notesChart(t *testing.T) string {
	t.Helper()
	src := chartDir(t)
	dst := filepath.Join(t.TempDir(), "headroom")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	notes, err := os.ReadFile(filepath.Join(src, "templates", "NOTES.txt"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"_notes_copy.tpl": `{{- define "headroom.test.notes" -}}` + "\n" + string(notes) + `{{- end }}`,
		"zz_notes.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  notes: |\n" +
			`{{ include "headroom.test.notes" . | indent 4 }}` + "\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dst, "templates", name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func renderNotes(t *testing.T, chart string, valuesFiles []string, sets ...string) string {
	t.Helper()
	args := []string{"template", release, chart, "--namespace", namespace, "--kube-version", kubeVersion,
		"--show-only", "templates/zz_notes.yaml"}
	for _, v := range apiVersions {
		args = append(args, "--api-versions", v)
	}
	for _, f := range valuesFiles {
		args = append(args, "--values", f)
	}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	out, err := runHelm(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range splitDocs(out) {
		m := generic(t, d)
		if data, ok := m["data"].(map[string]any); ok {
			return data["notes"].(string)
		}
	}
	t.Fatal("notes not rendered")
	return ""
}

func TestNotes(t *testing.T) {
	chart := notesChart(t)
	for _, tc := range []struct {
		name       string
		values     []string
		sets       []string
		want, omit []string
	}{
		{name: "default", values: []string{caseValues("default")}, want: []string{
			"Proxy mode", "http://headroom.headroom.svc:8797/<provider>/<the provider's own path>",
			"http://headroom-metrics.headroom.svc:9797/metrics", "port-forward svc/headroom-metrics 9797",
			"Headroom's built-in catalog", "Scraping: no ServiceMonitor",
		}, omit: []string{"WARNING"}},
		{name: "monitoring", values: []string{caseValues("monitoring")}, want: []string{
			"Providers file: ConfigMap headroom, key providers.yaml",
			`ServiceMonitor headroom: scraped as job="headroom"`, `(labels: {"release":"kube-prometheus-stack"})`,
			"PrometheusRule headroom: recording rules on, alerts on.",
			`Dashboards: ConfigMaps labelled grafana_dashboard="1"`,
		}, omit: []string{"WARNING", "NOTE:"}},
		{name: "tail", values: []string{caseValues("tail-sidecar")}, want: []string{"The proxy port is not exposed"}, omit: []string{"WARNING"}},
		{name: "secured", values: []string{caseValues("secured")}, want: []string{
			"https://headroom-metrics.headroom.svc:9797/metrics", "PodMonitor headroom",
			"alerts on (without HeadroomParseErrors, HeadroomNotScraped)",
		}},
		{name: "job mismatch", sets: []string{"serviceMonitor.enabled=true", "serviceMonitor.job=llm-proxy", "prometheusRule.enabled=true"},
			want: []string{`WARNING: prometheusRule.thresholds.scrape_selector is job="headroom" but the ServiceMonitor sets job="llm-proxy"`}},
		{name: "nothing feeds it", sets: []string{"proxy.enabled=false"}, want: []string{"WARNING: proxy.enabled=false and no providers file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			notes := renderNotes(t, chart, tc.values, tc.sets...)
			for _, w := range tc.want {
				if !strings.Contains(notes, w) {
					t.Errorf("NOTES lack %q:\n%s", w, notes)
				}
			}
			for _, o := range tc.omit {
				if strings.Contains(notes, o) {
					t.Errorf("NOTES contain %q:\n%s", o, notes)
				}
			}
		})
	}
}
