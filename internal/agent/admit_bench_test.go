package agent_test

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/headroomhq/headroom/decide"
	"github.com/headroomhq/headroom/internal/testenv"
	"github.com/headroomhq/headroom/keyid"
)

// The admission answer against the proxy, in one run: its cost per call
// must stay a small share (at most 10 %) of what the proxy spends on a
// request, or asking before every call would cost more than relaying it.
//
//	go test -run XXX -bench Admit -benchmem ./internal/agent
//
// cpu-ns/op is the whole process's CPU time (client, Headroom and the
// canned upstream, GC included) per operation:
//
//   - direct: a client and the canned upstream over loopback, no Headroom;
//   - proxy: the same request through Headroom's proxy (proxy - direct is
//     the proxy's own CPU per request);
//   - admit: GET /api/v1/admit's handler in-process (query parsing, the
//     decision, the JSON answer), the admission path's own cost;
//   - admit-http: the same over loopback HTTP, what a router pays in all;
//   - share: proxy and admit calls in turn within one benchmark, reporting
//     admit-cpu-%-of-proxy (admit / (proxy - direct)).

const admitBenchBody = `{"id":"chatcmpl-bench","object":"chat.completion","model":"gpt-4o","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":9,"total_tokens":18}}`

var admitBenchAnswer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" +
	"x-ratelimit-limit-requests: 10000\r\nx-ratelimit-remaining-requests: 9999\r\nx-ratelimit-reset-requests: 6ms\r\n" +
	"x-ratelimit-limit-tokens: 2000000\r\nx-ratelimit-remaining-tokens: 1999982\r\nx-ratelimit-reset-tokens: 1ms\r\n" +
	"Content-Length: " + strconv.Itoa(len(admitBenchBody)) + "\r\n\r\n" + admitBenchBody

// rawUpstream answers every HTTP/1.1 request on every connection with
// admitBenchAnswer.
func rawUpstream(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReaderSize(c, 16<<10)
				for readHTTPMessage(br) >= 0 {
					if _, err := io.WriteString(c, admitBenchAnswer); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// readHTTPMessage reads one message with a Content-Length body (or none)
// and returns its size, -1 at EOF.
func readHTTPMessage(br *bufio.Reader) int {
	n, cl := 0, 0
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return -1
		}
		n += len(line)
		if len(line) <= 2 {
			break
		}
		if len(line) > 16 && bytes.EqualFold(line[:15], []byte("content-length:")) {
			cl, _ = strconv.Atoi(string(bytes.TrimSpace(line[15:])))
		}
	}
	if _, err := br.Discard(cl); err != nil {
		return -1
	}
	return n + cl
}

// loopClient sends one request at a time on one keep-alive connection.
type loopClient struct {
	c   net.Conn
	br  *bufio.Reader
	req []byte
}

func newLoopClient(b *testing.B, addr string, req string) *loopClient {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return &loopClient{c: c, br: bufio.NewReaderSize(c, 16<<10), req: []byte(req)}
}

func (l *loopClient) do(b *testing.B) {
	if _, err := l.c.Write(l.req); err != nil {
		b.Fatal(err)
	}
	if readHTTPMessage(l.br) < 0 {
		b.Fatal("no answer")
	}
}

// discardWriter is a ResponseWriter that keeps nothing (its header map is
// reused).
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

const admitQuery = "provider=up&model=gpt-4o&key=prod&requests=1&tokens=500&max_tokens=200"

func BenchmarkAdmit(b *testing.B) {
	up := rawUpstream(b)
	a := testenv.Start(b, testenv.Options{ProvidersYAML: "providers:\n  - name: up\n    dialect: openai\n    upstream: http://" + up +
		"\n    key_aliases: {" + keyFP + ": prod}\nbuckets:\n  - {name: org, provider: up, keys: [prod]}\n"})
	const body = `{"model":"gpt-4o","messages":[{"role":"user","content":"Hello!"}],"max_tokens":20}`
	proxyReq := "POST /up/v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer " + benchKey +
		"\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	directReq := "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer " + benchKey +
		"\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	proxy := newLoopClient(b, a.ProxyAddr, proxyReq)
	proxy.do(b) // the bucket has data from here on
	admitHTTP := newLoopClient(b, a.MetricsAddr, "GET /api/v1/admit?"+admitQuery+" HTTP/1.1\r\nHost: x\r\n\r\n")
	e := a.Decide()
	req := httptest.NewRequest("GET", "/api/v1/admit?"+admitQuery, nil)
	w := &discardWriter{h: http.Header{}}
	if ans := e.Admit(mustParse(b, e.ParseRequest)); ans.Limiting == nil {
		b.Fatalf("the bucket has no data: %+v", ans)
	}
	direct := newLoopClient(b, up, directReq)
	run := func(name string, op func()) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				op()
			}
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
	run("direct", func() { direct.do(b) })
	run("proxy", func() { proxy.do(b) })
	run("admit", func() { e.ServeAdmit(w, req) })
	run("admit-http", func() { admitHTTP.do(b) })
	b.Run("share", func(b *testing.B) {
		// Each phase runs b.N times; the CPU of each is measured apart.
		n := b.N
		b.ResetTimer()
		c0 := cpuTime()
		for range n {
			direct.do(b)
		}
		c1 := cpuTime()
		for range n {
			proxy.do(b)
		}
		c2 := cpuTime()
		for range n {
			e.ServeAdmit(w, req)
		}
		c3 := cpuTime()
		d, p, ad := float64(c1-c0)/float64(n), float64(c2-c1)/float64(n), float64(c3-c2)/float64(n)
		b.ReportMetric(p-d, "proxy-cpu-ns/req")
		b.ReportMetric(ad, "admit-cpu-ns/call")
		b.ReportMetric(100*ad/(p-d), "admit-cpu-%-of-proxy")
	})
}

const benchKey = "sk-bench-admit-key-0001"

// keyFP is benchKey's fingerprint.
var keyFP = keyid.Fingerprint(benchKey)

func mustParse(b *testing.B, parse func(string) (decide.Request, *decide.QueryError)) decide.Request {
	r, err := parse(admitQuery)
	if err != nil {
		b.Fatal(err)
	}
	return r
}
