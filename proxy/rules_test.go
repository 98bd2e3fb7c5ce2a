package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/headroomhq/headroom/internal/testtool/loopback"
)

// recorder is a raw upstream that keeps every request it reads (head and
// body, as net/http's parser frames them) and answers each with a small
// JSON 200.
type recorder struct {
	mu   sync.Mutex
	reqs []recorded
	addr string
}

type recorded struct {
	method, uri string
	header      http.Header
	body        string
	te          []string
}

func newRecorder(t testing.TB) *recorder {
	r := &recorder{}
	r.addr = loopback.Serve(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			b, _ := io.ReadAll(req.Body)
			r.mu.Lock()
			r.reqs = append(r.reqs, recorded{req.Method, req.RequestURI, req.Header, string(b), req.TransferEncoding})
			r.mu.Unlock()
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
		}
	})
	return r
}

func (r *recorder) got() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.reqs...)
}

// TestIntermediaryRules sends raw bytes and checks, for each rule of
// docs/proxy.md, the status the client gets, what the provider received
// and whether the connection was closed: what nginx does with the same
// bytes.
func TestIntermediaryRules(t *testing.T) {
	const a1, a2 = "Authorization: Bearer key-one\r\n", "Authorization: Bearer key-two\r\n"
	cases := []struct {
		name   string
		raw    string
		status int    // of the first answer
		reason string // headroom_client_errors_total, "" for none
		// upstream: the requests the provider must receive (method and
		// URI), nil for none.
		upstream []string
		closed   bool
		check    func(t *testing.T, got []recorded, answer string)
	}{
		{
			name:   "Content-Length with Transfer-Encoding is refused, and what follows is not read as a request",
			raw:    "POST /p/v1/x HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nSMUGGLEDGET /p/v1/y HTTP/1.1\r\nHost: x\r\n\r\n",
			status: 400, reason: "framing", closed: true,
		},
		{
			name:   "an obs-folded Transfer-Encoding is refused",
			raw:    "POST /p/v1/x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
			status: 400, reason: "framing", closed: true,
		},
		{
			name:   "obs-fold anywhere is refused",
			raw:    "GET /p/v1/x HTTP/1.1\r\nHost: x\r\nX-Long: a\r\n\tb\r\n\r\n",
			status: 400, reason: "framing", closed: true,
		},
		{
			name:   "differing Content-Length fields are refused",
			raw:    "POST /p/v1/x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}x",
			status: 400, reason: "framing", closed: true,
		},
		{
			name:   "repeated identical Content-Length fields are refused",
			raw:    "POST /p/v1/x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
			status: 400, reason: "framing", closed: true,
		},
		{
			name:   "Transfer-Encoding on HTTP/1.0 is refused",
			raw:    "POST /p/v1/x HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
			status: 400, reason: "framing", closed: true,
		},
		{
			name:   "a malformed chunked body is the client's error, not the provider's",
			raw:    "POST /p/v1/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
			status: 400, reason: "bad_body", closed: true,
		},
		{
			name:   "CONNECT is not tunnelled",
			raw:    "CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n",
			status: 405, reason: "method", closed: true,
		},
		{
			name:   "TRACE is not forwarded",
			raw:    "TRACE /p/v1/x HTTP/1.1\r\nHost: x\r\n" + a1 + "\r\n",
			status: 405, reason: "method", closed: true,
		},
		{
			name:     "the fragment is stripped",
			raw:      "GET /p/v1/x?q=1#frag HTTP/1.1\r\nHost: x\r\n\r\n",
			status:   200,
			upstream: []string{"GET /v1/x?q=1"},
		},
		{
			name:     "one 100 Continue, from Headroom; the provider gets no Expect",
			raw:      "POST /p/v1/x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}",
			status:   200,
			upstream: []string{"POST /v1/x"},
			check: func(t *testing.T, got []recorded, answer string) {
				if n := strings.Count(answer, "100 Continue"); n != 1 {
					t.Errorf("%d 100 Continue answers: %q", n, answer)
				}
				if got[0].header.Get("Expect") != "" || got[0].body != "{}" {
					t.Errorf("provider got Expect %q, body %q", got[0].header.Get("Expect"), got[0].body)
				}
			},
		},
		{
			name:   "a body over the limit gets a 413 the client can read",
			raw:    "POST /p/v1/x HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n" + strings.Repeat("x", 300000),
			status: 413, reason: "body_too_large", closed: true,
		},
		{
			name:   "two Authorization fields with different values are refused",
			raw:    "POST /p/v1/x HTTP/1.1\r\nHost: x\r\n" + a1 + a2 + "Content-Length: 2\r\n\r\n{}",
			status: 400, reason: "credential", closed: true,
		},
		{
			name:   "two x-api-key fields with different values are refused",
			raw:    "POST /p/v1/x HTTP/1.1\r\nHost: x\r\nx-api-key: one\r\nX-Api-Key: two\r\nContent-Length: 2\r\n\r\n{}",
			status: 400, reason: "credential", closed: true,
		},
		{
			name:   "two api-key fields with different values are refused",
			raw:    "POST /p/v1/x HTTP/1.1\r\nHost: x\r\napi-key: one\r\napi-key: two\r\nContent-Length: 2\r\n\r\n{}",
			status: 400, reason: "credential", closed: true,
		},
		{
			name:     "a credential repeated with the same value goes through",
			raw:      "POST /p/v1/x HTTP/1.1\r\nHost: x\r\n" + a1 + a1 + "Content-Length: 2\r\n\r\n{}",
			status:   200,
			upstream: []string{"POST /v1/x"},
		},
		{
			name:     "HTTP/1.0 with Content-Length goes through",
			raw:      "POST /p/v1/x HTTP/1.0\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
			status:   200,
			upstream: []string{"POST /v1/x"},
			closed:   true,
		},
		{
			name:     "a chunked body goes through whole",
			raw:      "POST /p/v1/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{\r\n1\r\n}\r\n0\r\n\r\n",
			status:   200,
			upstream: []string{"POST /v1/x"},
			check: func(t *testing.T, got []recorded, _ string) {
				if got[0].body != "{}" {
					t.Errorf("provider got body %q", got[0].body)
				}
			},
		},
		{
			name:   "dot segments are refused in any spelling",
			raw:    "GET /p/%2E%2e/x HTTP/1.1\r\nHost: x\r\n\r\n",
			status: 400, reason: "path", closed: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			up := newRecorder(t)
			e := newEnv(t, "openai", "http://"+up.addr)
			c := e.proxy.dial(t)
			c.SetDeadline(time.Now().Add(5 * time.Second))
			// Written while the answer is read: a proxy that stops
			// reading must not block the test.
			go io.WriteString(c, tc.raw)
			var answer bytes.Buffer
			br := bufio.NewReader(io.TeeReader(c, &answer))
			resp, err := http.ReadResponse(br, nil)
			for err == nil && resp.StatusCode == 100 {
				resp, err = http.ReadResponse(br, nil)
			}
			if err != nil {
				t.Fatalf("no answer: %v (read %q)", err, answer.String())
			}
			io.Copy(io.Discard, resp.Body)
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.reason != "" && resp.Header.Get("X-Headroom-Error") != "1" {
				t.Errorf("a refusal without X-Headroom-Error")
			}
			if closed := connClosed(c, br); closed != tc.closed {
				t.Errorf("connection closed %v, want %v", closed, tc.closed)
			}
			got := up.got()
			var seen []string
			for _, r := range got {
				seen = append(seen, r.method+" "+r.uri)
			}
			if strings.Join(seen, ",") != strings.Join(tc.upstream, ",") {
				t.Errorf("the provider received %q, want %q", seen, tc.upstream)
			}
			if tc.reason != "" {
				if v := e.value(t, "headroom_client_errors_total", "reason="+tc.reason); v != 1 {
					t.Errorf("client_errors_total{reason=%q} = %v:\n%s", tc.reason, v, e.metricsText(t))
				}
			}
			if v := e.value(t, "headroom_upstream_errors_total"); v != 0 {
				t.Errorf("upstream_errors_total = %v: the client's fault counted against the provider", v)
			}
			if tc.check != nil && len(got) > 0 {
				tc.check(t, got, answer.String())
			}
		})
	}
}

// A body that stops coming gets 408 after HEADROOM_REQUEST_BODY_TIMEOUT
// and its connection closed, whether the pause is in the part read with
// the head or after it.
func TestRequestBodyTimeout(t *testing.T) {
	up := newRecorder(t)
	e := newEnv(t, "openai", "http://"+up.addr, func(o *Options) { o.RequestBodyTimeout = 300 * time.Millisecond })
	for _, sent := range []string{
		"POST /p/v1/x HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + strings.Repeat("x", 20000),
		"POST /p/v1/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
	} {
		c := e.proxy.dial(t)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, sent)
		start := time.Now()
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 408 || time.Since(start) > 2*time.Second {
			t.Errorf("status %d after %v, want 408 after 300ms", resp.StatusCode, time.Since(start))
		}
		io.Copy(io.Discard, resp.Body)
		if !connClosed(c, br) {
			t.Error("connection left open")
		}
	}
	if v := e.value(t, "headroom_client_errors_total", "reason=body_timeout"); v != 2 {
		t.Errorf("client_errors_total{reason=body_timeout} = %v", v)
	}
	if n := len(up.got()); n != 0 {
		t.Errorf("the provider answered %d incomplete requests", n)
	}
}

// Upstream answers whose framing cannot be trusted become a 502 at once;
// none hangs until a timeout.
func TestUpstreamFraming(t *testing.T) {
	cases := []struct {
		name, answer string
		status       int
		body         string
	}{
		// fasthttp cannot read them; nginx can. 502 at once, saying why.
		{"bare LF line endings", "HTTP/1.1 200 OK\nContent-Type: application/json\nContent-Length: 2\n\n{}", 502, "bare LF"},
		{"chunked then gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n2\r\n{}\r\n0\r\n\r\n", 502, ""},
		{"two lengths", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}x", 502, ""},
		{"no status line", "hello\r\n\r\n", 502, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The provider keeps the connection open: a proxy waiting
			// for a head it cannot parse would wait for the timeout.
			addr := loopback.Serve(t, func(c net.Conn) {
				answerInPieces(false, tc.answer)(c)
			})
			e := newEnv(t, "openai", "http://"+addr, func(o *Options) {
				o.Upstream = &Upstream{DialTimeout: time.Second, HeaderTimeout: 10 * time.Second}
			})
			start := time.Now()
			resp, err := http.Get(e.proxy.URL + "/p/v1/x")
			if err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			if resp.StatusCode != tc.status || took > time.Second {
				t.Errorf("status %d after %v, want %d at once", resp.StatusCode, took, tc.status)
			}
			if b := bodyOf(resp); !strings.Contains(b, tc.body) {
				t.Errorf("body %q, want it to say %q", b, tc.body)
			}
			resp.Body.Close()
		})
	}
}

// The model label follows the rule providers' JSON decoders follow: the
// last of a repeated key.
func TestModelLastDuplicateWins(t *testing.T) {
	up := newRecorder(t)
	e := newEnv(t, "openai", "http://"+up.addr)
	resp, err := http.Post(e.proxy.URL+"/p/v1/chat/completions", "application/json", strings.NewReader(`{"model":"first","messages":[],"model":"last"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if v := e.value(t, "headroom_requests_total", "model=last"); v != 1 {
		t.Errorf("requests_total{model=last} = %v:\n%s", v, e.metricsText(t))
	}
}
