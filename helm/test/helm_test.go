// Package helmtest tests the Helm chart in helm/headroom: `helm lint --strict`, golden
// `helm template` output for the main value combinations, every rendered manifest decoded
// strictly into the official Kubernetes and Prometheus Operator Go types, the rules and
// dashboards the chart carries against their source in alerts/ and dashboards/, and the
// container image (scripts/image-test.sh).
//
// It is a module of its own so the Kubernetes dependencies stay out of Headroom's go.mod:
//
//	cd helm/test && go test ./...            # -update rewrites testdata/golden/
//
// helm (scripts/deps/helm.sh) and buildah (scripts/deps/buildah.sh) are looked up on PATH and
// in $(go env GOPATH)/bin; without them the tests that need them skip, or fail when
// HEADROOM_REQUIRE_TOOLS=1.
package helmtest

import (
	"bytes"
	"crypto/sha256"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/headroomhq/headroom/helm/test/chartsync"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/ from the chart")

const (
	requireEnv  = "HEADROOM_REQUIRE_TOOLS"
	helmVersion = "v3.22"
	release     = "headroom"
	namespace   = "headroom"
	// Capabilities for `helm template`: a current cluster with the Prometheus Operator.
	kubeVersion = "1.33.0"
)

var apiVersions = []string{"monitoring.coreos.com/v1"}

// Cases are the value combinations with golden output: testdata/values/<name>.yaml.
var cases = []string{"default", "monitoring", "tail-sidecar", "probe-only", "hpa-networkpolicy", "secured"}

// tool finds an executable on PATH or in $(go env GOPATH)/bin; when it is missing the test
// skips, or fails with HEADROOM_REQUIRE_TOOLS=1.
func tool(t testing.TB, name, install string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			p := filepath.Join(dir, "bin", name)
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
				return p
			}
		}
	}
	if os.Getenv(requireEnv) == "1" {
		t.Fatalf("%s not found (PATH, GOPATH/bin) and %s=1: install it with %s", name, requireEnv, install)
	}
	t.Skipf("%s not found (PATH, GOPATH/bin): install it with %s (%s=1 makes this a failure)", name, install, requireEnv)
	return ""
}

var helmCheck sync.Once

func helm(t testing.TB) string {
	t.Helper()
	p := tool(t, "helm", "scripts/deps/helm.sh")
	helmCheck.Do(func() {
		out, err := exec.Command(p, "version", "--template", "{{.Version}}").Output()
		if err != nil || !strings.HasPrefix(strings.TrimSpace(string(out)), helmVersion) {
			t.Logf("warning: %s reports version %q; the chart is tested with %s.0 (scripts/deps/helm.sh)", p, strings.TrimSpace(string(out)), helmVersion)
		}
	})
	return p
}

func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := chartsync.RepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func chartDir(t testing.TB) string { return filepath.Join(repoRoot(t), chartsync.ChartDir) }

// render runs `helm template` on the chart with the given values files and --set flags.
func render(t testing.TB, valuesFiles []string, sets ...string) ([]byte, error) {
	t.Helper()
	args := []string{"template", release, chartDir(t), "--namespace", namespace, "--kube-version", kubeVersion}
	for _, v := range apiVersions {
		args = append(args, "--api-versions", v)
	}
	for _, f := range valuesFiles {
		args = append(args, "--values", f)
	}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	return runHelm(t, args...)
}

// runHelm runs helm and returns its standard output; the error carries standard error.
func runHelm(t testing.TB, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(helm(t), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("helm %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

func mustRender(t testing.TB, valuesFiles []string, sets ...string) []byte {
	t.Helper()
	out, err := render(t, valuesFiles, sets...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func caseValues(name string) string { return filepath.Join("testdata", "values", name+".yaml") }

// Doc is one rendered manifest: the template it came from and its YAML.
type Doc struct {
	Source string
	YAML   []byte
}

var sourceRE = regexp.MustCompile(`(?m)^# Source: (.*)$`)

// splitDocs splits `helm template` output into its manifests, dropping empty ones.
func splitDocs(out []byte) []Doc {
	var docs []Doc
	for _, part := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(out), -1) {
		src := ""
		if m := sourceRE.FindStringSubmatch(part); m != nil {
			src = m[1]
		}
		body := strings.TrimSpace(sourceRE.ReplaceAllString(part, ""))
		if body == "" {
			continue
		}
		docs = append(docs, Doc{Source: src, YAML: []byte(body + "\n")})
	}
	return docs
}

// generic decodes a manifest into plain maps.
func generic(t testing.TB, d Doc) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal(d.YAML, &m); err != nil {
		t.Fatalf("%s: %v", d.Source, err)
	}
	return m
}

func kindName(m map[string]any) string {
	md, _ := m["metadata"].(map[string]any)
	return fmt.Sprintf("%v/%v", m["kind"], md["name"])
}

func TestLintStrict(t *testing.T) {
	h := helm(t)
	chart := chartDir(t)
	runs := [][]string{{}}
	for _, c := range cases {
		abs, _ := filepath.Abs(caseValues(c))
		runs = append(runs, []string{"--values", abs})
	}
	for _, extra := range runs {
		args := append([]string{"lint", "--strict", chart, "--kube-version", kubeVersion}, extra...)
		out, err := exec.Command(h, args...).CombinedOutput()
		if err != nil {
			t.Errorf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestGolden compares `helm template` output with testdata/golden/<case>.yaml. Dashboard JSON
// is replaced by its size and digest there (TestChartCopiesInSync checks the content).
func TestGolden(t *testing.T) {
	for _, c := range cases {
		t.Run(c, func(t *testing.T) {
			got := goldenForm(mustRender(t, []string{caseValues(c)}))
			path := filepath.Join("testdata", "golden", c+".yaml")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run `go test ./... -update` in helm/test to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("helm template with %s differs from %s (review, then `go test ./... -update` in helm/test):\n%s",
					caseValues(c), path, lineDiff(string(want), string(got)))
			}
		})
	}
}

var dashboardDataRE = regexp.MustCompile(`(?m)^(  [-\w.]+\.json: \|-?)\n((?:    .*\n)*)`)

func goldenForm(out []byte) []byte {
	return dashboardDataRE.ReplaceAllFunc(out, func(m []byte) []byte {
		sub := dashboardDataRE.FindSubmatch(m)
		sum := sha256.Sum256(sub[2])
		return fmt.Appendf(nil, "%s\n    <%d bytes of dashboard JSON, sha256 %x>\n", sub[1], len(sub[2]), sum[:8])
	})
}

// lineDiff shows the first differing lines of two texts.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl == gl {
			continue
		}
		fmt.Fprintf(&b, "line %d:\n  want: %s\n  got:  %s\n", i+1, wl, gl)
		if shown++; shown == 10 {
			b.WriteString("  ...\n")
			break
		}
	}
	return b.String()
}

// TestGoldenFilesAreCases keeps testdata/golden/ free of files no case writes.
func TestGoldenFilesAreCases(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "golden", "*.yaml"))
	known := map[string]bool{}
	for _, c := range cases {
		known[c+".yaml"] = true
	}
	for _, f := range files {
		if !known[filepath.Base(f)] {
			t.Errorf("%s: no case renders it (remove it, or add the case)", f)
		}
	}
	vals, _ := filepath.Glob(filepath.Join("testdata", "values", "*.yaml"))
	for _, f := range vals {
		if !known[filepath.Base(f)] {
			t.Errorf("%s: not in cases", f)
		}
	}
}

// TestSchemaRejects checks that values.schema.json (and the templates' own checks) refuse
// what the chart must not accept.
func TestSchemaRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		sets []string
		want string
	}{
		{"unknown top-level key", []string{"replicas=3"}, "replicas"},
		{"API key value inline", []string{"apiKeys.env[0].name=OPENAI_API_KEY", "apiKeys.env[0].value=sk-123"}, "value"},
		{"API key without Secret", []string{"apiKeys.env[0].name=OPENAI_API_KEY"}, "secretName"},
		{"log level", []string{"log.level=verbose"}, "level"},
		{"threshold ratio above 1", []string{"prometheusRule.enabled=true", "prometheusRule.thresholds.saturation.warning=1.5"}, "warning"},
		{"threshold duration", []string{"prometheusRule.enabled=true", "prometheusRule.thresholds.saturation.for=5 minutes"}, "for"},
		{"rules shape", []string{"prometheusRule.enabled=true", "prometheusRule.thresholds.saturation.windows={1s,1m}"}, "shape the generated rules"},
		{"rules unknown threshold", []string{"prometheusRule.enabled=true", "prometheusRule.thresholds.down.after=5m"}, "shape the generated rules"},
		{"monitor kind", []string{"serviceMonitor.enabled=true", "serviceMonitor.kind=Probe"}, "kind"},
		{"pdb both", []string{"podDisruptionBudget.minAvailable=1", "podDisruptionBudget.maxUnavailable=1"}, "not both"},
		{"service type", []string{"proxy.service.type=ExternalName"}, "type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := render(t, nil, tc.sets...)
			if err == nil {
				t.Fatalf("helm template accepted --set %s", strings.Join(tc.sets, " --set "))
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error does not mention %q: %v", tc.want, err)
			}
		})
	}
}

// TestTemplateWithoutKubeVersion renders with helm's own default capabilities (as `helm
// template` without --kube-version does, e.g. in GitOps tools): no failure, no preStop sleep.
func TestTemplateWithoutKubeVersion(t *testing.T) {
	cmd := exec.Command(helm(t), "template", release, chartDir(t))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helm template without --kube-version: %v\n%s", err, out)
	}
}
