// Package e2e proves the dashboards and alerts on real servers: Debian's Prometheus scrapes
// two Headroom replicas (the built cmd/exporter) that proxy a realistic traffic mix to three
// cmd/fakeprovider processes (heroku-us drained by a per-minute limit, sambanova with a small
// daily window and a scheduled probe, the predictions API with a concurrency limit); then
// every panel query of every dashboard runs through Prometheus' HTTP API (the provider
// dashboard once per provider) and at least 90 % of them must return data, and the saturation
// and 429 alerts must fire in Prometheus and arrive, routed by severity, at a real
// Alertmanager's webhook receiver in the test.
//
// It needs `prometheus` and `prometheus-alertmanager` (scripts/deps/prometheus.sh installs
// them); it fails without them when HEADROOM_REQUIRE_TOOLS=1 and is skipped otherwise. It
// takes about two minutes; `go test -short` skips it.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/headroomhq/headroom/alerts"
	"github.com/headroomhq/headroom/dashboards"
	"github.com/headroomhq/headroom/internal/testtool"
	"github.com/headroomhq/headroom/internal/testtool/promcontract"
	"github.com/headroomhq/headroom/keyid"
)

const (
	provider = "heroku-us"
	model    = "claude-4-sonnet"
	// requestLimit is the fake provider's requests per minute: small, so the load drains it
	// in seconds.
	requestLimit = 30
	// requestRate is what the load generator sends, in requests per second over both
	// replicas: 8x the limit, so most requests get 429s.
	requestRate = 4

	// The rest of the mix: sambanova (requests per minute, hour and day; the day's budget
	// small enough to run out during the test), probed on a schedule as well; and the
	// predictions API, whose concurrency limit only shows in the body of a 429.
	dailyProvider  = "sambanova"
	dailyModel     = "DeepSeek-V3-0324"
	dailyLimit     = 40
	concProvider   = "predictions"
	concLimit      = 2
	minDataShare   = 0.9
	probeKeyEnv    = "E2E_SAMBANOVA_KEY"
	probeKeySecret = "e2e-probe-key"
)

// repoRoot is the module root (test/e2e is two levels down).
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// proc is a child process whose output goes to a log file, killed at cleanup.
type proc struct {
	name, log string
	cmd       *exec.Cmd
}

func startProc(t *testing.T, dir, name string, env []string, bin string, args ...string) *proc {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, log: logPath, cmd: cmd}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		f.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			if len(b) > 4000 {
				b = b[len(b)-4000:]
			}
			t.Logf("--- last output of %s:\n%s", name, b)
		}
	})
	return p
}

// replica is one running Headroom (cmd/exporter).
type replica struct{ proxy, metrics string }

// startReplicas starts two Headroom replicas (exporterBin) on the providers
// file, each with the settings env returns for it besides its addresses,
// and waits until both serve /metrics.
func startReplicas(t *testing.T, dir, exporterBin, providers string, env func(i int) []string) []replica {
	var replicas []replica
	for i := 0; i < 2; i++ {
		r := replica{proxy: freeAddr(t), metrics: freeAddr(t)}
		startProc(t, dir, fmt.Sprintf("headroom-%d", i), append([]string{
			"HEADROOM_PROXY_ADDR=" + r.proxy, "HEADROOM_METRICS_ADDR=" + r.metrics, "HEADROOM_CONFIG=" + providers,
		}, env(i)...), exporterBin)
		waitHTTP(t, "http://"+r.metrics+"/metrics", 20*time.Second)
		replicas = append(replicas, r)
	}
	return replicas
}

// waitHTTP polls url until it answers 200 (any status, with anyStatus).
func waitHTTP(t *testing.T, url string, within time.Duration, anyStatus ...bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || len(anyStatus) > 0 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after %s (last error %v)", url, within, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// buildBinaries builds cmd/exporter and cmd/fakeprovider.
func buildBinaries(t *testing.T, root, dir string) (exporter, fake string) {
	t.Helper()
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		gobin = "go"
	}
	cmd := exec.Command(gobin, "build", "-o", dir+string(os.PathSeparator), "./cmd/exporter", "./cmd/fakeprovider")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return filepath.Join(dir, "exporter"), filepath.Join(dir, "fakeprovider")
}

// e2eConfig is the committed thresholds with durations short enough for a test.
func e2eConfig() *alerts.Config {
	c := alerts.DefaultConfig()
	c.Saturation.PeakOver = "30s"
	c.Saturation.For = "20s"
	c.RateLimited.For = "20s"
	c.Down.For = "30s"
	c.Absent.For = "1m"
	return c
}

// startPrometheus runs Prometheus scraping the Headroom targets every second with the rules
// generated from c, sending alerts to alertmanager (none when empty), and returns its URL
// once it is ready.
func startPrometheus(t *testing.T, dir, bin string, c *alerts.Config, targets []string, alertmanager string) string {
	t.Helper()
	rules, err := alerts.Render(c)
	if err != nil {
		t.Fatal(err)
	}
	var ruleFiles []string
	for name, b := range rules {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		ruleFiles = append(ruleFiles, p)
	}
	sort.Strings(ruleFiles)
	promCfg := map[string]any{
		"global":         map[string]any{"scrape_interval": "1s", "evaluation_interval": "1s"},
		"rule_files":     ruleFiles,
		"scrape_configs": []any{map[string]any{"job_name": "headroom", "static_configs": []any{map[string]any{"targets": targets}}}},
	}
	if alertmanager != "" {
		promCfg["alerting"] = map[string]any{"alertmanagers": []any{map[string]any{"static_configs": []any{map[string]any{"targets": []string{alertmanager}}}}}}
	}
	pb, _ := yaml.Marshal(promCfg)
	promCfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(promCfgPath, pb, 0o600); err != nil {
		t.Fatal(err)
	}
	promAddr := freeAddr(t)
	startProc(t, dir, "prometheus", nil, bin,
		"--config.file="+promCfgPath, "--storage.tsdb.path="+filepath.Join(dir, "prom-data"),
		"--web.listen-address="+promAddr)
	promURL := "http://" + promAddr
	waitHTTP(t, promURL+"/-/ready", 60*time.Second)
	return promURL
}

// webhook collects Alertmanager notifications by receiver path.
type webhook struct {
	mu  sync.Mutex
	got map[string][]amAlert // path -> alerts
}

type amAlert struct {
	Status      string            `json:"status"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

func (w *webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	var msg struct {
		Receiver string    `json:"receiver"`
		Alerts   []amAlert `json:"alerts"`
	}
	if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	w.mu.Lock()
	w.got[r.URL.Path] = append(w.got[r.URL.Path], msg.Alerts...)
	w.mu.Unlock()
}

// received returns the firing alerts with that name delivered to path.
func (w *webhook) received(path, alertname string) []amAlert {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []amAlert
	for _, a := range w.got[path] {
		if a.Labels["alertname"] == alertname && a.Status == "firing" {
			out = append(out, a)
		}
	}
	return out
}

// alertmanagerConfig is alerts/alertmanager.example.yml with its receivers pointed at the
// test's webhook and its waits shortened: the routing under test is the example's own.
func alertmanagerConfig(t *testing.T, root, webhookURL string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "alerts", "alertmanager.example.yml"))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(b), "http://127.0.0.1:5001", webhookURL)
	if s == string(b) {
		t.Fatal("alertmanager.example.yml no longer sends to http://127.0.0.1:5001: update the e2e test")
	}
	s = regexp.MustCompile(`group_wait: \w+`).ReplaceAllString(s, "group_wait: 1s")
	s = regexp.MustCompile(`group_interval: \w+`).ReplaceAllString(s, "group_interval: 2s")
	return []byte(s)
}

type promResp struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	Data   struct {
		ResultType string            `json:"resultType"`
		Result     []json.RawMessage `json:"result"`
		Alerts     []struct {
			Labels map[string]string `json:"labels"`
			State  string            `json:"state"`
		} `json:"alerts"`
	} `json:"data"`
}

func promGet(base, path string, params url.Values) (*promResp, error) {
	resp, err := http.Get(base + path + "?" + params.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var pr promResp
	if err := json.Unmarshal(b, &pr); err != nil {
		return nil, fmt.Errorf("%s: %v: %s", path, err, b)
	}
	if pr.Status != "success" {
		return &pr, fmt.Errorf("%s %v: %s", path, params, pr.Error)
	}
	return &pr, nil
}

func instant(t *testing.T, base, expr string) []json.RawMessage {
	t.Helper()
	pr, err := promGet(base, "/api/v1/query", url.Values{"query": {expr}})
	if err != nil {
		t.Fatalf("query %s: %v", expr, err)
	}
	return pr.Data.Result
}

func scalarOf(t *testing.T, r json.RawMessage) float64 {
	t.Helper()
	var s struct {
		Value [2]any `json:"value"`
	}
	if err := json.Unmarshal(r, &s); err != nil {
		t.Fatal(err)
	}
	var v float64
	fmt.Sscan(s.Value[1].(string), &v)
	return v
}

// grafanaVars substitutes dashboard variables the way Grafana does with "All" selected
// (allValue .*), the provider dashboard's single provider, and the interval variables.
func grafanaVars(expr string, single map[string]string) string {
	re := regexp.MustCompile(`\$\{([a-zA-Z0-9_]+)(?::[^}]*)?\}|\$([a-zA-Z0-9_]+)`)
	return re.ReplaceAllStringFunc(expr, func(v string) string {
		m := re.FindStringSubmatch(v)
		name := m[1] + m[2]
		switch name {
		case "__rate_interval", "__interval", "__range":
			return "1m"
		}
		if s, ok := single[name]; ok {
			return s
		}
		return ".*"
	})
}

func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	prometheus := testtool.Require(t, "prometheus")
	alertmanager := testtool.Require(t, "prometheus-alertmanager")
	root := repoRoot(t)
	dir := t.TempDir()
	exporterBin, fakeBin := buildBinaries(t, root, dir)

	// The webhook receiver (Alertmanager's notifications land here).
	hook := &webhook{got: map[string][]amAlert{}}
	hookSrv := httptest.NewServer(hook)
	t.Cleanup(hookSrv.Close)

	// A fakeprovider per provider: heroku-us with a tiny per-minute request limit, sambanova
	// with a daily budget that runs out, predictions with a concurrency limit.
	fakeAddr, dailyAddr, concAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	startProc(t, dir, "fakeprovider", nil, fakeBin,
		"-listen", fakeAddr, "-provider", provider, "-limit", fmt.Sprintf("requests/1m=%d", requestLimit),
		"-stream-delay", "1ms")
	startProc(t, dir, "fakeprovider-"+dailyProvider, nil, fakeBin,
		"-listen", dailyAddr, "-provider", dailyProvider, "-limit", "requests/1m=20", "-limit", "requests/1h=30",
		"-limit", fmt.Sprintf("requests/1d=%d", dailyLimit))
	startProc(t, dir, "fakeprovider-"+concProvider, nil, fakeBin,
		"-listen", concAddr, "-provider", concProvider, "-limit", fmt.Sprintf("concurrency/none=%d", concLimit))
	for _, a := range []string{fakeAddr, dailyAddr, concAddr} {
		waitHTTP(t, "http://"+a+"/", 20*time.Second, true)
	}

	// Two Headroom replicas in front of them, each with an access log (so its drop counter
	// is in use), sambanova's probe on a schedule, and sambanova's keys in one bucket.
	providers := filepath.Join(dir, "providers.yaml")
	if err := os.WriteFile(providers, []byte(fmt.Sprintf(`providers:
  - name: %s
    upstream: http://%s
  - name: %s
    upstream: http://%s
    probe: {enabled: true, interval: 20s, key_env: %s}
  - name: %s
    upstream: http://%s
buckets:
  # sambanova's traffic and its probe share the organisation's limits.
  - name: org-daily
    provider: %s
    keys: [%s, %s]
`, provider, fakeAddr, dailyProvider, dailyAddr, probeKeyEnv, concProvider, concAddr,
		dailyProvider, keyid.Fingerprint("e2e-key-2"), keyid.Fingerprint(probeKeySecret))), 0o600); err != nil {
		t.Fatal(err)
	}
	replicas := startReplicas(t, dir, exporterBin, providers, func(i int) []string {
		return []string{"HEADROOM_ACCESS_LOG=" + filepath.Join(dir, fmt.Sprintf("access-%d.log", i)), probeKeyEnv + "=" + probeKeySecret}
	})

	// Alertmanager with the example config.
	amAddr := freeAddr(t)
	amCfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(amCfg, alertmanagerConfig(t, root, hookSrv.URL), 0o600); err != nil {
		t.Fatal(err)
	}
	startProc(t, dir, "alertmanager", nil, alertmanager,
		"--config.file="+amCfg, "--storage.path="+filepath.Join(dir, "am-data"),
		"--web.listen-address="+amAddr, "--cluster.listen-address=")
	waitHTTP(t, "http://"+amAddr+"/-/ready", 30*time.Second)

	// Prometheus with the rules generated for short durations.
	var targets []string
	for _, r := range replicas {
		targets = append(targets, r.metrics)
	}
	promURL := startPrometheus(t, dir, prometheus, e2eConfig(), targets, amAddr)

	// Load: requestRate requests/s, alternating between the replicas, with one key; bounded
	// in time, stopped at the end of the test.
	ctx, stop := context.WithTimeout(context.Background(), 5*time.Minute)
	defer stop()
	var sent, ok, limited atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		client := &http.Client{Timeout: 10 * time.Second}
		tick := time.NewTicker(time.Second / requestRate)
		defer tick.Stop()
		body := fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":"How much headroom is left?"}],"max_tokens":16}`, model)
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			r := replicas[i%len(replicas)]
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+r.proxy+"/"+provider+"/v1/chat/completions", bytes.NewBufferString(body))
			req.Header.Set("Authorization", "Bearer e2e-key-1")
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			sent.Add(1)
			if err != nil {
				continue
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			switch resp.StatusCode {
			case http.StatusOK:
				ok.Add(1)
			case http.StatusTooManyRequests:
				limited.Add(1)
			}
		}
	}()
	// The rest of the mix, with keys of their own: sambanova one request a second (over its
	// minute limit, and through its day's budget in the first minute), predictions bursts of
	// concLimit+1 slow requests every 4 s (one of each burst over the concurrency limit).
	post := func(r replica, path, key, body string, hdr ...string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+r.proxy+path, bytes.NewBufferString(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	every := func(d time.Duration, fn func(i int)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(d)
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				fn(i)
			}
		}()
	}
	every(time.Second, func(i int) {
		post(replicas[i%len(replicas)], "/"+dailyProvider+"/v1/chat/completions", "e2e-key-2",
			fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":"How much is left today?"}],"max_tokens":8}`, dailyModel))
	})
	every(4*time.Second, func(i int) {
		var burst sync.WaitGroup
		for range concLimit + 1 {
			burst.Add(1)
			go func() {
				defer burst.Done()
				post(replicas[i%len(replicas)], "/"+concProvider+"/v1/predictions", "e2e-key-3",
					`{"version":"e2e","input":{"prompt":"Count the concurrent predictions.","max_tokens":8}}`, "X-Fake-Delay", "1500ms")
			}()
		}
		burst.Wait()
	})
	t.Cleanup(func() { stop(); wg.Wait() })

	// (b) The saturation and 429 alerts fire in Prometheus and reach Alertmanager's
	// receivers, routed by severity.
	// The limit is hit outright, so both severities fire; the example config's inhibit rule
	// keeps the warning of the same series quiet (checked below), and the critical one goes
	// to the critical receiver.
	want := []struct{ alert, severity, path string }{
		{alerts.AlertSaturated, "critical", "/alerts/critical"},
		{alerts.AlertRateLimited, "critical", "/alerts/critical"},
	}
	deadline := time.Now().Add(3 * time.Minute)
	for _, w := range want {
		for {
			var firing bool
			if pr, err := promGet(promURL, "/api/v1/alerts", nil); err == nil {
				for _, a := range pr.Data.Alerts {
					if a.Labels["alertname"] == w.alert && a.Labels["severity"] == w.severity && a.Labels["provider"] == provider && a.State == "firing" {
						firing = true
					}
				}
			}
			got := hook.received(w.path, w.alert)
			var delivered *amAlert
			for i := range got {
				if got[i].Labels["severity"] == w.severity && got[i].Labels["provider"] == provider {
					delivered = &got[i]
				}
			}
			if firing && delivered != nil {
				checkDelivered(t, w.alert, *delivered)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s/%s: firing in Prometheus %v, delivered to %s: %v (load: %d sent, %d ok, %d 429)",
					w.alert, w.severity, firing, w.path, delivered != nil, sent.Load(), ok.Load(), limited.Load())
			}
			time.Sleep(time.Second)
		}
	}
	t.Logf("load so far: %d sent, %d ok, %d answered 429", sent.Load(), ok.Load(), limited.Load())

	// The warnings reached Alertmanager too and are now suppressed by their critical
	// counterparts. Whether a warning was delivered before its critical fired depends on
	// where the ramp-up's scrapes fell (a scrape between the two thresholds starts the
	// warning's `for` first): inhibition only holds while both fire, so an early delivery
	// is correct behaviour, logged rather than failed (it made this test flaky under load).
	for _, a := range []string{alerts.AlertSaturated, alerts.AlertRateLimited} {
		checkInhibited(t, "http://"+amAddr, a)
		if got := hook.received("/alerts/warning", a); len(got) > 0 {
			t.Logf("%s warning was delivered before its critical fired (%d notifications)", a, len(got))
		}
	}

	// Several replicas saw the same key: the recorded limit is the provider's, not a sum.
	res := instant(t, promURL, fmt.Sprintf(`%s{provider=%q, resource="requests", window="1m"}`, alerts.RuleLimit, provider))
	if len(res) != 1 || scalarOf(t, res[0]) != requestLimit {
		t.Errorf("%s = %s, want one series at %d (two replicas must not add up)", alerts.RuleLimit, res, requestLimit)
	}
	if n := len(instant(t, promURL, fmt.Sprintf(`headroom_ratelimit_limit{provider=%q, resource="requests"}`, provider))); n != 2 {
		t.Errorf("headroom_ratelimit_limit has %d series, want one per replica (2)", n)
	}

	// (a) Every panel query and variable of every dashboard runs in Prometheus: the overview
	// with every variable on All, the provider dashboard (one provider at a time, as Grafana
	// offers it) once per provider of the mix. At least minDataShare of the dashboards' panel
	// queries return data, for at least one provider where the dashboard has a provider
	// (zeros count: a healthy system reads 0, not "No data"; the mix has a provider for each
	// kind of limit); the ones that return nothing are listed, and so is every query that
	// returns nothing for one provider. For the overview and heroku-us, every panel not
	// listed in dashboards.MayBeEmpty returns data, and the mix fills the MayBeEmpty panels
	// named in expectedHere.
	end := time.Now()
	type instance struct{ file, provider string }
	var queries []string          // file, panel and refID of each panel query, in order
	anyData := map[string]bool{}  // by query: data for at least one provider
	exprOf := map[string]string{} // by query: its expression, variables as Grafana fills them
	for _, in := range []instance{{dashboards.OverviewFile, ""}, {dashboards.ProviderFile, provider},
		{dashboards.ProviderFile, dailyProvider}, {dashboards.ProviderFile, concProvider}} {
		name := in.file
		single := map[string]string{}
		if in.provider != "" {
			single["provider"] = in.provider
			name += " (" + in.provider + ")"
		}
		b, err := os.ReadFile(filepath.Join(root, "dashboards", in.file))
		if err != nil {
			t.Fatal(err)
		}
		qs, vars, err := dashboards.Expressions(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vars {
			e, err := promcontract.VariableQueryExpr(v)
			if err != nil || e == "" {
				t.Errorf("%s variable %s: %v", name, v, err)
				continue
			}
			// label_values(expr, label), as Grafana runs it: the label's values on expr.
			m := regexp.MustCompile(`,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$`).FindStringSubmatch(v)
			if m == nil {
				t.Errorf("%s variable %s: not label_values(expr, label)", name, v)
				continue
			}
			values, err := labelValues(promURL, m[1], grafanaVars(e, single), end)
			if err != nil {
				t.Errorf("%s variable %s: %v", name, v, err)
			} else if len(values) == 0 {
				t.Errorf("%s variable %s: no values", name, v)
			}
		}
		hasData := map[string]bool{}
		for _, q := range qs {
			expr := grafanaVars(q.Expr, single)
			var pr *promResp
			if q.Instant {
				pr, err = promGet(promURL, "/api/v1/query", url.Values{"query": {expr}, "time": {fmt.Sprint(end.Unix())}})
			} else {
				pr, err = promGet(promURL, "/api/v1/query_range", url.Values{"query": {expr},
					"start": {fmt.Sprint(end.Add(-3 * time.Minute).Unix())}, "end": {fmt.Sprint(end.Unix())}, "step": {"5"}})
			}
			if err != nil {
				t.Errorf("%s panel %q %s: %v", name, q.Panel, q.RefID, err)
				continue
			}
			id := fmt.Sprintf("%s panel %q %s", in.file, q.Panel, q.RefID)
			if _, seen := anyData[id]; !seen {
				queries = append(queries, id)
				anyData[id] = false
			}
			if len(pr.Data.Result) > 0 {
				hasData[q.Panel] = true
				anyData[id] = true
			} else {
				placeholder := map[string]string{}
				if in.provider != "" {
					placeholder["provider"] = "$provider"
				}
				exprOf[id] = grafanaVars(q.Expr, placeholder)
				if in.provider != "" {
					t.Logf("no data for %s: %s panel %q %s", in.provider, in.file, q.Panel, q.RefID)
				}
			}
		}
		for _, title := range expectedHere[name] {
			if !hasData[title] {
				t.Errorf("%s panel %q: no data, though the scenario provides it", name, title)
			}
		}
		if in.provider != "" && in.provider != provider {
			continue
		}
		for title := range dashboards.MayBeEmpty[in.file] {
			t.Logf("%s panel %q (may be empty): data %v", name, title, hasData[title])
		}
		for _, q := range qs {
			if !hasData[q.Panel] && !dashboards.MayBeEmpty[in.file][q.Panel] {
				t.Errorf("%s panel %q: no data from any query, e.g. %s", name, q.Panel, grafanaVars(q.Expr, single))
				hasData[q.Panel] = true // report once
			}
		}
	}
	withData := 0
	for _, id := range queries {
		if anyData[id] {
			withData++
		}
	}
	share := float64(withData) / float64(max(1, len(queries)))
	t.Logf("panel queries with data: %d of %d (%.1f %%); without:", withData, len(queries), 100*share)
	for _, id := range queries {
		if !anyData[id] {
			t.Logf("  %s: %s", id, exprOf[id])
		}
	}
	if len(queries) == 0 || share < minDataShare {
		t.Errorf("%d of %d panel queries return data (%.1f %%), want at least %.0f %% (the ones without are listed above)",
			withData, len(queries), 100*share, 100*minDataShare)
	}
}

// expectedHere lists panels of dashboards.MayBeEmpty that this test's mix fills, by
// dashboard (and provider): heroku's dialect sends Retry-After on 429s and the catalog
// documents its limits; counters with known labels exist at 0 from start (upstream errors,
// folded observations, reloads, dropped spans and access-log lines); sambanova is probed
// on a schedule and runs out of its day's budget; the predictions API's concurrency limit
// arrives in 429 bodies.
var expectedHere = map[string][]string{
	dashboards.OverviewFile: {"Upstream errors", "Observations folded into \"other\"", "Configuration reloads",
		"Probes", "Probes by result", "Trace spans exported and dropped", "Access-log lines dropped"},
	dashboards.ProviderFile + " (" + provider + ")": {"Retry-After asked by the provider", "Retry-After distribution",
		"Documented vs observed limits", "Upstream errors", "Observations folded into \"other\""},
	dashboards.ProviderFile + " (" + dailyProvider + ")": {"Projected time to exhaustion (long windows)"},
	dashboards.ProviderFile + " (" + concProvider + ")":  {"Concurrency: in flight vs limit", "Concurrency utilisation"},
}

// checkDelivered checks a notification carries what the runbook and routing need.
func checkDelivered(t *testing.T, alert string, a amAlert) {
	t.Helper()
	if a.Labels["provider"] != provider || a.Labels["model"] != model || !strings.HasPrefix(a.Labels["key"], "k-") {
		t.Errorf("%s delivered with labels %v", alert, a.Labels)
	}
	for _, k := range []string{"summary", "description", "runbook_url"} {
		if a.Annotations[k] == "" {
			t.Errorf("%s delivered without %s: %v", alert, k, a.Annotations)
		}
	}
	if !strings.Contains(a.Annotations["description"], provider) || !strings.Contains(a.Annotations["runbook_url"], "docs/runbook.md#"+strings.ToLower(alert)) {
		t.Errorf("%s annotations %v", alert, a.Annotations)
	}
}

// checkInhibited requires Alertmanager to hold the warning of alert, suppressed by an
// inhibition (the critical of the same series).
func checkInhibited(t *testing.T, amURL, alert string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(amURL + "/api/v2/alerts?" + url.Values{"filter": {fmt.Sprintf("alertname=%q", alert), `severity="warning"`, fmt.Sprintf("provider=%q", provider)}}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		var got []struct {
			Status struct {
				State       string   `json:"state"`
				InhibitedBy []string `json:"inhibitedBy"`
			} `json:"status"`
		}
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(got) > 0 && got[0].Status.State == "suppressed" && len(got[0].Status.InhibitedBy) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s warning in Alertmanager: %+v, want suppressed by an inhibition", alert, got)
		}
		time.Sleep(time.Second)
	}
}

// labelValues calls /api/v1/label/<label>/values restricted to the series of match.
func labelValues(base, label, match string, end time.Time) ([]string, error) {
	resp, err := http.Get(base + "/api/v1/label/" + label + "/values?" + url.Values{"match[]": {match},
		"start": {fmt.Sprint(end.Add(-10 * time.Minute).Unix())}, "end": {fmt.Sprint(end.Unix())}}.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string   `json:"status"`
		Error  string   `json:"error"`
		Data   []string `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, err
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("%s", r.Error)
	}
	return r.Data, nil
}
