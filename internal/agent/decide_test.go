package agent_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/headroomhq/headroom/internal/testenv"
	"github.com/headroomhq/headroom/keyid"
)

// The decision endpoints on the metrics listener, fed by calls through the
// proxy: the forecast in /api/v1/headroom, the admission answer, the
// buckets and the limit changes.
func TestDecideEndpoints(t *testing.T) {
	var n atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		i := n.Add(1)
		limit := int64(1000)
		if i == 4 {
			limit = 500 // the provider lowers the limit
		}
		h := w.Header()
		h.Set("x-ratelimit-limit-requests", strconv.FormatInt(limit, 10))
		h.Set("x-ratelimit-remaining-requests", strconv.FormatInt(400-100*i, 10))
		h.Set("x-ratelimit-reset-requests", "50s")
		h.Set("Content-Type", "application/json")
		io.WriteString(w, `{"model":"gpt-4o"}`)
	}))
	defer up.Close()
	fp := keyid.Fingerprint("sk-agent-decide")
	a := testenv.Start(t, testenv.Options{ProvidersYAML: "providers:\n  - name: up\n    dialect: openai\n    upstream: " + up.URL +
		"\n    key_aliases: {" + fp + ": prod}\nbuckets:\n  - {name: org, provider: up, keys: [prod, k-aaaaaaaaaaaa]}\n"})
	for range 4 {
		req, _ := http.NewRequest("POST", "http://"+a.ProxyAddr+"/up/v1/chat/completions", strings.NewReader(`{"model":"gpt-4o","max_tokens":5}`))
		req.Header.Set("Authorization", "Bearer sk-agent-decide")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	get := func(path string, v any) int {
		t.Helper()
		resp, err := http.Get("http://" + a.MetricsAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type %q", path, ct)
		}
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return resp.StatusCode
	}

	var st struct {
		Series []struct {
			Key, Resource, Window string
			Remaining             *float64 `json:"remaining"`
			Drain                 *float64 `json:"drain_per_second"`
			ETA                   *float64 `json:"exhaustion_eta_seconds"`
			Before                bool     `json:"exhausts_before_reset"`
		} `json:"series"`
	}
	get("/api/v1/headroom", &st)
	if len(st.Series) != 1 || st.Series[0].Key != "prod" || *st.Series[0].Remaining != 0 || st.Series[0].Drain != nil || !st.Series[0].Before || *st.Series[0].ETA != 0 {
		// The limit changed with the last answer: the history started over.
		t.Errorf("state %+v", st.Series)
	}

	var ans struct {
		Admit  bool
		Reason string
		Bucket string
	}
	if code := get("/api/v1/admit?provider=up&model=gpt-4o&key=k-aaaaaaaaaaaa", &ans); code != 200 || ans.Admit || ans.Reason != "limit_exhausted" || ans.Bucket != "org" {
		t.Errorf("admit: %d %+v", code, ans)
	}
	var bad struct{ Error struct{ Parameter string } }
	if code := get("/api/v1/admit?provider=up&key=sk-agent-decide", &bad); code != 400 || bad.Error.Parameter != "key" {
		t.Errorf("raw key: %d %+v", code, bad)
	}

	var buckets struct {
		Buckets []struct {
			Provider, Bucket string
			Keys             []string
		}
	}
	get("/api/v1/headroom/buckets", &buckets)
	if len(buckets.Buckets) != 1 || buckets.Buckets[0].Bucket != "org" || strings.Join(buckets.Buckets[0].Keys, ",") != "prod,k-aaaaaaaaaaaa" {
		t.Errorf("buckets %+v", buckets)
	}
	var ch struct {
		Changes []struct {
			Key, Direction string
			Before, After  float64
		}
	}
	get("/api/v1/headroom/changes", &ch)
	if len(ch.Changes) != 1 || ch.Changes[0].Key != "prod" || ch.Changes[0].Direction != "down" || ch.Changes[0].Before != 1000 || ch.Changes[0].After != 500 {
		t.Errorf("changes %+v", ch)
	}
}
