// Package calls is the last step every source takes. A Call is what a
// source — the proxy, the log tailer, the prober — learned of one call to
// a provider; a Recorder records it the same way whatever the source: the
// answer's rate limits, the call's completion, its span and its hooks (the
// access log). A new source builds Calls and hands them to the agent's
// Recorder; that is all it needs to feed the metrics, the dashboards, the
// alerts and the traces.
package calls

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/headroomhq/headroom/collector"
	"github.com/headroomhq/headroom/parsers"
	"github.com/headroomhq/headroom/tracing"
)

// Call is what a source learned about one call.
type Call struct {
	// Source is "proxy", "tail" or "probe" (the spans' headroom.source).
	Source   string
	Provider string
	Family   string
	Labels   collector.Labels
	Method   string
	Path     string   // upstream path, without query (queries can hold keys)
	Upstream string   // upstream host
	URL      *url.URL // the upstream URL, for spans; nil when unknown
	// Operation overrides the span's gen_ai.operation.name (see
	// tracing.CallInfo).
	Operation string
	Start     time.Time
	Received  time.Time // the answer's head arrived; zero when none did
	End       time.Time
	Status    int
	// Header is the answer's header, valid only during Done (nil when no
	// answer arrived or the source has none). Hooks must copy what they
	// keep and must not log it wholesale: it may carry cookies.
	Header    http.Header
	Result    *parsers.Result // valid only during Answered and Done
	InputTok  int64
	OutputTok int64
	RespModel string
	Streamed  bool
	// UpstreamErr classifies a call the provider never answered (connect,
	// timeout, reset, other, client_closed), empty when it answered.
	UpstreamErr string
	// Uncounted: the call is not one of the users' (a probe's), so
	// headroom_requests_total, tokens and durations leave it out.
	Uncounted bool
	// Cache, when set, is the source's cache of the completion's series
	// (collector.Completions) for calls alike.
	Cache *collector.Completions

	// Span is the span the source started when the call did (the proxy's,
	// whose context went upstream), with its details in SpanInfo; nil:
	// Done records one from the call.
	Span     trace.Span
	SpanInfo *tracing.CallInfo
	// SpanError is the span's error.type for a call whose answer broke off
	// (reset, timeout, client_closed), empty otherwise.
	SpanError string
}

// Hook observes recorded calls. It runs in Done, on the source's
// goroutine: it must be quick and must not block.
type Hook interface {
	CallDone(c *Call)
}

// Recorder records calls: one per agent, shared by every source.
type Recorder struct {
	Coll   *collector.Collector
	Tracer *tracing.Tracer // nil: tracing off
	Hooks  []Hook
}

// Answered records what c's answer said of the provider's limits
// (c.Result, received at c.Received), as soon as its head is read: a long
// stream's limits are on /metrics while it streams.
func (r *Recorder) Answered(c *Call) {
	r.Coll.ObserveResponse(c.Labels, c.Status, c.Result, c.Received)
}

// Done records c's end: its completion (unless Uncounted), its span, its
// hooks. ctx is the span's parent when Done records the span itself.
func (r *Recorder) Done(ctx context.Context, c *Call) {
	if !c.Uncounted {
		dur := time.Duration(0)
		if !c.End.IsZero() && !c.Start.IsZero() {
			dur = c.End.Sub(c.Start)
		}
		r.Coll.ObserveCompletionCached(c.Cache, c.Labels, c.Status, dur, c.InputTok, c.OutputTok)
	}
	if r.Tracer != nil {
		r.span(ctx, c)
	}
	for _, h := range r.Hooks {
		h.CallDone(c)
	}
}

// span ends the call's span, or records one.
func (r *Recorder) span(ctx context.Context, c *Call) {
	var in tracing.CallInfo
	if c.SpanInfo != nil {
		in = *c.SpanInfo
	} else {
		in = tracing.CallInfo{
			Provider: c.Provider, Family: c.Family, Source: c.Source, Operation: c.Operation,
			Model: c.Labels.Model, Key: c.Labels.Key, Method: c.Method, URL: c.URL, Start: c.Start,
		}
	}
	in.End, in.Received = c.End, c.Received
	in.Streamed, in.ResponseModel = c.Streamed, c.RespModel
	in.InputTokens, in.OutputTokens = c.InputTok, c.OutputTok
	in.Result = c.Result
	if !c.Received.IsZero() {
		in.Status = c.Status
	}
	switch {
	case c.UpstreamErr == "other":
		in.ErrorType = "_OTHER"
	case c.UpstreamErr != "":
		in.ErrorType = c.UpstreamErr
	case c.Received.IsZero() && c.Span != nil:
		in.ErrorType = "client_closed" // the proxy's call ended before any answer
	case c.SpanError != "":
		in.ErrorType = c.SpanError
	}
	if c.Span != nil {
		r.Tracer.End(c.Span, &in)
		return
	}
	if ctx == nil {
		ctx = context.Background()
	}
	tracing.RecordCall(ctx, r.Tracer, in)
}
