package integration

import (
	"fmt"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/headroomhq/headroom/config"
	"github.com/headroomhq/headroom/fakeprovider"
	"github.com/headroomhq/headroom/internal/testenv"
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
	logs := &testenv.LogBuffer{}
	a := testenv.Start(t, testenv.Options{ProvidersYAML: yaml, Settings: mod, Logger: testenv.DebugLogger(logs)})
	return &harness{t: t, agent: a, logs: logs}
}

// stop shuts the agent down before the test ends (the cleanup testenv.Start
// registered calls Shutdown once more).
func (h *harness) stop() { testenv.Shutdown(h.agent) }

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
