package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace/noop"

	"github.com/headroomhq/headroom/calls"
	"github.com/headroomhq/headroom/collector"
	"github.com/headroomhq/headroom/config"
	"github.com/headroomhq/headroom/internal/testtool/loopback"
	"github.com/headroomhq/headroom/keyid"
	"github.com/headroomhq/headroom/parsers"
	"github.com/headroomhq/headroom/tracing"
)

func TestPassThrough(t *testing.T) {
	var gotMethod, gotPath, gotQuery, gotBody, gotAuth, gotHost string
	var gotHeader http.Header
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotMethod, gotPath, gotQuery, gotAuth, gotHost = r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("Authorization"), r.Host
		gotHeader = r.Header.Clone()
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h["x-ratelimit-limit-requests"] = []string{"150"}
		h["x-ratelimit-remaining-requests"] = []string{"0"}
		h["x-ratelimit-reset-requests"] = []string{"51s"}
		h["Set-Cookie"] = []string{"a=1", "b=2"}
		h["X-Multi"] = []string{"one", "two"}
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"id":"x","model":"claude-4-sonnet","usage":{"prompt_tokens":12,"completion_tokens":34}}`)
	}))
	defer up.Close()
	e := newEnv(t, "heroku", up.URL+"/base")
	body := `{"messages":[{"role":"user","content":"say \"model\": no"}],"model":"claude-4-sonnet","stream":false}`
	req, _ := http.NewRequest("POST", e.proxy.URL+"/p/v1/chat%2Fcompletions?x=1&y=%2F", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Client", "kept")
	req.Header.Set("Keep-Alive", "timeout=5")
	req.Header.Set("Proxy-Authorization", "Basic eDp5")
	req.Header.Set("Connection", "X-Drop")
	req.Header.Set("X-Drop", "named by Connection")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || !strings.Contains(string(rb), `"usage"`) {
		t.Errorf("status %d body %s", resp.StatusCode, rb)
	}
	if g := resp.Header.Values("Set-Cookie"); !reflect.DeepEqual(g, []string{"a=1", "b=2"}) {
		t.Errorf("Set-Cookie %q", g)
	}
	if g := resp.Header.Values("X-Multi"); !reflect.DeepEqual(g, []string{"one", "two"}) {
		t.Errorf("X-Multi %q", g)
	}
	u, _ := url.Parse(up.URL)
	if gotMethod != "POST" || gotPath != "/base/v1/chat%2Fcompletions" || gotQuery != "x=1&y=%2F" || gotBody != body || gotAuth != "Bearer "+secret || gotHost != u.Host {
		t.Errorf("upstream saw %s %s ?%s host=%s auth=%q body=%s", gotMethod, gotPath, gotQuery, gotHost, gotAuth, gotBody)
	}
	for _, k := range []string{"Keep-Alive", "Proxy-Authorization", "X-Drop", "Connection"} {
		if v := gotHeader.Get(k); v != "" {
			t.Errorf("hop-by-hop %s forwarded: %q", k, v)
		}
	}
	if gotHeader.Get("X-Client") != "kept" {
		t.Errorf("end-to-end field lost: %v", gotHeader)
	}
	if v := e.value(t, "headroom_tokens_total", "type=output", "model=claude-4-sonnet"); v != 34 {
		t.Errorf("output tokens %v", v)
	}
	if v := e.value(t, "headroom_ratelimit_remaining", "resource=requests", "model=claude-4-sonnet"); v != 0 {
		t.Errorf("remaining %v", v)
	}
	if v := e.value(t, "headroom_ratelimit_limit", "resource=requests"); v != 150 {
		t.Errorf("limit %v", v)
	}
	m := e.metrics(t)
	if strings.Contains(m, secret) || strings.Contains(e.logs.String(), secret) {
		t.Error("secret leaked into metrics or logs")
	}
}

// The answer's fields reach the client with the provider's spelling; the
// status line keeps its reason phrase.
func TestAnswerHeadAsSent(t *testing.T) {
	addr := loopback.Serve(t, answerInPieces(false, "HTTP/1.1 200 Fine Thanks\r\nx-ratelimit-limit-requests: 5\r\nX-MiXeD-CaSe: v\r\ncontent-type: application/json\r\nContent-Length: 2\r\n\r\n{}"))
	e := newEnv(t, "openai", "http://"+addr)
	c := e.proxy.dial(t)
	io.WriteString(c, "GET /p/v1/models HTTP/1.1\r\nHost: x\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	var head []string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == "\r\n" {
			break
		}
		head = append(head, strings.TrimRight(line, "\r\n"))
	}
	if head[0] != "HTTP/1.1 200 Fine Thanks" {
		t.Errorf("status line %q", head[0])
	}
	for _, want := range []string{"x-ratelimit-limit-requests: 5", "X-MiXeD-CaSe: v"} {
		found := false
		for _, l := range head {
			found = found || l == want
		}
		if !found {
			t.Errorf("%q not relayed as sent: %q", want, head)
		}
	}
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

// Each event reaches the client as the provider sends it, however the
// provider frames the stream.
func TestEventsArriveOneByOne(t *testing.T) {
	next := make(chan struct{})
	addr := loopback.Serve(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
		for i := range 5 {
			<-next
			ev := fmt.Sprintf("data: {\"i\":%d}\n\n", i)
			fmt.Fprintf(c, "%x\r\n%s\r\n", len(ev), ev)
		}
		io.WriteString(c, "0\r\n\r\n")
	})
	e := newEnv(t, "openai", "http://"+addr)
	resp, err := http.Post(e.proxy.URL+"/p/v1/chat/completions", "application/json", strings.NewReader(`{"stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for i := range 5 {
		next <- struct{}{}
		line, err := br.ReadString('\n')
		if err != nil || line != fmt.Sprintf("data: {\"i\":%d}\n", i) {
			t.Fatalf("event %d: %q %v", i, line, err)
		}
		br.ReadString('\n')
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
	// The request had no model; the stream named it. Recorded when the
	// answer ended: before the client could read its end.
	if v := e.value(t, "headroom_tokens_total", "model=claude-sonnet-4", "type=input"); v != 25 {
		t.Errorf("input tokens %v want 25", v)
	}
	if v := e.value(t, "headroom_tokens_total", "model=claude-sonnet-4", "type=output"); v != 15 {
		t.Errorf("output tokens %v want 15", v)
	}
}

func TestUnknownProviderContactsNothing(t *testing.T) {
	var hit atomic.Bool
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit.Store(true) }))
	defer up.Close()
	e := newEnv(t, "openai", up.URL)
	for _, path := range []string{"/nope/v1/x", "/", "/p/../nope/x", "/p/./x", "/p/%2e%2e/x"} {
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
		if !strings.Contains(string(b), `"headroom_error"`) || resp.Header.Get("X-Headroom-Error") != "1" {
			t.Errorf("%s: body %s", path, b)
		}
	}
	if hit.Load() {
		t.Error("upstream contacted")
	}
	if v := e.value(t, "headroom_client_errors_total"); v != 5 {
		t.Errorf("client_errors_total = %v, want 5", v)
	}
	if v := e.value(t, "headroom_upstream_errors_total"); v != 0 {
		t.Errorf("upstream_errors_total = %v", v)
	}
}

func TestAbsoluteFormGoesToConfiguredUpstream(t *testing.T) {
	var host atomic.Value
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { host.Store(r.Host + " " + r.RequestURI) }))
	defer up.Close()
	e := newEnv(t, "openai", up.URL)
	resps, _ := exchange(t, e.proxy.URL, "GET http://evil.example/p/v1/models HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n", 1)
	u, _ := url.Parse(up.URL)
	if resps[0].StatusCode != 200 || host.Load() != u.Host+" /v1/models" {
		t.Errorf("status %d, upstream saw %q", resps[0].StatusCode, host.Load())
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
	if resp.StatusCode != 502 || !strings.Contains(string(b), `"provider":"p"`) || !strings.Contains(string(b), "connect") {
		t.Errorf("status %d body %s", resp.StatusCode, b)
	}
	if strings.Contains(string(b), secret) || strings.Contains(e.logs.String(), secret) || strings.Contains(e.metrics(t), secret) {
		t.Error("secret leaked")
	}
	if v := e.value(t, "headroom_upstream_errors_total", "provider=p", "reason=connect"); v != 1 {
		t.Errorf("upstream_errors_total{reason=connect} = %v", v)
	}
	if v := e.value(t, "headroom_requests_total", "code=502"); v != 1 {
		t.Errorf("requests_total{code=502} = %v", v)
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
		o.Upstream = &Upstream{DialTimeout: time.Second, HeaderTimeout: 200 * time.Millisecond}
	})
	start := time.Now()
	resp, err := http.Get(e.proxy.URL + "/p/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 504 || time.Since(start) > 3*time.Second {
		t.Errorf("status %d after %v, want 504 after the 200ms header timeout", resp.StatusCode, time.Since(start))
	}
	if v := e.value(t, "headroom_upstream_errors_total", "reason=timeout"); v != 1 {
		t.Errorf("upstream_errors_total{reason=timeout} = %v", v)
	}
}

// A stream outlives the header timeout: it bounds the wait for the head
// only.
func TestStreamOutlivesHeaderTimeout(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 4 {
			fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
			time.Sleep(150 * time.Millisecond)
		}
	}))
	defer up.Close()
	e := newEnv(t, "openai", up.URL, func(o *Options) {
		o.Upstream = &Upstream{DialTimeout: time.Second, HeaderTimeout: 200 * time.Millisecond}
	})
	resp, err := http.Post(e.proxy.URL+"/p/v1/chat/completions", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !strings.HasSuffix(string(b), "data: 3\n\n") {
		t.Errorf("stream cut: %q %v", b, err)
	}
}

func TestClientCancelCancelsUpstream(t *testing.T) {
	cancelled := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		for {
			select {
			case <-r.Context().Done():
				close(cancelled)
				return
			case <-time.After(20 * time.Millisecond):
				io.WriteString(w, "data: {}\n\n")
				w.(http.Flusher).Flush()
			}
		}
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
	waitFor(t, func() bool { return e.value(t, "headroom_inflight_requests", "provider=p") == 1 })
	cancel()
	resp.Body.Close()
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("upstream request not cancelled")
	}
	waitFor(t, func() bool { return e.value(t, "headroom_inflight_requests", "provider=p") == 0 })
}

// A client that leaves while the provider is still thinking has the
// upstream request abandoned (its connection closed), counted as 499.
func TestClientLeavesWhileWaiting(t *testing.T) {
	cancelled := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // net/http notices a closed connection only after the body
		if r.URL.Path == "/v1/warm" {
			return
		}
		select {
		case <-r.Context().Done():
			close(cancelled)
		case <-time.After(5 * time.Second):
		}
	}))
	defer up.Close()
	e := newEnv(t, "openai", up.URL)
	// Warm the pool: the abandoned request goes out on a reused connection.
	resp, err := http.Post(e.proxy.URL+"/p/v1/warm", "application/json", strings.NewReader(`{}`))
	if err == nil {
		resp.Body.Close()
	}
	c := e.proxy.dial(t)
	io.WriteString(c, "POST /p/v1/x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
	time.Sleep(300 * time.Millisecond)
	c.Close()
	select {
	case <-cancelled:
	case <-time.After(3 * time.Second):
		t.Fatal("upstream request not cancelled after the client left")
	}
	waitFor(t, func() bool { return e.value(t, "headroom_requests_total", "code=499") == 1 })
	if v := e.value(t, "headroom_upstream_errors_total"); v != 0 {
		t.Errorf("upstream_errors_total = %v: the client left, the upstream did not fail", v)
	}
}

// Bytes of the next request that arrive while the watcher looks at the
// connection stay for the server to read.
func TestPipelinedWhileWaiting(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/slow" {
			time.Sleep(400 * time.Millisecond)
		}
		io.WriteString(w, r.URL.Path)
	}))
	defer up.Close()
	e := newEnv(t, "openai", up.URL)
	c := e.proxy.dial(t)
	io.WriteString(c, "POST /p/v1/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
	time.Sleep(200 * time.Millisecond) // the watcher is looking
	io.WriteString(c, "GET /p/v1/next HTTP/1.1\r\nHost: x\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	for _, want := range []string{"/v1/slow", "/v1/next"} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if b := bodyOf(resp); b != want {
			t.Errorf("got %q, want %q", b, want)
		}
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
	for range 3 {
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
	// The upstream has the requests: a read of the metrics sees them.
	if v := e.value(t, "headroom_inflight_requests", "provider=p"); v != 3 {
		t.Errorf("inflight %v want 3", v)
	}
	close(release)
	done.Wait()
	// The clients have their answers: the calls are recorded.
	if v := e.value(t, "headroom_inflight_requests", "provider=p"); v != 0 {
		t.Errorf("inflight %v after the answers", v)
	}
	if v := e.value(t, "headroom_requests_total", "provider=p"); v != 3 {
		t.Errorf("requests_total %v after the answers", v)
	}
}

// An upstream that starts answering before it has read the whole request
// (a stream's first event, an early 429) gets its stream relayed whole,
// for bodies within and beyond the model peek.
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
		for i := range 30 {
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

// Request bodies of every size and framing reach the provider whole, and
// the model is read from their head.
func TestRequestBodies(t *testing.T) {
	var got atomic.Value
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.Store(string(b))
	}))
	defer up.Close()
	e := newEnv(t, "openai", up.URL)
	for _, size := range []int{0, 10, 8 << 10, 8<<10 + 1, 64 << 10, 300 << 10} {
		for _, chunked := range []bool{false, true} {
			body := `{"model":"m-` + fmt.Sprint(size) + `","pad":"` + strings.Repeat("x", size) + `"}`
			var r io.Reader = strings.NewReader(body)
			if chunked {
				r = io.MultiReader(r) // hides the length: sent chunked
			}
			resp, err := http.Post(e.proxy.URL+"/p/v1/chat/completions", "application/json", r)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 || got.Load() != body {
				t.Fatalf("size %d chunked %v: status %d, upstream got %d bytes", size, chunked, resp.StatusCode, len(got.Load().(string)))
			}
			if v := e.value(t, "headroom_requests_total", "model=m-"+fmt.Sprint(size)); v < 1 {
				t.Errorf("size %d chunked %v: model not read", size, chunked)
			}
		}
	}
}

// headerHook keeps what a hook reads of the response header.
type headerHook struct {
	mu    sync.Mutex
	limit []string
}

func (h *headerHook) CallDone(c *calls.Call) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.limit = append(h.limit, c.Header.Get("X-Ratelimit-Limit-Requests"))
}

// A hook gets the response header as an http.Header; without hooks the
// dialect reads the fields alone (route.fieldsOnly), and both record the
// same limits.
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
		hooks []calls.Hook
	}{{"no hooks", nil}, {"a hook", []calls.Hook{hook}}} {
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
			if v := e.value(t, "headroom_ratelimit_limit", "resource=requests"); v != 500 {
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

// No http.Header is built when nothing but a dialect that reads fields
// looks at the answer.
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
		{"openai", Options{Hooks: []calls.Hook{&headerHook{}}}, false},
		{"openai", Options{Tracer: tracer}, false},
	} {
		d, _ := parsers.Lookup(c.dialect)
		cfg := &config.Config{Providers: []config.Provider{{Name: "p", Family: c.dialect, Dialect: d, Upstream: u}}}
		p := New(cfg, collector.New(collector.Options{}), c.opts)
		if got := (*p.routes.Load())["p"].fieldsOnly; got != c.want {
			t.Errorf("%s, hooks %d, tracer %v: fieldsOnly = %v, want %v", c.dialect, len(c.opts.Hooks), c.opts.Tracer != nil, got, c.want)
		}
	}
}

// A connection the provider closed while it was idle in the pool is
// replaced once for a request whose body can be sent again, as nginx does.
func TestReusedConnectionClosedByProvider(t *testing.T) {
	var conns atomic.Int32
	addr := loopback.Serve(t, func(c net.Conn) {
		conns.Add(1)
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		// Keep-alive promised, then closed before the next request.
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		time.Sleep(50 * time.Millisecond)
	})
	e := newEnv(t, "openai", "http://"+addr)
	for i := range 3 {
		time.Sleep(100 * time.Millisecond) // the pooled connection is closed by now
		resp, err := http.Post(e.proxy.URL+"/p/v1/chat/completions", "application/json", strings.NewReader(`{"model":"m"}`))
		if err != nil {
			t.Fatal(err)
		}
		if b := bodyOf(resp); resp.StatusCode != 200 || b != "ok" {
			t.Fatalf("call %d: %d %q", i, resp.StatusCode, b)
		}
		resp.Body.Close()
	}
	if v := e.value(t, "headroom_upstream_errors_total"); v != 0 {
		t.Errorf("upstream_errors_total = %v", v)
	}
}

// Shutdown lets a call in flight finish, closing its connection after.
func TestServerShutdownDrains(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		io.WriteString(w, "done")
	}))
	defer up.Close()
	e := newEnv(t, "openai", up.URL)
	got := make(chan string, 1)
	go func() {
		resp, err := http.Post(e.proxy.URL+"/p/v1/chat/completions", "application/json", strings.NewReader(`{}`))
		if err != nil {
			got <- err.Error()
			return
		}
		got <- bodyOf(resp) + fmt.Sprint(resp.Close)
		resp.Body.Close()
	}()
	waitFor(t, func() bool { return e.value(t, "headroom_inflight_requests") == 1 })
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shut <- e.proxy.srv.Shutdown(ctx)
	}()
	time.Sleep(100 * time.Millisecond)
	close(release)
	if g := <-got; g != "donetrue" {
		t.Errorf("in-flight call got %q, want its answer with Connection: close", g)
	}
	if err := <-shut; err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

// Gemini and Vertex AI name the model in the path and report usage as
// usageMetadata; Google's keys may come as ?key=.
func TestGeminiShapes(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "streamGenerateContent") {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "data: {\"candidates\":[],\"usageMetadata\":{\"promptTokenCount\":4,\"candidatesTokenCount\":1},\"modelVersion\":\"gemini-2.5-flash\"}\n\n")
			io.WriteString(w, "data: {\"candidates\":[],\"usageMetadata\":{\"promptTokenCount\":4,\"candidatesTokenCount\":9,\"totalTokenCount\":13},\"modelVersion\":\"gemini-2.5-flash\"}\n\n")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"candidates":[],"usageMetadata":{"promptTokenCount":7,"candidatesTokenCount":3,"totalTokenCount":10},"modelVersion":"gemini-2.5-flash"}`)
	}))
	defer up.Close()
	e := newEnv(t, "gemini", up.URL)
	for _, path := range []string{
		"/p/v1beta/models/gemini-2.5-flash:generateContent?key=" + secret,
		"/p/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&key=" + secret,
		"/p/v1/projects/x/locations/us-central1/publishers/google/models/gemini-2.5-pro:generateContent",
	} {
		resp, err := http.Post(e.proxy.URL+path, "application/json", strings.NewReader(`{"contents":[]}`))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	fp := keyid.Fingerprint(secret)
	waitFor(t, func() bool { return e.value(t, "headroom_requests_total") == 3 })
	for _, c := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"model=gemini-2.5-flash", "key=" + fp, "type=input"}, 11},
		{[]string{"model=gemini-2.5-flash", "key=" + fp, "type=output"}, 12},
		{[]string{"model=gemini-2.5-pro", "key=none", "type=output"}, 3},
	} {
		if v := e.value(t, "headroom_tokens_total", c.labels...); v != c.want {
			t.Errorf("tokens %v = %v, want %v:\n%s", c.labels, v, c.want, e.metricsText(t))
		}
	}
	if strings.Contains(e.metrics(t), secret) || strings.Contains(e.logs.String(), secret) {
		t.Error("the ?key= credential leaked")
	}
}
