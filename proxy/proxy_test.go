package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/headroomhq/headroom/collector"
	"github.com/headroomhq/headroom/config"
	"github.com/headroomhq/headroom/parsers"
	"github.com/headroomhq/headroom/tracing"
)

const secret = "sk-test-SECRET-0123456789"

type env struct {
	proxy *testServer
	reg   *prometheus.Registry
	logs  *syncBuffer
	coll  *collector.Collector
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func newEnv(t *testing.T, dialect, upstream string, opts ...func(*Options)) *env {
	t.Helper()
	return buildEnv(t, dialect, upstream, func(o *Options) {
		for _, f := range opts {
			f(o)
		}
		if fastPathOn() && o.FastPath == nil {
			// The fast path shares the test's upstream settings (TLS roots,
			// pool limits) when it can.
			switch tr := o.Transport.(type) {
			case *FastTransport:
				o.FastPath = tr
			case *http.Transport:
				o.FastPath = NewFastTransport(tr, 2*time.Second, 2*time.Second)
			default:
				o.FastPath = newFastPool()
			}
		}
	})
}

// buildEnv serves provider "p" of dialect at upstream, with its own
// collector, registry and debug log; configure completes the Options.
func buildEnv(t *testing.T, dialect, upstream string, configure func(*Options)) *env {
	t.Helper()
	u, _ := url.Parse(upstream)
	d, _ := parsers.Lookup(dialect)
	cfg := &config.Config{Providers: []config.Provider{{Name: "p", Family: dialect, Dialect: d, Upstream: u}}}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	coll := collector.New(collector.Options{Logger: log})
	reg := prometheus.NewRegistry()
	coll.Register(reg)
	coll.SetProviders([]collector.Provider{{Name: "p", Family: dialect, Dialect: dialect}})
	o := Options{Logger: log, Transport: NewUpstreamTransport(DefaultUpstreamClient, 2*time.Second, 2*time.Second)}
	configure(&o)
	px := serve(t, New(cfg, coll, o), o.FastPath)
	return &env{proxy: px, reg: reg, logs: logs, coll: coll}
}

func (e *env) metrics(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	mfs, _ := e.reg.Gather()
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			b.WriteString(mf.GetName())
			for _, l := range m.GetLabel() {
				b.WriteString(" " + l.GetName() + "=" + l.GetValue())
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

func TestPassThrough(t *testing.T) {
	var gotMethod, gotPath, gotQuery, gotBody, gotAuth, gotHost string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotMethod, gotPath, gotQuery, gotAuth, gotHost = r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("Authorization"), r.Host
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		w.Header().Set("Trailer", "X-Checksum")
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Ratelimit-Limit-Requests", "150")
		w.Header().Set("X-Ratelimit-Remaining-Requests", "0")
		w.Header().Set("X-Ratelimit-Reset-Requests", "51s")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"id":"x","model":"claude-4-sonnet","usage":{"prompt_tokens":12,"completion_tokens":34}}`)
		w.Header().Set("X-Checksum", "abc")
	}))
	defer up.Close()
	e := newEnv(t, "heroku", up.URL+"/base")
	body := `{"messages":[{"role":"user","content":"say \"model\": no"}],"model":"claude-4-sonnet","stream":false}`
	req, _ := http.NewRequest("POST", e.proxy.URL+"/p/v1/chat%2Fcompletions?x=1", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || !strings.Contains(string(rb), `"usage"`) {
		t.Errorf("status %d body %s", resp.StatusCode, rb)
	}
	if resp.Trailer.Get("X-Checksum") != "abc" {
		t.Errorf("trailer lost: %v", resp.Trailer)
	}
	u, _ := url.Parse(up.URL)
	if gotMethod != "POST" || gotPath != "/base/v1/chat%2Fcompletions" || gotQuery != "x=1" || gotBody != body || gotAuth != "Bearer "+secret || gotHost != u.Host {
		t.Errorf("upstream saw %s %s ?%s host=%s auth=%q body=%s", gotMethod, gotPath, gotQuery, gotHost, gotAuth, gotBody)
	}
	m := e.metrics(t)
	for _, want := range []string{
		"headroom_ratelimit_remaining key=k-",
		"headroom_tokens_total key=k-",
		"model=claude-4-sonnet",
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q:\n%s", want, m)
		}
	}
	if v := testutil.ToFloat64(mustVec(t, e, "headroom_tokens_total", "type", "output")); v != 34 {
		t.Errorf("output tokens %v", v)
	}
	if strings.Contains(m, secret) || strings.Contains(e.logs.String(), secret) {
		t.Error("secret leaked into metrics or logs")
	}
}

// mustVec finds the single series of a metric with a label value and
// returns it as a collector for testutil.ToFloat64.
func mustVec(t *testing.T, e *env, name, label, value string) prometheus.Collector {
	t.Helper()
	mfs, _ := e.reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
					return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "x"}, func() float64 { return v })
				}
			}
		}
	}
	t.Fatalf("no %s{%s=%s}", name, label, value)
	return nil
}

func TestStreamingEventsArriveBeforeUpstreamFinishes(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("X-Ratelimit-Limit-Tokens", "1000")
		w.Header().Set("X-Ratelimit-Remaining-Tokens", "900")
		fl := w.(http.Flusher)
		io.WriteString(w, "data: {\"model\":\"gpt-4o\",\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n")
		fl.Flush()
		<-release // the upstream is still "generating"
		io.WriteString(w, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":7}}\n\ndata: [DONE]\n\n")
	}))
	defer up.Close()
	defer close(release)
	e := newEnv(t, "openai", up.URL)
	req, _ := http.NewRequest("POST", e.proxy.URL+"/p/v1/chat/completions", strings.NewReader(`{"model":"gpt-4o","stream":true}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !strings.Contains(line, "Hel") {
		t.Fatalf("first event did not arrive while upstream was still open: %q %v", line, err)
	}
}

func TestStreamUsageCounted(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fl := w.(http.Flusher)
		for _, ev := range []string{
			`event: message_start` + "\n" + `data: {"type":"message_start","message":{"model":"claude-sonnet-4","usage":{"input_tokens":25,"output_tokens":1}}}`,
			`event: content_block_delta` + "\n" + `data: {"type":"content_block_delta","delta":{"text":"hi"}}`,
			`event: message_delta` + "\n" + `data: {"type":"message_delta","usage":{"output_tokens":15}}`,
		} {
			io.WriteString(w, ev+"\n\n")
			fl.Flush()
		}
	}))
	defer up.Close()
	e := newEnv(t, "openai", up.URL)
	resp, err := http.Post(e.proxy.URL+"/p/v1/messages", "application/json", strings.NewReader(`{"stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	// The request had no model; the stream named it.
	waitFor(t, func() bool {
		return strings.Contains(e.metrics(t), "headroom_tokens_total key=none model=claude-sonnet-4")
	})
	if v := testutil.ToFloat64(mustVec(t, e, "headroom_tokens_total", "type", "input")); v != 25 {
		t.Errorf("input tokens %v want 25", v)
	}
	if v := testutil.ToFloat64(mustVec(t, e, "headroom_tokens_total", "type", "output")); v != 15 {
		t.Errorf("output tokens %v want 15", v)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestUnknownProviderContactsNothing(t *testing.T) {
	hit := false
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit = true }))
	defer up.Close()
	e := newEnv(t, "openai", up.URL)
	for _, path := range []string{"/nope/v1/x", "/", "/p/../nope/x", "/p/./x"} {
		req, _ := http.NewRequest("GET", e.proxy.URL+"/", nil)
		req.URL.Opaque = path // send the path verbatim, dots included
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 404 && resp.StatusCode != 400 {
			t.Errorf("%s: status %d", path, resp.StatusCode)
		}
		if !strings.Contains(string(b), `"headroom_error"`) {
			t.Errorf("%s: body %s", path, b)
		}
	}
	if hit {
		t.Error("upstream contacted")
	}
}

func TestAbsoluteFormGoesToConfiguredUpstream(t *testing.T) {
	var host string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { host = r.Host }))
	defer up.Close()
	e := newEnv(t, "openai", up.URL)
	c := e.proxy.dial(t)
	io.WriteString(c, "GET http://evil.example/p/v1/models HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	u, _ := url.Parse(up.URL)
	if resp.StatusCode != 200 || host != u.Host {
		t.Errorf("status %d, upstream saw host %q", resp.StatusCode, host)
	}
}

func TestUpstreamDown(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	e := newEnv(t, "openai", "http://"+addr)
	req, _ := http.NewRequest("POST", e.proxy.URL+"/p/v1/chat/completions?key="+secret, strings.NewReader(`{"model":"m"}`))
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 502 || !strings.Contains(string(b), `"provider":"p"`) {
		t.Errorf("status %d body %s", resp.StatusCode, b)
	}
	if strings.Contains(string(b), secret) || strings.Contains(e.logs.String(), secret) || strings.Contains(e.metrics(t), secret) {
		t.Error("secret leaked")
	}
	if !strings.Contains(e.metrics(t), "headroom_upstream_errors_total provider=p reason=connect") {
		t.Errorf("upstream error not counted:\n%s", e.metrics(t))
	}
}

func TestSlowHeadersGive504(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(10 * time.Second):
		case <-r.Context().Done():
		}
	}))
	defer up.Close()
	e := newEnv(t, "openai", up.URL, func(o *Options) {
		o.Transport = NewUpstreamTransport(DefaultUpstreamClient, time.Second, 200*time.Millisecond)
	})
	resp, err := http.Get(e.proxy.URL + "/p/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 504 {
		t.Errorf("status %d want 504", resp.StatusCode)
	}
}

func TestClientCancelCancelsUpstream(t *testing.T) {
	cancelled := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		close(cancelled)
	}))
	defer up.Close()
	e := newEnv(t, "openai", up.URL)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", e.proxy.URL+"/p/v1/stream", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	// In flight while the stream is open.
	waitFor(t, func() bool { return strings.Contains(e.metrics(t), "headroom_inflight_requests key=none provider=p") })
	cancel()
	resp.Body.Close()
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("upstream request not cancelled")
	}
}

func TestInflightCounts(t *testing.T) {
	release := make(chan struct{})
	var arrived sync.WaitGroup
	arrived.Add(3)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Done()
		<-release
	}))
	defer up.Close()
	e := newEnv(t, "predictions", up.URL)
	var done sync.WaitGroup
	for i := 0; i < 3; i++ {
		done.Add(1)
		go func() {
			defer done.Done()
			req, _ := http.NewRequest("POST", e.proxy.URL+"/p/v1/predictions", strings.NewReader(`{}`))
			req.Header.Set("Authorization", "Bearer "+secret)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	arrived.Wait()
	g := mustVec(t, e, "headroom_inflight_requests", "provider", "p")
	if v := testutil.ToFloat64(g); v != 3 {
		t.Errorf("inflight %v want 3", v)
	}
	close(release)
	done.Wait()
	waitFor(t, func() bool {
		return testutil.ToFloat64(mustVec(t, e, "headroom_inflight_requests", "provider", "p")) == 0
	})
}

func TestFindTopLevelString(t *testing.T) {
	cases := []struct{ in, want string }{
		{`{"model":"gpt-4o"}`, "gpt-4o"},
		{`{"messages":[{"model":"nested"}],"model" : "top"}`, "top"},
		{`{"metadata":{"model":"nested"}}`, ""},
		{`{"content":"\"model\":\"fake\"","model":"real"}`, "real"},
		{`{"model":42}`, ""},
		{`{"model":"trunc`, ""},
		{``, ""},
		{`{"model":"a\"b"}`, ""},
		{"{\"model\":\"x\x00\"}", ""},
		{"{\"model\":\"gpt\n4o\"}", ""},
	}
	for _, tc := range cases {
		if got := findTopLevelString([]byte(tc.in), "model"); got != tc.want {
			t.Errorf("%s: got %q want %q", tc.in, got, tc.want)
		}
	}
}

func TestDecodeUsage(t *testing.T) {
	cases := []struct {
		in      string
		in1, o1 int64
	}{
		{`{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21}`, 9, 12},
		{`{"input_tokens":25,"output_tokens":3}`, 25, 3},
		{`{"prompt_tokens_details":{"cached_tokens":5,"prompt_tokens":99},"prompt_tokens" : 7,"completion_tokens":1}`, 7, 1},
		{`{"prompt_tokens":0,"input_tokens":4,"completion_tokens":2}`, 4, 2},
		{`{"prompt_tokens":1.5,"completion_tokens":"2"}`, 0, 0},
		{`{"prompt_tokens":-3,"completion_tokens":2e3}`, 0, 0},
		{`{"prompt_tokens":12345678901234567890123,"completion_tokens":5}`, 0, 5},
		{`{"cache_creation_input_tokens":8,"input_tokens":10,"output_tokens":0}`, 10, 0},
		{`{"content":"\"prompt_tokens\":77","prompt_tokens":2}`, 2, 0},
		{``, 0, 0},
	}
	for _, tc := range cases {
		if i, o := decodeUsage([]byte(tc.in)); i != tc.in1 || o != tc.o1 {
			t.Errorf("%s: got %d/%d want %d/%d", tc.in, i, o, tc.in1, tc.o1)
		}
	}
}

// An upstream that starts answering before it has read the request (a
// stream's first event, an early 429) must not get its connection torn down
// by the server draining the request body under the transport: the stream
// arrives whole, for bodies within and beyond the model peek.
func TestEarlyResponseKeepsStreamWhole(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fl := w.(http.Flusher)
		io.WriteString(w, "data: {\"model\":\"gpt-4o\",\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n")
		fl.Flush()
		time.Sleep(5 * time.Millisecond)
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":7}}\n\ndata: [DONE]\n\n")
	}))
	defer up.Close()
	e := newEnv(t, "openai", up.URL)
	for _, size := range []int{0, 100 << 10} {
		body := `{"model":"gpt-4o","stream":true,"pad":"` + strings.Repeat("x", size) + `"}`
		for i := 0; i < 30; i++ {
			resp, err := http.Post(e.proxy.URL+"/p/v1/chat/completions", "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || !strings.HasSuffix(string(b), "data: [DONE]\n\n") {
				t.Fatalf("body of %d bytes, try %d: stream cut: %q, %v", len(body), i, b, err)
			}
		}
	}
}

// oneByteReader returns at most one byte per Read, like a slow client.
type oneByteReader struct{ r io.Reader }

func (o oneByteReader) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return o.r.Read(p)
}

func TestPeekBody(t *testing.T) {
	const n = 1000
	for _, size := range []int{0, 1, 37, 4096, n - 1, n, n + 1, 3 * n, 10000} {
		body := strings.Repeat("abcdefghij", size/10+1)[:size]
		for _, hint := range []int64{-1, int64(size)} {
			for _, slow := range []bool{false, true} {
				var r io.Reader = strings.NewReader(body)
				if slow {
					r = oneByteReader{r}
				}
				prefix, rc := peekBody(io.NopCloser(r), n, hint)
				if want := body[:min(size, n)]; string(prefix) != want {
					t.Fatalf("size %d hint %d slow %v: prefix of %d bytes, want %d", size, hint, slow, len(prefix), len(want))
				}
				all, err := io.ReadAll(rc)
				if err != nil || string(all) != body {
					t.Fatalf("size %d hint %d slow %v: relayed %d bytes, %v", size, hint, slow, len(all), err)
				}
			}
		}
	}
	// A failing body keeps failing after the prefix.
	boom := errors.New("boom")
	prefix, rc := peekBody(io.NopCloser(io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(boom))), n, -1)
	if string(prefix) != "abc" {
		t.Fatalf("prefix %q", prefix)
	}
	if b, err := io.ReadAll(rc); string(b) != "abc" || !errors.Is(err, boom) {
		t.Errorf("relayed %q, %v", b, err)
	}
	// A body that fits is not read again after EOF (the server may have
	// closed it by then).
	_, rc = peekBody(io.NopCloser(&eofThenPanic{r: strings.NewReader("xyz")}), n, 3)
	if b, err := io.ReadAll(rc); string(b) != "xyz" || err != nil {
		t.Errorf("relayed %q, %v", b, err)
	}
}

type eofThenPanic struct {
	r   io.Reader
	eof bool
}

func (e *eofThenPanic) Read(p []byte) (int, error) {
	if e.eof {
		panic("read after EOF")
	}
	n, err := e.r.Read(p)
	if err == io.EOF {
		e.eof = true
	}
	return n, err
}

// headerHook keeps what a hook reads of the response header.
type headerHook struct {
	mu    sync.Mutex
	limit []string
}

func (h *headerHook) CallDone(c *Call) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.limit = append(h.limit, c.Header.Get("X-Ratelimit-Limit-Requests"))
}

// A hook gets the response header as an http.Header; without hooks the fast
// path gives the dialect the fields alone (route.fieldsOnly), and both
// record the same limits.
func TestHookSeesResponseHeader(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-ratelimit-limit-requests", "500")
		w.Header().Set("x-ratelimit-remaining-requests", "499")
		w.Header().Set("x-ratelimit-reset-requests", "120ms")
		io.WriteString(w, `{"usage":{"prompt_tokens":1,"completion_tokens":2}}`)
	}))
	defer up.Close()
	hook := &headerHook{}
	for _, c := range []struct {
		name  string
		hooks []Hook
	}{{"no hooks", nil}, {"a hook", []Hook{hook}}} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, "openai", up.URL, func(o *Options) { o.Hooks = c.hooks })
			for range 3 {
				resp, err := http.Post(e.proxy.URL+"/p/v1/chat/completions", "application/json", strings.NewReader(`{"model":"gpt-4o"}`))
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			if v := testutil.ToFloat64(mustVec(t, e, "headroom_ratelimit_limit", "resource", "requests")); v != 500 {
				t.Errorf("limit = %v, want 500", v)
			}
		})
	}
	hook.mu.Lock()
	defer hook.mu.Unlock()
	if want := []string{"500", "500", "500"}; !reflect.DeepEqual(hook.limit, want) {
		t.Errorf("the hook read %q, want %q", hook.limit, want)
	}
}

// The fast path builds no http.Header only when nothing but a dialect that
// reads fields looks at it.
func TestFieldsOnlyRoutes(t *testing.T) {
	u, _ := url.Parse("http://127.0.0.1:1")
	tracer := tracing.NewTracer(noop.NewTracerProvider(), tracing.TracerOptions{ResponseHeaders: []string{"x-request-id"}})
	for _, c := range []struct {
		dialect string
		opts    Options
		want    bool
	}{
		{"openai", Options{}, true},
		{"anthropic", Options{}, true},
		{"ietf", Options{}, false},
		{"openai", Options{Hooks: []Hook{&headerHook{}}}, false},
		{"openai", Options{Tracer: tracer}, false},
	} {
		d, _ := parsers.Lookup(c.dialect)
		cfg := &config.Config{Providers: []config.Provider{{Name: "p", Family: c.dialect, Dialect: d, Upstream: u}}}
		c.opts.FastPath = newFastPool()
		p := New(cfg, collector.New(collector.Options{}), c.opts)
		if got := (*p.routes.Load())["p"].fieldsOnly; got != c.want {
			t.Errorf("%s, hooks %d, tracer %v: fieldsOnly = %v, want %v", c.dialect, len(c.opts.Hooks), c.opts.Tracer != nil, got, c.want)
		}
	}
}
