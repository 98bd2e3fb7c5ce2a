package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/headroomhq/headroom/catalog"
	"github.com/headroomhq/headroom/collector"
	"github.com/headroomhq/headroom/config"
	"github.com/headroomhq/headroom/fakeprovider"
	"github.com/headroomhq/headroom/keyid"
	"github.com/headroomhq/headroom/tracing"
)

// upstreamCapture wraps an upstream handler and records the trace headers
// each request carried.
type upstreamCapture struct {
	h  http.Handler
	mu sync.Mutex
	tp []string
	ts []string
}

func (u *upstreamCapture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.tp = append(u.tp, r.Header.Get("Traceparent"))
	u.ts = append(u.ts, r.Header.Get("Tracestate"))
	u.mu.Unlock()
	u.h.ServeHTTP(w, r)
}

func (u *upstreamCapture) traceparents() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.tp...)
}

type traced struct {
	proxy    *testServer
	upstream *httptest.Server
	capture  *upstreamCapture
	rec      *tracetest.SpanRecorder
}

// newTraced runs a proxy for the catalog provider name in front of handler,
// with tracing recorded in memory.
func newTraced(t *testing.T, name string, handler http.Handler, to tracing.TracerOptions) *traced {
	t.Helper()
	capt := &upstreamCapture{h: handler}
	up := httptest.NewServer(capt)
	t.Cleanup(up.Close)
	path := filepath.Join(t.TempDir(), "providers.yaml")
	os.WriteFile(path, fmt.Appendf(nil, "providers:\n  - name: %s\n    upstream: %s\n", name, up.URL), 0o600)
	cfg, err := config.Load(path, catalog.MustLoad())
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	coll := collector.New(collector.Options{Logger: log})
	pc := cfg.Providers[0]
	coll.SetProviders([]collector.Provider{{Name: pc.Name, Family: pc.Family, Dialect: pc.Dialect.Name(), PerKeyLimits: pc.PerKey, KnownModels: pc.Models}})
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { tp.Shutdown(t.Context()) })
	if to.Propagator == nil {
		to.Propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	}
	o := Options{Logger: log, Upstream: &Upstream{DialTimeout: 2 * time.Second, HeaderTimeout: 5 * time.Second}, Tracer: tracing.NewTracer(tp, to)}
	px := serve(t, New(cfg, coll, o))
	return &traced{proxy: px, upstream: up, capture: capt, rec: rec}
}

func (tr *traced) call(t *testing.T, provider, path, body, traceparent string, hdr ...string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", tr.proxy.URL+"/"+provider+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if traceparent != "" {
		req.Header.Set("Traceparent", traceparent)
		req.Header.Set("Tracestate", "vendor=abc")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// ended waits until n spans have ended (finish runs as the body closes,
// possibly just after the client has read it).
func (tr *traced) ended(t *testing.T, n int) []sdktrace.ReadOnlySpan {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := tr.rec.Ended()
		if len(s) >= n {
			if len(s) > n {
				t.Fatalf("%d spans, want %d", len(s), n)
			}
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d spans ended, want %d", len(s), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func attrs(s sdktrace.ReadOnlySpan) map[string]attribute.Value {
	m := map[string]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[string(kv.Key)] = kv.Value
	}
	return m
}

func wantAttr(t *testing.T, s sdktrace.ReadOnlySpan, key string, want any) {
	t.Helper()
	v, ok := attrs(s)[key]
	if !ok {
		t.Errorf("span %q: no %s; has %v", s.Name(), key, s.Attributes())
		return
	}
	if got := v.AsInterface(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("span %q: %s = %v (%T), want %v", s.Name(), key, got, got, want)
	}
}

func noAttr(t *testing.T, s sdktrace.ReadOnlySpan, key string) {
	t.Helper()
	if v, ok := attrs(s)[key]; ok {
		t.Errorf("span %q: unexpected %s = %v", s.Name(), key, v.Emit())
	}
}

// noSecret fails when secret appears in any attribute, event or resource.
func noSecret(t *testing.T, spans []sdktrace.ReadOnlySpan, secret string) {
	t.Helper()
	check := func(where string, kvs []attribute.KeyValue) {
		for _, kv := range kvs {
			if strings.Contains(string(kv.Key), secret) || strings.Contains(kv.Value.Emit(), secret) {
				t.Errorf("secret in %s attribute %s", where, kv.Key)
			}
		}
	}
	for _, s := range spans {
		if strings.Contains(s.Name(), secret) {
			t.Errorf("secret in span name %q", s.Name())
		}
		check("span", s.Attributes())
		check("resource", s.Resource().Attributes())
		for _, e := range s.Events() {
			check("event "+e.Name, e.Attributes)
		}
	}
}

// parseTraceparent returns trace and parent ids of a W3C traceparent.
func parseTraceparent(t *testing.T, tp string) (trace.TraceID, trace.SpanID) {
	t.Helper()
	sc := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(t.Context(), propagation.MapCarrier{"traceparent": tp}))
	if !sc.IsValid() {
		t.Fatalf("invalid traceparent %q", tp)
	}
	return sc.TraceID(), sc.SpanID()
}

// The seed providers: every one becomes spans with its normalised limits,
// parent/child links both ways, and the throttled-call event.
func TestTracingSeedProviders(t *testing.T) {
	for _, tc := range []struct {
		name, path, body, model, span, family string
		okStatus                              int
	}{
		{"heroku-us", "/v1/chat/completions", chat("claude-4-sonnet"), "claude-4-sonnet", "chat claude-4-sonnet", "heroku", 200},
		{"infercom", "/v1/chat/completions", chat("DeepSeek-V3.1"), "DeepSeek-V3.1", "chat DeepSeek-V3.1", "infercom", 200},
		{"sambanova", "/v1/chat/completions", chat("Meta-Llama-3.3-70B-Instruct"), "Meta-Llama-3.3-70B-Instruct", "chat Meta-Llama-3.3-70B-Instruct", "sambanova", 200},
		{"predictions", "/v1/predictions", `{"version":"v1","input":{"prompt":"a cat"}}`, "", "generate_content", "predictions", 201},
	} {
		t.Run(tc.name, func(t *testing.T) {
			secret := "sk-" + tc.name + "-SECRET-9f8e7d"
			fake := fakeprovider.New(fakeprovider.Options{Provider: tc.name,
				Limits: []catalog.Limit{{Resource: "requests", Window: "1m", Value: 1}}})
			tr := newTraced(t, tc.name, fake, tracing.TracerOptions{})
			const (
				traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
				parent1 = "00f067aa0ba902b7"
				parent2 = "00f067aa0ba902b8"
			)
			r1 := tr.call(t, tc.name, tc.path, tc.body, "00-"+traceID+"-"+parent1+"-01", "Authorization", "Bearer "+secret)
			r2 := tr.call(t, tc.name, tc.path, tc.body, "00-"+traceID+"-"+parent2+"-01", "Authorization", "Bearer "+secret)
			if r1.StatusCode != tc.okStatus || r2.StatusCode != 429 {
				t.Fatalf("statuses %d, %d; want %d, 429", r1.StatusCode, r2.StatusCode, tc.okStatus)
			}
			spans := tr.ended(t, 2)
			ups := tr.capture.traceparents()
			for i, s := range spans {
				if s.Name() != tc.span || s.SpanKind() != trace.SpanKindClient {
					t.Errorf("span %d: name %q kind %v", i, s.Name(), s.SpanKind())
				}
				// The caller's span is the parent…
				wantParent := []string{parent1, parent2}[i]
				if s.Parent().TraceID().String() != traceID || s.Parent().SpanID().String() != wantParent || !s.Parent().IsRemote() {
					t.Errorf("span %d: parent %v, want %s/%s", i, s.Parent(), traceID, wantParent)
				}
				if s.SpanContext().TraceID().String() != traceID {
					t.Errorf("span %d: trace %s", i, s.SpanContext().TraceID())
				}
				// …and the upstream request carries Headroom's span.
				upTrace, upParent := parseTraceparent(t, ups[i])
				if upTrace != s.SpanContext().TraceID() || upParent != s.SpanContext().SpanID() {
					t.Errorf("upstream %d got traceparent %s, want parent %s", i, ups[i], s.SpanContext().SpanID())
				}
				if !s.StartTime().Before(s.EndTime()) {
					t.Errorf("span %d: start %v end %v", i, s.StartTime(), s.EndTime())
				}
				u, _ := url.Parse(tr.upstream.URL)
				wantAttr(t, s, "gen_ai.provider.name", tc.family)
				wantAttr(t, s, "gen_ai.system", tc.family)
				wantAttr(t, s, "gen_ai.operation.name", strings.Fields(tc.span)[0])
				if tc.model != "" {
					wantAttr(t, s, "gen_ai.request.model", tc.model)
				} else {
					noAttr(t, s, "gen_ai.request.model")
				}
				wantAttr(t, s, "http.request.method", "POST")
				wantAttr(t, s, "server.address", u.Hostname())
				wantAttr(t, s, "server.port", u.Port())
				wantAttr(t, s, "url.full", tr.upstream.URL+tc.path)
				wantAttr(t, s, "headroom.provider", tc.name)
				wantAttr(t, s, "headroom.source", "proxy")
				wantAttr(t, s, "headroom.key", keyid.Fingerprint(secret))
				wantAttr(t, s, "headroom.ratelimit.requests.1m.limit", 1)
				wantAttr(t, s, "headroom.ratelimit.requests.1m.remaining", 0)
				if v, ok := attrs(s)["headroom.ratelimit.requests.1m.reset"]; !ok || v.AsFloat64() <= 0 || v.AsFloat64() > 60 {
					t.Errorf("span %d: reset %v", i, v.Emit())
				}
			}
			ok, throttled := spans[0], spans[1]
			wantAttr(t, ok, "http.response.status_code", tc.okStatus)
			noAttr(t, ok, "error.type")
			if ok.Status().Code == codes.Error || len(ok.Events()) != 0 {
				t.Errorf("successful call: status %v events %v", ok.Status(), ok.Events())
			}
			if tc.model != "" {
				wantAttr(t, ok, "gen_ai.response.model", tc.model)
				for _, k := range []string{"gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens"} {
					if v, found := attrs(ok)[k]; !found || v.AsInt64() <= 0 {
						t.Errorf("%s = %v", k, v.Emit())
					}
				}
			}
			wantAttr(t, throttled, "http.response.status_code", 429)
			wantAttr(t, throttled, "error.type", "429")
			wantAttr(t, throttled, "headroom.ratelimit.throttled_resource", "requests")
			if throttled.Status().Code != codes.Error {
				t.Errorf("429: span status %v", throttled.Status())
			}
			ra, hasRA := attrs(throttled)["headroom.ratelimit.retry_after"]
			if !hasRA || ra.AsFloat64() <= 0 {
				t.Errorf("429: retry_after %v", ra.Emit())
			}
			ev := throttled.Events()
			if len(ev) != 1 || ev[0].Name != "rate_limited" {
				t.Fatalf("429 events %v", ev)
			}
			evAttrs := map[string]string{}
			for _, kv := range ev[0].Attributes {
				evAttrs[string(kv.Key)] = kv.Value.Emit()
			}
			if evAttrs["headroom.ratelimit.resource"] != "requests" || evAttrs["headroom.ratelimit.retry_after"] != ra.Emit() {
				t.Errorf("rate_limited event attributes %v", evAttrs)
			}
			if ev[0].Time.Before(throttled.StartTime()) || ev[0].Time.After(throttled.EndTime()) {
				t.Errorf("event at %v outside the span", ev[0].Time)
			}
			noSecret(t, spans, secret)
		})
	}
}

func chat(model string) string {
	return `{"model":"` + model + `","messages":[{"role":"user","content":"Hello!"}],"max_tokens":20}`
}

// A request without a traceparent starts a new trace; upstream still gets
// Headroom's context.
func TestTracingRootSpan(t *testing.T) {
	tr := newTraced(t, "heroku-us", fakeprovider.New(fakeprovider.Options{Provider: "heroku-us"}), tracing.TracerOptions{})
	tr.call(t, "heroku-us", "/v1/chat/completions", chat("claude-4-sonnet"), "", "Authorization", "Bearer k")
	s := tr.ended(t, 1)[0]
	if s.Parent().IsValid() {
		t.Errorf("root span has parent %v", s.Parent())
	}
	tid, sid := parseTraceparent(t, tr.capture.traceparents()[0])
	if tid != s.SpanContext().TraceID() || sid != s.SpanContext().SpanID() {
		t.Errorf("upstream traceparent %s", tr.capture.traceparents()[0])
	}
}

func TestTracingSemconvOptIn(t *testing.T) {
	for _, tc := range []struct {
		optIn           string
		system, oldHTTP bool
	}{
		{"", true, false},
		{"gen_ai_latest_experimental", false, false},
		{"http/dup", true, true},
		{"database, gen_ai_latest_experimental,http/dup", false, true},
	} {
		t.Run(tc.optIn, func(t *testing.T) {
			tr := newTraced(t, "infercom", fakeprovider.New(fakeprovider.Options{Provider: "infercom"}), tracing.TracerOptions{Semconv: tracing.ParseSemconv(tc.optIn)})
			tr.call(t, "infercom", "/v1/chat/completions", chat("DeepSeek-V3.1"), "", "Authorization", "Bearer k")
			s := tr.ended(t, 1)[0]
			wantAttr(t, s, "gen_ai.provider.name", "infercom")
			wantAttr(t, s, "http.request.method", "POST")
			wantAttr(t, s, "http.response.status_code", 200)
			if _, ok := attrs(s)["gen_ai.system"]; ok != tc.system {
				t.Errorf("gen_ai.system present %v, want %v", ok, tc.system)
			}
			for _, k := range []string{"http.method", "http.status_code", "http.url", "net.peer.name", "net.peer.port"} {
				if _, ok := attrs(s)[k]; ok != tc.oldHTTP {
					t.Errorf("%s present %v, want %v", k, ok, tc.oldHTTP)
				}
			}
		})
	}
}

// Raw headers are recorded only when allow-listed, and credential headers
// never, even when listed.
func TestTracingResponseHeadersAllowList(t *testing.T) {
	const secret = "sk-live-ECHOED-SECRET"
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Ratelimit-Remaining-Requests", "149")
		w.Header().Set("X-Ratelimit-Limit-Requests", "150")
		w.Header().Set("X-Request-Id", "req-1")
		// A misbehaving upstream echoing credentials back.
		w.Header().Set("Authorization", r.Header.Get("Authorization"))
		w.Header().Set("X-Api-Key", secret)
		w.Header().Set("Api-Key", secret)
		w.Header().Set("Set-Cookie", "session="+secret)
		io.WriteString(w, `{"model":"gpt-4o","usage":{"prompt_tokens":1,"completion_tokens":2}}`)
	})
	allow, denied := tracing.AllowHeaders("x-ratelimit-remaining-requests, Authorization,x-api-key,api-key,set-cookie,cookie")
	if len(allow) != 1 || len(denied) != 5 {
		t.Fatalf("allow %v denied %v", allow, denied)
	}
	tr := newTraced(t, "heroku-us", up, tracing.TracerOptions{ResponseHeaders: []string{"x-ratelimit-remaining-requests", "Authorization", "x-api-key", "api-key", "set-cookie", "cookie"}})
	tr.call(t, "heroku-us", "/v1/chat/completions?api-version=2024-10-21&key="+secret, chat("claude-4-sonnet"), "", "Authorization", "Bearer "+secret)
	s := tr.ended(t, 1)[0]
	wantAttr(t, s, "http.response.header.x-ratelimit-remaining-requests", []string{"149"})
	for _, kv := range s.Attributes() {
		if strings.HasPrefix(string(kv.Key), "http.response.header.") && kv.Key != "http.response.header.x-ratelimit-remaining-requests" {
			t.Errorf("recorded %s", kv.Key)
		}
	}
	noAttr(t, s, "http.response.header.x-request-id")
	wantAttr(t, s, "url.full", tr.upstream.URL+"/v1/chat/completions?api-version=2024-10-21&key=REDACTED")
	noSecret(t, tr.rec.Ended(), secret)
}

func TestTracingUpstreamDown(t *testing.T) {
	tr := newTraced(t, "heroku-us", http.NotFoundHandler(), tracing.TracerOptions{})
	tr.upstream.Close()
	resp := tr.call(t, "heroku-us", "/v1/chat/completions", chat("claude-4-sonnet"), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	if resp.StatusCode != 502 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	s := tr.ended(t, 1)[0]
	wantAttr(t, s, "error.type", "connect")
	noAttr(t, s, "http.response.status_code")
	if s.Status().Code != codes.Error {
		t.Errorf("status %v", s.Status())
	}
}

func TestTracingStream(t *testing.T) {
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("X-Ratelimit-Limit-Tokens", "1000")
		w.Header().Set("X-Ratelimit-Remaining-Tokens", "900")
		fl := w.(http.Flusher)
		io.WriteString(w, "data: {\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n")
		fl.Flush()
		time.Sleep(20 * time.Millisecond)
		io.WriteString(w, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":7}}\n\ndata: [DONE]\n\n")
	})
	tr := newTraced(t, "openai", up, tracing.TracerOptions{})
	tr.call(t, "openai", "/v1/chat/completions", `{"model":"gpt-4o","stream":true}`, "")
	s := tr.ended(t, 1)[0]
	wantAttr(t, s, "gen_ai.provider.name", "openai")
	wantAttr(t, s, "gen_ai.request.model", "gpt-4o")
	wantAttr(t, s, "gen_ai.response.model", "gpt-4o-2024-08-06")
	wantAttr(t, s, "gen_ai.request.stream", true)
	wantAttr(t, s, "gen_ai.usage.input_tokens", 5)
	wantAttr(t, s, "gen_ai.usage.output_tokens", 7)
	wantAttr(t, s, "headroom.ratelimit.tokens.1m.remaining", 900)
	ttfc := attrs(s)["gen_ai.response.time_to_first_chunk"].AsFloat64()
	if d := s.EndTime().Sub(s.StartTime()).Seconds(); ttfc <= 0 || ttfc >= d {
		t.Errorf("time to first chunk %v, span %v s", ttfc, d)
	}
}

// Without a tracer the proxy leaves the caller's trace headers alone.
func TestTracingOffPassesTraceparent(t *testing.T) {
	var got string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("Traceparent")
	}))
	defer up.Close()
	e := newEnv(t, "heroku", up.URL)
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	req, _ := http.NewRequest("POST", e.proxy.URL+"/p/v1/chat/completions", strings.NewReader(`{}`))
	req.Header.Set("Traceparent", tp)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got != tp {
		t.Errorf("upstream traceparent %q, want %q", got, tp)
	}
}

// A client that leaves mid-stream: the span says so.
func TestTracingClientLeavesMidStream(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: {\"model\":\"gpt-4o\",\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	tr := newTraced(t, "openai", up, tracing.TracerOptions{})
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, "POST", tr.proxy.URL+"/openai/v1/chat/completions", strings.NewReader(`{"model":"gpt-4o","stream":true}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	cancel()
	resp.Body.Close()
	s := tr.ended(t, 1)[0]
	wantAttr(t, s, "http.response.status_code", 200)
	wantAttr(t, s, "error.type", "client_closed")
}
