package proxy

import (
	"context"
	"net/http"
	"time"

	"github.com/valyala/fasthttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/headroomhq/headroom/tracing"
)

// traceState is the span of one call, allocated only when tracing is on.
type traceState struct {
	span       trace.Span
	ctx        context.Context // the span's context, injected upstream
	info       tracing.CallInfo
	firstChunk time.Time
	bodyErr    string
	headers    []attribute.KeyValue
}

// propagationFields are the request fields trace context arrives in (W3C
// trace context and baggage, the propagators Headroom configures).
var propagationFields = []string{"traceparent", "tracestate", "baggage"}

// startSpan starts the call's span as a child of the caller's trace
// context; buildRequest then injects the span's context upstream.
func (c *call) startSpan(model string) {
	h := &c.ctx.Request.Header
	carrier := http.Header{}
	for _, f := range propagationFields {
		if v := h.Peek(f); len(v) > 0 {
			carrier.Set(f, string(v))
		}
	}
	rt := c.rt
	u := *rt.cfg.Upstream
	u.User = nil
	u.Path = c.info.Path
	u.RawPath = ""
	u.RawQuery = string(c.ctx.URI().QueryString())
	u.Fragment, u.RawFragment = "", ""
	ts := &traceState{}
	ts.info = tracing.CallInfo{
		Provider: c.info.Provider, Family: rt.cfg.Family, Source: "proxy",
		Model: model, Key: c.info.Labels.Key, Method: c.info.Method, URL: &u, Start: c.info.Start,
	}
	t := c.p.tracer
	ts.ctx, ts.span = t.Start(t.Extract(context.Background(), carrier), &ts.info)
	c.trace = ts
}

// injectTrace replaces the caller's trace context on the provider's request
// by the call's span: the provider sees Headroom's span as its parent.
// Without tracing the caller's fields pass as sent.
func (c *call) injectTrace(h *fasthttp.RequestHeader) {
	carrier := http.Header{}
	c.p.tracer.Inject(c.trace.ctx, carrier)
	for _, f := range propagationFields {
		h.Del(f)
	}
	for k, vs := range carrier {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
}
