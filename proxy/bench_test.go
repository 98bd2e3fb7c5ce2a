package proxy

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/headroomhq/headroom/collector"
	"github.com/headroomhq/headroom/config"
	"github.com/headroomhq/headroom/internal/testtool/loopback"
	"github.com/headroomhq/headroom/parsers"
	"github.com/headroomhq/headroom/tracing"
	"github.com/valyala/fasthttp"
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

// benchProxyAddr starts a proxy for provider "openai" in front of upstream
// (host:port) and returns its address.
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

// benchBody is the request the loopback benchmarks send.
const benchBody = `{"model":"gpt-4o","messages":[{"role":"user","content":"Hello!"}],"max_tokens":20}`

func benchLoopback(b *testing.B, proxied bool, tracer *tracing.Tracer) {
	up := loopback.Upstream(b, "")
	target, path := up, "/v1/chat/completions"
	if proxied {
		target, path = benchProxyAddr(b, up, tracer), "/openai"+path
	}
	c := loopback.Dial(b, target, loopback.Post(path, secret, benchBody))
	loopback.Run(b, func() { c.Do(b) })
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
	body := []byte(loopback.Answer[strings.Index(loopback.Answer, "\r\n\r\n")+4:])
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

// The library's own floor, in the same run: a fasthttp server whose handler
// hands each request to a HostClient and the answer back, nothing read,
// recorded or checked, bodies buffered (fasthttp's reverse-proxy example)
// or streamed both ways as the proxy streams them. What the proxy costs
// above these is Headroom's; what they cost above Direct is the library's.
func BenchmarkLoopbackBareFasthttp(b *testing.B)          { benchBare(b, false) }
func BenchmarkLoopbackBareFasthttpStreaming(b *testing.B) { benchBare(b, true) }

func benchBare(b *testing.B, stream bool) {
	up := loopback.Upstream(b, "")
	hc := &fasthttp.HostClient{Addr: up, StreamResponseBody: stream, ReadBufferSize: maxResponseHead}
	s := &fasthttp.Server{StreamRequestBody: stream, Handler: func(ctx *fasthttp.RequestCtx) {
		if !stream {
			if err := hc.Do(&ctx.Request, &ctx.Response); err != nil {
				ctx.Error(err.Error(), fasthttp.StatusBadGateway)
			}
			return
		}
		var out fasthttp.Request
		ctx.Request.Header.CopyTo(&out.Header)
		out.SetBodyStream(ctx.RequestBodyStream(), ctx.Request.Header.ContentLength())
		resp := fasthttp.AcquireResponse()
		if err := hc.Do(&out, resp); err != nil {
			ctx.Error(err.Error(), fasthttp.StatusBadGateway)
			fasthttp.ReleaseResponse(resp)
			return
		}
		resp.Header.CopyTo(&ctx.Response.Header)
		ctx.Response.SetBodyStream(closer{resp}, resp.Header.ContentLength())
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go s.Serve(ln)
	b.Cleanup(func() { s.Shutdown() })
	c := loopback.Dial(b, ln.Addr().String(), loopback.Post("/v1/chat/completions", secret, benchBody))
	loopback.Run(b, func() { c.Do(b) })
}

// closer streams a pooled answer's body and releases the answer when the
// server has written it.
type closer struct{ resp *fasthttp.Response }

func (c closer) Read(p []byte) (int, error) { return c.resp.BodyStream().Read(p) }
func (c closer) Close() error {
	err := c.resp.CloseBodyStream()
	fasthttp.ReleaseResponse(c.resp)
	return err
}
