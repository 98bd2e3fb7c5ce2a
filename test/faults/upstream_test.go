package faults

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Upstream faults: every client gets the upstream's answer, or a clear
// 502/504 from Headroom, within the deadline; nothing hangs or leaks.

const chat = `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`

// expectHeadroomError checks a 502/504 that Headroom wrote itself.
func expectHeadroomError(t *testing.T, r reply, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d (err %v), want %d; body %q", r.status, r.err, status, r.body)
	}
	if r.header.Get("X-Headroom-Error") != "1" {
		t.Errorf("a %d Headroom wrote itself must carry X-Headroom-Error: 1", status)
	}
	var b struct {
		Error struct{ Type, Message string }
	}
	if err := json.Unmarshal(r.body, &b); err != nil || b.Error.Type != "headroom_error" || b.Error.Message == "" {
		t.Errorf("error body %q is not a clear headroom_error (%v)", r.body, err)
	}
}

func TestConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	e := startAgent(t, []provider{{"down", "openai", "http://" + addr}})
	for range 3 {
		r := e.do("POST", "/down/v1/chat/completions", []byte(chat))
		expectHeadroomError(t, r, http.StatusBadGateway)
		if r.took > 2*time.Second {
			t.Errorf("refused connection took %v to report", r.took)
		}
	}
	_, mfs := e.scrape()
	if n := sum(mfs, "headroom_upstream_errors_total", "provider=down", "reason=connect"); n != 3 {
		t.Errorf("upstream_errors_total{reason=connect} = %v, want 3", n)
	}
	if n := sum(mfs, "headroom_requests_total", "provider=down", "code=502"); n != 3 {
		t.Errorf("requests_total{code=502} = %v, want 3", n)
	}
	e.checkLeaks()
}

// resetAfter writes head and n bytes of body, then resets the connection.
func resetAfter(head string, body []byte) func(c net.Conn, req *http.Request, _ []byte) bool {
	return func(c net.Conn, _ *http.Request, _ []byte) bool {
		io.WriteString(c, head)
		c.Write(body)
		time.Sleep(20 * time.Millisecond)
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0) // close sends RST
		}
		return false
	}
}

func TestResetMidBody(t *testing.T) {
	partial := []byte(strings.Repeat("x", 1000))
	cases := map[string]struct{ dialect, head string }{
		"content-length": {"openai", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + rateLimitHeaders + "Content-Length: 100000\r\n\r\n"},
		"chunked":        {"openai", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + rateLimitHeaders + "Transfer-Encoding: chunked\r\n\r\n3e8\r\n"},
		// A 429 whose body the dialect reads is buffered before it is
		// relayed: the reset comes while Headroom is still reading it.
		"429 body the dialect reads": {"anthropic", "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\n" +
			"anthropic-ratelimit-requests-limit: 50\r\nanthropic-ratelimit-requests-remaining: 0\r\nretry-after: 5\r\nContent-Length: 100000\r\n\r\n"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			up := newRawUpstream(t, serveHTTP(resetAfter(tc.head, partial)))
			e := startAgent(t, []provider{{"p", tc.dialect, up.url()}})
			r := e.do("POST", "/p/v1/chat/completions", []byte(chat))
			// The status line is gone by the time the upstream fails: the
			// client must see the truncation as an error, never as a
			// complete (shorter) body.
			// Either the relayed 200 then a broken body, or (when the
			// status line was still in Headroom's write buffer) a broken
			// connection: both tell the client the call failed.
			if want := tc.head[9:12]; r.status != 0 && fmt.Sprint(r.status) != want {
				t.Errorf("status %d, want the upstream's %s or a broken connection", r.status, want)
			}
			if r.err == nil {
				t.Errorf("body of %d bytes read without error: a truncated response looked complete", len(r.body))
			}
			if len(r.body) > len(partial) {
				t.Errorf("client got %d bytes, upstream sent %d", len(r.body), len(partial))
			}
			waitInflightZero(t, e)
			e.checkLeaks(up)
		})
	}
}

// waitInflightZero: the call is finished from Headroom's point of view.
func waitInflightZero(t *testing.T, e *env) {
	t.Helper()
	limit := time.Now().Add(3 * time.Second)
	for {
		_, mfs := e.scrape()
		n := sum(mfs, "headroom_inflight_requests")
		if n == 0 {
			return
		}
		if time.Now().After(limit) {
			t.Errorf("headroom_inflight_requests = %v after the calls ended", n)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSlowHeaders(t *testing.T) {
	closed := make(chan time.Time, 4)
	up := newRawUpstream(t, serveHTTP(func(c net.Conn, _ *http.Request, _ []byte) bool {
		// Say nothing; report when Headroom gives up and closes.
		io.Copy(io.Discard, c)
		closed <- time.Now()
		return false
	}))
	e := startAgent(t, []provider{{"slow", "openai", up.url()}}, headerTimeout(300*time.Millisecond))
	r := e.do("POST", "/slow/v1/chat/completions", []byte(chat))
	expectHeadroomError(t, r, http.StatusGatewayTimeout)
	if r.took < 250*time.Millisecond || r.took > 3*time.Second {
		t.Errorf("504 after %v, want about the 300ms header timeout", r.took)
	}
	select {
	case <-closed:
	case <-time.After(3 * time.Second):
		t.Errorf("the upstream connection stayed open after the 504")
	}
	_, mfs := e.scrape()
	if n := sum(mfs, "headroom_upstream_errors_total", "provider=slow", "reason=timeout"); n != 1 {
		t.Errorf("upstream_errors_total{reason=timeout} = %v, want 1", n)
	}
	e.checkLeaks(up)
}

// TestSlowBody: a body that trickles in for longer than the header timeout
// is relayed as it comes (not buffered) and completely.
func TestSlowBody(t *testing.T) {
	const chunks = 6
	sent := make(chan time.Time, chunks)
	up := newRawUpstream(t, serveHTTP(func(c net.Conn, _ *http.Request, _ []byte) bool {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"+rateLimitHeaders+"Transfer-Encoding: chunked\r\n\r\n")
		for i := range chunks {
			fmt.Fprintf(c, "%x\r\nchunk-%d\n\r\n", len("chunk-0\n"), i)
			sent <- time.Now()
			time.Sleep(150 * time.Millisecond)
		}
		io.WriteString(c, "0\r\n\r\n")
		return true
	}))
	e := startAgent(t, []provider{{"trickle", "openai", up.url()}}, headerTimeout(300*time.Millisecond))
	resp, err := e.client.Post(e.url("/trickle/download"), "application/json", strings.NewReader(chat))
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	first, err := br.ReadString('\n')
	firstAt := time.Now()
	if err != nil || first != "chunk-0\n" {
		t.Fatalf("first line %q, %v", first, err)
	}
	rest, err := io.ReadAll(br)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("slow body failed after %q: %v", rest, err)
	}
	var want strings.Builder
	for i := 1; i < chunks; i++ {
		fmt.Fprintf(&want, "chunk-%d\n", i)
	}
	if string(rest) != want.String() {
		t.Errorf("body %q, want %q", rest, want.String())
	}
	var last time.Time
	for range chunks {
		last = <-sent
	}
	if !firstAt.Before(last) {
		t.Errorf("first chunk reached the client at %v, after the upstream sent the last (%v): the body was buffered", firstAt, last)
	}
	e.checkLeaks(up)
}

func TestTruncatedSSE(t *testing.T) {
	events := []string{
		"data: {\"id\":\"1\",\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n",
		"data: {\"id\":\"1\",\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\n\n",
	}
	up := newRawUpstream(t, serveHTTP(func(c net.Conn, _ *http.Request, _ []byte) bool {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"+rateLimitHeaders+"Transfer-Encoding: chunked\r\n\r\n")
		for _, ev := range events {
			fmt.Fprintf(c, "%x\r\n%s\r\n", len(ev), ev)
			time.Sleep(30 * time.Millisecond)
		}
		return false // close without the terminating chunk or [DONE]
	}))
	e := startAgent(t, []provider{{"sse", "openai", up.url()}})
	r := e.do("POST", "/sse/v1/chat/completions", []byte(`{"model":"gpt-4o","stream":true}`))
	if r.status != http.StatusOK {
		t.Fatalf("status %d", r.status)
	}
	if string(r.body) != strings.Join(events, "") {
		t.Errorf("client got %q, want the events the upstream sent", r.body)
	}
	if r.err == nil {
		t.Errorf("truncated stream ended cleanly for the client: it cannot tell it from a complete one")
	}
	waitInflightZero(t, e)
	_, mfs := e.scrape()
	if n := sum(mfs, "headroom_requests_total", "provider=sse"); n != 1 {
		t.Errorf("requests_total = %v, want the truncated call counted once", n)
	}
	e.checkLeaks(up)
}

// Test5xxPassthrough: upstream errors reach the client as they are; they
// are not Headroom's errors.
func Test5xxPassthrough(t *testing.T) {
	for _, code := range []int{500, 502, 503, 504} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			body := fmt.Sprintf(`{"error":{"message":"upstream says %d","type":"server_error"}}`, code)
			up := newRawUpstream(t, serveHTTP(func(c net.Conn, _ *http.Request, _ []byte) bool {
				fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nRetry-After: 7\r\nX-Upstream: yes\r\n"+rateLimitHeaders+"Content-Length: %d\r\n\r\n%s",
					code, http.StatusText(code), len(body), body)
				return true
			}))
			e := startAgent(t, []provider{{"p", "openai", up.url()}})
			r := e.do("POST", "/p/v1/chat/completions", []byte(chat))
			if r.status != code || string(r.body) != body || r.err != nil {
				t.Errorf("got %d %q (%v), want the upstream's %d %q", r.status, r.body, r.err, code, body)
			}
			if r.header.Get("X-Upstream") != "yes" || r.header.Get("Retry-After") != "7" {
				t.Errorf("upstream headers not relayed: %v", r.header)
			}
			if r.header.Get("X-Headroom-Error") != "" {
				t.Errorf("an upstream %d was marked as Headroom's own error", code)
			}
			_, mfs := e.scrape()
			if n := sum(mfs, "headroom_upstream_errors_total"); n != 0 {
				t.Errorf("upstream_errors_total = %v: Headroom did not answer this itself", n)
			}
			if n := sum(mfs, "headroom_requests_total", "provider=p", fmt.Sprintf("code=%d", code)); n != 1 {
				t.Errorf("requests_total{code=%d} = %v, want 1", code, n)
			}
			if n := sum(mfs, "headroom_ratelimit_remaining", "provider=p", "resource=requests"); n != 99 {
				t.Errorf("rate-limit headers of a %d not observed: remaining = %v", code, n)
			}
			e.checkLeaks(up)
		})
	}
}

func TestHugeResponseHeaders(t *testing.T) {
	// Within the 8 KiB a response head may take (docs/proxy.md).
	big := strings.Repeat("h", 2<<10)
	many := strings.Builder{}
	for i := range 8 {
		fmt.Fprintf(&many, "X-Many-%d: %s\r\n", i, strings.Repeat("m", 300))
	}
	garbage := strings.Repeat("9", 2000)
	over := strings.Repeat("o", 64<<10) // past the limit: 502 at once
	huge := strings.Repeat("H", 11<<20)
	up := newRawUpstream(t, serveHTTP(func(c net.Conn, req *http.Request, _ []byte) bool {
		switch req.URL.Path {
		case "/big":
			io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Big: "+big+"\r\n"+many.String()+
				"x-ratelimit-limit-requests: "+garbage+"\r\nx-ratelimit-remaining-requests: 5\r\nContent-Length: 2\r\n\r\nok")
			return true
		case "/over":
			io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Over: "+over+"\r\nContent-Length: 2\r\n\r\nok")
			return false
		case "/huge":
			io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Huge: ")
			c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(c, huge) // Headroom stops reading part way
			return false
		}
		return false
	}))
	e := startAgent(t, []provider{{"p", "openai", up.url()}})

	r := e.do("GET", "/p/big", nil)
	if r.status != 200 || string(r.body) != "ok" || r.header.Get("X-Big") != big || r.header.Get("X-Many-7") == "" {
		t.Errorf("large but legal headers not relayed intact: status %d body %q X-Big %d bytes (%v)", r.status, r.body, len(r.header.Get("X-Big")), r.err)
	}
	raw, mfs := e.scrape()
	if n := sum(mfs, "headroom_parse_errors_total", "provider=p", "header=x-ratelimit-limit-requests"); n != 1 {
		t.Errorf("parse_errors_total for the 2000-digit limit = %v, want 1", n)
	}
	if strings.Contains(raw, strings.Repeat("9", 100)) || strings.Contains(e.logs.String(), strings.Repeat("9", 100)) {
		t.Errorf("the garbage value reached /metrics or the logs untruncated")
	}
	assertSaneRateLimits(t, mfs)

	for _, path := range []string{"/p/over", "/p/huge"} {
		r = e.do("GET", path, nil)
		expectHeadroomError(t, r, http.StatusBadGateway)
		if !strings.Contains(string(r.body), "8 KiB") {
			t.Errorf("%s: the 502 does not say why: %s", path, r.body)
		}
		if r.took > 2*time.Second {
			t.Errorf("%s: took %v", path, r.took)
		}
	}
	e.checkLeaks(up)
}

// TestMalformedResponses: responses net/http cannot frame safely become a
// 502; framing the client can still be told about (short body) is relayed
// as the error it is.
func TestMalformedResponses(t *testing.T) {
	cases := []struct {
		name, resp string
		want       int // 0: relay the upstream's status with a body error
	}{
		{"content-length-not-a-number", "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\nhello", 502},
		{"content-length-negative", "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\nhello", 502},
		{"content-length-conflicting", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello", 502},
		{"content-length-overflow", "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\nhello", 502},
		{"content-length-and-chunked", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 0},
		{"bad-chunk-size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n", 0},
		{"garbage-status-line", "SPDY/9 banana\r\n\r\n", 502},
		{"no-response", "", 502},
		{"header-without-colon", "HTTP/1.1 200 OK\r\nthis is not a header\r\nContent-Length: 2\r\n\r\nok", 502},
		{"short-body", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten!!", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			up := newRawUpstream(t, serveHTTP(func(c net.Conn, _ *http.Request, _ []byte) bool {
				io.WriteString(c, tc.resp)
				return false
			}))
			e := startAgent(t, []provider{{"p", "openai", up.url()}})
			r := e.do("POST", "/p/v1/chat/completions", []byte(chat))
			switch {
			case tc.want != 0:
				expectHeadroomError(t, r, tc.want)
			case r.status == 200 && r.err == nil && tc.name != "content-length-and-chunked":
				t.Errorf("malformed body relayed as a complete 200: %q", r.body)
			case tc.name == "content-length-and-chunked" && (r.status != 200 || string(r.body) != "hello"):
				// RFC 9112 §6.3: Transfer-Encoding wins over Content-Length.
				t.Errorf("got %d %q (%v), want the chunked body", r.status, r.body, r.err)
			}
			e.checkLeaks(up)
		})
	}
}
