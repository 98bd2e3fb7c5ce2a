package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/headroomhq/headroom/alerts"
	"github.com/headroomhq/headroom/dashboards"
	"github.com/headroomhq/headroom/internal/testtool"
	"github.com/headroomhq/headroom/keyid"
)

// TestSharedBucket drains one organisation's bucket on real processes: cmd/fakeprovider
// (infercom's dialect, fixed minute windows) with one requests/1m bucket shared by three
// keys, two Headroom replicas (cmd/exporter) that know the keys as one bucket, and a real
// Prometheus with Headroom's rules. The bucket alert must fire while no call has been
// answered 429 yet; /api/v1/admit must say no before the first 429, on the replica that
// sent the last call; the 429 alert fires only after; and after the window resets the
// admission answer is yes again.
func TestSharedBucket(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	prometheus := testtool.Require(t, "prometheus")
	root := repoRoot(t)
	dir := t.TempDir()
	exporterBin, fakeBin := buildBinaries(t, root, dir)

	const (
		provider = "infercom"
		model    = "DeepSeek-V3.1"
		limit    = 30
	)
	keys := []string{"e2e-org-key-a", "e2e-org-key-b", "e2e-org-key-c"}
	// How Headroom names them: two by alias, one by its fingerprint.
	labels := []string{"team-a", "team-b", keyid.Fingerprint(keys[2])}

	fakeAddr := freeAddr(t)
	startProc(t, dir, "fakeprovider", nil, fakeBin,
		"-listen", fakeAddr, "-provider", provider, "-limit", fmt.Sprintf("requests/1m=%d", limit),
		"-shared-keys", strings.Join(keys, ","))
	waitHTTP(t, "http://"+fakeAddr+"/", 20*time.Second, true)

	providers := filepath.Join(dir, "providers.yaml")
	cfg := fmt.Sprintf(`providers:
  - name: %s
    upstream: http://%s
    key_aliases: {%s: %s, %s: %s}
buckets:
  - name: org-e2e
    provider: %s
    keys: [%s, %s, %s]
`, provider, fakeAddr, keyid.Fingerprint(keys[0]), labels[0], keyid.Fingerprint(keys[1]), labels[1], provider, labels[0], labels[1], labels[2])
	if err := os.WriteFile(providers, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	replicas := startReplicas(t, dir, exporterBin, providers, func(int) []string { return []string{"HEADROOM_PACING_HEADERS=true"} })

	// Prometheus with the rules, durations short enough for a test.
	c := alerts.DefaultConfig()
	c.Bucket.PeakOver, c.Bucket.For = "30s", "5s"
	c.RateLimited.For = "10s"
	var targets []string
	for _, r := range replicas {
		targets = append(targets, r.metrics)
	}
	promURL := startPrometheus(t, dir, prometheus, c, targets, "")

	client := &http.Client{Timeout: 10 * time.Second}
	var sent, limited int
	call := func(r replica, i int) *http.Response {
		t.Helper()
		body := fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":"How much is left?"}],"max_tokens":8}`, model)
		req, _ := http.NewRequest(http.MethodPost, "http://"+r.proxy+"/"+provider+"/v1/chat/completions", bytes.NewBufferString(body))
		req.Header.Set("Authorization", "Bearer "+keys[i%len(keys)])
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		sent++
		if resp.StatusCode == http.StatusTooManyRequests {
			limited++
		}
		return resp
	}
	admit := func(r replica, i int) admitAnswer {
		t.Helper()
		q := url.Values{"provider": {provider}, "model": {model}, "key": {labels[i%len(labels)]}}
		resp, err := client.Get("http://" + r.metrics + "/api/v1/admit?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var a admitAnswer
		if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || resp.StatusCode != 200 {
			t.Fatalf("admit: %d %v", resp.StatusCode, err)
		}
		return a
	}

	// The drain happens within one minute window: start early in a minute.
	if s := time.Now().UTC().Second(); s > 15 {
		time.Sleep(time.Duration(61-s) * time.Second)
	}
	windowEnd := time.Now().UTC().Truncate(time.Minute).Add(time.Minute)

	// Phase 1: 25 of the 30 requests, every key, both replicas: 83 % of the bucket.
	for i := 0; i < 25; i++ {
		resp := call(replicas[i%2], i)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("call %d: %d", i, resp.StatusCode)
		}
		if i == 24 && resp.Header.Get("RateLimit") == "" {
			t.Errorf("HEADROOM_PACING_HEADERS=true but the answer has no RateLimit field: %v", resp.Header)
		}
	}
	// One bucket, whatever the keys and replicas: every key's series joins into it.
	bucketFiring := waitAlert(t, promURL, alerts.AlertBucketSaturated, "warning", windowEnd)
	if limited != 0 || alertFiring(t, promURL, alerts.AlertRateLimited) {
		t.Fatalf("the bucket alert fired after %d calls answered 429", limited)
	}
	res := instant(t, promURL, fmt.Sprintf(`%s{provider=%q, resource="requests", window="1m"}`, alerts.RuleBucketRemaining, provider))
	if len(res) != 1 || scalarOf(t, res[0]) != limit-25 {
		t.Errorf("%s: %s, want one series at %d", alerts.RuleBucketRemaining, res, limit-25)
	}
	if n := len(instant(t, promURL, `headroom_ratelimit_remaining{resource="requests", window="1m"}`)); n < 4 {
		t.Errorf("only %d per-key, per-replica series: the join had little to merge", n)
	}

	// Phase 2: through replica 0 only (its answer is then the freshest truth), asking before
	// each call. It must say no with the last request spent, before any 429.
	r0 := replicas[0]
	denied := false
	for i := 25; i < 40 && !denied; i++ {
		a := admit(r0, i)
		if !a.Admit {
			denied = true
			if a.Reason != "limit_exhausted" || a.Limiting == nil || a.Limiting.Resource != "requests" || a.Limiting.Remaining > 0 || a.WaitSeconds <= 0 || a.Bucket != "org-e2e" {
				t.Errorf("admission answer %+v %+v", a, a.Limiting)
			}
			break
		}
		if resp := call(r0, i); resp.StatusCode != http.StatusOK {
			t.Fatalf("call %d was admitted and answered %d", i, resp.StatusCode)
		}
	}
	if !denied || limited != 0 {
		t.Fatalf("admit said no: %v; calls answered 429 so far: %d (of %d)", denied, limited, sent)
	}
	// Proof: the next call is answered 429.
	if resp := call(r0, 0); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("after admit said no, the provider answered %d", resp.StatusCode)
	}

	// Phase 3: clients that ignore the answer and Retry-After, 4 calls a second on both
	// replicas, until the 429 alert fires.
	deadline := time.Now().Add(90 * time.Second)
	var rateLimitedFiring time.Time
	for i := 0; rateLimitedFiring.IsZero(); i++ {
		call(replicas[i%2], i)
		time.Sleep(250 * time.Millisecond)
		if i%8 == 0 && alertFiring(t, promURL, alerts.AlertRateLimited) {
			rateLimitedFiring = time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never fired (%d sent, %d answered 429)", alerts.AlertRateLimited, sent, limited)
		}
	}
	if !bucketFiring.Before(rateLimitedFiring) {
		t.Errorf("bucket alert firing at %v, 429 alert at %v", bucketFiring, rateLimitedFiring)
	}
	t.Logf("bucket alert firing %v before the 429 alert (%d calls, %d answered 429)", rateLimitedFiring.Sub(bucketFiring).Round(time.Second), sent, limited)

	// Phase 4: the window resets; the answer is yes again on both replicas, and the call goes.
	time.Sleep(time.Until(time.Now().UTC().Truncate(time.Minute).Add(time.Minute + time.Second)))
	for i, r := range replicas {
		if a := admit(r, i); !a.Admit {
			t.Errorf("replica %d after the reset: %+v %+v", i, a, a.Limiting)
		}
	}
	if resp := call(r0, 1); resp.StatusCode != http.StatusOK {
		t.Errorf("after the reset: %d", resp.StatusCode)
	}
	if a := admit(r0, 2); !a.Admit || a.Reason != "within_limits" || a.Limiting == nil || a.Limiting.Remaining != limit-1 {
		t.Errorf("after a call in the new window: %+v %+v", a, a.Limiting)
	}

	// Calls during Retry-After were counted, by key.
	if res := instant(t, promURL, `sum(headroom_retry_after_ignored_total)`); len(res) != 1 || scalarOf(t, res[0]) == 0 {
		t.Errorf("no call counted during Retry-After: %s", res)
	}
	// The overview's decision panels that this scenario fills have data.
	b, err := os.ReadFile(filepath.Join(root, "dashboards", dashboards.OverviewFile))
	if err != nil {
		t.Fatal(err)
	}
	qs, _, err := dashboards.Expressions(b)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"Shared buckets": false, "Who drains each bucket": false, "Calls during Retry-After": false, "Keys sending during Retry-After": false}
	end := time.Now()
	for _, q := range qs {
		if _, ok := want[q.Panel]; !ok {
			continue
		}
		pr, err := promGet(promURL, "/api/v1/query_range", url.Values{"query": {grafanaVars(q.Expr, nil)},
			"start": {fmt.Sprint(end.Add(-3 * time.Minute).Unix())}, "end": {fmt.Sprint(end.Unix())}, "step": {"5"}})
		if err != nil {
			t.Errorf("panel %q: %v", q.Panel, err)
			continue
		}
		if len(pr.Data.Result) > 0 {
			want[q.Panel] = true
		}
	}
	for p, ok := range want {
		if !ok {
			t.Errorf("overview panel %q: no data", p)
		}
	}
}

type admitAnswer struct {
	Admit       bool    `json:"admit"`
	WaitSeconds float64 `json:"wait_seconds"`
	Reason      string  `json:"reason"`
	Bucket      string  `json:"bucket"`
	Limiting    *struct {
		Resource  string  `json:"resource"`
		Window    string  `json:"window"`
		Remaining float64 `json:"remaining"`
	} `json:"limiting"`
}

// alertFiring reports whether an alert of that name fires in Prometheus.
func alertFiring(t *testing.T, promURL, name string) bool {
	t.Helper()
	pr, err := promGet(promURL, "/api/v1/alerts", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range pr.Data.Alerts {
		if a.Labels["alertname"] == name && a.State == "firing" {
			return true
		}
	}
	return false
}

// waitAlert waits until the alert fires with that severity, and returns when it was seen.
func waitAlert(t *testing.T, promURL, name, severity string, before time.Time) time.Time {
	t.Helper()
	for {
		pr, err := promGet(promURL, "/api/v1/alerts", nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range pr.Data.Alerts {
			if a.Labels["alertname"] == name && a.Labels["severity"] == severity && a.State == "firing" {
				if a.Labels["bucket"] != "org-e2e" {
					t.Errorf("%s fired with labels %v", name, a.Labels)
				}
				return time.Now()
			}
		}
		if time.Now().After(before) {
			t.Fatalf("%s/%s did not fire before %v", name, severity, before)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
