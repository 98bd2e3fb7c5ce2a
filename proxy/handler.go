package proxy

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// Handler serves one request: the fasthttp handler of the proxy listener.
func (p *Proxy) Handler(ctx *fasthttp.RequestCtx) {
	start := time.Now()
	h := &ctx.Request.Header
	name, rest, pathOK := splitProvider(ctx.URI().PathOriginal())
	var rt *route
	if pathOK {
		rt = (*p.routes.Load())[name]
	}
	provider := ""
	if rt != nil {
		provider = rt.cfg.Name
	}
	if r := checkRequest(h); r.status != 0 {
		p.refuse(ctx, provider, r)
		return
	}
	if !pathOK {
		p.refuse(ctx, "", refusal{http.StatusBadRequest, "path must be /<provider>/<path> without '.' or '..' segments", "path"})
		return
	}
	if rt == nil {
		// Never an open proxy: unknown names contact nothing.
		p.coll.ClientError("", "unknown_provider")
		writeError(ctx, http.StatusNotFound, "", "unknown provider "+quoteName(name))
		return
	}
	cred, r := credentialOf(h, rt.keyHeader)
	if r.status != 0 {
		p.refuse(ctx, provider, r)
		return
	}
	if len(cred) == 0 {
		// Google's APIs also take the key as ?key= (it goes upstream as
		// sent; only its fingerprint is kept).
		cred = ctx.QueryArgs().Peek("key")
	}
	key := rt.keys.Label(cred)
	if isUpgrade(h) {
		p.upgrade(ctx, rt, rest, key, start)
		return
	}
	if p.maxBody > 0 && int64(h.ContentLength()) > p.maxBody {
		// Refused before the body is read or anything sent upstream.
		p.tooLarge(ctx, rt, key, start)
		return
	}

	c := p.calls.Get().(*call)
	c.reset(p, rt, ctx)
	inf := &c.info
	inf.Provider, inf.Method, inf.Upstream, inf.Start = provider, string(h.Method()), rt.cfg.Upstream.Host, start
	if len(p.hooks) > 0 || p.tracer != nil {
		inf.Path = rt.cfg.Upstream.Path + string(rest)
	}
	model, err := c.peekRequest(h)
	if model == "" {
		model = pathModel(rest)
	}
	inf.Labels = p.coll.Labels(provider, model, key)
	if err != nil {
		c.clientFailed(err)
		return
	}
	c.inflight = p.coll.InflightCached(&c.comp, inf.Labels)
	c.inflight.Inc()
	if len(c.body.prefix) > 0 && isJSON(h.ContentType()) {
		c.decideStart(c.body.prefix)
	} else {
		c.decideStart(nil)
	}
	if p.tracer != nil {
		c.startSpan(model)
	}
	c.buildRequest(h, rest)
	if err := c.exchange(); err != nil {
		c.failed(err)
		return
	}
	if c.gone.Load() {
		// The client left while a request without a body (which the
		// watcher cannot tie to its connection) was answered: nobody
		// reads the answer.
		_ = c.resp.CloseBodyStream()
		c.failed(errClientClosed)
		return
	}
	c.relayAnswer(time.Now())
}

// buildRequest makes the provider's request from the client's: the same
// method, fields and body, the upstream's URL, without hop-by-hop fields.
func (c *call) buildRequest(h *fasthttp.RequestHeader, rest []byte) {
	out, rt := &c.out, c.rt
	out.Header.SetMethodBytes(h.Method())
	u := append(c.uri[:0], rt.origin...)
	u = append(u, rt.basePath...)
	if len(rest) == 0 {
		u = append(u, '/')
	}
	u = append(u, rest...)
	if q := c.ctx.URI().QueryString(); len(q) > 0 {
		u = append(u, '?')
		u = append(u, q...)
	}
	c.uri = u
	out.SetRequestURIBytes(u)
	// Parsed now, the URL gives the request line (origin form) and Host
	// when the request is written, whoever writes it.
	out.URI()
	// The client's fields, in one pass, but for the hop-by-hop ones and
	// those Connection names; Host is the upstream's (the URL's).
	named := h.Peek("Connection")
	for k, v := range h.All() {
		if isHopByHop(k) || isExpect(k) || (len(named) > 0 && headerHasToken(named, b2s(k))) || bytesEqualFold(k, "Host") {
			continue
		}
		out.Header.AddBytesKV(k, v)
	}
	if te := h.Peek("TE"); headerHasToken(te, "trailers") {
		out.Header.Set("TE", "trailers")
	}
	if c.trace != nil {
		c.injectTrace(&out.Header)
	}
	c.setBody()
}

// isExpect: Headroom answered the client's Expect itself (fasthttp's
// server sends the one 100 Continue); the provider gets the body directly.
func isExpect(k []byte) bool { return len(k) == 6 && bytesEqualFold(k, "Expect") }

func bytesEqualFold(b []byte, s string) bool { return len(b) == len(s) && strings.EqualFold(b2s(b), s) }

// setBody gives the provider's request its body: its length when known
// (the client's, or the peeked body's when it arrived whole), chunked
// otherwise.
func (c *call) setBody() {
	b, out := &c.body, &c.out
	cl := c.ctx.Request.Header.ContentLength()
	switch {
	case cl == 0 || (cl < 0 && b.src == nil && len(b.prefix) == 0 && c.ctx.RequestBodyStream() == nil):
		out.Header.SetContentLength(0)
		if cl != 0 {
			out.Header.Del("Content-Length")
		}
		return
	case b.src == nil:
		cl = len(b.prefix)
	default:
		cl = -1
		if n := c.ctx.Request.Header.ContentLength(); n >= 0 {
			cl = n
		}
	}
	out.SetBodyStream(&c.body, cl)
}

// exchange sends the request and waits for the answer's head. A reused
// connection that fails before any answer (the provider closed it while it
// was idle) is replaced once, when the body can be sent again, as nginx
// does with its cached upstream connections.
func (c *call) exchange() error {
	c.p.watch.add(c)
	defer c.p.watch.remove(c)
	for attempt := 0; ; attempt++ {
		err := c.rt.hc.Do(&c.out, &c.resp)
		if err == nil || attempt > 0 || !c.retryable(err) {
			return err
		}
		c.body.rewind()
		c.conn.Store(nil)
		c.setBody()
	}
}

// retryable reports a failure on a reused connection before any answer,
// for a request that can be sent again.
func (c *call) retryable(err error) bool {
	if c.gone.Load() || c.body.err != nil || !c.body.replayable() {
		return false
	}
	uc := c.upConn()
	switch {
	case uc == nil:
		return false
	case c.body.claimed:
		// The connection is known to have served an earlier call.
		if uc.uses.Load() <= 1 {
			return false
		}
	case !idempotent(c.ctx.Request.Header.Method()):
		return false
	}
	var de *dialError
	if errors.As(err, &de) {
		return false
	}
	return errors.Is(err, fasthttp.ErrConnectionClosed) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func idempotent(m []byte) bool {
	switch string(m) {
	case "GET", "HEAD", "OPTIONS", "PUT", "DELETE":
		return true
	}
	return false
}

// failed answers a call that got no answer from the provider.
func (c *call) failed(err error) {
	switch {
	case c.gone.Load():
		c.info.Status, c.info.UpstreamErr = 499, "client_closed"
		c.ctx.SetConnectionClose()
		c.finish(time.Now())
		c.release()
	case c.body.err != nil:
		c.clientFailed(c.body.err)
	default:
		if uc := c.upConn(); uc != nil && uc.bad.Load() != nil {
			err = *uc.bad.Load()
		}
		status, reason, msg := classify(err)
		c.info.Status, c.info.UpstreamErr = status, reason
		p := c.p
		p.coll.UpstreamError(c.info.Provider, reason)
		// Log the classified reason, never err.Error(): it may embed the
		// upstream URL with its query, which may carry a key.
		p.log.Warn("upstream request failed", "provider", c.info.Provider, "reason", reason, "detail", msg, "status", status)
		c.finish(time.Now())
		writeError(c.ctx, status, c.info.Provider, msg)
		c.release()
	}
}

// clientFailed answers a call whose client's body failed: too large,
// stalled, malformed, or the client gone. The provider got nothing, or an
// incomplete request it will discard.
func (c *call) clientFailed(err error) {
	var status int
	var reason string
	switch err {
	case errTooLarge:
		status, reason = http.StatusRequestEntityTooLarge, "body_too_large"
	case errBodyStalled:
		status, reason = http.StatusRequestTimeout, "body_timeout"
	case errClientClosed:
		status, reason = 499, "client_closed"
	default:
		status, reason = http.StatusBadRequest, "bad_body"
	}
	c.info.Status = status
	if status != 499 {
		c.p.coll.ClientError(c.info.Provider, reason)
	}
	c.finish(time.Now())
	if status != 499 {
		writeError(c.ctx, status, c.info.Provider, err.Error())
	}
	lingeringClose(c.ctx)
	c.release()
}

// tooLarge refuses a request whose Content-Length is over the limit.
func (p *Proxy) tooLarge(ctx *fasthttp.RequestCtx, rt *route, key string, start time.Time) {
	l := p.coll.Labels(rt.cfg.Name, "", key)
	p.coll.ObserveCompletion(l, http.StatusRequestEntityTooLarge, time.Since(start), 0, 0)
	p.coll.ClientError(rt.cfg.Name, "body_too_large")
	writeError(ctx, http.StatusRequestEntityTooLarge, rt.cfg.Name, tooLargeMsg)
	lingeringClose(ctx)
}

// refuse answers a request the rules refuse, and closes the connection:
// after a framing error nothing later on it can be trusted.
func (p *Proxy) refuse(ctx *fasthttp.RequestCtx, provider string, r refusal) {
	p.coll.ClientError(provider, r.reason)
	writeError(ctx, r.status, provider, r.msg)
	lingeringClose(ctx)
}

// lingeringClose closes the client's connection after the answer, reading
// (and discarding) what the client still sends for a while first, as
// nginx does: closing with unread bytes makes the kernel reset the
// connection, and the client may lose the answer before it reads it.
func lingeringClose(ctx *fasthttp.RequestCtx) {
	ctx.SetConnectionClose()
	ctx.Hijack(func(c net.Conn) {
		type closeWriter interface{ CloseWrite() error }
		if cw, ok := c.(closeWriter); ok {
			_ = cw.CloseWrite()
		}
		end := time.Now().Add(lingerTime)
		buf := make([]byte, 4<<10)
		for time.Now().Before(end) {
			_ = c.SetReadDeadline(time.Now().Add(lingerTimeout))
			if _, err := c.Read(buf); err != nil {
				break
			}
		}
		c.Close()
	})
}

// nginx's lingering_time and lingering_timeout, shortened: the client
// has its answer; this only keeps the reset from destroying it.
const (
	lingerTime    = 10 * time.Second
	lingerTimeout = 2 * time.Second
)

// ErrorHandler answers requests fasthttp's parser refused, in Headroom's
// error format, counted as client errors.
func (p *Proxy) ErrorHandler(ctx *fasthttp.RequestCtx, err error) {
	status, reason, msg := http.StatusBadRequest, "framing", "malformed request: "+parseErrorText(err)
	var small *fasthttp.ErrSmallBuffer
	switch {
	case errors.As(err, &small):
		status, reason, msg = http.StatusRequestHeaderFieldsTooLarge, "header_too_large", "request header too large"
	case isTimeout(err):
		status, reason, msg = http.StatusRequestTimeout, "header_timeout", "request header timeout"
	}
	p.coll.ClientError("", reason)
	writeError(ctx, status, "", msg)
}

// parseErrorText keeps fasthttp's reason without the bytes it quotes
// (they could hold a credential).
func parseErrorText(err error) string {
	s := err.Error()
	if i := strings.IndexAny(s, "\"'"); i >= 0 {
		s = strings.TrimRight(s[:i], " :")
	}
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

// ExpectHandler answers "Expect: 100-continue": a body over the limit is
// refused before the client sends it.
func (p *Proxy) ExpectHandler(ctx *fasthttp.RequestCtx) int {
	if p.maxBody > 0 && int64(ctx.Request.Header.ContentLength()) > p.maxBody {
		p.coll.ClientError("", "body_too_large")
		writeError(ctx, http.StatusRequestEntityTooLarge, "", tooLargeMsg)
		return http.StatusRequestEntityTooLarge
	}
	return fasthttp.StatusContinue
}

// classify maps an upstream failure to the status the client gets, a
// reason label and a message that is safe to show (no URLs, no headers).
func classify(err error) (status int, reason, msg string) {
	var de *dialError
	if errors.As(err, &de) {
		if isTimeout(de.err) {
			return http.StatusBadGateway, "connect", "cannot connect to upstream: timed out"
		}
		return http.StatusBadGateway, "connect", "cannot connect to upstream: " + sysErr(de.err)
	}
	if isTimeout(err) {
		return http.StatusGatewayTimeout, "timeout", "upstream did not answer in time"
	}
	if errors.Is(err, errBareLF) || errors.Is(err, errBadStatus) {
		return http.StatusBadGateway, "other", err.Error()
	}
	var small *fasthttp.ErrSmallBuffer
	if errors.As(err, &small) {
		return http.StatusBadGateway, "other", "upstream answer head is larger than 8 KiB"
	}
	if errors.Is(err, fasthttp.ErrConnectionClosed) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return http.StatusBadGateway, "reset", "upstream closed the connection"
	}
	return http.StatusBadGateway, "other", "upstream answer could not be read"
}

func isTimeout(err error) bool {
	if errors.Is(err, fasthttp.ErrTimeout) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isConnClosed(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF)
}

func sysErr(err error) string {
	var de *net.DNSError
	if errors.As(err, &de) {
		return "DNS lookup failed"
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return "network error"
}

// errorBody is the JSON of Headroom's own error answers.
type errorBody struct {
	Error struct {
		Type     string `json:"type"`
		Message  string `json:"message"`
		Provider string `json:"provider,omitempty"`
	} `json:"error"`
}

// writeError answers with Headroom's own error: a JSON body and
// X-Headroom-Error: 1, so a client can tell it from the provider's.
func writeError(ctx *fasthttp.RequestCtx, status int, provider, msg string) {
	var e errorBody
	e.Error.Type, e.Error.Message, e.Error.Provider = "headroom_error", msg, provider
	b, _ := json.Marshal(&e)
	r := &ctx.Response
	r.Reset()
	r.SetStatusCode(status)
	r.Header.SetContentType("application/json")
	r.Header.Set("X-Headroom-Error", "1")
	r.SetBody(append(b, '\n'))
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
