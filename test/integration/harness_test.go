// Package integration runs the real agent (internal/agent, as cmd/exporter
// does) in front of fakeprovider servers and checks what a user would see:
// the client's responses and the values on /metrics, scraped over HTTP.
package integration

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/headroomhq/headroom/fakeprovider"
	"github.com/headroomhq/headroom/internal/agent"
	"github.com/headroomhq/headroom/internal/testenv"
)

type harness struct {
	t     *testing.T
	agent *agent.Agent
	logs  *testenv.LogBuffer
}

// frozen returns a clock stopped at the current second. Fakes run on it so
// fixed windows cannot roll over mid-test; it stays within Headroom's 2 s
// skew tolerance of the real clock for the few hundred milliseconds a test
// takes, so epoch resets are exported exactly as sent.
func frozen() func() time.Time {
	t := time.Now().Truncate(time.Second)
	return func() time.Time { return t }
}

// live is the real clock, for tests that run longer than the skew
// tolerance; it first waits out the last seconds of a minute so fixed
// one-minute windows cannot roll over during the test.
func live() func() time.Time {
	if s := time.Now().Second(); s >= 54 {
		time.Sleep(time.Duration(61-s) * time.Second)
	}
	return time.Now
}

// start runs one fakeprovider per entry (keyed by Headroom provider name)
// and the agent with a providers file pointing at them.
func start(t *testing.T, fakes map[string]fakeprovider.Options) *harness {
	t.Helper()
	var yaml strings.Builder
	yaml.WriteString("providers:\n")
	names := make([]string, 0, len(fakes))
	for n := range fakes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		o := fakes[name]
		if o.Provider == "" {
			o.Provider = name
		}
		srv := httptest.NewServer(fakeprovider.New(o))
		t.Cleanup(srv.Close)
		fmt.Fprintf(&yaml, "  - name: %s\n    catalog: %s\n    upstream: %s\n", name, o.Provider, srv.URL)
	}
	return startAgent(t, yaml.String(), nil)
}

type response struct {
	status int
	header http.Header
	body   string
}

// call sends a request through the proxy.
func (h *harness) call(provider, method, path, body string, headers ...string) response {
	h.t.Helper()
	req, err := http.NewRequest(method, "http://"+h.agent.ProxyAddr+"/"+provider+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, string(b)}
}

// scrape fetches /metrics over HTTP, as Prometheus would.
func (h *harness) scrape() map[string]*dto.MetricFamily {
	h.t.Helper()
	resp, err := http.Get("http://" + h.agent.MetricsAddr + "/metrics")
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return mfs
}

// value returns the value of the single series of name matching labels
// ("k=v" pairs; labels not given must match too when listed as "k=").
func (h *harness) value(name string, labels ...string) (float64, bool) {
	h.t.Helper()
	mf := h.scrape()[name]
	if mf == nil {
		return 0, false
	}
	var found []float64
	for _, m := range mf.GetMetric() {
		lv := map[string]string{}
		for _, l := range m.GetLabel() {
			lv[l.GetName()] = l.GetValue()
		}
		ok := true
		for _, kv := range labels {
			k, v, _ := strings.Cut(kv, "=")
			if lv[k] != v {
				ok = false
				break
			}
		}
		if ok {
			found = append(found, m.GetGauge().GetValue()+m.GetCounter().GetValue()+m.GetUntyped().GetValue())
		}
	}
	if len(found) != 1 {
		if len(found) > 1 {
			h.t.Fatalf("%s%v matches %d series", name, labels, len(found))
		}
		return 0, false
	}
	return found[0], true
}

func (h *harness) expect(want float64, name string, labels ...string) {
	h.t.Helper()
	got, ok := h.value(name, labels...)
	if !ok {
		h.t.Errorf("%s%v: no such series", name, labels)
		return
	}
	if got != want {
		h.t.Errorf("%s%v = %v, want %v", name, labels, got, want)
	}
}

func (h *harness) expectAbsent(name string, labels ...string) {
	h.t.Helper()
	if v, ok := h.value(name, labels...); ok {
		h.t.Errorf("%s%v = %v, want no series", name, labels, v)
	}
}
