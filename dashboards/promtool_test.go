package dashboards

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/headroomhq/headroom/internal/testtool"
	"github.com/headroomhq/headroom/internal/testtool/promcontract"
)

// TestQueriesParseInPrometheus: the Go parser is a newer Prometheus than the server the
// project tests against (Debian's 2.42), so every panel and variable expression also goes
// through that server's own parser: `promtool check rules` on a rule file that records each.
func TestQueriesParseInPrometheus(t *testing.T) {
	promtool := testtool.Require(t, "promtool")
	type rule struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	var rules []rule
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		qs, vars, err := Expressions(b)
		if err != nil {
			t.Fatal(err)
		}
		var exprs []string
		for _, q := range qs {
			exprs = append(exprs, q.Expr)
		}
		for _, v := range vars {
			if e, err := promcontract.VariableQueryExpr(v); err == nil && e != "" {
				exprs = append(exprs, e)
			}
		}
		for _, e := range exprs {
			rules = append(rules, rule{Record: fmt.Sprintf("dashboard_check:%d", len(rules)), Expr: promcontract.SubstituteGrafanaVars(e)})
		}
	}
	file := map[string]any{"groups": []any{map[string]any{"name": "dashboard-queries", "rules": rules}}}
	b, err := yaml.Marshal(file)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dashboard_queries.yml")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "check", "rules", "--lint=none", path).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
}
