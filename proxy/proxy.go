// Package proxy is Headroom's reverse proxy: /<provider>/<path> is forwarded
// to that provider's upstream, unchanged and streamed both ways, while the
// response's rate-limit headers, 429 bodies and token usage are fed to the
// collector on the side.
//
// The rule that shapes everything here: Headroom must never be the reason a
// request fails. Observation works on copies and bounded peeks; whatever it
// finds (or fails to find) the bytes go through as they came.
package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/headroomhq/headroom/collector"
	"github.com/headroomhq/headroom/config"
	"github.com/headroomhq/headroom/decide"
	"github.com/headroomhq/headroom/internal/keyid"
	"github.com/headroomhq/headroom/parsers"
	"github.com/headroomhq/headroom/tracing"
)

// Options tune the proxy.
type Options struct {
	// Transport to the upstreams; nil builds the default (see NewTransport).
	Transport http.RoundTripper
	Logger    *slog.Logger
	// Hooks lets other packages (access log, …) observe each call.
	Hooks []Hook
	// Tracer turns each call into a span (see package tracing); nil is off
	// and costs one nil check per request.
	Tracer *tracing.Tracer
	// MaxRequestBody bounds request bodies (HEADROOM_MAX_REQUEST_BODY_BYTES):
	// larger ones get 413. Zero means no limit.
	MaxRequestBody int64
	// FastPath is the upstream pool of Server's fast path (relay.go); nil
	// leaves every request to net/http.
	FastPath *FastTransport
	// Decide is told each call's start and end, and adds pacing fields to
	// answers (decide.go); nil is off.
	Decide *decide.Engine
}

const tooLargeMsg = "request body is larger than HEADROOM_MAX_REQUEST_BODY_BYTES"

// Hook observes completed calls. It runs on the request goroutine after the
// response body has been relayed, so it must be quick and must not block.
type Hook interface {
	CallDone(c *Call)
}

// Call is what the proxy learned about one request.
type Call struct {
	Provider string
	Labels   collector.Labels
	Method   string
	Path     string // upstream path, without query (queries can hold keys)
	Upstream string // upstream host
	Start    time.Time
	Received time.Time // response headers arrived; zero on upstream error
	End      time.Time
	Status   int
	// Header is the upstream's response header, valid only during
	// CallDone (nil when no response arrived). Hooks must copy what they
	// keep and must not log it wholesale: it may carry cookies.
	Header      http.Header
	Result      *parsers.Result // valid only during CallDone
	InputTok    int64
	OutputTok   int64
	RespModel   string
	Streamed    bool
	UpstreamErr string // classified error, empty when the upstream answered
}

type route struct {
	cfg    config.Provider
	keys   keyid.Resolver
	rp     *httputil.ReverseProxy
	tracer *tracing.Tracer

	// The fast path's view: nil pool when the upstream is reached through
	// an HTTP proxy from the environment (net/http handles those).
	pool           *hostPool
	basePath       string // the upstream URL's escaped path
	keyHeaderLower string
	// Only the dialect reads the response header, from its fields as
	// received: the fast path builds no http.Header (fillHeader).
	fieldsOnly bool
}

// Proxy is an http.Handler.
type Proxy struct {
	coll    *collector.Collector
	log     *slog.Logger
	tr      http.RoundTripper
	hooks   []Hook
	tracer  *tracing.Tracer
	maxBody int64
	fast    *FastTransport
	decide  *decide.Engine
	routes  atomic.Pointer[map[string]*route]
}

// New builds a proxy for cfg's providers.
func New(cfg *config.Config, coll *collector.Collector, opts Options) *Proxy {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Transport == nil {
		opts.Transport = NewUpstreamTransport(DefaultUpstreamClient, 10*time.Second, 10*time.Minute)
	}
	p := &Proxy{coll: coll, log: opts.Logger, tr: opts.Transport, hooks: opts.Hooks, tracer: opts.Tracer, maxBody: opts.MaxRequestBody, fast: opts.FastPath, decide: opts.Decide}
	p.Update(cfg)
	return p
}

// NewTransport is tuned for a proxy in front of a few hosts: many idle
// connections kept per host (the default of 2 forces a new TLS handshake for
// most requests under load), no transparent decompression (the client gets
// the bytes the provider sent), and bounded waits for connect and headers.
func NewTransport(dial, header time.Duration) *http.Transport {
	d := &net.Dialer{Timeout: dial, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   dial,
		ResponseHeaderTimeout: header,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
	}
}

// Update swaps in a new provider set (config reload). Requests already in
// flight finish on the routes they started with.
func (p *Proxy) Update(cfg *config.Config) {
	m := make(map[string]*route, len(cfg.Providers))
	for _, pc := range cfg.Providers {
		rt := &route{cfg: pc, keys: keyid.Resolver{KeyHeader: pc.KeyHeader, Aliases: pc.KeyAlias}, tracer: p.tracer}
		rt.rp = &httputil.ReverseProxy{
			Rewrite:        rt.rewrite,
			Transport:      p.tr,
			BufferPool:     bufferPool{},
			ModifyResponse: p.modifyResponse,
			ErrorHandler:   p.errorHandler,
			ErrorLog:       slog.NewLogLogger(p.log.Handler(), slog.LevelWarn),
		}
		if p.fast != nil {
			if hp := p.fast.poolFor(pc.Upstream); hp != nil && hp.direct {
				rt.pool = hp
			}
			rt.basePath = pc.Upstream.EscapedPath()
			rt.keyHeaderLower = strings.ToLower(pc.KeyHeader)
			rt.fieldsOnly = parsers.ReadsFields(pc.Dialect) && len(p.hooks) == 0 && !p.tracer.RecordsHeaders()
		}
		m[pc.Name] = rt
	}
	p.routes.Store(&m)
}

// callState travels in the request context from ServeHTTP to the
// ReverseProxy callbacks.
type callState struct {
	p      *Proxy
	route  *route
	call   Call
	result parsers.Result
	done   atomic.Bool
	trace  *traceState // nil when tracing is off
	// inflight is the call's in-flight gauge, decremented by finish: at the
	// body's end, before the client has the last bytes, so that a client
	// reading /metrics after its answer never sees its own call in flight.
	inflight prometheus.Gauge
	// comp caches the completion's series across a connection's calls
	// (the fast path's); nil on net/http's path.
	comp *collector.Completions
	dc   decide.Call // the call as the admission engine knows it
}

// traceState is the span of one call, allocated only when tracing is on.
type traceState struct {
	span       trace.Span
	ctx        context.Context // the client's request: done when it went away
	info       tracing.CallInfo
	firstChunk time.Time
	bodyErr    string
	headers    []attribute.KeyValue
}

type ctxKey struct{}

const maxPeek = 64 << 10

// ServeHTTP routes /<provider>/<rest> to the provider.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, rest, ok := splitProvider(r.URL.Path)
	if !ok {
		writeError(w, http.StatusBadRequest, "", "path must be /<provider>/<path> without '.' or '..' segments")
		return
	}
	rt := (*p.routes.Load())[name]
	if rt == nil {
		// Never an open proxy: unknown names contact nothing.
		writeError(w, http.StatusNotFound, name, "unknown provider "+quoteName(name))
		return
	}
	start := time.Now()
	if p.maxBody > 0 && r.ContentLength > p.maxBody {
		// Refused before anything is read or sent upstream; still counted
		// (the client received a 413).
		l := p.coll.Labels(name, "", rt.keys.Label(r.Header))
		p.coll.ObserveCompletion(l, http.StatusRequestEntityTooLarge, time.Since(start), 0, 0)
		writeError(w, http.StatusRequestEntityTooLarge, name, tooLargeMsg)
		return
	}
	if p.maxBody > 0 && r.Body != nil && r.Body != http.NoBody {
		// Bodies without a Content-Length (chunked) are cut at the limit:
		// the upstream request fails and the client gets 413 (classify).
		r.Body = http.MaxBytesReader(w, r.Body, p.maxBody)
	}
	model := ""
	var prefix []byte
	if r.Body != nil && r.Body != http.NoBody {
		// Providers may answer (429, 413, or a stream's first event) before
		// they have read the whole request. By default the HTTP/1 server
		// then drains and closes the request body under the transport that
		// is still sending it upstream, which breaks the upstream connection
		// and truncates the response.
		// (An interface check rather than http.ResponseController: no
		// allocation.)
		if fd, ok := w.(interface{ EnableFullDuplex() error }); ok {
			_ = fd.EnableFullDuplex()
		}
	}
	if r.Body != nil && r.Body != http.NoBody && r.Method != http.MethodGet && r.Method != http.MethodHead && isJSON(r.Header.Get("Content-Type")) {
		prefix, r.Body = peekBody(r.Body, maxPeek, r.ContentLength)
		model = findTopLevelString(prefix, "model")
		if pb := r.Body.(*peekedBody); pb.err == io.EOF && int64(len(prefix)) == r.ContentLength {
			// The whole body is in memory: as an io.NopCloser around a
			// *bytes.Reader, net/http's Transport writes it together with
			// the request head (one write instead of two). The server
			// closes the original body after the handler.
			r.Body = io.NopCloser(bytes.NewReader(prefix))
		}
	}
	st := &callState{p: p, route: rt}
	st.call = Call{
		Provider: name, Method: r.Method, Path: rest, Upstream: rt.cfg.Upstream.Host, Start: start,
		Labels: p.coll.Labels(name, model, rt.keys.Label(r.Header)),
	}
	st.inflight = p.coll.Inflight(st.call.Labels)
	st.inflight.Inc()
	p.decideStart(st, st.call.Labels, prefix)
	ctx := context.WithValue(r.Context(), ctxKey{}, st)
	if p.tracer != nil {
		ctx = p.startSpan(ctx, st, &spanRequest{method: r.Method, header: r.Header, rawQuery: r.URL.RawQuery, ctx: r.Context()}, model)
	}
	// A body the client abandoned is closed by ReverseProxy before it
	// returns; finish is idempotent, this catches paths that never got one
	// (deferred: ReverseProxy panics with http.ErrAbortHandler mid-body).
	defer st.finish()
	rt.rp.ServeHTTP(w, r.WithContext(ctx))
}

// spanRequest is what a span needs of the client's request (both paths).
type spanRequest struct {
	method, rawQuery string
	header           http.Header
	// ctx is done when the client went away (net/http's path); nil on the
	// fast path, which records that in bodyErr itself.
	ctx context.Context
}

// startSpan starts the call's span as a child of the caller's W3C trace
// context; rewrite then injects the span's context into the upstream request.
func (p *Proxy) startSpan(ctx context.Context, st *callState, r *spanRequest, model string) context.Context {
	ts := &traceState{ctx: r.ctx}
	if ts.ctx == nil {
		ts.ctx = context.Background()
	}
	u := *st.route.cfg.Upstream
	u.User = nil
	u.Path = u.Path + st.call.Path
	u.RawPath = ""
	u.RawQuery = r.rawQuery
	u.Fragment, u.RawFragment = "", ""
	ts.info = tracing.CallInfo{
		Provider: st.call.Provider, Family: st.route.cfg.Family, Source: "proxy",
		Model: model, Key: st.call.Labels.Key, Method: r.method, URL: &u, Start: st.call.Start,
	}
	ctx, ts.span = p.tracer.Start(p.tracer.Extract(ctx, r.header), &ts.info)
	st.trace = ts
	return ctx
}

// endSpan completes the span from what the call learned.
func (st *callState) endSpan() {
	ts, c := st.trace, &st.call
	in := &ts.info
	in.End = c.End
	in.Received = c.Received
	in.FirstChunk = ts.firstChunk
	in.Streamed = c.Streamed
	in.ResponseModel = c.RespModel
	in.InputTokens, in.OutputTokens = c.InputTok, c.OutputTok
	in.Result = c.Result
	in.Attributes = ts.headers
	if !c.Received.IsZero() {
		in.Status = c.Status
	}
	switch {
	case c.UpstreamErr == "other":
		in.ErrorType = "_OTHER"
	case c.UpstreamErr != "":
		in.ErrorType = c.UpstreamErr
	case c.Received.IsZero():
		in.ErrorType = "client_closed" // ended before any response
	case ts.bodyErr != "":
		in.ErrorType = ts.bodyErr
	case ts.ctx.Err() != nil:
		// finish runs before ServeHTTP returns: a done context means the
		// client left before the response was relayed in full.
		in.ErrorType = "client_closed"
	}
	st.p.tracer.End(ts.span, in)
	in.Result, in.Attributes = nil, nil
}

func (rt *route) rewrite(pr *httputil.ProxyRequest) {
	if rt.tracer != nil {
		// Replaces the caller's traceparent: upstream sees Headroom's span
		// as its parent. Without tracing, the caller's headers pass as sent.
		rt.tracer.Inject(pr.Out.Context(), pr.Out.Header)
	}
	up := rt.cfg.Upstream
	_, rest, _ := splitProvider(pr.In.URL.Path)
	_, rawRest, _ := splitProvider(pr.In.URL.EscapedPath())
	out := pr.Out.URL
	out.Scheme = up.Scheme
	out.Host = up.Host
	out.Path = up.Path + rest
	out.RawPath = up.EscapedPath() + rawRest
	if out.RawPath == out.Path {
		out.RawPath = ""
	}
	pr.Out.Host = up.Host
}

// splitProvider splits "/name/rest" into name and "/rest", rejecting dot
// segments anywhere (they could walk a path out of the upstream's base).
func splitProvider(path string) (name, rest string, ok bool) {
	if len(path) < 2 || path[0] != '/' {
		return "", "", false
	}
	// Segment by segment without allocating (this runs three times per
	// request).
	for rest := path[1:]; ; {
		seg := rest
		i := strings.IndexByte(rest, '/')
		if i >= 0 {
			seg = rest[:i]
		}
		if seg == "." || seg == ".." {
			return "", "", false
		}
		if i < 0 {
			break
		}
		rest = rest[i+1:]
	}
	i := strings.IndexByte(path[1:], '/')
	if i < 0 {
		return path[1:], "", true
	}
	return path[1 : i+1], path[i+1:], true
}

func (p *Proxy) modifyResponse(resp *http.Response) error {
	st, _ := resp.Request.Context().Value(ctxKey{}).(*callState)
	if st == nil {
		return nil
	}
	now := time.Now()
	st.call.Received = now
	st.call.Status = resp.StatusCode
	st.call.Header = resp.Header
	p.addPacing(resp.Header, st) // before this answer is observed, as on the fast path
	d := st.route.cfg.Dialect
	in := parsers.Input{Status: resp.StatusCode, Header: resp.Header, Received: now}
	if d.WantsBody(resp.StatusCode) && resp.Body != nil {
		in.Body, resp.Body = peekBody(resp.Body, maxPeek, resp.ContentLength)
	}
	d.Parse(&in, &st.result)
	p.coll.ObserveResponse(st.call.Labels, resp.StatusCode, &st.result, now)
	st.call.Streamed = isEventStream(resp.Header.Get("Content-Type"))
	if st.trace != nil && p.tracer.RecordsHeaders() {
		st.trace.headers = p.tracer.ResponseHeaderAttributes(resp.Header, st.trace.headers)
	}
	if resp.Body == nil || resp.Body == http.NoBody {
		st.finish()
		return nil
	}
	var sn sniffer
	if resp.StatusCode < 300 && identityEncoding(resp.Header.Get("Content-Encoding")) {
		if st.call.Streamed {
			sn = &sseSniffer{}
		} else if isJSON(resp.Header.Get("Content-Type")) {
			sn = &jsonSniffer{}
		}
	}
	resp.Body = &observedBody{rc: resp.Body, st: st, sn: sn}
	return nil
}

// finish records the call once, however it ends.
func (st *callState) finish() {
	if !st.done.CompareAndSwap(false, true) {
		return
	}
	c := &st.call
	c.End = time.Now()
	if c.Status == 0 {
		// The client went away before any response: nginx's 499.
		c.Status = 499
	}
	l := c.Labels
	if l.Model == "" && c.RespModel != "" {
		l = st.p.coll.Labels(c.Provider, c.RespModel, l.Key)
		c.Labels = l
	}
	st.p.coll.ObserveCompletionCached(st.comp, l, c.Status, c.End.Sub(c.Start), c.InputTok, c.OutputTok)
	if st.inflight != nil {
		st.inflight.Dec()
	}
	st.decideEnd()
	c.Result = &st.result
	if st.trace != nil {
		st.endSpan()
	}
	for _, h := range st.p.hooks {
		h.CallDone(c)
	}
	c.Result, c.Header = nil, nil
}

func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	st, _ := r.Context().Value(ctxKey{}).(*callState)
	provider := ""
	if st != nil {
		provider = st.call.Provider
	}
	status, reason, msg := classify(r.Context(), err)
	if st != nil {
		st.call.Status = status
		st.call.UpstreamErr = reason
	}
	if status == 499 {
		// The client is gone; nobody reads a response.
		return
	}
	if status == http.StatusRequestEntityTooLarge {
		// The client's fault, not the upstream's.
		writeError(w, status, provider, msg)
		return
	}
	p.coll.UpstreamError(provider, reason)
	// Log the classified reason, never err.Error(): it embeds the upstream URL
	// with its query, which may carry a key.
	p.log.Warn("upstream request failed", "provider", provider, "reason", reason, "detail", msg, "status", status)
	writeError(w, status, provider, msg)
}

// classify maps a transport error to the status the client gets, a reason
// label and a message that is safe to show (no URLs, no headers).
func classify(ctx context.Context, err error) (status int, reason, msg string) {
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return 499, "client_closed", "client closed the request"
	}
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return http.StatusRequestEntityTooLarge, "request_too_large", tooLargeMsg
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return http.StatusGatewayTimeout, "timeout", "upstream did not answer in time"
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return http.StatusBadGateway, "connect", "cannot connect to upstream: " + sysErr(op.Err)
	}
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return http.StatusBadGateway, "reset", "upstream closed the connection"
	}
	return http.StatusBadGateway, "other", "upstream request failed"
}

func sysErr(err error) string {
	var se *net.DNSError
	if errors.As(err, &se) {
		return "DNS lookup failed"
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return "network error"
}

type errorBody struct {
	Error struct {
		Type     string `json:"type"`
		Message  string `json:"message"`
		Provider string `json:"provider,omitempty"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, provider, msg string) {
	var b errorBody
	b.Error.Type = "headroom_error"
	b.Error.Message = msg
	b.Error.Provider = provider
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Headroom-Error", "1")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(&b)
}

func quoteName(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	return `"` + strings.Map(func(r rune) rune {
		if r < 0x20 || r == '"' {
			return -1
		}
		return r
	}, s) + `"`
}

func isJSON(ct string) bool {
	return ct == "" || strings.Contains(ct, "json")
}

func isEventStream(ct string) bool {
	return strings.HasPrefix(strings.TrimSpace(ct), "text/event-stream")
}

func identityEncoding(ce string) bool { return ce == "" || strings.EqualFold(ce, "identity") }

// isEventStreamBytes and identityEncodingBytes are isEventStream and
// identityEncoding for the fast path's field values.
func isEventStreamBytes(ct []byte) bool {
	return bytes.HasPrefix(bytes.TrimSpace(ct), []byte("text/event-stream"))
}

func identityEncodingBytes(ce []byte) bool {
	return len(ce) == 0 || bytes.EqualFold(ce, []byte("identity"))
}

// bufferPool recycles ReverseProxy's copy buffers.
type bufferPool struct{}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *(copyBufs.Get().(*[]byte)) }
func (bufferPool) Put(b []byte) { copyBufs.Put(&b) }

// peekBody reads up to n bytes of rc and returns them with a body that
// yields the same bytes followed by the rest, so upstream (or the client)
// sees the body intact. size (a Content-Length, -1 when unknown) only sizes
// the buffer: typical bodies are far smaller than n, and allocating n every
// time was most of the proxy's per-request cost.
func peekBody(rc io.ReadCloser, n int, size int64) ([]byte, io.ReadCloser) {
	c := min(n, 4<<10)
	if size >= 0 && size < int64(n) {
		c = int(size) + 1 // room to see EOF without growing
	}
	buf := make([]byte, 0, c)
	var err error
	for len(buf) < n && err == nil {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(cap(buf), n-len(buf)))
		}
		var k int
		k, err = rc.Read(buf[len(buf):min(cap(buf), n)])
		buf = buf[:len(buf)+k]
	}
	pb := &peekedBody{prefix: buf, rc: rc}
	switch err {
	case nil:
	case io.EOF:
		// The whole body is in the prefix: rc is not read again.
		pb.err = io.EOF
	default:
		pb.err = err
	}
	return buf, pb
}

type peekedBody struct {
	prefix []byte
	rc     io.ReadCloser
	err    error
}

func (b *peekedBody) Read(p []byte) (int, error) {
	if len(b.prefix) > 0 {
		n := copy(p, b.prefix)
		b.prefix = b.prefix[n:]
		return n, nil
	}
	if b.err != nil {
		return 0, b.err
	}
	return b.rc.Read(p)
}

func (b *peekedBody) Close() error { return b.rc.Close() }

// observedBody relays the response body, feeds the usage sniffer, and
// finishes the call at EOF, on error or when ReverseProxy closes it.
type observedBody struct {
	rc io.ReadCloser
	st *callState
	sn sniffer
}

func (b *observedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 && b.sn != nil {
		b.sn.write(p[:n])
	}
	if ts := b.st.trace; ts != nil {
		if n > 0 && ts.firstChunk.IsZero() {
			ts.firstChunk = time.Now()
		}
		if err != nil && err != io.EOF {
			ts.bodyErr = bodyErrorType(err)
		}
	}
	if err != nil {
		b.end()
	}
	return n, err
}

// bodyErrorType classifies a failure while relaying the response body.
func bodyErrorType(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return "client_closed"
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return "timeout"
	}
	return "reset"
}

func (b *observedBody) Close() error {
	err := b.rc.Close()
	b.end()
	return err
}

func (b *observedBody) end() {
	if b.st.done.Load() {
		return
	}
	if b.sn != nil {
		u := b.sn.usage()
		b.st.call.InputTok, b.st.call.OutputTok, b.st.call.RespModel = u.input, u.output, u.model
	}
	b.st.finish()
}
