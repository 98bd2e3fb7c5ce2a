package integration

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/headroomhq/headroom/config"
	"github.com/headroomhq/headroom/fakeprovider"
	"github.com/headroomhq/headroom/internal/agent"
)

// fakes starts one fakeprovider per entry and returns their base URLs.
func fakes(t *testing.T, opts map[string]fakeprovider.Options) map[string]string {
	t.Helper()
	urls := map[string]string{}
	for name, o := range opts {
		if o.Provider == "" {
			o.Provider = name
		}
		srv := httptest.NewServer(fakeprovider.New(o))
		t.Cleanup(srv.Close)
		urls[name] = srv.URL
	}
	return urls
}

// providersYAML lists the fakes as providers (catalog entries with the
// fake as upstream); extra is appended to each entry (indented YAML).
func providersYAML(urls map[string]string, extra map[string]string) string {
	names := make([]string, 0, len(urls))
	for n := range urls {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("providers:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  - name: %s\n    upstream: %s\n", n, urls[n])
		if e := extra[n]; e != "" {
			b.WriteString(e)
		}
	}
	return b.String()
}

// startAgent runs the agent (as cmd/exporter does) on a providers file.
func startAgent(t *testing.T, yaml string, mod func(*config.Settings)) *harness {
	t.Helper()
	path := filepath.Join(t.TempDir(), "providers.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := config.LoadSettings()
	if err != nil {
		t.Fatal(err)
	}
	s.ProxyAddr, s.MetricsAddr, s.ConfigFile = "127.0.0.1:0", "127.0.0.1:0", path
	if mod != nil {
		mod(&s)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := agent.New(s, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, agent: a, logs: logs}
	t.Cleanup(func() { h.stop() })
	return h
}

func (h *harness) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h.agent.Shutdown(ctx)
}

// waitFor polls a metric until it has the wanted value.
func (h *harness) waitFor(want float64, name string, labels ...string) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, _ := h.value(name, labels...)
		if v == want {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s%v = %v, want %v (waited 10s)\nlogs:\n%s", name, labels, v, want, h.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
