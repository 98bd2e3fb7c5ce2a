package agent_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/headroomhq/headroom/internal/agent"
	"github.com/headroomhq/headroom/internal/testenv"
)

// newAgent starts an agent on the providers file yaml and returns it with
// the file's path, for tests that rewrite it and reload.
func newAgent(t *testing.T, yaml string) (*agent.Agent, string) {
	t.Helper()
	a := testenv.Start(t, testenv.Options{ProvidersYAML: yaml})
	return a, a.Settings.ConfigFile
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func upstream(t *testing.T, h http.HandlerFunc) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestEndpoints(t *testing.T) {
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-RateLimit-Limit", "60")
		w.Header().Set("X-RateLimit-Remaining", "45")
		w.Header().Set("X-RateLimit-Reset", "4102444800") // 2100-01-01
	})
	a, _ := newAgent(t, "providers:\n  - name: predictions\n    upstream: "+up+"\n")
	m := "http://" + a.MetricsAddr
	if code, body := get(t, m+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("healthz %d %q", code, body)
	}
	if code, _ := get(t, m+"/readyz"); code != 200 {
		t.Errorf("readyz %d", code)
	}
	req, _ := http.NewRequest("POST", "http://"+a.ProxyAddr+"/predictions/v1/predictions", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer secret-key")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	code, body := get(t, m+"/api/v1/headroom")
	var st agent.State
	if err := json.Unmarshal([]byte(body), &st); err != nil || code != 200 {
		t.Fatalf("%d %v %s", code, err, body)
	}
	if len(st.Series) != 1 {
		t.Fatalf("series: %s", body)
	}
	s := st.Series[0]
	if s.Provider != "predictions" || s.Resource != "requests" || s.Window != "1m" || *s.Limit != 60 || *s.Remaining != 45 ||
		*s.RemainingRatio != 0.75 || *s.Reset != "2100-01-01T00:00:00Z" || s.Model != "" {
		t.Errorf("state: %s", body)
	}
	if strings.Contains(body, "secret-key") {
		t.Error("credential in state")
	}
	code, page := get(t, m+"/")
	if code != 200 || !strings.Contains(page, "predictions") || !strings.Contains(page, `class="bar"`) {
		t.Errorf("landing page %d:\n%s", code, page)
	}
	if code, _ := get(t, m+"/nope"); code != 404 {
		t.Errorf("unknown path on metrics listener: %d", code)
	}
}

func TestReload(t *testing.T) {
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {})
	a, path := newAgent(t, "providers:\n  - name: one\n    dialect: openai\n    upstream: "+up+"\n")
	proxy := "http://" + a.ProxyAddr
	if code, _ := get(t, proxy+"/one/x"); code != 200 {
		t.Fatalf("one: %d", code)
	}
	os.WriteFile(path, []byte("providers:\n  - name: two\n    dialect: openai\n    upstream: "+up+"\n"), 0o600)
	if err := a.Reload(); err != nil {
		t.Fatal(err)
	}
	if code, _ := get(t, proxy+"/one/x"); code != 404 {
		t.Errorf("removed provider still routed: %d", code)
	}
	if code, _ := get(t, proxy+"/two/x"); code != 200 {
		t.Errorf("new provider not routed: %d", code)
	}
	// An invalid file is rejected; the running config stays.
	os.WriteFile(path, []byte("providers:\n  - name: three\n    dialect: nope\n"), 0o600)
	if err := a.Reload(); err == nil {
		t.Fatal("invalid config accepted")
	}
	if code, _ := get(t, proxy+"/two/x"); code != 200 {
		t.Errorf("old config lost after a rejected reload: %d", code)
	}
	_, metrics := get(t, "http://"+a.MetricsAddr+"/metrics")
	for _, want := range []string{"headroom_config_last_reload_successful 0", `headroom_config_reloads_total{result="failure"} 1`, `headroom_config_reloads_total{result="success"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestShutdownDrainsInflight(t *testing.T) {
	started := make(chan struct{})
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(300 * time.Millisecond)
		io.WriteString(w, "finished")
	})
	a, _ := newAgent(t, "providers:\n  - name: slow\n    dialect: openai\n    upstream: "+up+"\n")
	type result struct {
		code int
		body string
	}
	done := make(chan result)
	go func() {
		code, body := get(t, "http://"+a.ProxyAddr+"/slow/x")
		done <- result{code, body}
	}()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	r := <-done
	if r.code != 200 || r.body != "finished" {
		t.Errorf("in-flight request cut: %d %q", r.code, r.body)
	}
}

// A reload that even removes the provider lets requests already in flight
// through it finish.
func TestReloadKeepsInflight(t *testing.T) {
	started := make(chan struct{})
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(300 * time.Millisecond)
		io.WriteString(w, "finished")
	})
	a, path := newAgent(t, "providers:\n  - name: slow\n    dialect: openai\n    upstream: "+up+"\n")
	type result struct {
		code int
		body string
	}
	done := make(chan result)
	go func() {
		code, body := get(t, "http://"+a.ProxyAddr+"/slow/x")
		done <- result{code, body}
	}()
	<-started
	os.WriteFile(path, []byte("providers:\n  - name: other\n    dialect: openai\n    upstream: "+up+"\n"), 0o600)
	if err := a.Reload(); err != nil {
		t.Fatal(err)
	}
	if r := <-done; r.code != 200 || r.body != "finished" {
		t.Errorf("in-flight request cut by the reload: %d %q", r.code, r.body)
	}
	if code, _ := get(t, "http://"+a.ProxyAddr+"/slow/x"); code != 404 {
		t.Errorf("removed provider still routed after the reload: %d", code)
	}
}
