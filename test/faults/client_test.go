package faults

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"github.com/headroomhq/headroom/config"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/headroomhq/headroom/keyid"
)

// Client faults: clients that go away, clients that never finish their
// headers, request bodies that are not what they claim.

// TestClientDisconnectMidStream: when the client goes away, Headroom cancels
// the upstream request (closes that connection) promptly.
func TestClientDisconnectMidStream(t *testing.T) {
	upClosed := make(chan time.Time, 1)
	up := newRawUpstream(t, serveHTTP(func(c net.Conn, _ *http.Request, _ []byte) bool {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"+rateLimitHeaders+"Transfer-Encoding: chunked\r\n\r\n")
		gone := make(chan struct{})
		go func() { io.Copy(io.Discard, c); close(gone) }()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			ev := fmt.Sprintf("data: {\"n\":%d}\n\n", i)
			if _, err := fmt.Fprintf(c, "%x\r\n%s\r\n", len(ev), ev); err != nil {
				break
			}
			select {
			case <-gone:
			case <-tick.C:
				continue
			}
			break
		}
		upClosed <- time.Now()
		return false
	}))
	e := startAgent(t, []provider{{"sse", "openai", up.url()}})

	c, err := net.Dial("tcp", e.agent.ProxyAddr)
	if err != nil {
		t.Fatal(err)
	}
	body := `{"model":"gpt-4o","stream":true}`
	fmt.Fprintf(c, "POST /sse/v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	c.SetReadDeadline(time.Now().Add(deadline))
	br := bufio.NewReader(c)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("no event before %v", err)
		}
		if strings.HasPrefix(line, "data: ") {
			break
		}
	}
	closedAt := time.Now()
	c.Close()
	select {
	case at := <-upClosed:
		if d := at.Sub(closedAt); d > 2*time.Second {
			t.Errorf("upstream request cancelled %v after the client left", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream stream kept going after the client disconnected")
	}
	waitInflightZero(t, e)
	e.checkLeaks(up)
}

// TestClientGivesUpBeforeHeaders: a client that times out while the
// upstream is still thinking cancels the upstream call, and it is not
// counted as an upstream error.
func TestClientGivesUpBeforeHeaders(t *testing.T) {
	upClosed := make(chan struct{}, 1)
	up := newRawUpstream(t, serveHTTP(func(c net.Conn, _ *http.Request, _ []byte) bool {
		io.Copy(io.Discard, c)
		upClosed <- struct{}{}
		return false
	}))
	e := startAgent(t, []provider{{"p", "openai", up.url()}})
	cl := &http.Client{Timeout: 200 * time.Millisecond}
	_, err := cl.Post(e.url("/p/v1/chat/completions"), "application/json", strings.NewReader(chat))
	if err == nil {
		t.Fatal("expected the client's own timeout")
	}
	select {
	case <-upClosed:
	case <-time.After(3 * time.Second):
		t.Fatal("upstream call not cancelled after the client gave up")
	}
	waitInflightZero(t, e)
	_, mfs := e.scrape()
	if n := sum(mfs, "headroom_upstream_errors_total"); n != 0 {
		t.Errorf("upstream_errors_total = %v: the client left, the upstream did not fail", n)
	}
	if n := sum(mfs, "headroom_requests_total", "provider=p", "code=499"); n != 1 {
		t.Errorf("requests_total{code=499} = %v, want 1", n)
	}
	cl.CloseIdleConnections()
	e.checkLeaks(up)
}

// TestSlowloris: connections that trickle their request headers, a byte a
// second, are closed by the server's ReadHeaderTimeout
// (HEADROOM_READ_HEADER_TIMEOUT) however long they keep trickling, while
// other clients keep being served.
//
// Not parallel with the other tests: checkLeaks counts the whole process's
// goroutines, and a test running beside it (the soak's load generator)
// reads as a leak.
func TestSlowloris(t *testing.T) {
	up := newRawUpstream(t, serveHTTP(func(c net.Conn, _ *http.Request, _ []byte) bool {
		io.WriteString(c, okResponse(`{"ok":true}`))
		return true
	}))
	// Longer than the normal clients' 5 s below, so they are all served
	// while every attacker is still connected.
	const readHeaderTimeout = 8 * time.Second
	e := startAgent(t, []provider{{"p", "openai", up.url()}}, func(s *config.Settings) { s.ReadHeaderTimeout = readHeaderTimeout })
	const attackers = 100
	start := time.Now()
	var wg sync.WaitGroup
	closedAfter := make(chan time.Duration, attackers)
	for i := range attackers {
		c, err := net.Dial("tcp", e.agent.ProxyAddr)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			fmt.Fprintf(c, "POST /p/v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Slow-%d: ", i)
			gone := make(chan struct{})
			go func() { io.Copy(io.Discard, c); close(gone) }()
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case <-gone:
					closedAfter <- time.Since(start)
					return
				case <-tick.C:
					if _, err := c.Write([]byte("a")); err != nil {
						<-gone
						closedAfter <- time.Since(start)
						return
					}
					if time.Since(start) > readHeaderTimeout+10*time.Second {
						closedAfter <- -1
						return
					}
				}
			}
		}()
	}
	// Normal clients are served throughout the attack.
	for time.Since(start) < 5*time.Second {
		r := e.do("POST", "/p/v1/chat/completions", []byte(chat))
		if r.status != 200 || r.took > time.Second {
			t.Errorf("legitimate call during the attack: %d after %v (%v)", r.status, r.took, r.err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	wg.Wait()
	close(closedAfter)
	for d := range closedAfter {
		if d < 0 {
			t.Fatalf("a slowloris connection was still open %v after it started", readHeaderTimeout+10*time.Second)
		}
		if d < readHeaderTimeout-time.Second {
			t.Errorf("slowloris connection closed after %v, before the %v header timeout", d, readHeaderTimeout)
		}
	}
	e.checkLeaks(up)
}

// recordingUpstream answers 200 and keeps what each request carried.
type recorded struct {
	header http.Header
	body   []byte
	cl     int64
	te     []string
}

func newRecordingUpstream(t *testing.T) (*rawUpstream, func() []recorded) {
	var mu sync.Mutex
	var got []recorded
	up := newRawUpstream(t, serveHTTP(func(c net.Conn, req *http.Request, body []byte) bool {
		mu.Lock()
		got = append(got, recorded{req.Header.Clone(), body, req.ContentLength, req.TransferEncoding})
		mu.Unlock()
		io.WriteString(c, okResponse(`{"id":"x"}`))
		return true
	}))
	return up, func() []recorded { mu.Lock(); defer mu.Unlock(); return append([]recorded(nil), got...) }
}

// TestMalformedRequestJSON: whatever the request body is, the upstream
// receives it byte for byte; Headroom only loses the model label.
func TestMalformedRequestJSON(t *testing.T) {
	big := bytes.Repeat([]byte(`{"role":"user","content":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},`), 3000) // ~160 KiB, past the 64 KiB peek
	cases := []struct {
		name      string
		body      []byte
		chunked   bool
		wantModel []string // acceptable model labels
	}{
		{"truncated", []byte(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi`), false, []string{"gpt-4o", ""}},
		{"binary", []byte("\x00\xff\xfe{\"model\":\"x\x00\"}\r\n\x80garbage"), false, []string{"", "x\x00"}},
		// Not valid UTF-8: client_golang panics on such label values, in
		// Collect, outside any recover (fixed in collector.Labels).
		{"invalid-utf8-model", []byte("{\"model\":\"gpt\xff\xfe\"}"), false, []string{"gpt\uFFFD", ""}},
		{"long-multibyte-model", []byte(`{"model":"` + strings.Repeat("é", 100) + `"}`), false, []string{strings.Repeat("é", 64)}},
		{"model-not-a-string", []byte(`{"model":12345,"messages":[]}`), false, []string{""}},
		{"nested-model-only", []byte(`{"options":{"model":"inner"},"messages":[]}`), false, []string{""}},
		{"model-after-peek", append(append([]byte(`{"messages":[`), big...), []byte(`{}],"model":"late"`)...), false, []string{""}},
		{"big-chunked", append(append([]byte(`{"model":"gpt-4o","messages":[`), big...), []byte(`{}`)...), true, []string{"gpt-4o"}},
		{"escaped-model", []byte(`{"model":"gpt\u002d4o\"\\","messages":[]}`), false, []string{"gpt-4o\"\\", ""}},
		{"duplicate-model", []byte(`{"model":"a","model":"b"}`), false, []string{"a", "b", ""}},
		{"empty", []byte{}, false, []string{""}},
		{"not-json-at-all", []byte("model=gpt-4o&stream=true"), false, []string{""}},
		{"utf8-bom", []byte("\xef\xbb\xbf{\"model\":\"gpt-4o\"}"), false, []string{"gpt-4o", ""}},
	}
	up, got := newRecordingUpstream(t)
	e := startAgent(t, []provider{{"p", "openai", up.url()}})
	for i, tc := range cases {
		var rd io.Reader = bytes.NewReader(tc.body)
		if tc.chunked {
			rd = io.MultiReader(rd) // hides the length: sent chunked
		}
		req, _ := http.NewRequest("POST", e.url("/p/v1/chat/completions"), rd)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", fmt.Sprintf("Bearer case-%d", i))
		resp, err := e.client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: status %d", tc.name, resp.StatusCode)
		}
		rec := got()
		if len(rec) != i+1 {
			t.Fatalf("%s: upstream saw %d requests, want %d", tc.name, len(rec), i+1)
		}
		r := rec[i]
		if sha256.Sum256(r.body) != sha256.Sum256(tc.body) {
			t.Errorf("%s: upstream got %d bytes %.60q…, client sent %d bytes %.60q…", tc.name, len(r.body), r.body, len(tc.body), tc.body)
		}
		if !tc.chunked && r.cl != int64(len(tc.body)) {
			t.Errorf("%s: upstream Content-Length %d, client sent %d", tc.name, r.cl, len(tc.body))
		}
		if r.header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: Content-Type %q", tc.name, r.header.Get("Content-Type"))
		}
	}
	_, mfs := e.scrape()
	for _, s := range seriesOf(mfs, "headroom_requests_total") {
		// The key label tells the case apart.
		for i, tc := range cases {
			if s.labels["key"] != keyid.Fingerprint(fmt.Sprintf("case-%d", i)) {
				continue
			}
			ok := false
			for _, m := range tc.wantModel {
				ok = ok || s.labels["model"] == m
			}
			if !ok {
				t.Errorf("%s: model label %q, want one of %q", tc.name, s.labels["model"], tc.wantModel)
			}
		}
	}
	e.checkLeaks(up)
}

// TestOversizedRequestBody: a body over HEADROOM_MAX_REQUEST_BODY_BYTES gets
// 413 — at once when Content-Length says so (nothing reaches the upstream),
// or when a chunked body crosses the limit — and is counted as a 413.
func TestOversizedRequestBody(t *testing.T) {
	var hits atomic.Int64
	up := newRawUpstream(t, serveHTTP(func(c net.Conn, _ *http.Request, _ []byte) bool {
		hits.Add(1)
		io.WriteString(c, okResponse(`{"ok":true}`))
		return true
	}))
	e := startAgent(t, []provider{{"p", "openai", up.url()}}, func(s *config.Settings) { s.MaxRequestBodyBytes = 1000 })
	big := strings.Repeat("x", 5000)
	for _, chunked := range []bool{false, true} {
		var body io.Reader = strings.NewReader(`{"model":"m","pad":"` + big + `"}`)
		if chunked {
			body = io.MultiReader(body) // hides the length: sent chunked
		}
		req, _ := http.NewRequest("POST", "http://"+e.agent.ProxyAddr+"/p/v1/chat/completions", body)
		req.Header.Set("Content-Type", "application/json")
		resp, err := e.client.Do(req)
		if err != nil {
			t.Fatalf("chunked=%v: %v", chunked, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "HEADROOM_MAX_REQUEST_BODY_BYTES") {
			t.Errorf("chunked=%v: status %d body %s", chunked, resp.StatusCode, b)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the upstream answered %d oversized requests", n)
	}
	// A body under the limit still goes through.
	req, _ := http.NewRequest("POST", "http://"+e.agent.ProxyAddr+"/p/v1/chat/completions", strings.NewReader(`{"model":"m"}`))
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("small body: %d", resp.StatusCode)
	}
	e.checkLeaks(up)
}
