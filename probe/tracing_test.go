package probe

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/headroomhq/headroom/collector"
	"github.com/headroomhq/headroom/config"
	"github.com/headroomhq/headroom/fakeprovider"
	"github.com/headroomhq/headroom/parsers"
	"github.com/headroomhq/headroom/tracing"
)

// A probe is recorded as a span (headroom.source=probe) with the provider's
// rate-limit state on it, and the key never appears.
func TestProbeBecomesSpan(t *testing.T) {
	const secret = "probe-SECRET-key"
	t.Setenv("HEROKU_PROBE_KEY", secret)
	srv := httptest.NewServer(fakeprovider.New(fakeprovider.Options{Provider: "heroku-us"}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	d, _ := parsers.Lookup("heroku")
	p := config.Provider{Name: "heroku-us", Family: "heroku", Dialect: d, Upstream: u,
		ProbeSpec: &config.ProbeSpec{Enabled: true, Interval: time.Minute, Timeout: 5 * time.Second, KeyEnv: "HEROKU_PROBE_KEY",
			Method: http.MethodPost, Path: "/v1/chat/completions",
			Body: `{"model":"claude-3-haiku","messages":[{"role":"user","content":"."}],"max_tokens":1}`}}
	pr, err := NewProber(p, NewClient())
	if err != nil {
		t.Fatal(err)
	}
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	pr.tracer = tracing.NewTracer(tp, tracing.TracerOptions{})
	coll := collector.New(collector.Options{})
	coll.SetProviders([]collector.Provider{{Name: "heroku-us", Family: "heroku", Dialect: "heroku"}})
	if o := pr.Probe(context.Background(), coll); o.Err != nil {
		t.Fatalf("probe: %v", o.Err)
	}
	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	attrs := map[string]string{}
	for _, kv := range spans[0].Attributes() {
		attrs[string(kv.Key)] = kv.Value.Emit()
		if strings.Contains(kv.Value.Emit(), secret) {
			t.Errorf("attribute %s carries the key", kv.Key)
		}
	}
	if attrs["headroom.source"] != "probe" || attrs["headroom.ratelimit.requests.1m.limit"] != "250" || attrs["http.response.status_code"] != "200" {
		t.Errorf("attributes: %v", attrs)
	}
}
