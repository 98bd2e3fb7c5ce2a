package proxy

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"syscall"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/headroomhq/headroom/collector"
	"github.com/headroomhq/headroom/config"
	"github.com/headroomhq/headroom/parsers"
	"github.com/headroomhq/headroom/tracing"
)

// The proxy over loopback, one request at a time on one keep-alive
// connection, direct to the upstream and through the proxy, in the same
// run (compare them, not runs):
//
//	go test -run XXX -bench 'Loopback' -benchmem ./proxy
//
// The upstream is a canned HTTP/1.1 responder (an OpenAI answer with its
// rate-limit headers): the difference between the two is the proxy's cost
// plus one loopback round trip. cpu-ns/op is the whole process's CPU time
// per request (client, proxy and upstream); allocations are the whole
// process's too.

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
// none) and returns its size, -1 at EOF or on anything else: the
// benchmark's client and upstream, as cheap as they can be.
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

// BenchProxy starts a proxy for provider "openai" in front of upstream
// (host:port) and returns its address: for this package's benchmarks and
// for others that compare their cost with the proxy's.
func benchProxyAddr(b *testing.B, upstream string, tracer *tracing.Tracer) string {
	u, _ := url.Parse("http://" + upstream)
	d, _ := parsers.Lookup("openai")
	cfg := &config.Config{Providers: []config.Provider{{Name: "openai", Family: "openai", Dialect: d, Upstream: u}}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	coll := collector.New(collector.Options{Logger: log})
	coll.SetProviders([]collector.Provider{{Name: "openai", Family: "openai", Dialect: "openai"}})
	p := New(cfg, coll, Options{Logger: log, Upstream: &Upstream{DialTimeout: 2 * time.Second, HeaderTimeout: 2 * time.Second}, Tracer: tracer})
	return serveB(b, p)
}

func serveB(b *testing.B, p *Proxy) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s := &Server{Proxy: p, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute}
	go s.Serve(ln)
	b.Cleanup(func() { s.Close() })
	return ln.Addr().String()
}

func benchLoopback(b *testing.B, proxied bool, tracer *tracing.Tracer) {
	up := cannedUpstream(b)
	target, path := up, "/v1/chat/completions"
	if proxied {
		target, path = benchProxyAddr(b, up, tracer), "/openai"+path
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

func BenchmarkLoopbackDirect(b *testing.B)  { benchLoopback(b, false, nil) }
func BenchmarkLoopbackProxied(b *testing.B) { benchLoopback(b, true, nil) }

// With tracing on: every span recorded and exported (to a discarding
// exporter), or every span dropped by the sampler (context still
// propagated upstream).
func BenchmarkLoopbackTracing(b *testing.B) {
	benchLoopback(b, true, benchTracer(b, sdktrace.AlwaysSample()))
}
func BenchmarkLoopbackTracingUnsampled(b *testing.B) {
	benchLoopback(b, true, benchTracer(b, sdktrace.NeverSample()))
}

func benchTracer(b *testing.B, sampler sdktrace.Sampler) *tracing.Tracer {
	p, err := tracing.New(b.Context(), tracing.Config{
		Enabled: true, Exporter: "otlp", Sampler: sampler, Propagators: []string{"tracecontext", "baggage"},
	}, tracing.Options{Exporter: tracetest.NewNoopExporter(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Shutdown(context.Background()) })
	return p.Tracer()
}

// BenchmarkUsage reads the usage of a JSON answer and of a stream.
func BenchmarkUsage(b *testing.B) {
	body := []byte(benchAnswer[bytes.Index([]byte(benchAnswer), []byte("\r\n\r\n"))+4:])
	b.Run("json", func(b *testing.B) {
		var s jsonSniffer
		b.ReportAllocs()
		for b.Loop() {
			s = jsonSniffer{head: s.head[:0], tail: s.tail[:0], model: s.model}
			s.write(body)
			if s.usage().output != 9 {
				b.Fatal("usage")
			}
		}
	})
	stream := []byte("data: {\"model\":\"gpt-4o\",\"choices\":[{\"delta\":{\"content\":\"Hel\"}}],\"usage\":null}\n\n" +
		"data: {\"model\":\"gpt-4o\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":7}}\n\ndata: [DONE]\n\n")
	b.Run("sse", func(b *testing.B) {
		var s sseSniffer
		b.ReportAllocs()
		for b.Loop() {
			s = sseSniffer{line: s.line[:0], model: s.model}
			s.write(stream)
			if s.usage().output != 7 {
				b.Fatal("usage")
			}
		}
	})
}

// cpuTime is the process's CPU time so far (user and system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
