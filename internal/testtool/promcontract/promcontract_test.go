package promcontract

import (
	"path/filepath"
	"strings"
	"testing"
)

func contract(t *testing.T) *Contract {
	t.Helper()
	c, err := New(filepath.Join("..", "..", "..", "docs", "metrics.md"), "headroom:x:ratio", "up")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestParseMetricsDoc(t *testing.T) {
	c := contract(t)
	m, ok := c.Metrics["headroom_ratelimit_remaining"]
	if !ok || m.Type != "gauge" || strings.Join(m.Labels, ",") != "provider,model,key,resource,window" {
		t.Fatalf("headroom_ratelimit_remaining = %+v, %v", m, ok)
	}
	if h := c.Metrics["headroom_retry_after_seconds"]; h.Type != "histogram" {
		t.Fatalf("headroom_retry_after_seconds = %+v", h)
	}
	if _, ok := c.Metrics["provider"]; ok {
		t.Fatal("a label row was read as a metric")
	}
}

func TestCheck(t *testing.T) {
	c := contract(t)
	for expr, wantErr := range map[string]string{
		`min by (provider) (headroom_ratelimit_remaining{provider="a", job="headroom"})`:            "",
		`histogram_quantile(0.9, sum by (le) (rate(headroom_retry_after_seconds_bucket[5m])))`:      "",
		`rate(headroom_retry_after_seconds_count[5m]) / rate(headroom_retry_after_seconds_sum[5m])`: "",
		`headroom:x:ratio > 0 and up == 1`:      "",
		`headroom_ratelimit_remainder`:          "not in docs/metrics.md",
		`headroom_requests_total_bucket`:        "not in docs/metrics.md",
		`headroom_inflight_requests{model="x"}`: `no label "model"`,
		`headroom_ratelimit_remaining{le="1"}`:  `no label "le"`,
		`sum(rate(headroom_requests_total[5m]`:  "parse",
		`{__name__=~"headroom_.*"}`:             "names no metric",
	} {
		_, err := c.Check(expr)
		switch {
		case wantErr == "" && err != nil:
			t.Errorf("%s: %v", expr, err)
		case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
			t.Errorf("%s: error %v, want one containing %q", expr, err, wantErr)
		}
	}
}

func TestGrafanaHelpers(t *testing.T) {
	got := SubstituteGrafanaVars(`sum(rate(headroom_requests_total{provider=~"$provider",key=~"${key:regex}"}[$__rate_interval]))`)
	if want := `sum(rate(headroom_requests_total{provider=~"x",key=~"x"}[5m]))`; got != want {
		t.Fatalf("SubstituteGrafanaVars = %s, want %s", got, want)
	}
	for q, want := range map[string]string{
		`label_values(headroom_provider_info, provider)`:                        "headroom_provider_info",
		`label_values(headroom_requests_total{provider=~"$p", a="x,y"}, model)`: `headroom_requests_total{provider=~"$p", a="x,y"}`,
		`query_result(max by (provider) (up))`:                                  "max by (provider) (up)",
		`label_values(provider)`:                                                "",
	} {
		got, err := VariableQueryExpr(q)
		if err != nil || got != want {
			t.Errorf("VariableQueryExpr(%s) = %q, %v; want %q", q, got, err, want)
		}
	}
}

func TestSummedMetrics(t *testing.T) {
	got, err := SummedMetrics(`min by (key) (headroom_ratelimit_remaining) + sum(rate(headroom_requests_total[5m])) / sum by (key) (max by (key, instance) (headroom_ratelimit_limit))`)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "headroom_ratelimit_limit,headroom_requests_total" {
		t.Fatalf("SummedMetrics = %v", got)
	}
	if !IsKeyStateGauge("headroom:ratelimit_remaining:min") || IsKeyStateGauge("headroom_inflight_requests") {
		t.Fatal("IsKeyStateGauge")
	}
}
