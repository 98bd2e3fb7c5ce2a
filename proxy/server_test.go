package proxy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/headroomhq/headroom/collector"
	"github.com/headroomhq/headroom/config"
	"github.com/headroomhq/headroom/parsers"
)

// fastPathOn lets HEADROOM_FAST_PATH=false run this package's tests with
// every request on net/http's path (CI runs both).
func fastPathOn() bool { return os.Getenv("HEADROOM_FAST_PATH") != "false" }

type testServer struct{ URL string }

// serve runs p behind a Server on a loopback port; fast is the fast path's
// pool (nil: everything goes to net/http).
func serve(t *testing.T, p *Proxy, fast *FastTransport) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Proxy: p, Upstream: fast, Std: &http.Server{Handler: p, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute}}
	done := make(chan struct{})
	go func() { s.Serve(ln); close(done) }()
	t.Cleanup(func() {
		s.Close()
		<-done
		if fast != nil {
			fast.CloseIdleConnections()
		}
	})
	return &testServer{URL: "http://" + ln.Addr().String()}
}

// rawUpstream listens on loopback and runs handle, in its own goroutine,
// on every connection (closed after it); the address is returned and the
// listener closed when the test ends.
func rawUpstream(tb testing.TB, handle func(net.Conn)) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// dial opens a raw connection to the proxy, closed when the test ends.
func (s *testServer) dial(t *testing.T) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func newFastPool() *FastTransport {
	return NewFastTransport(NewTransport(2*time.Second, 2*time.Second), 2*time.Second, 2*time.Second)
}

// seen is what an upstream received.
type seen struct {
	Method, URI, Host string
	Header            http.Header
	Body              string
}

// pair runs the same provider twice, on the fast path and on net/http's,
// against one upstream, with separate collectors.
type pair struct {
	fast, std *env
}

func newPair(t *testing.T, dialect, upstream string) *pair {
	t.Helper()
	mk := func(fast bool) *env {
		return buildEnv(t, dialect, upstream, func(o *Options) {
			o.Transport, o.MaxRequestBody = NewTransport(2*time.Second, 2*time.Second), 1<<20
			if fast {
				o.FastPath = newFastPool()
			}
		})
	}
	return &pair{fast: mk(true), std: mk(false)}
}

// exchange writes raw request bytes on a new connection and reads n
// responses (bodies read in full).
func exchange(t *testing.T, base, raw string, n int) []*http.Response {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	// The requests, for their methods (a HEAD answer has no body).
	var reqs []*http.Request
	rr := bufio.NewReader(strings.NewReader(raw))
	for {
		r, err := http.ReadRequest(rr)
		if err != nil {
			break
		}
		io.Copy(io.Discard, r.Body)
		reqs = append(reqs, r)
	}
	br := bufio.NewReader(c)
	var out []*http.Response
	for i := range n {
		var req *http.Request
		if i < len(reqs) {
			req = reqs[i]
		}
		resp, err := http.ReadResponse(br, req)
		for err == nil && resp.StatusCode < 200 {
			resp, err = http.ReadResponse(br, req) // 100 Continue
		}
		if err != nil {
			t.Fatalf("reading response %d: %v", len(out)+1, err)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("reading body %d: %v", len(out)+1, err)
		}
		resp.Body = io.NopCloser(bytes.NewReader(b))
		out = append(out, resp)
	}
	return out
}

func bodyOf(r *http.Response) string {
	b, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(b))
	return string(b)
}

// endToEnd headers: what may legitimately differ between the two paths.
func comparable(h http.Header) http.Header {
	h = h.Clone()
	for _, k := range []string{"Date", "Content-Length", "Transfer-Encoding", "Connection"} {
		delete(h, k)
	}
	return h
}

// TestFastPathMatchesNetHTTP sends the same requests through the fast path
// and through net/http's path and requires the same thing to reach the
// upstream, the same answer to reach the client, and the same metrics.
func TestFastPathMatchesNetHTTP(t *testing.T) {
	const auth = "Authorization: Bearer " + secret + "\r\n"
	cases := []struct {
		name    string
		dialect string
		up      http.HandlerFunc
		req     string // raw, {host} replaced
		n       int    // responses expected
		fast    bool   // expected to take the fast path
	}{
		{
			name:    "json with rate-limit headers",
			dialect: "openai",
			up: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("x-ratelimit-limit-requests", "500")
				w.Header().Set("x-ratelimit-remaining-requests", "499")
				w.Header().Set("x-ratelimit-reset-requests", "120ms")
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, `{"model":"gpt-4o-2024","usage":{"prompt_tokens":7,"completion_tokens":11}}`)
			},
			req:  postReq("/p/v1/chat/completions?api-version=1", `{"model":"gpt-4o","messages":[]}`),
			n:    1,
			fast: true,
		},
		{
			name:    "chunked answer with usage at the end",
			dialect: "openai",
			up: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, `{"model":"gpt-4o",`)
				w.(http.Flusher).Flush()
				io.WriteString(w, `"usage":{"prompt_tokens":3,"completion_tokens":4}}`)
			},
			req:  postReq("/p/v1/chat/completions", `{"messages":[]}`),
			n:    1,
			fast: true,
		},
		{
			name:    "event stream",
			dialect: "openai",
			up: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				for i := range 3 {
					fmt.Fprintf(w, "data: {\"i\":%d}\n\n", i)
					w.(http.Flusher).Flush()
				}
				io.WriteString(w, "data: {\"model\":\"gpt-4o\",\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":6}}\n\ndata: [DONE]\n\n")
			},
			req:  postReq("/p/v1/chat/completions", `{"model":"gpt-4o","stream":true}`),
			n:    1,
			fast: true,
		},
		{
			name:    "429 body read by the dialect",
			dialect: "predictions",
			up: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-RateLimit-Limit", "60")
				w.Header().Set("X-RateLimit-Remaining", "0")
				w.Header().Set("X-RateLimit-Reset", "1705312800")
				w.Header().Set("Retry-After", "5")
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(429)
				io.WriteString(w, `{"error":{"type":"rate_limit_error","code":"CONCURRENT_LIMIT_EXCEEDED","details":{"limit":5,"active":5}}}`)
			},
			req:  "POST /p/v1/predictions HTTP/1.1\r\nHost: {host}\r\n" + auth + "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
			n:    1,
			fast: true,
		},
		{
			name:    "GET, HEAD, 204 and 304 pipelined",
			dialect: "openai",
			up: func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/v1/none":
					w.WriteHeader(204)
				case "/v1/same":
					w.WriteHeader(304)
				default:
					w.Header().Set("Content-Type", "application/json")
					io.WriteString(w, `{"data":[]}`)
				}
			},
			req: "GET /p/v1/models HTTP/1.1\r\nHost: {host}\r\n" + auth + "\r\n" +
				"HEAD /p/v1/models HTTP/1.1\r\nHost: {host}\r\n" + auth + "\r\n" +
				"DELETE /p/v1/none HTTP/1.1\r\nHost: {host}\r\n" + auth + "\r\n" +
				"GET /p/v1/same HTTP/1.1\r\nHost: {host}\r\n" + auth + "If-None-Match: \"x\"\r\n\r\n",
			n:    4,
			fast: true,
		},
		{
			name:    "hop-by-hop request fields are not forwarded",
			dialect: "openai",
			up:      func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") },
			req: "POST /p/v1/x HTTP/1.1\r\nHost: {host}\r\n" + auth + "Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\n" +
				"Proxy-Authorization: Basic eDp5\r\nTE: trailers\r\nX-Custom: a\r\nX-Custom: b\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n{}",
			n:    1,
			fast: true,
		},
		{
			name:    "client asks to close",
			dialect: "openai",
			up:      func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "bye") },
			req:     "GET /p/v1/models HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n",
			n:       1,
			fast:    true,
		},
		{
			name:    "upstream closes",
			dialect: "openai",
			up: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Connection", "close")
				io.WriteString(w, "bye")
			},
			req:  "GET /p/v1/a HTTP/1.1\r\nHost: {host}\r\n\r\nGET /p/v1/b HTTP/1.1\r\nHost: {host}\r\n\r\n",
			n:    2,
			fast: true,
		},
		{
			name:    "chunked request body: net/http",
			dialect: "openai",
			up:      echoBody,
			req:     "POST /p/v1/x HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
			n:       1,
		},
		{
			name:    "expect continue: net/http",
			dialect: "openai",
			up:      echoBody,
			req:     "POST /p/v1/x HTTP/1.1\r\nHost: {host}\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}",
			n:       1,
		},
		{
			name:    "escaped path: net/http",
			dialect: "openai",
			up:      echoBody,
			req:     "GET /p/v1/models/a%2Fb HTTP/1.1\r\nHost: {host}\r\n\r\n",
			n:       1,
		},
		{
			name:    "unknown provider: net/http's 404",
			dialect: "openai",
			up:      echoBody,
			req:     "GET /nope/v1/models HTTP/1.1\r\nHost: {host}\r\n\r\n",
			n:       1,
		},
		{
			name:    "dot segments: net/http's 400",
			dialect: "openai",
			up:      echoBody,
			req:     "GET /p/../v1/models HTTP/1.1\r\nHost: {host}\r\n\r\n",
			n:       1,
		},
		{
			name:    "body over the limit: net/http's 413",
			dialect: "openai",
			up:      echoBody,
			req:     "POST /p/v1/x HTTP/1.1\r\nHost: {host}\r\nContent-Length: 2000000\r\n\r\n",
			n:       1,
		},
		{
			name:    "absolute-form target: net/http",
			dialect: "openai",
			up:      echoBody,
			req:     "GET http://evil.example/p/v1/models HTTP/1.1\r\nHost: evil.example\r\n\r\n",
			n:       1,
		},
		{
			name:    "HTTP/1.0 client: net/http",
			dialect: "openai",
			up:      echoBody,
			req:     "GET /p/v1/models HTTP/1.0\r\nHost: {host}\r\n\r\n",
			n:       1,
		},
		{
			name:    "fast then handed over on the same connection",
			dialect: "openai",
			up:      echoBody,
			req: "POST /p/v1/x HTTP/1.1\r\nHost: {host}\r\nContent-Length: 2\r\n\r\n{}" +
				"POST /p/v1/y HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n[1]\r\n0\r\n\r\n" +
				"POST /p/v1/z HTTP/1.1\r\nHost: {host}\r\nContent-Length: 3\r\n\r\n[2]",
			n:    3,
			fast: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			got := map[string][]seen{}
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				mu.Lock()
				k := r.Header.Get("X-Side")
				h := r.Header.Clone()
				delete(h, "X-Side")
				got[k] = append(got[k], seen{r.Method, r.RequestURI, r.Host, h, string(b)})
				mu.Unlock()
				r.Body = io.NopCloser(bytes.NewReader(b))
				tc.up(w, r)
			}))
			defer up.Close()
			upHost := strings.TrimPrefix(up.URL, "http://")
			pr := newPair(t, tc.dialect, up.URL+"/base")
			var resps [2][]*http.Response
			for i, s := range []*env{pr.fast, pr.std} {
				host := strings.TrimPrefix(s.proxy.URL, "http://")
				raw := strings.ReplaceAll(tc.req, "{host}", host)
				// Mark the side so the upstream can tell them apart.
				raw = strings.ReplaceAll(raw, "\r\nHost: "+host+"\r\n", "\r\nHost: "+host+"\r\nX-Side: "+fmt.Sprint(i)+"\r\n")
				resps[i] = exchange(t, s.proxy.URL, raw, tc.n)
			}
			for j := range tc.n {
				f, s := resps[0][j], resps[1][j]
				if f.StatusCode != s.StatusCode || bodyOf(f) != bodyOf(s) {
					t.Errorf("response %d: fast %d %q, net/http %d %q", j, f.StatusCode, bodyOf(f), s.StatusCode, bodyOf(s))
				}
				if fh, sh := comparable(f.Header), comparable(s.Header); !headerEqual(fh, sh) {
					t.Errorf("response %d headers:\nfast     %v\nnet/http %v", j, fh, sh)
				}
				if f.Close != s.Close && !(f.Close && tc.name == "upstream closes") {
					t.Errorf("response %d: close fast %v, net/http %v", j, f.Close, s.Close)
				}
			}
			if g0, g1 := got["0"], got["1"]; len(g0) != len(g1) {
				t.Errorf("upstream saw %d requests from the fast path, %d from net/http", len(g0), len(g1))
			} else {
				for j := range g0 {
					a, b := g0[j], g1[j]
					if a.Method != b.Method || a.URI != b.URI || a.Host != b.Host || a.Body != b.Body || !headerEqual(a.Header, b.Header) {
						t.Errorf("upstream request %d:\nfast     %+v\nnet/http %+v", j, a, b)
					}
					if a.Host != upHost {
						t.Errorf("upstream Host %q, want %q", a.Host, upHost)
					}
				}
			}
			fm, sm := pr.fast.metricsText(t), pr.std.metricsText(t)
			if fm != sm {
				t.Errorf("metrics differ:\nfast:\n%s\nnet/http:\n%s", fm, sm)
			}
			if strings.Contains(fm, secret) || strings.Contains(pr.fast.logs.String(), secret) {
				t.Error("the API key leaked into metrics or logs")
			}
		})
	}
}

// postReq is a raw JSON POST with the test key.
func postReq(path, body string) string {
	return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		path, secret, len(body), body)
}

func echoBody(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	w.Write(b)
}

func headerEqual(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// metricsText lists the series and values that do not depend on timing.
func (s *env) metricsText(t *testing.T) string {
	t.Helper()
	mfs, err := s.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, mf := range mfs {
		if strings.Contains(mf.GetName(), "duration") || strings.Contains(mf.GetName(), "timestamp") ||
			strings.Contains(mf.GetName(), "reset") || strings.Contains(mf.GetName(), "age") {
			continue
		}
		for _, m := range mf.GetMetric() {
			var b strings.Builder
			b.WriteString(mf.GetName())
			for _, l := range m.GetLabel() {
				b.WriteString(" " + l.GetName() + "=" + l.GetValue())
			}
			switch {
			case m.Gauge != nil:
				fmt.Fprintf(&b, " %g", m.Gauge.GetValue())
			case m.Counter != nil:
				fmt.Fprintf(&b, " %g", m.Counter.GetValue())
			}
			lines = append(lines, b.String())
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// answerEach is a raw upstream's handler: it writes answer, in one write,
// after each request it reads, and closes after the first when close is set.
func answerEach(answer string, close bool) func(net.Conn) {
	return answerInPieces(close, answer)
}

// answerInPieces is answerEach writing its answer in pieces, with a pause
// between them long enough for each to reach the proxy in a read of its own.
func answerInPieces(close bool, pieces ...string) func(net.Conn) {
	return func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			for i, p := range pieces {
				if i > 0 {
					time.Sleep(10 * time.Millisecond)
				}
				io.WriteString(c, p)
			}
			if close {
				return
			}
		}
	}
}

// TestFastPathRawUpstreams covers upstream answers net/http's test server
// cannot produce: close-delimited bodies, HTTP/1.0, informational
// responses, trailers, and broken framing.
func TestFastPathRawUpstreams(t *testing.T) {
	cases := []struct {
		name   string
		answer string // what the upstream writes after reading the request head
		close  bool   // the upstream closes after answering
		status int
		body   string
	}{
		{"close-delimited", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close", true, 200, "until close"},
		{"HTTP/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 4\r\n\r\nold!", true, 200, "old!"},
		{"early hints", "HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false, 200, "ok"},
		{"trailers", "HTTP/1.1 200 OK\r\nTrailer: X-Sum\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nX-Sum: 1\r\n\r\n", false, 200, "abc"},
		{"lower-case chunked", "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n", false, 200, "0123456789"},
		{"bad content-length", "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", true, 502, ""},
		{"garbage", "HELLO\r\n\r\n", true, 502, ""},
		{"101", "HTTP/1.1 101 Switching Protocols\r\n\r\n", true, 502, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr := rawUpstream(t, answerEach(tc.answer, tc.close))
			e := newEnv(t, "openai", "http://"+addr)
			for i := range 2 { // twice: the connection must be usable after
				resp, err := http.Get(e.proxy.URL + "/p/v1/x")
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tc.status || (tc.status == 200 && (string(b) != tc.body || err != nil)) {
					t.Fatalf("request %d: %d %q %v, want %d %q", i, resp.StatusCode, b, err, tc.status, tc.body)
				}
				if tc.name == "trailers" && resp.Trailer.Get("X-Sum") != "1" {
					t.Errorf("trailer lost: %v", resp.Trailer)
				}
			}
		})
	}
}

// TestFastPathClientLeavesWhileWaiting: a client that disconnects while the
// upstream is still thinking cancels the upstream request (its connection
// is closed), as on net/http's path.
func TestFastPathClientLeavesWhileWaiting(t *testing.T) {
	cancelled := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // net/http notices a closed connection only after the body
		select {
		case <-r.Context().Done():
			close(cancelled)
		case <-time.After(5 * time.Second):
		}
	}))
	defer up.Close()
	e := newEnv(t, "openai", up.URL)
	c := e.proxy.dial(t)
	io.WriteString(c, "POST /p/v1/x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
	time.Sleep(300 * time.Millisecond)
	c.Close()
	select {
	case <-cancelled:
	case <-time.After(3 * time.Second):
		t.Fatal("upstream request not cancelled after the client left")
	}
	deadline := time.Now().Add(2 * time.Second)
	for !strings.Contains(e.metrics(t), "code=499") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(e.metrics(t), "code=499") {
		t.Errorf("no 499 counted:\n%s", e.metrics(t))
	}
}

// TestFastPathPipelinedWhileWaiting: bytes of the next request that arrive
// while the watcher is reading are kept.
func TestFastPathPipelinedWhileWaiting(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(400 * time.Millisecond)
		}
		io.WriteString(w, r.URL.Path)
	}))
	defer up.Close()
	e := newEnv(t, "openai", up.URL)
	c := e.proxy.dial(t)
	io.WriteString(c, "GET /p/slow HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(200 * time.Millisecond) // the watcher is reading now
	io.WriteString(c, "GET /p/fast HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(c)
	for _, want := range []string{"/slow", "/fast"} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if string(b) != want {
			t.Errorf("got %q want %q", b, want)
		}
	}
}

// TestServerShutdownDrains: Shutdown lets a request in flight on the fast
// path finish, closes idle connections, and returns.
// openaiProxy is a Proxy with one provider, "p" (dialect openai), at
// upstream, and its fast-path pool (closed when the test ends), for tests
// that run their own Server.
func openaiProxy(t *testing.T, upstream string) (*Proxy, *FastTransport) {
	t.Helper()
	u, _ := url.Parse(upstream)
	d, _ := parsers.Lookup("openai")
	cfg := &config.Config{Providers: []config.Provider{{Name: "p", Family: "openai", Dialect: d, Upstream: u}}}
	coll := collector.New(collector.Options{})
	coll.SetProviders([]collector.Provider{{Name: "p", Family: "openai", Dialect: "openai"}})
	fast := newFastPool()
	t.Cleanup(fast.CloseIdleConnections)
	return New(cfg, coll, Options{FastPath: fast}), fast
}

func TestServerShutdownDrains(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
		io.WriteString(w, "done")
	}))
	defer up.Close()
	p, fast := openaiProxy(t, up.URL)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	s := &Server{Proxy: p, Upstream: fast, Std: &http.Server{Handler: p}}
	go s.Serve(ln)
	idle, _ := net.Dial("tcp", ln.Addr().String()) // never sends anything
	defer idle.Close()
	res := make(chan string, 1)
	go func() {
		resp, err := http.Post("http://"+ln.Addr().String()+"/p/v1/x", "application/json", strings.NewReader("{}"))
		if err != nil {
			res <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		res <- string(b)
	}()
	time.Sleep(100 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if got := <-res; got != "done" {
		t.Errorf("in-flight request got %q", got)
	}
	idle.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := idle.Read(make([]byte, 1)); err == nil {
		t.Error("idle connection still open after Shutdown")
	}
}

func TestConnectionTokens(t *testing.T) {
	v := []byte(" keep-alive , X-Hop,close")
	if !hasToken(v, "close") || !hasToken(v, "keep-alive") || hasToken(v, "upgrade") {
		t.Error("hasToken")
	}
	if !namedIn(v, []byte("x-hop")) || namedIn(v, []byte("close")) || namedIn(v, []byte("X-Other")) || namedIn(nil, []byte("x")) {
		t.Error("namedIn")
	}
	if !lastToken([]byte("gzip, chunked"), "chunked") || lastToken([]byte("chunked, gzip"), "chunked") {
		t.Error("lastToken")
	}
	if n := testing.AllocsPerRun(100, func() { namedIn(v, []byte("x-hop")) }); n != 0 {
		t.Errorf("namedIn allocates %v", n)
	}
}

// TestFastPathClientTimeouts: the request-head and idle timeouts, kept by
// the sweeper, close a connection neither early nor much late, also after
// an answer written together with the wait for the next request (flush);
// and Shutdown closes a connection idle in that wait.
func TestFastPathClientTimeouts(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"ok":true}`)
	}))
	defer up.Close()
	p, fast := openaiProxy(t, up.URL)
	const idle, header = 300 * time.Millisecond, 200 * time.Millisecond
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	s := &Server{Proxy: p, Upstream: fast, Std: &http.Server{Handler: p, IdleTimeout: idle, ReadHeaderTimeout: header}}
	go s.Serve(ln)
	defer s.Close()
	req := postReq("/p/v1/chat/completions", `{"model":"m"}`)

	// answers reads n answers from br and requires each to be the upstream's.
	answers := func(t *testing.T, br *bufio.Reader, n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("answer %d: %v", i, err)
			}
			if b := bodyOf(resp); resp.StatusCode != 200 || b != `{"ok":true}` {
				t.Fatalf("answer %d: %d %q", i, resp.StatusCode, b)
			}
		}
	}
	// closesAbout requires the server to close the connection about want
	// from now: not before, and not much after (the sweeper's period and
	// a margin for a busy machine).
	closesAbout := func(t *testing.T, c net.Conn, br *bufio.Reader, want time.Duration) {
		t.Helper()
		at := time.Now()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := br.Read(make([]byte, 1)); n != 0 || err == nil {
			t.Fatalf("read %d bytes, %v; want the connection closed", n, err)
		}
		if got := time.Since(at); got < want-10*time.Millisecond || got > want+sweepEvery+400*time.Millisecond {
			t.Errorf("closed after %v, want about %v", got, want)
		}
	}

	t.Run("idle after answers", func(t *testing.T) {
		c, _ := net.Dial("tcp", ln.Addr().String())
		defer c.Close()
		br := bufio.NewReader(c)
		io.WriteString(c, req)
		answers(t, br, 1)
		time.Sleep(idle / 2) // within the idle timeout: still open
		io.WriteString(c, req)
		answers(t, br, 1)
		closesAbout(t, c, br, idle)
	})
	t.Run("pipelined, then idle", func(t *testing.T) {
		c, _ := net.Dial("tcp", ln.Addr().String())
		defer c.Close()
		br := bufio.NewReader(c)
		io.WriteString(c, req+req+req)
		answers(t, br, 3)
		closesAbout(t, c, br, idle)
	})
	t.Run("head never finished", func(t *testing.T) {
		c, _ := net.Dial("tcp", ln.Addr().String())
		defer c.Close()
		io.WriteString(c, "POST /p/v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
		closesAbout(t, c, bufio.NewReader(c), header)
	})
	t.Run("shutdown while idle after an answer", func(t *testing.T) {
		c, _ := net.Dial("tcp", ln.Addr().String())
		defer c.Close()
		br := bufio.NewReader(c)
		io.WriteString(c, req)
		answers(t, br, 1)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		at := time.Now()
		if err := s.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if got := time.Since(at); got > idle/2 {
			t.Errorf("Shutdown took %v with only an idle connection", got)
		}
		c.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := br.Read(make([]byte, 1)); err == nil {
			t.Error("idle connection still open after Shutdown")
		}
	})
}

// TestFastPathPipelinedRace: a client that sends its next request while
// the first is still with the upstream (pipelining) must get both answers
// promptly. The second request's bytes reach the socket before the answer
// to the first is written; the wait that follows that write (flush) cannot
// see them, and only its recheck brings them in.
func TestFastPathPipelinedRace(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(60 * time.Millisecond) // less than watchAfter: nobody reads the client meanwhile
		io.WriteString(w, `{"ok":true}`)
	}))
	defer up.Close()
	p, fast := openaiProxy(t, up.URL)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	s := &Server{Proxy: p, Upstream: fast, Std: &http.Server{Handler: p, IdleTimeout: 10 * time.Second}}
	go s.Serve(ln)
	defer s.Close()
	req := postReq("/p/v1/chat/completions", `{"model":"m"}`)
	for i := 0; i < 3; i++ {
		c, _ := net.Dial("tcp", ln.Addr().String())
		io.WriteString(c, req)
		time.Sleep(20 * time.Millisecond) // the first request is read alone
		io.WriteString(c, req)
		start := time.Now()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		br := bufio.NewReader(c)
		for n := 0; n < 2; n++ {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("round %d, answer %d: %v", i, n, err)
			}
			if b := bodyOf(resp); b != `{"ok":true}` {
				t.Fatalf("round %d, answer %d: %q", i, n, b)
			}
		}
		// Two upstream calls of 60 ms, plus at most one recheck.
		if took := time.Since(start); took > 120*time.Millisecond+2*sweepEvery+500*time.Millisecond {
			t.Errorf("round %d: both answers took %v", i, took)
		}
		c.Close()
	}
}

// TestFastPathAnswersBeforeRecording: an answer that came in one piece
// reaches the client before its call is recorded (recording adds nothing
// to the client's wait), and metrics read after the answer still show the
// call: the read waits for the recording (Server.settle).
func TestFastPathAnswersBeforeRecording(t *testing.T) {
	if !fastPathOn() {
		t.Skip("fast path off")
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-ratelimit-limit-requests", "100")
		w.Header().Set("x-ratelimit-remaining-requests", "41")
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"model":"gpt-4o","usage":{"prompt_tokens":9,"completion_tokens":7}}`)
	}))
	defer up.Close()
	release := make(chan struct{})
	testHookRecord = func() { <-release }
	defer func() { testHookRecord = nil }()
	e := newEnv(t, "openai", up.URL)
	c := e.proxy.dial(t)
	// The answer comes while the recording is held up.
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "POST /p/v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 18\r\n\r\n{\"model\":\"gpt-4o\"}")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer while the call was being recorded: %v", err)
	}
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Fatalf("no answer while the call was being recorded: %v", err)
	}
	go func() {
		time.Sleep(20 * time.Millisecond) // well within settleWait
		close(release)
	}()
	m := e.metricsText(t)
	for _, want := range []string{
		"headroom_requests_total code=200 key=none model=gpt-4o provider=p 1",
		"headroom_tokens_total key=none model=gpt-4o provider=p type=output 7",
		"headroom_ratelimit_remaining key=none model=gpt-4o provider=p resource=requests window=1m 41",
		"headroom_inflight_requests key=none provider=p 0",
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics read after the answer lack %q:\n%s", want, m)
		}
	}
}

// TestFastPathRecordsOnePieceAnswers: what record reads after a one-piece
// answer is written (the header map, the usage in the body, chunked or
// not) comes out as if it were read before: the rate-limit headers
// whatever the case of their names, the first Content-Type, and usage split
// across chunks.
func TestFastPathRecordsOnePieceAnswers(t *testing.T) {
	cases := []struct {
		name, answer    string
		remaining       float64
		input, output   float64
		wantTokensFound bool
	}{
		{"content-length",
			"HTTP/1.1 200 OK\r\nx-ratelimit-limit-requests: 500\r\nX-RateLimit-Remaining-Requests: 480\r\ncontent-TYPE: application/json; charset=utf-8\r\n" +
				"Content-Length: 69\r\n\r\n" + `{"model":"gpt-4o","usage":{"prompt_tokens":7,"completion_tokens":11}}`,
			480, 7, 11, true},
		{"chunked, usage split across chunks",
			"HTTP/1.1 200 OK\r\nX-Ratelimit-Limit-Requests: 500\r\nx-ratelimit-remaining-requests: 470\r\nContent-Type: application/json\r\nContent-Type: text/plain\r\n" +
				"Transfer-Encoding: chunked\r\n\r\n" + "1e\r\n" + `{"model":"gpt-4o","usage":{"pr` + "\r\n" + "26\r\n" + `ompt_tokens":3,"completion_tokens":4}}` + "\r\n0\r\n\r\n",
			470, 3, 4, true},
		{"not JSON: usage not read",
			"HTTP/1.1 200 OK\r\nx-ratelimit-limit-requests: 500\r\nx-ratelimit-remaining-requests: 460\r\nContent-Type: text/plain\r\n" +
				"Content-Length: 69\r\n\r\n" + `{"model":"gpt-4o","usage":{"prompt_tokens":7,"completion_tokens":11}}`,
			460, 0, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr := rawUpstream(t, answerEach(tc.answer, false))
			e := newEnv(t, "openai", "http://"+addr)
			resp, err := http.Post(e.proxy.URL+"/p/v1/chat/completions", "application/json", strings.NewReader(`{"model":"gpt-4o"}`))
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || err != nil || !strings.HasPrefix(string(b), `{"model":"gpt-4o","usage":{"prompt_tokens":`) || !strings.HasSuffix(string(b), "}}") {
				t.Fatalf("answer %d %q %v", resp.StatusCode, b, err)
			}
			if v := testutil.ToFloat64(mustVec(t, e, "headroom_ratelimit_remaining", "resource", "requests")); v != tc.remaining {
				t.Errorf("remaining %v, want %v", v, tc.remaining)
			}
			m := e.metrics(t)
			if !tc.wantTokensFound {
				if strings.Contains(m, "headroom_tokens_total") {
					t.Errorf("usage read from a non-JSON answer:\n%s", m)
				}
				return
			}
			for typ, want := range map[string]float64{"input": tc.input, "output": tc.output} {
				if v := testutil.ToFloat64(mustVec(t, e, "headroom_tokens_total", "type", typ)); v != want {
					t.Errorf("%s tokens %v, want %v", typ, v, want)
				}
			}
		})
	}
}

// TestFastPathAnswersInPieces: every answer, split anywhere (in the status
// line, in a field, at the head's end, in the body) with a pause between
// the pieces, reaches the client whole and is recorded as if it had come in
// one piece. A 429 whose body the dialect reads is the case to watch:
// reading its body refills the upstream buffer from its start, where the
// head the dialect parses afterwards was.
func TestFastPathAnswersInPieces(t *testing.T) {
	const usage = `{"model":"gpt-4o","usage":{"prompt_tokens":7,"completion_tokens":11}}`
	const limits = "x-ratelimit-limit-requests: 500\r\nx-ratelimit-remaining-requests: 480\r\nx-ratelimit-reset-requests: 120ms\r\n"
	const body429 = `{"error":{"type":"rate_limit_error","code":"CONCURRENT_LIMIT_EXCEEDED","details":{"limit":5,"active":5}}}`
	const sse = "data: {\"i\":0}\n\ndata: " + usage + "\n\ndata: [DONE]\n\n"
	cases := []struct {
		name, dialect, path, answer string
		status                      int
		body                        string
		metric, label, value        string
		want                        float64
		tokens                      bool
	}{
		{"content-length", "openai", "/p/v1/chat/completions",
			"HTTP/1.1 200 OK\r\n" + limits + "Content-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(usage)) + "\r\n\r\n" + usage,
			200, usage, "headroom_ratelimit_remaining", "resource", "requests", 480, true},
		{"chunked", "openai", "/p/v1/chat/completions",
			"HTTP/1.1 200 OK\r\n" + limits + "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
				fmt.Sprintf("%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n", 20, usage[:20], len(usage)-20, usage[20:]),
			200, usage, "headroom_ratelimit_remaining", "resource", "requests", 480, true},
		{"event stream", "openai", "/p/v1/chat/completions",
			"HTTP/1.1 200 OK\r\n" + limits + "Content-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n" +
				fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(sse), sse),
			200, sse, "headroom_ratelimit_remaining", "resource", "requests", 480, true},
		{"429 with the body the dialect reads", "predictions", "/p/v1/predictions",
			"HTTP/1.1 429 Too Many Requests\r\nX-RateLimit-Limit: 60\r\nX-RateLimit-Remaining: 0\r\nRetry-After: 5\r\n" +
				"Content-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body429)) + "\r\n\r\n" + body429,
			429, body429, "headroom_ratelimit_limit", "resource", "requests", 60, false},
		{"429 with the body the dialect reads, chunked", "predictions", "/p/v1/predictions",
			"HTTP/1.1 429 Too Many Requests\r\nX-RateLimit-Limit: 60\r\nX-RateLimit-Remaining: 0\r\nRetry-After: 5\r\n" +
				"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(body429), body429),
			429, body429, "headroom_ratelimit_limit", "resource", "requests", 60, false},
	}
	for _, tc := range cases {
		end := strings.Index(tc.answer, "\r\n\r\n") + 4
		for _, at := range []int{1, 20, end / 2, end - 2, end, end + 3, len(tc.answer) - 1} {
			t.Run(fmt.Sprintf("%s/at %d of %d", tc.name, at, len(tc.answer)), func(t *testing.T) {
				addr := rawUpstream(t, answerInPieces(false, tc.answer[:at], tc.answer[at:]))
				e := newEnv(t, tc.dialect, "http://"+addr)
				resp, err := http.Post(e.proxy.URL+tc.path, "application/json", strings.NewReader(`{"model":"gpt-4o"}`))
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tc.status || string(got) != tc.body || err != nil {
					t.Fatalf("answer %d %q %v, want %d %q", resp.StatusCode, got, err, tc.status, tc.body)
				}
				if v := testutil.ToFloat64(mustVec(t, e, tc.metric, tc.label, tc.value)); v != tc.want {
					t.Errorf("%s{%s=%q} = %v, want %v", tc.metric, tc.label, tc.value, v, tc.want)
				}
				m := e.metrics(t)
				if strings.Contains(m, "headroom_parse_errors_total") {
					t.Errorf("parse errors:\n%s", m)
				}
				if tc.tokens {
					if v := testutil.ToFloat64(mustVec(t, e, "headroom_tokens_total", "type", "output")); v != 11 {
						t.Errorf("output tokens %v, want 11", v)
					}
				}
			})
		}
	}
}

// TestFastPathRequestsInPieces: a request split anywhere (in the request
// line, a field, at the head's end, in the body) with a pause between the
// pieces reaches the upstream whole, and its call is labelled from the
// whole body.
func TestFastPathRequestsInPieces(t *testing.T) {
	const body = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`
	var mu sync.Mutex
	var seen []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, string(b))
		mu.Unlock()
		w.Header().Set("x-ratelimit-limit-requests", "500")
		w.Header().Set("x-ratelimit-remaining-requests", "499")
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"model":"gpt-4o-mini","usage":{"prompt_tokens":3,"completion_tokens":4}}`)
	}))
	defer up.Close()
	req := "POST /p/v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + secret + "\r\n" +
		"Content-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	end := strings.Index(req, "\r\n\r\n") + 4
	for _, at := range []int{1, 10, end / 2, end - 2, end, end + 5, len(req) - 1} {
		t.Run(fmt.Sprintf("at %d of %d", at, len(req)), func(t *testing.T) {
			e := newEnv(t, "openai", up.URL)
			c := e.proxy.dial(t)
			io.WriteString(c, req[:at])
			time.Sleep(10 * time.Millisecond)
			io.WriteString(c, req[at:])
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			mu.Lock()
			last := seen[len(seen)-1]
			mu.Unlock()
			if last != body {
				t.Errorf("upstream got %q", last)
			}
			m := e.metrics(t)
			if !strings.Contains(m, "headroom_ratelimit_remaining key=k-") || !strings.Contains(m, "model=gpt-4o-mini") {
				t.Errorf("the call is not labelled by key and model:\n%s", m)
			}
		})
	}
}
