package proxy

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/headroomhq/headroom/collector"
	"github.com/headroomhq/headroom/config"
	"github.com/headroomhq/headroom/parsers"
	"github.com/headroomhq/headroom/tracing"
)

// cannedTransport answers every request in memory with a Heroku-style
// response, so benchmarks measure Headroom's own per-request cost rather
// than loopback networking.
type cannedTransport struct {
	header http.Header
	body   []byte
}

func newCannedTransport() *cannedTransport {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("X-Ratelimit-Limit-Requests", "150")
	h.Set("X-Ratelimit-Remaining-Requests", "149")
	h.Set("X-Ratelimit-Reset-Requests", "51s")
	h.Set("X-Ratelimit-Limit-Tokens", "800000")
	h.Set("X-Ratelimit-Remaining-Tokens", "799000")
	h.Set("X-Ratelimit-Reset-Tokens", "51s")
	return &cannedTransport{header: h, body: []byte(`{"id":"x","model":"claude-4-sonnet","choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":12,"completion_tokens":34}}`)}
}

func (c *cannedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{
		StatusCode: 200, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: c.header.Clone(), Body: io.NopCloser(bytes.NewReader(c.body)),
		ContentLength: int64(len(c.body)), Request: r,
	}, nil
}

func benchProxy(b *testing.B, opts Options) {
	u, _ := url.Parse("https://inference.example/base")
	d, _ := parsers.Lookup("heroku")
	cfg := &config.Config{Providers: []config.Provider{{Name: "heroku-us", Family: "heroku", Dialect: d, Upstream: u}}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	coll := collector.New(collector.Options{Logger: log})
	coll.SetProviders([]collector.Provider{{Name: "heroku-us", Family: "heroku", Dialect: "heroku"}})
	opts.Logger = log
	opts.Transport = newCannedTransport()
	p := New(cfg, coll, opts)
	const body = `{"model":"claude-4-sonnet","messages":[{"role":"user","content":"Hello!"}],"max_tokens":20}`
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		req := httptest.NewRequest("POST", "/heroku-us/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
		w := httptest.NewRecorder()
		p.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	// CPU time of the whole process (GC and the export goroutine included)
	// per request: steadier than ns/op on a shared machine.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

// BenchmarkProxyTracingOff is the proxy path with tracing off (the default).
func BenchmarkProxyTracingOff(b *testing.B) { benchProxy(b, Options{}) }

// benchTracer is tracing as production runs it (batching processor, the
// configured sampler) with an exporter that discards.
func benchTracer(b *testing.B, sampler sdktrace.Sampler) *tracing.Tracer {
	p, err := tracing.New(b.Context(), tracing.Config{
		Enabled: true, Exporter: "otlp", Sampler: sampler, Propagators: []string{"tracecontext", "baggage"},
	}, tracing.Options{Exporter: tracetest.NewNoopExporter(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Shutdown(context.Background()) })
	return p.Tracer()
}

// BenchmarkProxyTracingOn records and exports (to a discarding exporter)
// one span per request.
func BenchmarkProxyTracingOn(b *testing.B) {
	benchProxy(b, Options{Tracer: benchTracer(b, sdktrace.AlwaysSample())})
}

// BenchmarkProxyTracingOnUnsampled has tracing on but the sampler drops
// every span (OTEL_TRACES_SAMPLER=always_off, or a ratio): context is still
// propagated upstream.
func BenchmarkProxyTracingOnUnsampled(b *testing.B) {
	benchProxy(b, Options{Tracer: benchTracer(b, sdktrace.NeverSample())})
}
