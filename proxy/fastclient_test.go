package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func fastOpt(o *Options) {
	o.Transport = NewFastTransport(NewTransport(2*time.Second, 2*time.Second), 2*time.Second, 2*time.Second)
}

// countConns counts the connections an upstream accepts.
func countConns(s *httptest.Server) *atomic.Int32 {
	var n atomic.Int32
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			n.Add(1)
		}
	}
	return &n
}

func TestFastReusesConnections(t *testing.T) {
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Ratelimit-Remaining-Requests", "7")
		w.Write(b)
	}))
	conns := countConns(up)
	up.Start()
	defer up.Close()
	e := newEnv(t, "openai", up.URL, fastOpt)
	for i := range 20 {
		body := strings.Repeat("x", i*1000)
		resp, err := http.Post(e.proxy.URL+"/p/v1/echo", "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(got) != body {
			t.Fatalf("request %d: %d, %d bytes back, want %d", i, resp.StatusCode, len(got), len(body))
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("20 sequential requests took %d upstream connections, want 1", n)
	}
}

// An upstream that closes a keep-alive connection while it is idle: the next
// request (a POST, which must not be retried) goes on a fresh connection.
func TestFastIdleConnectionClosedByUpstream(t *testing.T) {
	var accepted atomic.Int32
	addr := rawUpstream(t, func(c net.Conn) {
		accepted.Add(1)
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		// Keep-alive announced, then closed while idle.
	})
	e := newEnv(t, "openai", "http://"+addr, fastOpt)
	for i := range 3 {
		resp, err := http.Post(e.proxy.URL+"/p/v1/chat/completions", "application/json", strings.NewReader(`{"model":"m"}`))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "ok" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, b)
		}
		time.Sleep(20 * time.Millisecond) // the FIN arrives
	}
	if n := accepted.Load(); n != 3 {
		t.Errorf("%d upstream connections, want 3", n)
	}
}

func TestFastTrailersAndInformational(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Set("Trailer", "X-Checksum")
		w.WriteHeader(200)
		io.WriteString(w, "part one,")
		w.(http.Flusher).Flush()
		io.WriteString(w, "part two")
		w.Header().Set("X-Checksum", "abc")
	}))
	defer up.Close()
	e := newEnv(t, "openai", up.URL, fastOpt)
	var got1xx atomic.Int32
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		if code == http.StatusEarlyHints && h.Get("Link") != "" {
			got1xx.Add(1)
		}
		return nil
	}}
	req, _ := http.NewRequest("GET", e.proxy.URL+"/p/v1/models", nil)
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "part one,part two" || resp.Trailer.Get("X-Checksum") != "abc" {
		t.Errorf("body %q trailer %q", b, resp.Trailer.Get("X-Checksum"))
	}
	if got1xx.Load() != 1 {
		t.Errorf("103 Early Hints not relayed")
	}
}

// Requests the fast path does not take still go through, on http.Transport.
func TestFastFallbacks(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	}))
	defer up.Close()
	e := newEnv(t, "openai", up.URL, fastOpt)
	big := bytes.Repeat([]byte("b"), maxFastBody+1)
	cases := []struct {
		name string
		body io.Reader
		size int64
		hdr  string
	}{
		{"expect-continue", bytes.NewReader([]byte("hello")), 5, "Expect"},
		{"chunked", io.MultiReader(strings.NewReader("chunk"), strings.NewReader("ed")), -1, ""},
		{"large", bytes.NewReader(big), int64(len(big)), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", e.proxy.URL+"/p/v1/echo", tc.body)
			req.ContentLength = tc.size
			if tc.hdr == "Expect" {
				req.Header.Set("Expect", "100-continue")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || len(b) == 0 {
				t.Errorf("%d, %d bytes", resp.StatusCode, len(b))
			}
		})
	}
}

// An https upstream goes through http.Transport until it has answered over
// HTTP/1.1, then through the fast path's own TLS connections.
func TestFastTLS(t *testing.T) {
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	}))
	conns := countConns(up)
	up.StartTLS()
	defer up.Close()
	std := NewTransport(2*time.Second, 2*time.Second)
	std.TLSClientConfig = up.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	ft := NewFastTransport(std, 2*time.Second, 2*time.Second)
	e := newEnv(t, "openai", up.URL, func(o *Options) { o.Transport = ft })
	for i := range 5 {
		resp, err := http.Get(e.proxy.URL + "/p/v1/models")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "HTTP/1.1" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, b)
		}
	}
	// One connection from http.Transport (the first request), one from the
	// fast path (the other four). The server's fast path (relay.go) dials
	// HTTP/1.1 from the first request: one connection.
	want := int64(2)
	if fastPathOn() {
		want = 1
	}
	if n := conns.Load(); int64(n) != want {
		t.Errorf("%d upstream connections, want %d", n, want)
	}
	ft.CloseIdleConnections()
}

// Idle connections are closed after the idle timeout even when no request
// comes to notice.
func TestFastIdleTimeout(t *testing.T) {
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	var closed atomic.Int32
	up.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateClosed {
			closed.Add(1)
		}
	}
	up.Start()
	defer up.Close()
	std := NewTransport(2*time.Second, 2*time.Second)
	std.IdleConnTimeout = 100 * time.Millisecond
	e := newEnv(t, "openai", up.URL, func(o *Options) { o.Transport = NewFastTransport(std, 2*time.Second, 2*time.Second) })
	resp, err := http.Get(e.proxy.URL + "/p/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	waitFor(t, func() bool { return closed.Load() == 1 })
}
