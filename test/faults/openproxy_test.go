package faults

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// sentinel is a listener nothing may ever contact.
type sentinel struct {
	ln   net.Listener
	mu   sync.Mutex
	seen []string
}

func newSentinel(t *testing.T) *sentinel {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &sentinel{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.SetReadDeadline(time.Now().Add(time.Second))
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			s.mu.Lock()
			s.seen = append(s.seen, line)
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, l := range s.seen {
			t.Errorf("sentinel %s was contacted: %q", ln.Addr(), l)
		}
	})
	return s
}

func (s *sentinel) addr() string { return s.ln.Addr().String() }

// TestOpenProxy: absolute-form request URIs, Host tricks, dot segments in
// every encoding, encoded slashes, CONNECT, userinfo and redirects never
// make Headroom contact anything but a configured upstream, and never let a
// path leave the configured upstream's base path.
func TestOpenProxy(t *testing.T) {
	sent := newSentinel(t)
	other := newSentinel(t) // stands for a second internal service
	type hit struct{ host, uri string }
	var mu sync.Mutex
	var hits []hit
	good := newRawUpstream(t, serveHTTP(func(c net.Conn, req *http.Request, _ []byte) bool {
		mu.Lock()
		hits = append(hits, hit{req.Host, req.RequestURI})
		mu.Unlock()
		if strings.HasSuffix(req.URL.Path, "/redirect") {
			fmt.Fprintf(c, "HTTP/1.1 302 Found\r\nLocation: http://%s/\r\nContent-Length: 0\r\n\r\n", sent.addr())
			return true
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Good: 1\r\nContent-Length: 2\r\n\r\nok")
		return true
	}))
	goodHost := strings.TrimPrefix(good.url(), "http://")
	e := startAgent(t, []provider{{"good", "openai", good.url() + "/base"}})
	S, O := sent.addr(), other.addr()

	requests := []string{
		"GET http://" + S + "/good/v1/models HTTP/1.1\r\nHost: " + S + "\r\n\r\n",
		"GET http://" + S + "/ HTTP/1.1\r\nHost: " + S + "\r\n\r\n",
		"GET http://" + S + " HTTP/1.1\r\nHost: " + S + "\r\n\r\n",
		"GET https://" + S + "/good/v1 HTTP/1.1\r\nHost: " + S + "\r\n\r\n",
		"GET http://" + goodHost + "@" + S + "/good/v1 HTTP/1.1\r\nHost: " + S + "\r\n\r\n",
		"GET /good/v1/models HTTP/1.1\r\nHost: " + S + "\r\n\r\n",
		"GET /good/v1/models HTTP/1.1\r\nHost: " + S + "\r\nX-Forwarded-Host: " + S + "\r\nForwarded: host=" + S + "\r\nX-Forwarded-Proto: https\r\n\r\n",
		"GET /good/../other/v1 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /good/./../../" + O + "/v1 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /good/%2e%2e/%2e%2e/v1 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /good/%2E%2E%2F%2E%2E%2Fv1 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /good%2F..%2F..%2Fv1 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /good/..%2f..%2fv1 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /good/a%2fb/c HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /good/..\\..\\v1 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /good/%252e%252e/v1 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET //" + S + "/v1 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET ///" + S + "/v1 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /good//" + S + "/v1 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /good@" + S + "/v1 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /" + S + "/v1 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /openai/v1/models HTTP/1.1\r\nHost: x\r\n\r\n", // in the catalog, not configured
		"GET /%67ood/v1 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /good HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /good/v1 HTTP/1.0\r\n\r\n",
		"GET /good/v1 HTTP/1.1\r\nHost: " + S + "\r\nHost: x\r\n\r\n",
		"CONNECT " + S + " HTTP/1.1\r\nHost: " + S + "\r\n\r\n",
		"CONNECT " + goodHost + " HTTP/1.1\r\nHost: " + goodHost + "\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /good/redirect HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /good/v1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
		"GET /good/v1?url=http://" + S + "/ HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /good/v1#http://" + S + " HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /good/\x00/v1 HTTP/1.1\r\nHost: x\r\n\r\n",
	}
	for _, raw := range requests {
		c, err := net.Dial("tcp", e.agent.ProxyAddr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(deadline))
		io.WriteString(c, raw)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		line := strings.SplitN(raw, "\r\n", 2)[0]
		if err != nil {
			// The server refusing to parse the request at all is fine.
			c.Close()
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		c.Close()
		switch {
		case resp.Header.Get("X-Good") == "1", resp.StatusCode == http.StatusFound && resp.Header.Get("Location") != "":
			// Served by the configured upstream.
		case strings.HasPrefix(line, "OPTIONS * ") && resp.StatusCode == 200:
			// net/http answers "OPTIONS *" itself.
		case resp.StatusCode >= 400 && resp.StatusCode < 500:
			// Refused by Headroom (or net/http) without contacting anything.
		default:
			t.Errorf("%q: unexpected %d %v", line, resp.StatusCode, resp.Header)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, h := range hits {
		if h.host != goodHost {
			t.Errorf("configured upstream got Host %q, want its own %q (request %q)", h.host, goodHost, h.uri)
		}
		if h.uri != "/base" && !strings.HasPrefix(h.uri, "/base/") && !strings.HasPrefix(h.uri, "/base?") {
			t.Errorf("request left the upstream's base path: %q", h.uri)
		}
	}
	if len(hits) == 0 {
		t.Errorf("no request reached the configured upstream: the test did not exercise the route")
	}
	t.Logf("%d requests, %d reached the configured upstream: %v", len(requests), len(hits), hits)
	e.checkLeaks(good)
}
