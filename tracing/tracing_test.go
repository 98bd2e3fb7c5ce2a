package tracing

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/headroomhq/headroom/parsers"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfigFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name     string
		env      map[string]string
		enabled  bool
		exporter string
		err      string
	}{
		{name: "nothing set: off", env: nil},
		{name: "endpoint turns it on, otlp", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, enabled: true, exporter: "otlp"},
		{name: "traces endpoint", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, enabled: true, exporter: "otlp"},
		{name: "exporter otlp", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, enabled: true, exporter: "otlp"},
		{name: "exporter console", env: map[string]string{"OTEL_TRACES_EXPORTER": "console"}, enabled: true, exporter: "console"},
		{name: "exporter none", env: map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, exporter: "none"},
		{name: "sdk disabled wins", env: map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}},
		{name: "sdk disabled false", env: map[string]string{"OTEL_SDK_DISABLED": "false", "OTEL_TRACES_EXPORTER": "console"}, enabled: true, exporter: "console"},
		{name: "bad sampler", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_TRACES_SAMPLER": "sometimes"}, err: "OTEL_TRACES_SAMPLER"},
		{name: "bad ratio", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"}, err: "OTEL_TRACES_SAMPLER_ARG"},
		{name: "bad propagator", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_PROPAGATORS": "b3"}, err: "OTEL_PROPAGATORS"},
		{name: "bad queue", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_BSP_MAX_QUEUE_SIZE": "-1"}, err: "OTEL_BSP_MAX_QUEUE_SIZE"},
		{name: "bad disabled", env: map[string]string{"OTEL_SDK_DISABLED": "maybe"}, err: "OTEL_SDK_DISABLED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ConfigFromEnv(envOf(tc.env))
			if wantError(t, err, tc.err) {
				return
			}
			if c.Enabled != tc.enabled || c.Exporter != tc.exporter {
				t.Errorf("enabled %v exporter %q, want %v %q", c.Enabled, c.Exporter, tc.enabled, tc.exporter)
			}
		})
	}
}

// wantError fails t unless err names want (or, for an empty want, unless
// err is nil), and reports whether an error was wanted.
func wantError(t *testing.T, err error, want string) bool {
	t.Helper()
	switch {
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Fatalf("error %v, want one naming %s", err, want)
	case want == "" && err != nil:
		t.Fatal(err)
	}
	return want != ""
}

func TestConfigFromEnvDetails(t *testing.T) {
	c, err := ConfigFromEnv(envOf(map[string]string{
		"OTEL_TRACES_EXPORTER":           "console",
		"OTEL_TRACES_SAMPLER":            "parentbased_traceidratio",
		"OTEL_TRACES_SAMPLER_ARG":        "0.25",
		"OTEL_PROPAGATORS":               "tracecontext",
		"OTEL_BSP_MAX_QUEUE_SIZE":        "100",
		"OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "512",
		"OTEL_BSP_SCHEDULE_DELAY":        "250",
		"OTEL_BSP_EXPORT_TIMEOUT":        "2000",
		"OTEL_SEMCONV_STABILITY_OPT_IN":  "http,gen_ai_latest_experimental",
		ResponseHeadersEnv:               "x-ratelimit-remaining-requests,Authorization, X-Api-Key ,x-goog-api-key,set-cookie,retry-after,bad header",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Exporter != "console" || fmt.Sprint(c.Propagators) != "[tracecontext]" {
		t.Errorf("exporter %v propagators %v", c.Exporter, c.Propagators)
	}
	if !strings.Contains(c.Sampler.Description(), "TraceIDRatioBased{0.25}") || c.SamplerName != "parentbased_traceidratio" {
		t.Errorf("sampler %s", c.Sampler.Description())
	}
	if c.MaxQueueSize != 100 || c.MaxExportBatchSize != 100 || c.ScheduleDelay != 250*time.Millisecond || c.ExportTimeout != 2*time.Second {
		t.Errorf("batching %+v", c)
	}
	if !c.Semconv.GenAILatestOnly || c.Semconv.HTTPDup {
		t.Errorf("semconv %+v", c.Semconv)
	}
	if fmt.Sprint(c.ResponseHeaders) != "[X-Ratelimit-Remaining-Requests Retry-After]" {
		t.Errorf("allowed %v", c.ResponseHeaders)
	}
	if fmt.Sprint(c.DeniedHeaders) != "[authorization x-api-key x-goog-api-key set-cookie bad header]" {
		t.Errorf("denied %v", c.DeniedHeaders)
	}
	// Defaults when only enabled.
	c, _ = ConfigFromEnv(envOf(map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}))
	if c.SamplerName != "parentbased_always_on" || fmt.Sprint(c.Propagators) != "[tracecontext baggage]" || c.MaxQueueSize != 2048 || c.MaxExportBatchSize != 512 {
		t.Errorf("defaults %+v", c)
	}
}

func newRecorded(t *testing.T, o TracerOptions) (*Tracer, *tracetest.SpanRecorder) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	return NewTracer(tp, o), rec
}

func attrMap(kvs []attribute.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.Emit()
	}
	return m
}

// RecordCall turns a call that already happened (a log line, a probe) into
// a span with the call's own times.
func TestRecordCall(t *testing.T) {
	tr, rec := newRecorded(t, TracerOptions{})
	start := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	u, _ := url.Parse("https://user:pw@inference.example:8443/v1/chat/completions?key=sk-SECRET&api-version=2024-10-21&sk-BARE")
	res := &parsers.Result{
		Observations: []parsers.Observation{
			{Resource: "requests", Window: "1m", Limit: 150, Remaining: 0, HasLimit: true, HasRemaining: true, Reset: start.Add(2*time.Second + 51*time.Second)},
			{Resource: "tokens", Window: "1m", Remaining: 799000, HasRemaining: true},
			{Resource: "concurrency", Window: "none", Limit: 5, HasLimit: true},
		},
		RetryAfter: 12 * time.Second, HasRetryAfter: true, ThrottledResource: "requests",
	}
	parent := tr.ContextWithTraceparent(context.Background(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "")
	sc := RecordCall(parent, tr, CallInfo{
		Provider: "heroku-eu", Family: "heroku", Source: "tail", Model: "claude-4-sonnet", ResponseModel: "claude-4-sonnet-20250514",
		Key: "k-3f9a1c0b27de", URL: u, Start: start, Received: start.Add(2 * time.Second), End: start.Add(3 * time.Second),
		Status: 429, Result: res, InputTokens: 12, OutputTokens: 34,
	})
	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	s := spans[0]
	if s.SpanContext().SpanID() != sc.SpanID() || s.Name() != "chat claude-4-sonnet" || s.SpanKind() != trace.SpanKindClient {
		t.Errorf("span %q kind %v", s.Name(), s.SpanKind())
	}
	if !s.StartTime().Equal(start) || !s.EndTime().Equal(start.Add(3*time.Second)) {
		t.Errorf("times %v – %v", s.StartTime(), s.EndTime())
	}
	if s.Parent().SpanID().String() != "00f067aa0ba902b7" || s.SpanContext().TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("parent %v", s.Parent())
	}
	got := attrMap(s.Attributes())
	for k, v := range map[string]string{
		"gen_ai.operation.name":                     "chat",
		"gen_ai.provider.name":                      "heroku",
		"gen_ai.system":                             "heroku",
		"gen_ai.request.model":                      "claude-4-sonnet",
		"gen_ai.response.model":                     "claude-4-sonnet-20250514",
		"gen_ai.usage.input_tokens":                 "12",
		"gen_ai.usage.output_tokens":                "34",
		"http.request.method":                       "POST",
		"http.response.status_code":                 "429",
		"error.type":                                "429",
		"server.address":                            "inference.example",
		"server.port":                               "8443",
		"url.full":                                  "https://inference.example:8443/v1/chat/completions?key=REDACTED&api-version=2024-10-21&REDACTED",
		"headroom.provider":                         "heroku-eu",
		"headroom.source":                           "tail",
		"headroom.key":                              "k-3f9a1c0b27de",
		"headroom.ratelimit.requests.1m.limit":      "150",
		"headroom.ratelimit.requests.1m.remaining":  "0",
		"headroom.ratelimit.requests.1m.reset":      "51",
		"headroom.ratelimit.tokens.1m.remaining":    "799000",
		"headroom.ratelimit.concurrency.none.limit": "5",
		"headroom.ratelimit.retry_after":            "12",
		"headroom.ratelimit.throttled_resource":     "requests",
	} {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	for _, k := range []string{"headroom.ratelimit.tokens.1m.limit", "headroom.ratelimit.tokens.1m.reset", "gen_ai.request.stream"} {
		if _, ok := got[k]; ok {
			t.Errorf("unexpected %s", k)
		}
	}
	for k, v := range got {
		if strings.Contains(v, "SECRET") || strings.Contains(v, "pw") || strings.Contains(v, "user") {
			t.Errorf("%s = %q leaks the URL's credentials", k, v)
		}
	}
	if s.Status().Code != codes.Error {
		t.Errorf("status %v", s.Status())
	}
	ev := s.Events()
	if len(ev) != 1 || ev[0].Name != "rate_limited" || !ev[0].Time.Equal(start.Add(2*time.Second)) {
		t.Fatalf("events %+v", ev)
	}
	if e := attrMap(ev[0].Attributes); e["headroom.ratelimit.resource"] != "requests" || e["headroom.ratelimit.retry_after"] != "12" {
		t.Errorf("event attributes %v", e)
	}
}

func TestRecordCallVariants(t *testing.T) {
	if sc := RecordCall(context.Background(), nil, CallInfo{Start: time.Now()}); sc.IsValid() {
		t.Error("nil tracer recorded a span")
	}
	tr, rec := newRecorded(t, TracerOptions{Semconv: Semconv{GenAILatestOnly: true}})
	start := time.Now()
	// A probe of a models endpoint: not inference, a plain HTTP span.
	u, _ := url.Parse("http://gateway.internal/v1/models")
	RecordCall(context.Background(), tr, CallInfo{Provider: "gw", Family: "openai", Source: "probe", Method: "GET", URL: u, Start: start, Status: 200})
	// A 429 the dialect cannot attribute, no end time.
	RecordCall(context.Background(), tr, CallInfo{Provider: "az", Family: "azure-openai", Operation: "embeddings", Model: "text-embedding-3", Start: start, Status: 429, Result: &parsers.Result{}})
	// A timeout without a status.
	RecordCall(context.Background(), tr, CallInfo{Provider: "m", Family: "mistral", Model: strings.Repeat("x", 300), Start: start, ErrorType: "timeout"})
	s := rec.Ended()
	if len(s) != 3 {
		t.Fatalf("%d spans", len(s))
	}
	a0, a1, a2 := attrMap(s[0].Attributes()), attrMap(s[1].Attributes()), attrMap(s[2].Attributes())
	if s[0].Name() != "GET" || a0["gen_ai.operation.name"] != "" || a0["gen_ai.provider.name"] != "" || a0["server.port"] != "80" || a0["headroom.source"] != "probe" || s[0].Status().Code == codes.Error {
		t.Errorf("models probe: %q %v %v", s[0].Name(), a0, s[0].Status())
	}
	if s[1].Name() != "embeddings text-embedding-3" || a1["gen_ai.provider.name"] != "azure.ai.openai" || a1["gen_ai.system"] != "" || a1["headroom.ratelimit.throttled_resource"] != "unknown" {
		t.Errorf("embeddings: %q %v", s[1].Name(), a1)
	}
	if ev := s[1].Events(); len(ev) != 1 || attrMap(ev[0].Attributes)["headroom.ratelimit.resource"] != "unknown" || !s[1].EndTime().Equal(start) {
		t.Errorf("embeddings events %+v end %v", ev, s[1].EndTime())
	}
	if a2["error.type"] != "timeout" || a2["http.response.status_code"] != "" || len(a2["gen_ai.request.model"]) != 256 || a2["gen_ai.provider.name"] != "mistral_ai" {
		t.Errorf("timeout: %v", a2)
	}
}

func TestOperation(t *testing.T) {
	for _, tc := range [][3]string{
		{"POST", "/v1/chat/completions", "chat"},
		{"POST", "/openai/deployments/gpt-4o/chat/completions", "chat"},
		{"POST", "/v1/messages", "chat"},
		{"POST", "/v1/responses", "chat"},
		{"POST", "/v1/completions", "text_completion"},
		{"POST", "/v1/embeddings", "embeddings"},
		{"POST", "/v1/predictions", "generate_content"},
		{"POST", "/v1beta/models/gemini-2.0-flash:generateContent", "generate_content"},
		{"GET", "/v1/chat/completions", ""},
		{"POST", "/v1/files", ""},
	} {
		if got := Operation(tc[0], tc[1]); got != tc[2] {
			t.Errorf("%s %s: %q, want %q", tc[0], tc[1], got, tc[2])
		}
	}
}

// blockingExporter blocks every export until released, like a collector
// that accepts connections and never answers.
type blockingExporter struct {
	release chan struct{}
	mu      sync.Mutex
	got     int
	err     error
}

func (e *blockingExporter) ExportSpans(ctx context.Context, s []sdktrace.ReadOnlySpan) error {
	select {
	case <-e.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err != nil {
		return e.err
	}
	e.got += len(s)
	return nil
}

func (e *blockingExporter) Shutdown(context.Context) error { return nil }

func (e *blockingExporter) count() int { e.mu.Lock(); defer e.mu.Unlock(); return e.got }

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// A collector that never answers: ending spans never blocks, the overflow is
// counted, and Shutdown returns at its deadline.
func TestSlowCollectorNeverBlocks(t *testing.T) {
	exp := &blockingExporter{release: make(chan struct{})}
	m := NewMetrics()
	p, err := New(context.Background(), Config{Enabled: true, Exporter: "otlp", MaxQueueSize: 10, MaxExportBatchSize: 5, ScheduleDelay: time.Hour, ExportTimeout: time.Hour},
		Options{Exporter: exp, Metrics: m, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	tr := p.Tracer()
	begin := time.Now()
	for i := 0; i < 1000; i++ {
		RecordCall(context.Background(), tr, CallInfo{Provider: "p", Family: "openai", Model: "m", Start: time.Now()})
	}
	if d := time.Since(begin); d > time.Second {
		t.Errorf("1000 spans took %v with a stuck exporter", d)
	}
	// The loop holds what it took (up to a queue's worth, one batch stuck
	// in ExportSpans) and 10 more wait in the queue: at most 20 kept.
	full := testutil.ToFloat64(m.Dropped.WithLabelValues(DropQueueFull))
	if full < 1000-20 || full > 1000-10 {
		t.Errorf("queue_full drops %v", full)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	begin = time.Now()
	if err := p.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("shutdown: %v", err)
	}
	if d := time.Since(begin); d > time.Second {
		t.Errorf("shutdown took %v past its deadline", d)
	}
	close(exp.release) // the stuck export finishes; the rest is dropped
	deadline := time.Now().Add(5 * time.Second)
	for {
		total := testutil.ToFloat64(m.Dropped.WithLabelValues(DropQueueFull)) + testutil.ToFloat64(m.Dropped.WithLabelValues(DropShutdown)) + testutil.ToFloat64(m.Exported)
		if total == 1000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dropped+exported = %v, want 1000", total)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := testutil.ToFloat64(m.Exported); got != float64(exp.count()) {
		t.Errorf("exported metric %v, exporter got %d", got, exp.count())
	}
}

func TestExportFailuresCounted(t *testing.T) {
	exp := &blockingExporter{release: make(chan struct{}), err: errors.New("connection refused")}
	close(exp.release)
	m := NewMetrics()
	p, _ := New(context.Background(), Config{Enabled: true, Exporter: "otlp"}, Options{Exporter: exp, Metrics: m, Logger: quiet()})
	for i := 0; i < 7; i++ {
		RecordCall(context.Background(), p.Tracer(), CallInfo{Start: time.Now()})
	}
	if err := p.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(m.Dropped.WithLabelValues(DropExportFailed)); got != 7 {
		t.Errorf("export_failed %v, want 7", got)
	}
	exp.err = nil
	RecordCall(context.Background(), p.Tracer(), CallInfo{Start: time.Now()})
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(m.Exported); got != 1 {
		t.Errorf("exported %v, want 1", got)
	}
}

func TestProviderOffInstallsNothing(t *testing.T) {
	p, err := New(context.Background(), Config{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Tracer() != nil || p.Enabled() || p.Shutdown(context.Background()) != nil || p.Metrics() == nil {
		t.Error("tracing off still installed something")
	}
	var nilp *Provider
	if nilp.Tracer() != nil || nilp.Shutdown(context.Background()) != nil {
		t.Error("nil provider")
	}
}

func TestProviderResourceAndSampler(t *testing.T) {
	t.Setenv("OTEL_SERVICE_NAME", "")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=test")
	exp := tracetest.NewInMemoryExporter()
	p, err := New(context.Background(), Config{Enabled: true, Exporter: "otlp", Sampler: sdktrace.ParentBased(sdktrace.NeverSample())},
		Options{Exporter: exp, Version: "1.2.3", Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	tr := p.Tracer()
	RecordCall(context.Background(), tr, CallInfo{Start: time.Now()}) // root: sampled out
	RecordCall(tr.ContextWithTraceparent(context.Background(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "v=1"), tr, CallInfo{Start: time.Now()})
	p.ForceFlush(context.Background()) // (Shutdown would clear the in-memory exporter)
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans exported, want the one with a sampled parent", len(spans))
	}
	res := attrMap(spans[0].Resource.Attributes())
	if res["service.name"] != "headroom" || res["service.version"] != "1.2.3" || res["deployment.environment.name"] != "test" || res["telemetry.sdk.language"] != "go" {
		t.Errorf("resource %v", res)
	}
	if spans[0].SpanContext.TraceState().Get("v") != "1" || spans[0].InstrumentationScope.Name != "github.com/headroomhq/headroom" {
		t.Errorf("tracestate %v scope %v", spans[0].SpanContext.TraceState(), spans[0].InstrumentationScope)
	}

	t.Setenv("OTEL_SERVICE_NAME", "llm-egress")
	exp = tracetest.NewInMemoryExporter()
	p, _ = New(context.Background(), Config{Enabled: true, Exporter: "otlp"}, Options{Exporter: exp, Logger: quiet()})
	RecordCall(context.Background(), p.Tracer(), CallInfo{Start: time.Now()})
	p.ForceFlush(context.Background())
	if s := exp.GetSpans(); len(s) != 1 || attrMap(s[0].Resource.Attributes())["service.name"] != "llm-egress" {
		t.Errorf("OTEL_SERVICE_NAME not applied: %v", s)
	}
	p.Shutdown(context.Background())
}

func TestRateLimitKeysCached(t *testing.T) {
	l, r, x := RateLimitKeys("input_tokens", "1m")
	if l != "headroom.ratelimit.input_tokens.1m.limit" || r != "headroom.ratelimit.input_tokens.1m.remaining" || x != "headroom.ratelimit.input_tokens.1m.reset" {
		t.Errorf("%s %s %s", l, r, x)
	}
	if n := testing.AllocsPerRun(100, func() { RateLimitKeys("input_tokens", "1m") }); n != 0 {
		t.Errorf("%v allocations per cached lookup", n)
	}
	if l, _, _ := RateLimitKeys("we!rd", "1 m"); l != "headroom.ratelimit.we_rd.1_m.limit" {
		t.Errorf("%s", l)
	}
}

// BenchmarkRecordCall is the cost of one span (start, attributes from a
// response with two rate-limit windows, end, batching) without the proxy.
func BenchmarkRecordCall(b *testing.B) {
	p, _ := New(context.Background(), Config{Enabled: true, Exporter: "otlp", Sampler: sdktrace.AlwaysSample()},
		Options{Exporter: tracetest.NewNoopExporter(), Logger: quiet()})
	defer p.Shutdown(context.Background())
	tr := p.Tracer()
	u, _ := url.Parse("https://inference.example/v1/chat/completions")
	now := time.Now()
	res := &parsers.Result{Observations: []parsers.Observation{
		{Resource: "requests", Window: "1m", Limit: 150, Remaining: 149, HasLimit: true, HasRemaining: true, Reset: now.Add(51 * time.Second)},
		{Resource: "tokens", Window: "1m", Limit: 800000, Remaining: 799000, HasLimit: true, HasRemaining: true, Reset: now.Add(51 * time.Second)},
	}}
	c := CallInfo{Provider: "heroku-us", Family: "heroku", Model: "claude-4-sonnet", ResponseModel: "claude-4-sonnet", Key: "k-3f9a1c0b27de",
		URL: u, Start: now, Received: now, End: now, Status: 200, Result: res, InputTokens: 12, OutputTokens: 34}
	b.ReportAllocs()
	for b.Loop() {
		RecordCall(context.Background(), tr, c)
	}
}

// Every exporter autoexport builds from the environment comes up without
// a collector (nothing connects at start); values it does not know stop
// New with an error naming the variables.
func TestExportersFromEnv(t *testing.T) {
	for _, tc := range []struct {
		exporter, protocol, tracesProtocol string
		err                                string
	}{
		{exporter: "", protocol: ""}, // otlp over http/protobuf, the defaults
		{exporter: "otlp", protocol: "grpc"},
		{exporter: "otlp", protocol: "http/protobuf"},
		{exporter: "otlp", protocol: "http/json", tracesProtocol: "grpc"}, // the traces variant wins
		{exporter: "console"},
		{exporter: "zipkin", err: `OTEL_TRACES_EXPORTER="zipkin"`},
		{exporter: "otlp,console", err: `OTEL_TRACES_EXPORTER="otlp,console"`},
		{exporter: "otlp", protocol: "http/json", err: `OTEL_EXPORTER_OTLP_PROTOCOL="http/json"`},
	} {
		name := tc.exporter + "/" + tc.protocol + "/" + tc.tracesProtocol
		t.Run(name, func(t *testing.T) {
			t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
			for k, v := range map[string]string{"OTEL_TRACES_EXPORTER": tc.exporter, "OTEL_EXPORTER_OTLP_PROTOCOL": tc.protocol, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": tc.tracesProtocol} {
				t.Setenv(k, v)
				if v == "" {
					os.Unsetenv(k)
				}
			}
			c, err := ConfigFromEnv(os.Getenv)
			if err != nil || !c.Enabled {
				t.Fatalf("config %+v, %v", c, err)
			}
			p, err := New(context.Background(), c, Options{Logger: quiet()})
			if wantError(t, err, tc.err) {
				return
			}
			if p.Tracer() == nil {
				t.Fatal("no tracer")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			p.Shutdown(ctx)
			cancel()
		})
	}
}
