// Package otel is the tracing end-to-end test: client → Headroom (the real
// agent) → fakeprovider, with Headroom exporting its spans over OTLP gRPC and
// OTLP/HTTP to a real OpenTelemetry Collector (built by
// scripts/deps/otelcol.sh), which re-exports them over OTLP/HTTP to a receiver
// in this test that decodes the protobuf. What the test checks is what the
// collector received, after its own decoding and re-encoding.
package otel

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"go/build"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/headroomhq/headroom/catalog"
	"github.com/headroomhq/headroom/fakeprovider"
	"github.com/headroomhq/headroom/internal/agent"
	"github.com/headroomhq/headroom/internal/testenv"
	"github.com/headroomhq/headroom/internal/testtool"
	"github.com/headroomhq/headroom/keyid"
	"github.com/headroomhq/headroom/tracing"
)

const collectorBinary = "otelcol-headroom"

// findCollector returns the collector scripts/deps/otelcol.sh installs: on
// PATH, else in $GOBIN or $GOPATH/bin where the script puts it. Missing, the
// test fails under HEADROOM_REQUIRE_TOOLS=1 and is skipped otherwise.
func findCollector(t *testing.T) string {
	if p, err := exec.LookPath(collectorBinary); err == nil {
		return p
	}
	for _, dir := range []string{os.Getenv("GOBIN"), filepath.Join(build.Default.GOPATH, "bin")} {
		if p := filepath.Join(dir, collectorBinary); dir != "" && isExecutable(p) {
			return p
		}
	}
	return testtool.Require(t, collectorBinary)
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// sink is the OTLP/HTTP receiver the collector re-exports to.
type sink struct {
	mu   sync.Mutex
	reqs []*coltracepb.ExportTraceServiceRequest
	raw  [][]byte
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
		http.NotFound(w, r)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req := &coltracepb.ExportTraceServiceRequest{}
	if err := proto.Unmarshal(b, req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.reqs = append(s.reqs, req)
	s.raw = append(s.raw, b)
	s.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

type receivedSpan struct {
	span     *tracepb.Span
	resource map[string]string
	scope    string
}

// spans returns the spans received for a service.name.
func (s *sink) spans(service string) []receivedSpan {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []receivedSpan
	for _, req := range s.reqs {
		for _, rs := range req.GetResourceSpans() {
			res := attrs(rs.GetResource().GetAttributes())
			if res["service.name"] != service {
				continue
			}
			for _, ss := range rs.GetScopeSpans() {
				for _, sp := range ss.GetSpans() {
					out = append(out, receivedSpan{span: sp, resource: res, scope: ss.GetScope().GetName()})
				}
			}
		}
	}
	return out
}

func (s *sink) rawContains(needle string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.raw {
		if bytes.Contains(b, []byte(needle)) {
			return true
		}
	}
	return false
}

// attrs renders OTLP attributes as strings (arrays as [a b]).
func attrs(kvs []*commonpb.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		m[kv.GetKey()] = anyString(kv.GetValue())
	}
	return m
}

func anyString(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return fmt.Sprint(x.IntValue)
	case *commonpb.AnyValue_DoubleValue:
		return fmt.Sprint(x.DoubleValue)
	case *commonpb.AnyValue_BoolValue:
		return fmt.Sprint(x.BoolValue)
	case *commonpb.AnyValue_ArrayValue:
		var parts []string
		for _, e := range x.ArrayValue.GetValues() {
			parts = append(parts, anyString(e))
		}
		return "[" + strings.Join(parts, " ") + "]"
	}
	return fmt.Sprint(v)
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type collectorProc struct {
	grpc, http string
	logs       *testenv.LogBuffer
}

// startCollector runs the collector with collector.yaml, exporting to sk.
func startCollector(t *testing.T, bin string, sk *sink) *collectorProc {
	t.Helper()
	sinkSrv := httptest.NewServer(sk)
	t.Cleanup(sinkSrv.Close)
	c := &collectorProc{grpc: freePort(t), http: freePort(t), logs: &testenv.LogBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--config", "collector.yaml")
	cmd.Env = append(os.Environ(), "HEADROOM_E2E_GRPC="+c.grpc, "HEADROOM_E2E_HTTP="+c.http, "HEADROOM_E2E_SINK="+sinkSrv.URL)
	cmd.Stdout, cmd.Stderr = c.logs, c.logs
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cancel()
		<-exited
		if t.Failed() {
			t.Logf("collector output:\n%s", c.logs.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(c.logs.String(), "Everything is ready") {
		select {
		case <-exited:
			t.Fatalf("collector exited:\n%s", c.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("collector not ready after 30s:\n%s", c.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return c
}

// capture records the traceparent each upstream request carried.
type capture struct {
	h  http.Handler
	mu sync.Mutex
	tp []string
}

func (c *capture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.tp = append(c.tp, r.Header.Get("Traceparent"))
	c.mu.Unlock()
	c.h.ServeHTTP(w, r)
}

// runAgent starts the real agent for one heroku-us fakeprovider allowing one
// request a minute, with the OTEL_* environment in env.
func runAgent(t *testing.T, env map[string]string) (*agent.Agent, *capture, *testenv.LogBuffer) {
	t.Helper()
	for _, k := range []string{"OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
		"OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG", "OTEL_PROPAGATORS", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_SEMCONV_STABILITY_OPT_IN",
		"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_INSECURE"} {
		t.Setenv(k, "")
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	capt := &capture{h: fakeprovider.New(fakeprovider.Options{Provider: "heroku-us",
		Limits: []catalog.Limit{{Resource: "requests", Window: "1m", Value: 1}}})}
	up := httptest.NewServer(capt)
	t.Cleanup(up.Close)
	logs := &testenv.LogBuffer{}
	a := testenv.Start(t, testenv.Options{
		ProvidersYAML: "providers:\n  - name: heroku-us\n    upstream: " + up.URL + "\n",
		Logger:        testenv.DebugLogger(logs),
		// The tests shut down themselves: the shutdown flushes the spans,
		// and TestDeadCollector times it.
		ManualShutdown: true,
	})
	return a, capt, logs
}

func call(t *testing.T, a *agent.Agent, traceparent, secret string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+a.ProxyAddr+"/heroku-us/v1/chat/completions",
		strings.NewReader(`{"model":"claude-4-sonnet","messages":[{"role":"user","content":"PROMPT-TEXT-must-not-be-traced"}],"max_tokens":20}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("Traceparent", traceparent)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func shutdown(t *testing.T, a *agent.Agent) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	begin := time.Now()
	a.Shutdown(ctx)
	return time.Since(begin)
}

func metric(t *testing.T, a *agent.Agent, name, label, value string) float64 {
	t.Helper()
	mfs, err := a.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if label == "" || (l.GetName() == label && l.GetValue() == value) {
					return m.GetCounter().GetValue()
				}
			}
			if label == "" {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no %s{%s=%q}", name, label, value)
	return 0
}

// TestCollectorReceivesSpans exports over OTLP gRPC and OTLP/HTTP to a real
// collector and checks every span it received: names, kinds, parent links
// both ways, GenAI/HTTP attributes, the rate-limit namespace, the
// rate_limited event, the resource, and that neither the API key nor the
// prompt reached the collector.
func TestCollectorReceivesSpans(t *testing.T) {
	bin := findCollector(t)
	sk := &sink{}
	col := startCollector(t, bin, sk)
	for _, proto := range []struct{ name, endpoint string }{
		{"grpc", "http://" + col.grpc},
		{"http/protobuf", "http://" + col.http},
	} {
		t.Run(proto.name, func(t *testing.T) {
			service := "headroom-e2e-" + strings.ReplaceAll(proto.name, "/", "-")
			secret := "sk-e2e-SECRET-" + strings.ReplaceAll(proto.name, "/", "-")
			a, capt, logs := runAgent(t, map[string]string{
				"OTEL_EXPORTER_OTLP_ENDPOINT":   proto.endpoint,
				"OTEL_EXPORTER_OTLP_PROTOCOL":   proto.name,
				"OTEL_SERVICE_NAME":             service,
				"OTEL_BSP_SCHEDULE_DELAY":       "50",
				tracing.ResponseHeadersEnv:      "x-ratelimit-remaining-requests,authorization,x-api-key",
				"OTEL_RESOURCE_ATTRIBUTES":      "deployment.environment.name=e2e",
				"OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental",
			})
			const traceID = "0af7651916cd43dd8448eb211c80319c"
			parents := []string{"b7ad6b7169203331", "b7ad6b7169203332"}
			if s := call(t, a, "00-"+traceID+"-"+parents[0]+"-01", secret); s != 200 {
				t.Fatalf("first call: %d", s)
			}
			if s := call(t, a, "00-"+traceID+"-"+parents[1]+"-01", secret); s != 429 {
				t.Fatalf("second call: %d", s)
			}
			shutdown(t, a) // flushes the spans
			var got []receivedSpan
			deadline := time.Now().Add(20 * time.Second)
			for len(got) < 2 {
				if time.Now().After(deadline) {
					t.Fatalf("collector re-exported %d spans for %s\nagent logs:\n%s", len(got), service, logs.String())
				}
				time.Sleep(50 * time.Millisecond)
				got = sk.spans(service)
			}
			if len(got) != 2 {
				t.Fatalf("%d spans, want 2", len(got))
			}
			if exported := metric(t, a, "headroom_tracing_spans_exported_total", "", ""); exported != 2 {
				t.Errorf("headroom_tracing_spans_exported_total %v", exported)
			}
			byParent := map[string]*tracepb.Span{}
			for _, g := range got {
				if g.scope != "github.com/headroomhq/headroom" || g.resource["deployment.environment.name"] != "e2e" || g.resource["telemetry.sdk.language"] != "go" {
					t.Errorf("scope %q resource %v", g.scope, g.resource)
				}
				byParent[fmt.Sprintf("%x", g.span.GetParentSpanId())] = g.span
			}
			for i, parent := range parents {
				sp := byParent[parent]
				if sp == nil {
					t.Fatalf("no span with parent %s among %v", parent, byParent)
				}
				if fmt.Sprintf("%x", sp.GetTraceId()) != traceID || sp.GetName() != "chat claude-4-sonnet" || sp.GetKind() != tracepb.Span_SPAN_KIND_CLIENT {
					t.Errorf("span %d: trace %x name %q kind %v", i, sp.GetTraceId(), sp.GetName(), sp.GetKind())
				}
				// The upstream request's parent is the span the collector got.
				wantTP := fmt.Sprintf("00-%s-%x-01", traceID, sp.GetSpanId())
				if capt.tp[i] != wantTP {
					t.Errorf("upstream %d traceparent %q, want %q", i, capt.tp[i], wantTP)
				}
				at := attrs(sp.GetAttributes())
				for k, v := range map[string]string{
					"gen_ai.operation.name":                               "chat",
					"gen_ai.provider.name":                                "heroku",
					"gen_ai.request.model":                                "claude-4-sonnet",
					"http.request.method":                                 "POST",
					"server.address":                                      "127.0.0.1",
					"headroom.provider":                                   "heroku-us",
					"headroom.key":                                        keyid.Fingerprint(secret),
					"headroom.ratelimit.requests.1m.limit":                "1",
					"headroom.ratelimit.requests.1m.remaining":            "0",
					"headroom.ratelimit.tokens.1m.limit":                  "800000",
					"http.response.header.x-ratelimit-remaining-requests": "[0]",
				} {
					if at[k] != v {
						t.Errorf("span %d: %s = %q, want %q", i, k, at[k], v)
					}
				}
				if _, ok := at["gen_ai.system"]; ok {
					t.Errorf("span %d: gen_ai.system emitted under gen_ai_latest_experimental", i)
				}
				if at["headroom.ratelimit.requests.1m.reset"] == "" {
					t.Errorf("span %d: no reset", i)
				}
			}
			ok, limited := attrs(byParent[parents[0]].GetAttributes()), byParent[parents[1]]
			if ok["http.response.status_code"] != "200" || ok["gen_ai.response.model"] != "claude-4-sonnet" || ok["gen_ai.usage.input_tokens"] == "" || ok["gen_ai.usage.output_tokens"] == "" || ok["error.type"] != "" {
				t.Errorf("successful span: %v", ok)
			}
			la := attrs(limited.GetAttributes())
			if la["http.response.status_code"] != "429" || la["error.type"] != "429" || la["headroom.ratelimit.throttled_resource"] != "requests" || la["headroom.ratelimit.retry_after"] == "" {
				t.Errorf("throttled span: %v", la)
			}
			if limited.GetStatus().GetCode() != tracepb.Status_STATUS_CODE_ERROR {
				t.Errorf("throttled span status %v", limited.GetStatus())
			}
			ev := limited.GetEvents()
			if len(ev) != 1 || ev[0].GetName() != "rate_limited" || attrs(ev[0].GetAttributes())["headroom.ratelimit.resource"] != "requests" {
				t.Errorf("throttled span events %v", ev)
			}
			for _, needle := range []string{secret, "PROMPT-TEXT", "Bearer"} {
				if sk.rawContains(needle) {
					t.Errorf("%q reached the collector", needle)
				}
			}
			// The collector decoded the spans itself: its debug exporter
			// printed them.
			if !strings.Contains(col.logs.String(), "headroom.ratelimit.requests.1m.remaining") {
				t.Error("collector's debug output lacks the rate-limit attributes")
			}
		})
	}
}

// TestDeadCollector: with nothing listening at the OTLP endpoint, proxied
// requests are not slowed, shutdown keeps its deadline and the lost spans
// are counted.
func TestDeadCollector(t *testing.T) {
	dead := freePort(t) // closed again: connections are refused
	a, _, _ := runAgent(t, map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT":    "http://" + dead,
		"OTEL_EXPORTER_OTLP_PROTOCOL":    "grpc",
		"OTEL_EXPORTER_OTLP_TIMEOUT":     "300",
		"OTEL_BSP_SCHEDULE_DELAY":        "20",
		"OTEL_BSP_EXPORT_TIMEOUT":        "300",
		"OTEL_BSP_MAX_QUEUE_SIZE":        "4",
		"OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "2",
	})
	begin := time.Now()
	const n = 40
	for i := 0; i < n; i++ {
		if s := call(t, a, fmt.Sprintf("00-0af7651916cd43dd8448eb211c80319c-%016x-01", i+1), "sk-dead"); s != 200 && s != 429 {
			t.Fatalf("call %d: status %d", i, s)
		}
	}
	calls := time.Since(begin)
	if calls > 5*time.Second {
		t.Errorf("%d calls took %v with a dead collector", n, calls)
	}
	sd := shutdown(t, a)
	if sd > 7*time.Second {
		t.Errorf("shutdown took %v", sd)
	}
	failed := metric(t, a, "headroom_tracing_spans_dropped_total", "reason", "export_failed")
	full := metric(t, a, "headroom_tracing_spans_dropped_total", "reason", "queue_full")
	shut := metric(t, a, "headroom_tracing_spans_dropped_total", "reason", "shutdown")
	if failed == 0 || failed+full+shut != n || metric(t, a, "headroom_tracing_spans_exported_total", "", "") != 0 {
		t.Errorf("dropped: export_failed %v queue_full %v shutdown %v, want %d in all", failed, full, shut, n)
	}
	t.Logf("%d calls in %v, shutdown in %v; dropped: export_failed %v, queue_full %v, shutdown %v", n, calls, sd, failed, full, shut)
}
