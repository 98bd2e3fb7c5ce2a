package integration

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/headroomhq/headroom/catalog"
	"github.com/headroomhq/headroom/fakeprovider"
	"github.com/headroomhq/headroom/keyid"
)

// Probe mode against fakeprovider for every seed provider: /probe (the
// blackbox-style endpoint) with exact values, the scheduled probe feeding
// /metrics, 429 back-off honouring Retry-After, and missing or invalid keys.

const predictionsProbe = `    probe:
      method: POST
      path: /v1/predictions
      body: '{"version":"v1","input":{"prompt":".","max_tokens":1}}'
`

func probeSection(enabled bool, interval, keyEnv string) string {
	return fmt.Sprintf("    probe:\n      enabled: %v\n      interval: %s\n      key_env: %s\n", enabled, interval, keyEnv)
}

// scrapeProbe fetches /probe?provider=NAME.
func (h *harness) scrapeProbe(provider string) (int, map[string]*dto.MetricFamily, string) {
	h.t.Helper()
	resp, err := http.Get("http://" + h.agent.MetricsAddr + "/probe?provider=" + provider)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return resp.StatusCode, nil, string(b)
	}
	tp := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := tp.TextToMetricFamilies(strings.NewReader(string(b)))
	if err != nil {
		h.t.Fatal(err)
	}
	return resp.StatusCode, mfs, string(b)
}

func valueIn(mfs map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		lv := map[string]string{}
		for _, l := range m.GetLabel() {
			lv[l.GetName()] = l.GetValue()
		}
		for _, kv := range labels {
			k, v, _ := strings.Cut(kv, "=")
			if lv[k] != v {
				continue next
			}
		}
		return m.GetGauge().GetValue() + m.GetCounter().GetValue(), true
	}
	return 0, false
}

func expectIn(t *testing.T, mfs map[string]*dto.MetricFamily, want float64, name string, labels ...string) {
	t.Helper()
	v, ok := valueIn(mfs, name, labels...)
	if !ok {
		t.Errorf("%s%v: no such series", name, labels)
	} else if v != want {
		t.Errorf("%s%v = %v, want %v", name, labels, v, want)
	}
}

func TestProbeSeedProviders(t *testing.T) {
	ups := fakes(t, map[string]fakeprovider.Options{
		"heroku-us": {Now: frozen()}, "infercom": {Now: frozen()}, "sambanova": {Now: frozen()}, "predictions": {Now: frozen()},
	})
	t.Setenv("HEADROOM_TEST_PROBE_KEY", "probe-SECRET")
	key := "key=" + keyid.Fingerprint("probe-SECRET")
	extra := map[string]string{
		"heroku-us":   probeSection(false, "5m", "HEADROOM_TEST_PROBE_KEY"),
		"infercom":    probeSection(false, "5m", "HEADROOM_TEST_PROBE_KEY"),
		"sambanova":   probeSection(false, "5m", "HEADROOM_TEST_PROBE_KEY"),
		"predictions": predictionsProbe + "      key_env: HEADROOM_TEST_PROBE_KEY\n",
	}
	h := startAgent(t, providersYAML(ups, extra), nil)
	cases := []struct {
		provider, model string
		want            []struct {
			resource, window string
			limit, remaining float64
		}
	}{
		// The catalog's probes: the cheapest chat model, max_tokens 1.
		{"heroku-us", "claude-3-haiku", []struct {
			resource, window string
			limit, remaining float64
		}{{"requests", "1m", 250, 249}}},
		{"infercom", "Meta-Llama-3.1-8B-Instruct", nil},
		{"sambanova", "Meta-Llama-3.2-1B-Instruct", nil},
		{"predictions", "", []struct {
			resource, window string
			limit, remaining float64
		}{{"requests", "1m", 60, 59}}},
	}
	for _, c := range cases {
		code, mfs, body := h.scrapeProbe(c.provider)
		if code != 200 {
			t.Fatalf("%s: /probe %d: %s", c.provider, code, body)
		}
		expectIn(t, mfs, 1, "headroom_probe_success", "provider="+c.provider)
		if d, _ := valueIn(mfs, "headroom_probe_duration_seconds", "provider="+c.provider); d <= 0 {
			t.Errorf("%s: probe duration %v", c.provider, d)
		}
		for _, w := range c.want {
			l := []string{"provider=" + c.provider, "model=" + c.model, key, "resource=" + w.resource, "window=" + w.window}
			expectIn(t, mfs, w.limit, "headroom_ratelimit_limit", l...)
			expectIn(t, mfs, w.remaining, "headroom_ratelimit_remaining", l...)
		}
		if n, _ := valueIn(mfs, "headroom_ratelimit_limit", "provider="+c.provider, key); n == 0 {
			t.Errorf("%s: no rate-limit series in /probe:\n%s", c.provider, body)
		}
		// /probe has its own registry: nothing on /metrics.
		h.expectAbsent("headroom_ratelimit_remaining", "provider="+c.provider)
	}
	// Infercom and SambaNova: the per-minute and per-day (and hour) budgets.
	_, mfs, _ := h.scrapeProbe("sambanova")
	expectIn(t, mfs, 1, "headroom_probe_success", "provider=sambanova")
	for _, w := range []string{"1m", "1h", "1d"} {
		if _, ok := valueIn(mfs, "headroom_ratelimit_remaining", "provider=sambanova", "resource=requests", "window="+w); !ok {
			t.Errorf("sambanova %s missing", w)
		}
	}
	// Two probes so far on the same fake: 2 charged.
	l := []string{"provider=sambanova", "model=Meta-Llama-3.2-1B-Instruct", key, "resource=requests", "window=1d"}
	lim, _ := valueIn(mfs, "headroom_ratelimit_limit", l...)
	expectIn(t, mfs, lim-2, "headroom_ratelimit_remaining", l...)
	_, mfs, _ = h.scrapeProbe("infercom")
	for _, w := range []string{"1m", "1d"} {
		if _, ok := valueIn(mfs, "headroom_ratelimit_remaining", "provider=infercom", "resource=requests", "window="+w); !ok {
			t.Errorf("infercom %s missing", w)
		}
	}

	code, _, body := h.scrapeProbe("openai")
	if code != 400 || !strings.Contains(body, "no probe configured") {
		t.Errorf("unconfigured provider: %d %s", code, body)
	}
	if strings.Contains(h.logs.String(), "probe-SECRET") {
		t.Error("the probe key appears in the logs")
	}
}

// The schedule feeds /metrics: the same headroom_ratelimit_* series as the
// proxy, under the probe key's fingerprint.
func TestProbeScheduled(t *testing.T) {
	ups := fakes(t, map[string]fakeprovider.Options{"heroku-us": {Now: frozen()}})
	keyFile := filepath.Join(t.TempDir(), "key")
	os.WriteFile(keyFile, []byte("file-SECRET\n"), 0o600)
	extra := map[string]string{"heroku-us": "    probe:\n      enabled: true\n      interval: 1s\n      key_file: " + keyFile + "\n"}
	h := startAgent(t, providersYAML(ups, extra), nil)
	h.waitFor(1, "headroom_probe_success", "provider=heroku-us")
	b := []string{"provider=heroku-us", "model=claude-3-haiku", "key=" + keyid.Fingerprint("file-SECRET"), "resource=requests", "window=1m"}
	h.waitFor(250, "headroom_ratelimit_limit", b...)
	h.waitFor(1, "headroom_probes_total", "provider=heroku-us", "result=success")
	// Probes are not traffic.
	h.expectAbsent("headroom_requests_total", "provider=heroku-us")
	// A second probe about a second later (±10 %).
	h.waitFor(2, "headroom_probes_total", "provider=heroku-us", "result=success")
	h.expect(248, "headroom_ratelimit_remaining", b...)
}

// counting wraps a fake and counts the requests it receives.
type counting struct {
	h http.Handler
	n atomic.Int64
}

func (c *counting) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.n.Add(1); c.h.ServeHTTP(w, r) }

// A 429 backs the schedule off for at least Retry-After: with a 1 s
// interval and Heroku's sliding minute exhausted, no further request
// reaches the provider for the ~60 s it asked for.
func TestProbeBackoffHonoursRetryAfter(t *testing.T) {
	fp := &counting{h: fakeprovider.New(fakeprovider.Options{Provider: "heroku-us", Now: frozen(),
		Limits: []catalog.Limit{{Resource: "requests", Window: "1m", Value: 1}}})}
	srv := httptest.NewServer(fp)
	t.Cleanup(srv.Close)
	t.Setenv("HEADROOM_TEST_PROBE_KEY", "backoff-SECRET")
	yaml := fmt.Sprintf("providers:\n  - name: heroku-us\n    upstream: %s\n%s", srv.URL, probeSection(true, "1s", "HEADROOM_TEST_PROBE_KEY"))
	h := startAgent(t, yaml, nil)
	h.waitFor(1, "headroom_probes_total", "provider=heroku-us", "result=success")
	h.waitFor(1, "headroom_probes_total", "provider=heroku-us", "result=rate_limited")
	at429 := time.Now()
	h.expect(0, "headroom_probe_success", "provider=heroku-us")
	key := "key=" + keyid.Fingerprint("backoff-SECRET")
	h.expect(1, "headroom_ratelimited_total", "provider=heroku-us", "model=claude-3-haiku", key, "resource=requests")
	h.expect(0, "headroom_ratelimit_remaining", "provider=heroku-us", "model=claude-3-haiku", key, "resource=requests", "window=1m")
	mf := h.scrape()["headroom_retry_after_seconds"]
	ra := mf.GetMetric()[0].GetHistogram().GetSampleSum()
	if ra < 50 || ra > 60 {
		t.Fatalf("Retry-After %v, want about 60 s", ra)
	}
	next, _ := h.value("headroom_probe_next_timestamp_seconds", "provider=heroku-us")
	if earliest := float64(at429.Unix()) + ra - 2; next < earliest {
		t.Errorf("next probe at %v, before the Retry-After (%v)", next, earliest)
	}
	sent := fp.n.Load()
	// Three intervals pass: nothing is sent, and /probe honours it too.
	time.Sleep(3 * time.Second)
	code, mfs, body := h.scrapeProbe("heroku-us")
	if code != 200 {
		t.Fatal(body)
	}
	expectIn(t, mfs, 0, "headroom_probe_success", "provider=heroku-us")
	if got := fp.n.Load(); got != sent || sent != 2 {
		t.Errorf("provider got %d requests (%d at the 429), want 2: the back-off was not honoured", got, sent)
	}
}

func TestProbeMissingAndInvalidKey(t *testing.T) {
	ups := fakes(t, map[string]fakeprovider.Options{
		"heroku-us": {Now: frozen(), Keys: []string{"the-right-key"}},
		"infercom":  {Now: frozen()},
	})
	keyFile := filepath.Join(t.TempDir(), "wrong-key")
	os.WriteFile(keyFile, []byte("wrong-SECRET"), 0o600)
	os.Unsetenv("HEADROOM_TEST_UNSET_KEY")
	extra := map[string]string{
		"heroku-us": "    probe:\n      enabled: true\n      interval: 1s\n      key_file: " + keyFile + "\n",
		"infercom":  probeSection(true, "1s", "HEADROOM_TEST_UNSET_KEY"),
	}
	h := startAgent(t, providersYAML(ups, extra), nil)
	h.waitFor(1, "headroom_probes_total", "provider=heroku-us", "result=error")
	h.waitFor(1, "headroom_probes_total", "provider=infercom", "result=error")
	h.expect(0, "headroom_probe_success", "provider=heroku-us")
	h.expect(0, "headroom_probe_success", "provider=infercom")
	logs := h.logs.String()
	for _, want := range []string{
		"the provider rejected the API key (status 401); check the key in " + keyFile,
		"no API key: environment variable HEADROOM_TEST_UNSET_KEY (probe.key_env) is not set or empty",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "wrong-SECRET") {
		t.Error("the key appears in the logs")
	}
	// Still serving, and /probe says the same.
	_, mfs, _ := h.scrapeProbe("infercom")
	expectIn(t, mfs, 0, "headroom_probe_success", "provider=infercom")
	// The key appears: the next probe succeeds.
	os.Setenv("HEADROOM_TEST_UNSET_KEY", "now-set")
	t.Cleanup(func() { os.Unsetenv("HEADROOM_TEST_UNSET_KEY") })
	h.waitFor(1, "headroom_probe_success", "provider=infercom")
}
