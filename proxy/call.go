package proxy

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/headroomhq/headroom/calls"
	"github.com/headroomhq/headroom/collector"
	"github.com/headroomhq/headroom/decide"
	"github.com/headroomhq/headroom/parsers"
)

// maxPeek bounds what the proxy holds of a body: the head of a request
// body (for its model) and a 429 body a dialect reads (for its limits).
const maxPeek = 64 << 10

// call is one request through the proxy, from its head to the end of its
// answer. Calls are pooled: their fasthttp objects and buffers are reused.
type call struct {
	p   *Proxy
	rt  *route
	ctx *fasthttp.RequestCtx

	out  fasthttp.Request  // to the provider
	resp fasthttp.Response // from the provider

	info     calls.Call
	dc       decide.Call
	in       parsers.Input
	result   parsers.Result
	inflight prometheus.Gauge
	comp     collector.Completions
	trace    *traceState

	body   reqBody
	answer answerBody
	js     jsonSniffer
	sse    sseSniffer

	peek, errBody, uri []byte
	fields             []parsers.Field
	model              string // the last model string (reuse)

	// conn is the upstream connection the request went out on (claim),
	// gen its use count then: a watcher abandons it only while it is still
	// this call's. gone is set when the client went away mid-call.
	conn atomic.Pointer[upConn]
	gen  atomic.Int32
	gone atomic.Bool
	// watchedFrom is the watcher's tick when the call was added to it.
	watchedFrom int64
}

// reset readies a pooled call for a new request.
func (c *call) reset(p *Proxy, rt *route, ctx *fasthttp.RequestCtx) {
	c.p, c.rt, c.ctx = p, rt, ctx
	c.info = calls.Call{Source: "proxy", Family: rt.cfg.Family, Cache: &c.comp}
	c.result.Reset()
	c.trace = nil
	c.inflight = nil
	c.dc = decide.Call{}
	c.conn.Store(nil)
	c.gone.Store(false)
	c.body = reqBody{c: c}
	c.answer = answerBody{c: c}
	c.errBody = c.errBody[:0]
}

// release returns c to the pool once nothing refers to it.
func (c *call) release() {
	c.out.Reset()
	c.resp.Reset()
	c.ctx, c.rt, c.trace, c.inflight = nil, nil, nil, nil
	c.info = calls.Call{}
	c.in = parsers.Input{}
	c.p.calls.Put(c)
}

// claim records the connection the request is being written on (see the
// package function claim). A client that left before the connection was
// known has it abandoned now.
func (c *call) claim() {
	if uc := claim(&c.resp); uc != nil {
		c.own(uc)
	}
}

// own makes uc the call's connection.
func (c *call) own(uc *upConn) {
	c.gen.Store(uc.uses.Add(1))
	c.conn.Store(uc)
	if c.gone.Load() {
		c.abandon()
	}
}

// abandon closes the call's upstream connection, unless it has gone back
// to the pool and on to another call since.
func (c *call) abandon() {
	if uc := c.conn.Load(); uc != nil && uc.uses.Load() == c.gen.Load() {
		uc.abandon()
	}
}

// reqBody is the request body as the provider gets it: what was peeked,
// then the rest of the client's stream. It reads with the body timeout and
// the size limit, and keeps the client's errors apart from the provider's.
type reqBody struct {
	c      *call
	prefix []byte
	off    int
	// src is the client's stream past the prefix; nil when the prefix
	// is the whole body.
	src     io.Reader
	n       int64 // bytes read from the client
	err     error // the client's fault: framing, a stall, too large
	claimed bool
	// prefetched: fasthttp read the whole body with the head; no read
	// waits on the client.
	prefetched bool
}

func (b *reqBody) Read(p []byte) (int, error) {
	if !b.claimed {
		b.claimed = true
		b.c.claim()
	}
	if b.off < len(b.prefix) {
		n := copy(p, b.prefix[b.off:])
		b.off += n
		return n, nil
	}
	if b.src == nil {
		return 0, io.EOF
	}
	return b.read(p)
}

// read reads the client's stream, under the body timeout and the limit.
func (b *reqBody) read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	px := b.c.p
	if !b.prefetched {
		_ = b.c.ctx.SetReadDeadline(time.Now().Add(px.bodyTimeout))
	}
	n, err := b.src.Read(p)
	b.n += int64(n)
	if px.maxBody > 0 && b.n > px.maxBody {
		b.err = errTooLarge
		return 0, b.err
	}
	if err != nil && err != io.EOF {
		b.err = clientBodyError(err)
		return n, b.err
	}
	return n, err
}

// replayable reports whether the body can be sent again (a retry on a
// fresh connection): it is all in memory.
func (b *reqBody) replayable() bool { return b.src == nil }

func (b *reqBody) rewind() { b.off, b.claimed = 0, false }

var (
	errTooLarge     = errors.New(tooLargeMsg)
	errBadBody      = errors.New("malformed request body")
	errBodyStalled  = errors.New("request body timeout")
	errClientClosed = errors.New("client closed the request")
)

// clientBodyError classifies a failure reading the client's body.
func clientBodyError(err error) error {
	if isTimeout(err) {
		return errBodyStalled
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || isConnClosed(err) {
		return errClientClosed
	}
	return errBadBody
}

// peekRequest reads the head of the request body (up to maxPeek) for its
// model, leaving the body whole for the provider. It returns the model,
// or a refusal when the client's body fails.
func (c *call) peekRequest(h *fasthttp.RequestHeader) (string, error) {
	src := c.ctx.RequestBodyStream()
	cl := h.ContentLength()
	if src == nil || cl == 0 {
		c.body.prefix = nil
		return "", nil
	}
	want := maxPeek
	if cl > 0 && cl < want {
		want = cl
	}
	if cap(c.peek) < want {
		c.peek = make([]byte, 0, want)
	}
	buf := c.peek[:want]
	b := &c.body
	b.src = src
	// fasthttp reads the first 8 KiB of a body with the head, under the
	// header timeout; past that the body timeout applies to each read.
	b.prefetched = cl >= 0 && cl <= 8<<10
	n, err := 0, error(nil)
	for n < want && err == nil {
		var k int
		k, err = b.read(buf[n:])
		n += k
	}
	b.prefix = buf[:n]
	switch {
	case err == io.EOF || (cl >= 0 && n == cl):
		b.src = nil
	case err != nil:
		return "", err
	}
	if h.IsGet() || h.IsHead() || !isJSON(h.ContentType()) {
		return "", nil
	}
	return requestModel(c.body.prefix, &c.model), nil
}

// answerBody is the provider's answer body as the client gets it: a
// buffered 429 body first (when the dialect read it), then the rest of the
// provider's stream. The usage sniffer reads it as it passes. fasthttp's
// server reads it and closes it when the answer is written (or failed):
// the call ends there.
type answerBody struct {
	c       *call
	prefix  []byte
	off     int
	src     io.Reader
	sn      sniffer
	readErr error // the provider's stream failed
	first   bool
}

func (a *answerBody) Read(p []byte) (int, error) {
	var n int
	var err error
	if a.off < len(a.prefix) {
		n = copy(p, a.prefix[a.off:])
		a.off += n
	} else if a.src != nil {
		n, err = a.src.Read(p)
	} else {
		err = io.EOF
	}
	if n > 0 {
		if a.sn != nil {
			a.sn.write(p[:n])
		}
		if !a.first {
			a.first = true
			if ts := a.c.trace; ts != nil {
				ts.firstChunk = time.Now()
			}
		}
	}
	if err != nil && err != io.EOF {
		a.readErr = err
	}
	return n, err
}

// CloseWithError is called by fasthttp when it has written the answer, with
// the error that stopped it early, if any.
func (a *answerBody) CloseWithError(werr error) error {
	c := a.c
	// Before the provider's connection goes back to the pool.
	c.p.watch.remove(c)
	switch {
	case c.gone.Load():
		c.bodyErr("client_closed")
	case a.readErr != nil:
		c.bodyErr(bodyErrorType(a.readErr))
	case werr != nil:
		c.bodyErr("client_closed")
	}
	if a.sn != nil {
		u := a.sn.usage()
		c.info.InputTok, c.info.OutputTok, c.info.RespModel = u.input, u.output, u.model
	}
	// Closing the provider's stream before its end closes the connection
	// (fasthttp discards it): an abandoned stream stops costing tokens.
	_ = c.resp.CloseBodyStream()
	c.finish(time.Now())
	c.release()
	return nil
}

func (c *call) bodyErr(t string) {
	if c.trace != nil && c.trace.bodyErr == "" {
		c.trace.bodyErr = t
	}
}

// bodyErrorType classifies a failure while relaying the answer's body.
func bodyErrorType(err error) string {
	if isTimeout(err) {
		return "timeout"
	}
	return "reset"
}

// relayAnswer relays the provider's answer: its rate limits are observed, its
// head copied to the client's answer and its body set to stream.
func (c *call) relayAnswer(now time.Time) {
	resp, ctx, rt := &c.resp, c.ctx, c.rt
	status := resp.StatusCode()
	c.info.Received, c.info.Status = now, status
	src := resp.BodyStream()
	if uc := c.upConn(); uc != nil && src != nil {
		// The header timeout bounded the wait for the head; a generation
		// then streams for as long as it takes.
		_ = uc.SetReadDeadline(time.Time{})
		if c.conn.Load() == nil {
			c.own(uc) // a request without a body: known only now
		}
	}
	var whole []byte // a body fasthttp read whole (an upgrade refused)
	if src == nil {
		whole = resp.Body()
	}
	d := rt.cfg.Dialect
	if d.WantsBody(status) {
		if src != nil {
			c.errBody = readPeek(src, c.errBody[:0], maxPeek)
		} else {
			c.errBody = whole[:min(len(whole), maxPeek)]
		}
	}
	c.fields = appendFields(c.fields[:0], &resp.Header)
	in := &c.in
	*in = parsers.Input{Status: status, Fields: c.fields, Body: c.errBody, Received: now}
	if !rt.fieldsOnly {
		c.info.Header = fieldsHeader(c.fields)
		in.Header = c.info.Header
	}
	d.Parse(in, &c.result)
	c.info.Result = &c.result
	c.p.rec.Answered(&c.info)
	ct := resp.Header.ContentType()
	c.info.Streamed = isEventStream(ct)
	if ts := c.trace; ts != nil && c.p.tracer.RecordsHeaders() {
		ts.headers = c.p.tracer.ResponseHeaderAttributes(c.info.Header, ts.headers)
	}

	out := &ctx.Response
	out.Header.DisableNormalizing()
	out.SetStatusCode(status)
	out.Header.SetStatusMessage(resp.Header.StatusMessage())
	copyAnswerHead(&out.Header, c.fields)
	c.addPacing()
	a := &c.answer
	a.prefix, a.src = c.errBody, src
	if status < 300 && identityEncoding(resp.Header.ContentEncoding()) {
		if c.info.Streamed {
			c.sse = sseSniffer{line: c.sse.line[:0], model: c.sse.model}
			a.sn = &c.sse
		} else if isJSON(ct) {
			c.js = jsonSniffer{head: c.js.head[:0], tail: c.js.tail[:0], model: c.js.model}
			a.sn = &c.js
		}
	}
	if src == nil {
		// No body to stream: none (HEAD, 204, 304, none sent), or one
		// fasthttp read whole. The call ends here.
		if len(whole) > 0 {
			out.SetBody(whole)
			if a.sn != nil {
				a.sn.write(whole)
				u := a.sn.usage()
				c.info.InputTok, c.info.OutputTok, c.info.RespModel = u.input, u.output, u.model
			}
		}
		c.finish(now)
		c.release()
		return
	}
	// While the answer streams, a client that leaves has the provider's
	// connection closed under the stream.
	c.p.watch.add(c)
	cl := resp.Header.ContentLength()
	if cl < 0 {
		// Chunked, or delimited by the provider closing: chunked to the
		// client, each piece as it arrives, the head at once.
		cl = -1
		out.ImmediateHeaderFlush = true
	}
	out.SetBodyStream(a, cl)
}

// upConn is the connection the answer came on.
func (c *call) upConn() *upConn {
	if uc := c.conn.Load(); uc != nil {
		return uc
	}
	return claim(&c.resp)
}

// readPeek reads r into buf until EOF, an error or max bytes.
func readPeek(r io.Reader, buf []byte, max int) []byte {
	for len(buf) < max {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):min(cap(buf), max)])
		buf = buf[:len(buf)+n]
		if err != nil {
			break
		}
	}
	return buf
}

// copyAnswerHead copies the provider's answer fields (fs, as received) to
// the client's answer, without the hop-by-hop ones and those Connection
// names (fasthttp frames the body itself).
func copyAnswerHead(dst *fasthttp.ResponseHeader, fs []parsers.Field) {
	var named string
	for _, f := range fs {
		if len(f.Name) == len("Connection") && strings.EqualFold(f.Name, "Connection") {
			named = f.Value
		}
	}
	for _, f := range fs {
		if isHopByHop(s2b(f.Name)) || (named != "" && headerHasToken(s2b(named), f.Name)) {
			continue
		}
		dst.AddBytesKV(s2b(f.Name), s2b(f.Value))
	}
}

// isHopByHop reports a field that describes the connection, not the
// message (hopByHop), in any spelling.
func isHopByHop(k []byte) bool {
	switch len(k) {
	case 2, 7, 10, 16, 17, 18, 19:
		for _, h := range hopByHop {
			if len(h) == len(k) && strings.EqualFold(b2s(k), h) {
				return true
			}
		}
	}
	return false
}

// appendFields lists an answer's fields as received, viewing fasthttp's
// buffers (valid while the answer is).
func appendFields(fs []parsers.Field, h *fasthttp.ResponseHeader) []parsers.Field {
	for k, v := range h.All() {
		fs = append(fs, parsers.Field{Name: b2s(k), Value: b2s(v)})
	}
	return fs
}

// fieldsHeader builds the http.Header hooks, spans and some dialects
// read. It copies: spans keep values after the answer's buffers are reused.
func fieldsHeader(fs []parsers.Field) http.Header {
	h := make(http.Header, len(fs))
	for _, f := range fs {
		k := http.CanonicalHeaderKey(strings.Clone(f.Name))
		h[k] = append(h[k], strings.Clone(f.Value))
	}
	return h
}

// finish records the call once its answer has ended (or failed).
func (c *call) finish(now time.Time) {
	p, inf := c.p, &c.info
	inf.End = now
	if inf.Status == 0 {
		// The client went away before any answer: nginx's 499.
		inf.Status = 499
	}
	if inf.Labels.Model == "" && inf.RespModel != "" {
		inf.Labels = p.coll.Labels(inf.Provider, inf.RespModel, inf.Labels.Key)
	}
	if c.inflight != nil {
		c.inflight.Dec()
		c.decideEnd()
	}
	inf.Result = &c.result
	if ts := c.trace; ts != nil {
		ts.info.FirstChunk, ts.info.Attributes = ts.firstChunk, ts.headers
		inf.Span, inf.SpanInfo, inf.SpanError = ts.span, &ts.info, ts.bodyErr
	}
	p.rec.Done(nil, inf)
	inf.Result, inf.Header, inf.Span, inf.SpanInfo = nil, nil, nil, nil
	if ts := c.trace; ts != nil {
		ts.info.Result, ts.info.Attributes = nil, nil
	}
}

func isJSON(ct []byte) bool {
	return len(ct) == 0 || bytes.Contains(ct, []byte("json"))
}

func isEventStream(ct []byte) bool {
	return bytes.HasPrefix(bytes.TrimSpace(ct), []byte("text/event-stream"))
}

func identityEncoding(ce []byte) bool {
	return len(ce) == 0 || bytes.EqualFold(ce, []byte("identity"))
}
