// Package promcontract checks PromQL written elsewhere in the repository (rules, dashboards)
// against Headroom's metric contract, docs/metrics.md: every expression must parse, and every
// metric it names must be documented (or be a recording rule, or a histogram's
// _bucket/_sum/_count series), with only the labels the contract gives it. A renamed metric
// or label then fails a test instead of silently emptying a panel or muting an alert.
package promcontract

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// Metric is one row of a metric table in docs/metrics.md.
type Metric struct {
	Name   string
	Type   string // counter, gauge, histogram, "gauge (1)", ...
	Labels []string
}

var (
	rowRE  = regexp.MustCompile("^\\|\\s*`([a-zA-Z_:][a-zA-Z0-9_:]*)`\\s*\\|([^|]*)\\|([^|]*)\\|")
	nameRE = regexp.MustCompile("[a-z_][a-z0-9_]*")
)

// ParseMetricsDoc reads the metric tables (header `| metric | type | labels | meaning |`) of a
// metrics.md.
func ParseMetricsDoc(path string) (map[string]Metric, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]Metric{}
	inMetricTable := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "|") {
			inMetricTable = false
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) > 0 && strings.TrimSpace(cells[0]) == "metric" {
			inMetricTable = true
			continue
		}
		if !inMetricTable {
			continue
		}
		m := rowRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		out[m[1]] = Metric{Name: m[1], Type: strings.TrimSpace(m[2]), Labels: nameRE.FindAllString(m[3], -1)}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no metric table found", path)
	}
	return out, nil
}

// Contract is what expressions may reference.
type Contract struct {
	Metrics map[string]Metric // from docs/metrics.md
	// Extra names that are allowed without label checks: recording rules, Prometheus'
	// own `up`.
	Extra map[string]bool
}

// New returns a contract from docs/metrics.md plus extra allowed names.
func New(metricsDoc string, extra ...string) (*Contract, error) {
	ms, err := ParseMetricsDoc(metricsDoc)
	if err != nil {
		return nil, err
	}
	c := &Contract{Metrics: ms, Extra: map[string]bool{}}
	for _, e := range extra {
		c.Extra[e] = true
	}
	return c, nil
}

// targetLabels are added by Prometheus to every scraped series.
var targetLabels = map[string]bool{"job": true, "instance": true, labels.MetricName: true}

// lookup resolves a series name to its documented metric; it also reports the histogram
// suffix (_bucket, _sum, _count) when the name is one.
func (c *Contract) lookup(name string) (Metric, string, bool) {
	if m, ok := c.Metrics[name]; ok {
		return m, "", true
	}
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		base := strings.TrimSuffix(name, suf)
		if base == name {
			continue
		}
		if m, ok := c.Metrics[base]; ok && strings.HasPrefix(m.Type, "histogram") {
			return m, suf, true
		}
	}
	return Metric{}, "", false
}

// Parse parses an expression with the Prometheus parser.
func Parse(expr string) (parser.Expr, error) {
	return parser.NewParser(parser.Options{}).ParseExpr(expr)
}

// Check parses expr and verifies every metric and selector label it uses. It returns the
// metric names referenced.
func (c *Contract) Check(expr string) ([]string, error) {
	e, err := Parse(expr)
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	var errs []string
	seen := map[string]bool{}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		if name == "" {
			for _, m := range vs.LabelMatchers {
				if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
					name = m.Value
				}
			}
		}
		if name == "" {
			errs = append(errs, fmt.Sprintf("selector %s names no metric", vs))
			return nil
		}
		seen[name] = true
		if c.Extra[name] {
			return nil
		}
		m, suffix, ok := c.lookup(name)
		if !ok {
			errs = append(errs, fmt.Sprintf("metric %q is not in docs/metrics.md (nor a recording rule)", name))
			return nil
		}
		allowed := map[string]bool{}
		for _, l := range m.Labels {
			allowed[l] = true
		}
		if suffix == "_bucket" {
			allowed["le"] = true
		}
		for _, lm := range vs.LabelMatchers {
			if !allowed[lm.Name] && !targetLabels[lm.Name] {
				errs = append(errs, fmt.Sprintf("metric %q has no label %q in docs/metrics.md (it has %s)", name, lm.Name, strings.Join(m.Labels, ", ")))
			}
		}
		return nil
	})
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(errs) > 0 {
		return names, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return names, nil
}

// grafanaVarRE matches Grafana template variables: $name, ${name}, ${name:format}, [[name]].
var grafanaVarRE = regexp.MustCompile(`\$\{([a-zA-Z0-9_]+)(?::[^}]*)?\}|\$([a-zA-Z0-9_]+)|\[\[([a-zA-Z0-9_]+)\]\]`)

// SubstituteGrafanaVars replaces Grafana's variables so the expression parses: interval
// variables ($__rate_interval, $__interval, $__range, ...) become 5m, other variables x
// (they appear in label matchers).
func SubstituteGrafanaVars(expr string) string {
	return grafanaVarRE.ReplaceAllStringFunc(expr, func(v string) string {
		m := grafanaVarRE.FindStringSubmatch(v)
		name := m[1] + m[2] + m[3]
		switch name {
		case "__rate_interval", "__interval", "__range", "__auto":
			return "5m"
		case "__interval_ms", "__range_ms", "__range_s":
			return "300"
		}
		return "x"
	})
}

// variableQueryRE extracts the PromQL of a Grafana Prometheus variable query.
var variableQueryRE = regexp.MustCompile(`^\s*(?:label_values|query_result)\s*\((.*)\)\s*$`)

// VariableQueryExpr returns the PromQL inside a Grafana Prometheus variable query:
// label_values(<expr>, label) gives <expr>, query_result(<expr>) gives <expr>,
// label_values(label) and label_names() give "" (no expression).
func VariableQueryExpr(q string) (string, error) {
	m := variableQueryRE.FindStringSubmatch(q)
	if m == nil {
		if strings.HasPrefix(strings.TrimSpace(q), "label_names(") {
			return "", nil
		}
		return "", fmt.Errorf("unsupported variable query %q", q)
	}
	inner := strings.TrimSpace(m[1])
	if strings.HasPrefix(strings.TrimSpace(q), "query_result") {
		return inner, nil
	}
	// label_values(expr, label): split at the last top-level comma.
	depth, quote := 0, rune(0)
	last := -1
	for i, r := range inner {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '"' || r == '\'' || r == '`':
			quote = r
		case r == '(' || r == '{' || r == '[':
			depth++
		case r == ')' || r == '}' || r == ']':
			depth--
		case r == ',' && depth == 0:
			last = i
		}
	}
	if last < 0 {
		return "", nil // label_values(label)
	}
	return strings.TrimSpace(inner[:last]), nil
}

// SummedMetrics returns the metric names that appear inside a sum (or avg) aggregation of
// expr. The state of one key (remaining, limit, reset, ...) is exported by every Headroom
// replica that saw it, so adding those series up double-counts: such gauges must be
// aggregated with min or max.
func SummedMetrics(expr string) ([]string, error) {
	e, err := Parse(expr)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		agg, ok := n.(*parser.AggregateExpr)
		if !ok || (agg.Op != parser.SUM && agg.Op != parser.AVG) {
			return nil
		}
		parser.Inspect(agg.Expr, func(n parser.Node, _ []parser.Node) error {
			if vs, ok := n.(*parser.VectorSelector); ok && vs.Name != "" {
				seen[vs.Name] = true
			}
			return nil
		})
		return nil
	})
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

// IsKeyStateGauge reports whether a metric holds one key's rate-limit state, which every
// replica exports a copy of (headroom_ratelimit_* and the headroom:ratelimit_* /
// headroom:concurrency_* recording rules).
func IsKeyStateGauge(name string) bool {
	return strings.HasPrefix(name, "headroom_ratelimit_") ||
		strings.HasPrefix(name, "headroom:ratelimit_") ||
		strings.HasPrefix(name, "headroom:concurrency_")
}
