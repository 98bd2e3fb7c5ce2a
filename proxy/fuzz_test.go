package proxy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/headroomhq/headroom/internal/testtool/loopback"
)

// FuzzRequest sends arbitrary bytes as a client's connection through the
// real proxy to a recording provider. Whatever reaches the provider must be
// what net/http reads from the same bytes, request by request (method,
// body): the proxy and the server behind it can never disagree on where a
// request ends (request smuggling); no hop-by-hop field is forwarded; no
// request leaves the upstream's base path; nothing hangs.
func FuzzRequest(f *testing.F) {
	for _, s := range []string{
		"POST /p/v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"model\":\"m\"}\r\n",
		"POST /p/v1/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\nGET /p/v1/y HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /p/v1/x HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nSMUGGLEDGET /p/v1/y HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /p/v1/x HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, X-Drop\r\nX-Drop: 1\r\nKeep-Alive: 5\r\n\r\n",
		"GET /p/../v1 HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /p/v1/x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"POST /p/v1/x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}",
		"GET http://evil/p/v1/x HTTP/1.1\r\nHost: evil\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	// One proxy for the whole run: starting one per input would cost more
	// than the input.
	up := newRecorder(f)
	e := newEnv(f, "openai", "http://"+up.addr+"/base", func(o *Options) {
		o.RequestBodyTimeout = 200 * time.Millisecond
	})
	var mu sync.Mutex
	f.Fuzz(func(t *testing.T, raw []byte) {
		mu.Lock()
		defer mu.Unlock()
		before := len(up.got())
		c, err := net.Dial("tcp", strings.TrimPrefix(e.proxy.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(3 * time.Second))
		c.Write(raw)
		c.(*net.TCPConn).CloseWrite()
		if _, err := io.Copy(io.Discard, c); err != nil {
			t.Fatalf("the proxy did not finish with the connection: %v", err)
		}
		got := up.got()[before:]
		// net/http's reading of the same bytes.
		var want []recorded
		br := bufio.NewReader(bytes.NewReader(raw))
		for {
			// Empty lines before a request line are ignored (RFC 9112
			// §2.2; fasthttp does, net/http does not).
			for {
				b, err := br.Peek(1)
				if err != nil || (b[0] != '\r' && b[0] != '\n') {
					break
				}
				br.Discard(1)
			}
			req, err := http.ReadRequest(br)
			if err != nil {
				break
			}
			b, err := io.ReadAll(req.Body)
			if err != nil {
				break
			}
			want = append(want, recorded{method: req.Method, body: string(b)})
		}
		// Each forwarded request is one net/http reads, in order (those
		// Headroom refused or routed nowhere are skipped).
		next := 0
		for i, g := range got {
			for next < len(want) && (want[next].method != g.method || want[next].body != g.body) {
				next++
			}
			if next == len(want) {
				t.Fatalf("request %d: forwarded %s with a %d-byte body %q, which net/http does not read in the bytes (it reads %d requests)", i, g.method, len(g.body), g.body, len(want))
			}
			next++
			if !strings.HasPrefix(g.uri, "/base/") && g.uri != "/base" && !strings.HasPrefix(g.uri, "/base?") {
				t.Fatalf("request %d left the base path: %q", i, g.uri)
			}
			for _, k := range []string{"Keep-Alive", "Proxy-Connection", "Proxy-Authorization", "Upgrade", "Expect", "Te"} {
				if _, ok := g.header[k]; ok && !(k == "Te" && g.header.Get(k) == "trailers") {
					t.Fatalf("request %d: hop-by-hop %s forwarded", i, k)
				}
			}
			if len(g.te) > 0 && g.header.Get("Content-Length") != "" {
				t.Fatalf("request %d forwarded with both framings", i)
			}
		}
	})
}

// FuzzAnswer relays arbitrary bytes as a provider's answer. The client gets
// either Headroom's own 502/504 (the answer could not be read), or the
// provider's status and the body net/http reads from the same bytes; never
// a hang.
func FuzzAnswer(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nx-ratelimit-limit-requests: 5\r\nContent-Length: 2\r\n\r\n{}",
		"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: {\"usage\":{\"prompt_tokens\":1}}\n\n",
		"HTTP/1.1 200 OK\nContent-Length: 2\n\nok",
		"HTTP/1.0 200 OK\r\n\r\nclose-delimited",
		"HTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
	} {
		f.Add([]byte(s))
	}
	var (
		mu     sync.Mutex
		answer atomic.Pointer[[]byte]
	)
	addr := loopback.Serve(f, func(c net.Conn) {
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		c.Write(*answer.Load())
	})
	e := newEnv(f, "openai", "http://"+addr, func(o *Options) {
		o.Upstream = &Upstream{DialTimeout: time.Second, HeaderTimeout: 300 * time.Millisecond}
	})
	f.Fuzz(func(t *testing.T, raw []byte) {
		mu.Lock()
		defer mu.Unlock()
		answer.Store(&raw)
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, DisableCompression: true}}
		ref, referr := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), &http.Request{Method: "GET"})
		var refBody []byte
		var rerr error
		if referr == nil {
			refBody, rerr = io.ReadAll(ref.Body)
		}
		resp, err := client.Get(e.proxy.URL + "/p/v1/x")
		if err != nil {
			// A broken answer may reach the client as a broken
			// connection; a good one may not.
			if referr == nil && rerr == nil && ref.StatusCode >= 200 {
				t.Fatalf("no answer (%v) to a %d answer net/http reads whole", err, ref.StatusCode)
			}
			return
		}
		body, berr := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.Header.Get("X-Headroom-Error") == "1" {
			if resp.StatusCode != 502 && resp.StatusCode != 504 {
				t.Fatalf("Headroom's own %d", resp.StatusCode)
			}
			return
		}
		if referr != nil {
			t.Fatalf("relayed an answer net/http cannot read (%v) as %d", referr, resp.StatusCode)
		}
		if ref.StatusCode != resp.StatusCode && !(ref.StatusCode < 200 && resp.StatusCode >= 200) {
			t.Fatalf("status %d, net/http reads %d", resp.StatusCode, ref.StatusCode)
		}
		if berr == nil && rerr == nil && ref.StatusCode >= 200 && !bytes.Equal(body, refBody) {
			t.Fatalf("body %q, net/http reads %q", body, refBody)
		}
		if berr == nil && rerr != nil && ref.StatusCode >= 200 {
			t.Fatalf("relayed a complete %d-byte body where net/http reads a broken one (%v)", len(body), rerr)
		}
	})
}

// FuzzRequestModel holds the model read from a request body to what
// encoding/json reads from it: the top-level "model" string, the last of a
// repeated key, nothing for other types or documents that are not objects.
func FuzzRequestModel(f *testing.F) {
	for _, s := range []string{
		`{"model":"gpt-4o"}`, `{"model":"a","model":"b"}`, `{"model":1}`, `{"x":{"model":"in"}}`,
		`{"model":"gpt\u002d4o"}`, "{\"model\":\"\xff\"}", `[{"model":"x"}]`, `{"model":"a"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var last string
		got := requestModel(body, &last)
		if !json.Valid(body) {
			return // truncated or broken: read as far as it goes
		}
		var m map[string]json.RawMessage
		want := ""
		if json.Unmarshal(body, &m) == nil {
			var s string
			if raw, ok := m["model"]; ok && json.Unmarshal(raw, &s) == nil {
				want = s
			}
		}
		if !utf8.ValidString(want) || !utf8.ValidString(got) || strings.ContainsRune(want, utf8.RuneError) {
			// encoding/json replaces invalid UTF-8 and lone surrogates;
			// the collector does the same to any label value.
			return
		}
		if got != want {
			t.Fatalf("model %q, encoding/json reads %q", got, want)
		}
	})
}

// FuzzUsage holds the token usage read from a JSON answer, fed in two
// pieces, to what encoding/json reads from the whole.
func FuzzUsage(f *testing.F) {
	f.Add([]byte(`{"model":"m","usage":{"prompt_tokens":7,"completion_tokens":9}}`), 10)
	f.Add([]byte(`{"usage":{"input_tokens":3,"output_tokens":4},"model":"claude"}`), 0)
	f.Add([]byte(`{"usage":{"prompt_tokens":0,"input_tokens":2,"completion_tokens":-1}}`), 5)
	f.Fuzz(func(t *testing.T, body []byte, at int) {
		var s jsonSniffer
		at = min(max(at, 0), len(body))
		s.write(body[:at])
		s.write(body[at:])
		u := s.usage()
		if len(body) > 2*sniffWindow || !json.Valid(body) {
			return
		}
		// Maps, not structs: encoding/json matches struct fields in any
		// case, providers' keys are exact.
		var doc map[string]json.RawMessage
		if json.Unmarshal(body, &doc) != nil {
			return
		}
		counts := func(obj string) (int64, int64) {
			var usage map[string]json.RawMessage
			if json.Unmarshal(doc[obj], &usage) != nil {
				return 0, 0
			}
			count := func(k string) int64 {
				var n json.Number
				d := json.NewDecoder(bytes.NewReader(usage[k]))
				d.UseNumber()
				if d.Decode(&n) != nil {
					return 0
				}
				v, err := n.Int64()
				if err != nil || v < 0 || v > 1e15 {
					return 0
				}
				return v
			}
			pick := func(names ...string) int64 {
				for _, k := range names {
					if n := count(k); n > 0 {
						return n
					}
				}
				return 0
			}
			return pick("prompt_tokens", "input_tokens", "promptTokenCount"), pick("completion_tokens", "output_tokens", "candidatesTokenCount")
		}
		wantIn, wantOut := counts("usage")
		if wantIn == 0 && wantOut == 0 {
			wantIn, wantOut = counts("usageMetadata")
		}
		if bytes.Count(body, []byte(`"usage`)) > 1 || bytes.Count(body, []byte(`_tokens"`)) > 4 || bytes.Count(body, []byte(`TokenCount"`)) > 2 {
			return // repeated keys: encoding/json takes the last, a scan the first
		}
		if u.input != wantIn || u.output != wantOut {
			t.Fatalf("usage %d/%d, encoding/json reads %d/%d", u.input, u.output, wantIn, wantOut)
		}
	})
}
