package tracing

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/headroomhq/headroom/parsers"
)

// Tracer turns calls to providers into spans. A nil *Tracer means tracing is
// off: every method is a no-op and callers check for nil before doing any
// work of their own.
type Tracer struct {
	tr      trace.Tracer
	prop    propagation.TextMapPropagator
	sc      Semconv
	headers []respHeader
	fc      Forecaster
}

// Forecaster gives a rate-limit series' drain rate and exhaustion ETA
// (package decide) for the span of a call that observed it. model is the
// model the call asked for, key its key label.
type Forecaster interface {
	SpanForecast(provider, model, key, resource, window string) (drainPerSecond, etaSeconds float64, hasETA, ok bool)
}

// SetForecaster adds headroom.ratelimit.<resource>.<window>.drain_rate and
// .exhaustion_eta to the spans of calls that observe a series f forecasts.
// Call it before spans are recorded; nil t ignores it.
func (t *Tracer) SetForecaster(f Forecaster) {
	if t != nil {
		t.fc = f
	}
}

type respHeader struct {
	name string // canonical
	key  attribute.Key
}

// TracerOptions configure NewTracer.
type TracerOptions struct {
	// Propagator extracts the caller's context and injects Headroom's into
	// upstream requests; nil propagates nothing.
	Propagator propagation.TextMapPropagator
	Semconv    Semconv
	// ResponseHeaders is the allow-list of response headers recorded as
	// http.response.header.<name>. Credential-bearing names are dropped
	// whatever the list says.
	ResponseHeaders []string
	// Version is recorded as the instrumentation scope version.
	Version string
}

// NewTracer builds a Tracer on tp (an SDK TracerProvider, or any other).
func NewTracer(tp trace.TracerProvider, o TracerOptions) *Tracer {
	t := &Tracer{
		tr:   tp.Tracer(instrumentationName, trace.WithInstrumentationVersion(o.Version)),
		prop: o.Propagator,
		sc:   o.Semconv,
	}
	if t.prop == nil {
		t.prop = propagation.NewCompositeTextMapPropagator()
	}
	allowed, _ := AllowHeaders(strings.Join(o.ResponseHeaders, ","))
	for _, h := range allowed {
		t.headers = append(t.headers, respHeader{name: h, key: attribute.Key(responseHeaderPrefix + strings.ToLower(h))})
	}
	return t
}

// CallInfo describes one call to a provider: a proxied request, a tailed log
// line or a probe.
type CallInfo struct {
	// Provider is the Headroom provider instance name (the provider label).
	Provider string
	// Family is the provider family ("heroku", "openai", …); it gives
	// gen_ai.provider.name (see ProviderName).
	Family string
	// Source is "proxy", "tail" or "probe" (headroom.source).
	Source string
	// Operation is gen_ai.operation.name. Empty derives it from Method and
	// URL's path (see Operation; a path that is not inference makes a plain
	// HTTP span), or "chat" when there is no URL.
	Operation string
	// Model is the model the request asked for; ResponseModel the one the
	// response named.
	Model, ResponseModel string
	// Key is the key label (a fingerprint or alias), never a credential.
	Key string
	// Method is the HTTP method ("POST" when empty).
	Method string
	// URL is the upstream URL. Its user info is never recorded and query
	// values are redacted; it may be nil when unknown.
	URL *url.URL

	// Start and End delimit the call; End zero means Start.
	Start, End time.Time
	// Received is when the response headers arrived (the time of the
	// rate_limited event and the base of reset delays); zero means End.
	Received time.Time
	// FirstChunk is when the first body bytes arrived (streams); optional.
	FirstChunk time.Time

	// Status is the HTTP status the provider answered, 0 when it did not.
	Status int
	// ErrorType classifies a failure without a provider status: timeout,
	// connect, reset, client_closed or _OTHER.
	ErrorType string
	// Streamed reports a streaming (server-sent events) response.
	Streamed bool

	// Result holds the normalised rate-limit observations; may be nil.
	Result *parsers.Result
	// Token usage; zero means unknown.
	InputTokens, OutputTokens int64

	// Attributes are added as they are (e.g. ResponseHeaderAttributes).
	Attributes []attribute.KeyValue
}

// RecordCall records a call that already happened as one span with the
// call's own start and end times, a child of the span in ctx (if any). Tailed
// log lines and probes use it; the proxy uses Start and End instead so that
// the upstream request can carry the span's context. It returns the span's
// context (invalid when t is nil).
func RecordCall(ctx context.Context, t *Tracer, c CallInfo) trace.SpanContext {
	if t == nil {
		return trace.SpanContext{}
	}
	if c.End.IsZero() {
		c.End = c.Start
	}
	_, span := t.Start(ctx, &c)
	t.End(span, &c)
	return span.SpanContext()
}

// Extract returns ctx with the caller's span context from h (W3C
// traceparent/tracestate and baggage, as configured).
func (t *Tracer) Extract(ctx context.Context, h http.Header) context.Context {
	return t.prop.Extract(ctx, propagation.HeaderCarrier(h))
}

// Inject writes the span context of ctx into h.
func (t *Tracer) Inject(ctx context.Context, h http.Header) {
	t.prop.Inject(ctx, propagation.HeaderCarrier(h))
}

// ContextWithTraceparent returns ctx with the remote span context of a W3C
// traceparent (and tracestate) value, e.g. from a log line, so that
// RecordCall makes the span a child of it. Invalid values leave ctx as it is.
func (t *Tracer) ContextWithTraceparent(ctx context.Context, traceparent, tracestate string) context.Context {
	if t == nil || traceparent == "" {
		return ctx
	}
	carrier := propagation.MapCarrier{"traceparent": traceparent}
	if tracestate != "" {
		carrier["tracestate"] = tracestate
	}
	return propagation.TraceContext{}.Extract(ctx, carrier)
}

// Start starts the span of call c at c.Start, as a CLIENT span child of the
// span context in ctx, with the attributes the conventions want at creation
// (they matter to samplers). It returns ctx with the new span.
func (t *Tracer) Start(ctx context.Context, c *CallInfo) (context.Context, trace.Span) {
	method := c.Method
	if method == "" {
		method = "POST"
	}
	path := ""
	if c.URL != nil {
		path = c.URL.Path
	}
	op := c.Operation
	if op == "" {
		if c.URL != nil {
			op = Operation(method, path)
		} else {
			op = opChat
		}
	}
	model := truncate(c.Model, maxModelLen)
	source := c.Source
	if source == "" {
		source = sourceProxy
	}

	var buf [16]attribute.KeyValue
	attrs := append(buf[:0], AttrProvider.String(c.Provider), AttrSource.String(source))
	name := method
	if op != "" {
		pn := ProviderName(c.Family)
		attrs = append(attrs, AttrGenAIOperation.String(op), AttrGenAIProvider.String(pn))
		if !t.sc.GenAILatestOnly {
			attrs = append(attrs, AttrGenAISystem.String(pn))
		}
		name = op
		if model != "" {
			attrs = append(attrs, AttrGenAIRequestModel.String(model))
			name = op + " " + model
		}
	}
	m, known := httpMethod(method)
	attrs = append(attrs, AttrHTTPMethod.String(m))
	if !known {
		attrs = append(attrs, AttrHTTPMethodOriginal.String(truncate(method, 32)))
	}
	if c.URL != nil {
		host, port := c.URL.Hostname(), serverPort(c.URL)
		full := fullURL(c.URL)
		attrs = append(attrs, AttrServerAddress.String(host), AttrServerPort.Int(port), AttrURLFull.String(full))
		if t.sc.HTTPDup {
			attrs = append(attrs, attrOldHTTPMethod.String(method), attrOldHTTPURL.String(full), attrOldPeerName.String(host), attrOldPeerPort.Int(port))
		}
	}
	if c.Key != "" {
		attrs = append(attrs, AttrKey.String(c.Key))
	}
	start := c.Start
	if start.IsZero() {
		start = time.Now()
	}
	return t.tr.Start(ctx, name,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithTimestamp(start),
		trace.WithAttributes(attrs...))
}

// End adds what the response told (status, rate limits, usage, errors) to
// span and ends it at c.End (now when zero).
func (t *Tracer) End(span trace.Span, c *CallInfo) {
	end := c.End
	if end.IsZero() {
		end = time.Now()
	}
	if !span.IsRecording() {
		span.End(trace.WithTimestamp(end))
		return
	}
	received := c.Received
	if received.IsZero() {
		received = end
	}
	var n int
	if c.Result != nil {
		n = 3 * len(c.Result.Observations)
	}
	attrs := make([]attribute.KeyValue, 0, 12+n+len(c.Attributes))
	if c.Status > 0 {
		attrs = append(attrs, AttrHTTPStatus.Int(c.Status))
		if t.sc.HTTPDup {
			attrs = append(attrs, attrOldHTTPStatus.Int(c.Status))
		}
	}
	errType := c.ErrorType
	if errType == "" && c.Status >= 400 {
		errType = strconv.Itoa(c.Status)
	}
	if errType != "" {
		attrs = append(attrs, AttrErrorType.String(errType))
		span.SetStatus(codes.Error, "")
	}
	if c.ResponseModel != "" {
		attrs = append(attrs, AttrGenAIResponseModel.String(truncate(c.ResponseModel, maxModelLen)))
	}
	if c.InputTokens > 0 {
		attrs = append(attrs, AttrGenAIInputTokens.Int64(c.InputTokens))
	}
	if c.OutputTokens > 0 {
		attrs = append(attrs, AttrGenAIOutputTokens.Int64(c.OutputTokens))
	}
	if c.Streamed {
		attrs = append(attrs, AttrGenAIRequestStream.Bool(true))
		if !c.FirstChunk.IsZero() && !c.FirstChunk.Before(c.Start) {
			attrs = append(attrs, AttrGenAITimeToFirstChunk.Float64(c.FirstChunk.Sub(c.Start).Seconds()))
		}
	}
	if r := c.Result; r != nil {
		for i := range r.Observations {
			o := &r.Observations[i]
			k := rateLimitKeys(o.Resource, o.Window)
			if o.HasLimit {
				attrs = append(attrs, k.limit.Float64(o.Limit))
			}
			if o.HasRemaining {
				attrs = append(attrs, k.remaining.Float64(o.Remaining))
			}
			if !o.Reset.IsZero() {
				attrs = append(attrs, k.reset.Float64(max(0, o.Reset.Sub(received).Seconds())))
			}
			if t.fc != nil {
				attrs = t.appendForecast(attrs, c, o, k)
			}
		}
		if r.HasRetryAfter {
			attrs = append(attrs, AttrRetryAfter.Float64(r.RetryAfter.Seconds()))
		}
	}
	if c.Status == http.StatusTooManyRequests {
		res := parsers.Unknown
		if c.Result != nil && c.Result.ThrottledResource != "" {
			res = c.Result.ThrottledResource
		}
		attrs = append(attrs, AttrThrottledResource.String(res))
		ev := []attribute.KeyValue{AttrEventResource.String(res)}
		if c.Result != nil && c.Result.HasRetryAfter {
			ev = append(ev, AttrRetryAfter.Float64(c.Result.RetryAfter.Seconds()))
		}
		span.AddEvent(EventRateLimited, trace.WithTimestamp(received), trace.WithAttributes(ev...))
	}
	attrs = append(attrs, c.Attributes...)
	span.SetAttributes(attrs...)
	span.End(trace.WithTimestamp(end))
}

// RecordsHeaders reports whether an allow-list of response headers is set.
func (t *Tracer) RecordsHeaders() bool { return t != nil && len(t.headers) > 0 }

// ResponseHeaderAttributes appends http.response.header.<name> attributes
// (string arrays, as the HTTP conventions define them) for the allow-listed
// headers present in h.
func (t *Tracer) ResponseHeaderAttributes(h http.Header, dst []attribute.KeyValue) []attribute.KeyValue {
	if t == nil {
		return dst
	}
	for _, rh := range t.headers {
		if v, ok := h[rh.name]; ok && len(v) > 0 {
			vals := make([]string, len(v))
			for i, s := range v {
				vals[i] = truncate(s, 256)
			}
			dst = append(dst, rh.key.StringSlice(vals))
		}
	}
	return dst
}

func serverPort(u *url.URL) int {
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err == nil {
			return n
		}
	}
	if u.Scheme == "http" {
		return 80
	}
	return 443
}

// keptQueryParams are query parameters whose values are recorded; every
// other value is replaced by REDACTED (queries can carry keys: ?key=…).
var keptQueryParams = map[string]bool{"api-version": true}

// fullURL renders u for url.full: no user info, query values redacted.
func fullURL(u *url.URL) string {
	v := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	if u.RawQuery != "" {
		parts := strings.Split(u.RawQuery, "&")
		for i, p := range parts {
			k, _, hasValue := strings.Cut(p, "=")
			switch {
			case !hasValue:
				parts[i] = "REDACTED" // a bare token can be a key too
			case !keptQueryParams[strings.ToLower(k)]:
				parts[i] = k + "=REDACTED"
			}
		}
		v.RawQuery = strings.Join(parts, "&")
	}
	return v.String()
}

// appendForecast adds the forecast of o's series, when the forecaster has
// one: the drain rate per second, and the seconds until the window runs
// out when that comes before its reset.
func (t *Tracer) appendForecast(attrs []attribute.KeyValue, c *CallInfo, o *parsers.Observation, k *rlKeys) []attribute.KeyValue {
	drain, eta, hasETA, ok := t.fc.SpanForecast(c.Provider, c.Model, c.Key, o.Resource, o.Window)
	if !ok {
		return attrs
	}
	attrs = append(attrs, k.drain.Float64(drain))
	if hasETA {
		attrs = append(attrs, k.eta.Float64(eta))
	}
	return attrs
}
