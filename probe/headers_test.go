package probe

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/headroomhq/headroom/catalog"
	"github.com/headroomhq/headroom/collector"
	"github.com/headroomhq/headroom/config"
	"github.com/headroomhq/headroom/fakeprovider"
)

const headerTestKey = "sk-probe-SECRET-0123456789"

// seen records what the provider was sent.
type seen struct {
	h  http.Handler
	mu sync.Mutex
	r  *http.Request
}

func (s *seen) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.r = r.Clone(context.Background())
	s.mu.Unlock()
	s.h.ServeHTTP(w, r)
}

func (s *seen) last() *http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.r
}

// github answers like api.github.com/zen: the core budget in x-ratelimit-*.
var github = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/zen" || r.Header.Get("Authorization") != "Bearer "+headerTestKey {
		http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
		return
	}
	h := w.Header()
	h.Set("x-ratelimit-limit", "5000")
	h.Set("x-ratelimit-remaining", "4999")
	h.Set("x-ratelimit-used", "1")
	h.Set("x-ratelimit-reset", fmt.Sprint(time.Now().Add(time.Hour).Unix()))
	h.Set("x-ratelimit-resource", "core")
	fmt.Fprintln(w, "Keep it logically awesome.")
})

// resolve is the providers file of one provider, as the agent resolves it.
func resolve(t *testing.T, yaml string) config.Provider {
	t.Helper()
	f, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.Resolve(f, catalog.MustLoad())
	if err != nil {
		t.Fatal(err)
	}
	return c.Providers[0]
}

// gauge is the value of a headroom_ratelimit_* series of provider.
func gauge(t *testing.T, reg *prometheus.Registry, name, provider, resource, window string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label(m, "provider") == provider && label(m, "resource") == resource && label(m, "window") == window {
				return m.GetGauge().GetValue(), true
			}
		}
	}
	return 0, false
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// The catalog probe's headers reach the provider, merged with the providers
// file's, and its rate-limit headers are read. The fake anthropic, like the
// API, answers 400 without anthropic-version.
func TestProbeSendsCatalogHeaders(t *testing.T) {
	t.Setenv("PROBE_KEY", headerTestKey)
	cases := []struct {
		name     string
		upstream http.Handler
		// providers file of one provider; %s is the upstream URL.
		yaml   string
		status int
		// headers the provider must see; "" means absent.
		want map[string]string
		path string
		// the rate-limit state the probe must report.
		resource, window string
		limit, remaining float64
	}{
		{
			name:     "anthropic catalog",
			upstream: fakeprovider.New(fakeprovider.Options{Provider: "anthropic"}),
			yaml:     "providers: [{name: anthropic, upstream: '%s', probe: {key_env: PROBE_KEY}}]",
			status:   200, path: "/v1/messages",
			want:     map[string]string{"Anthropic-Version": "2023-06-01", "X-Api-Key": headerTestKey, "Authorization": "", "Content-Type": "application/json"},
			resource: "requests", window: "1m", limit: 50, remaining: 49,
		},
		{
			name:     "anthropic, the file's version wins",
			upstream: fakeprovider.New(fakeprovider.Options{Provider: "anthropic"}),
			yaml:     "providers: [{name: anthropic, upstream: '%s', probe: {key_env: PROBE_KEY, headers: {anthropic-version: 2026-10-21, anthropic-beta: b1}}}]",
			status:   200, path: "/v1/messages",
			want:     map[string]string{"Anthropic-Version": "2026-10-21", "Anthropic-Beta": "b1"},
			resource: "requests", window: "1m", limit: 50, remaining: 49,
		},
		{
			// What the catalog probe could not do before it had headers.
			name:     "anthropic without the version",
			upstream: fakeprovider.New(fakeprovider.Options{Provider: "anthropic"}),
			yaml:     "providers: [{name: anthropic, upstream: '%s', probe: {key_env: PROBE_KEY, headers: {anthropic-version: ''}}}]",
			status:   400, path: "/v1/messages",
			want: map[string]string{"Anthropic-Version": ""},
		},
		{
			name:     "github catalog",
			upstream: github,
			yaml:     "providers: [{name: github, upstream: '%s', probe: {key_env: PROBE_KEY}}]",
			status:   200, path: "/zen",
			want:     map[string]string{"X-Github-Api-Version": "2022-11-28", "User-Agent": userAgent, "Authorization": "Bearer " + headerTestKey},
			resource: "requests", window: "1h", limit: 5000, remaining: 4999,
		},
		{
			// Azure's version is a query parameter; the deployment is the user's.
			name:     "azure query",
			upstream: fakeprovider.New(fakeprovider.Options{Provider: "azure-openai"}),
			yaml: "providers: [{name: azure-openai, upstream: '%s', probe: {key_env: PROBE_KEY, " +
				"path: '/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21', body: '{\"max_tokens\":1}'}}]",
			status: 200, path: "/openai/deployments/gpt-4o-mini/chat/completions",
			want:     map[string]string{"Api-Key": headerTestKey},
			resource: "requests", window: "10s",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &seen{h: tc.upstream}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			p := resolve(t, fmt.Sprintf(tc.yaml, srv.URL))
			pr, err := NewProber(p, NewClient())
			if err != nil {
				t.Fatal(err)
			}
			reg := prometheus.NewRegistry()
			coll := collector.New(collector.Options{})
			coll.SetProviders([]collector.Provider{{Name: p.Name, Family: p.Family, Dialect: p.Dialect.Name(), PerKeyLimits: p.PerKey, KnownModels: p.Models}})
			if err := coll.Register(reg); err != nil {
				t.Fatal(err)
			}
			o := pr.Probe(context.Background(), coll)
			if o.Status != tc.status {
				t.Fatalf("status %d, want %d (%v)", o.Status, tc.status, o.Err)
			}
			if o.Err != nil && strings.Contains(o.Err.Error(), headerTestKey) {
				t.Errorf("the error carries the key: %v", o.Err)
			}
			r := rec.last()
			if r.URL.Path != tc.path {
				t.Errorf("path %q, want %q", r.URL.Path, tc.path)
			}
			for k, v := range tc.want {
				if got := r.Header.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if tc.status != 200 {
				if o.Success {
					t.Error("success without the rate-limit headers")
				}
				return
			}
			if !o.Success || o.Observations == 0 {
				t.Fatalf("outcome %+v", o)
			}
			lim, ok := gauge(t, reg, "headroom_ratelimit_limit", p.Name, tc.resource, tc.window)
			rem, _ := gauge(t, reg, "headroom_ratelimit_remaining", p.Name, tc.resource, tc.window)
			if !ok || (tc.limit != 0 && (lim != tc.limit || rem != tc.remaining)) {
				t.Errorf("%s/%s: limit %v remaining %v (found %v), want %v and %v", tc.resource, tc.window, lim, rem, ok, tc.limit, tc.remaining)
			}
		})
	}
	// The Azure probe's query reached the provider as a query.
	t.Run("azure query is a query", func(t *testing.T) {
		rec := &seen{h: fakeprovider.New(fakeprovider.Options{Provider: "azure-openai"})}
		srv := httptest.NewServer(rec)
		defer srv.Close()
		p := resolve(t, fmt.Sprintf("providers: [{name: azure-openai, upstream: '%s/base', probe: {key_env: PROBE_KEY, path: '/openai/deployments/d/chat/completions?api-version=2024-10-21'}}]", srv.URL))
		pr, _ := NewProber(p, NewClient())
		pr.Probe(context.Background(), collector.New(collector.Options{}))
		if r := rec.last(); r.URL.EscapedPath() != "/base/openai/deployments/d/chat/completions" || r.URL.RawQuery != "api-version=2024-10-21" {
			t.Errorf("sent %s ? %s", r.URL.EscapedPath(), r.URL.RawQuery)
		}
	})
}

// The provider's refusal is logged (by /probe, at debug) without the key.
func TestProbeRefusalLogsNoKey(t *testing.T) {
	t.Setenv("PROBE_KEY", headerTestKey)
	srv := httptest.NewServer(fakeprovider.New(fakeprovider.Options{Provider: "anthropic"}))
	defer srv.Close()
	f, err := config.Parse([]byte(fmt.Sprintf("providers: [{name: anthropic, upstream: '%s', probe: {key_env: PROBE_KEY, headers: {anthropic-version: ''}}}]", srv.URL)))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Resolve(f, catalog.MustLoad())
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	s := NewScheduler(collector.New(collector.Options{}), slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	s.Update(cfg)
	w := httptest.NewRecorder()
	s.ServeProbe(w, httptest.NewRequest(http.MethodGet, "/probe?provider=anthropic", nil))
	if !strings.Contains(w.Body.String(), `headroom_probe_success{provider="anthropic"} 0`) {
		t.Errorf("/probe:\n%s", w.Body.String())
	}
	if !strings.Contains(logs.String(), "status 400") {
		t.Errorf("the refusal is not logged: %s", logs.String())
	}
	if strings.Contains(logs.String(), headerTestKey) || strings.Contains(w.Body.String(), headerTestKey) {
		t.Error("the key appears in the logs or on /probe")
	}
}
