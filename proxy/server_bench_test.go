package proxy

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/headroomhq/headroom/collector"
	"github.com/headroomhq/headroom/config"
	"github.com/headroomhq/headroom/parsers"
	"github.com/headroomhq/headroom/tracing"
)

// The proxy over loopback, one request at a time on one keep-alive
// connection: direct to the upstream, through the fast path, and through
// net/http's path, in the same run (compare the three, not across runs):
//
//	go test -run XXX -bench 'Loopback' -benchmem ./proxy
//
// The upstream is a canned HTTP/1.1 responder (an OpenAI answer with its
// rate-limit headers), so that the numbers are the proxy's cost plus the
// loopback round trips; allocations are the whole process's.

const benchAnswer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: Mon, 23 Nov 2026 20:00:00 GMT\r\n" +
	"x-ratelimit-limit-requests: 10000\r\nx-ratelimit-remaining-requests: 9999\r\nx-ratelimit-reset-requests: 6ms\r\n" +
	"x-ratelimit-limit-tokens: 2000000\r\nx-ratelimit-remaining-tokens: 1999982\r\nx-ratelimit-reset-tokens: 1ms\r\n" +
	"openai-processing-ms: 1\r\nContent-Length: 258\r\n\r\n" +
	`{"id":"chatcmpl-bench","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I help you today?"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":9,"total_tokens":18}}`

// cannedUpstream answers every request on every connection with
// benchAnswer.
func cannedUpstream(b *testing.B) string {
	return rawUpstream(b, func(c net.Conn) {
		br := bufio.NewReaderSize(c, 16<<10)
		for {
			if n := readMessage(br); n < 0 {
				return
			}
			if _, err := io.WriteString(c, benchAnswer); err != nil {
				return
			}
		}
	})
}

// readMessage reads one HTTP/1.1 message with a Content-Length body (or
// none) and returns its size, -1 at EOF or on anything else.
func readMessage(br *bufio.Reader) int {
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

func benchLoopback(b *testing.B, mode string, tracer *tracing.Tracer) {
	up := cannedUpstream(b)
	target := up
	path := "/v1/chat/completions"
	if mode != "direct" {
		u, _ := url.Parse("http://" + up)
		d, _ := parsers.Lookup("openai")
		cfg := &config.Config{Providers: []config.Provider{{Name: "openai", Family: "openai", Dialect: d, Upstream: u}}}
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		coll := collector.New(collector.Options{Logger: log})
		coll.SetProviders([]collector.Provider{{Name: "openai", Family: "openai", Dialect: "openai"}})
		o := Options{Logger: log, Transport: NewTransport(2*time.Second, 2*time.Second), Tracer: tracer}
		if mode == "fast" {
			o.FastPath = newFastPool()
		}
		p := New(cfg, coll, o)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		s := &Server{Proxy: p, Upstream: o.FastPath, Std: &http.Server{Handler: p}}
		go s.Serve(ln)
		b.Cleanup(func() { s.Close() })
		target = ln.Addr().String()
		path = "/openai" + path
	}
	const body = `{"model":"gpt-4o","messages":[{"role":"user","content":"Hello!"}],"max_tokens":20}`
	req := []byte("POST " + path + " HTTP/1.1\r\nHost: " + target + "\r\nContent-Type: application/json\r\n" +
		"Authorization: Bearer " + secret + "\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	c, err := net.Dial("tcp", target)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReaderSize(c, 16<<10)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		if readMessage(br) < 0 {
			b.Fatal("no answer")
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

func BenchmarkLoopbackDirect(b *testing.B)   { benchLoopback(b, "direct", nil) }
func BenchmarkLoopbackFastPath(b *testing.B) { benchLoopback(b, "fast", nil) }
func BenchmarkLoopbackNetHTTP(b *testing.B)  { benchLoopback(b, "std", nil) }

// With tracing on (every span recorded and exported to a discarding
// exporter), both paths.
func BenchmarkLoopbackFastPathTracing(b *testing.B) {
	benchLoopback(b, "fast", benchTracer(b, sdktrace.AlwaysSample()))
}
func BenchmarkLoopbackNetHTTPTracing(b *testing.B) {
	benchLoopback(b, "std", benchTracer(b, sdktrace.AlwaysSample()))
}
