package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Upstream client modes (HEADROOM_UPSTREAM_CLIENT).
const (
	// ClientStd sends every upstream request through net/http's Transport.
	ClientStd = "std"
	// ClientFast sends plain HTTP/1.1 requests through FastTransport.
	ClientFast = "fast"
)

// DefaultUpstreamClient is the mode New uses when Options.Transport is nil,
// and NewUpstreamTransport's for an empty mode. It stays net/http's
// Transport until FastTransport has more production mileage: its gain on
// these machines is real but modest (docs/benchmarks.md), and every user
// request goes through it. CI runs the proxy, integration and fault suites
// with both.
var DefaultUpstreamClient = ClientStd

// NewUpstreamTransport returns the upstream RoundTripper for mode
// (ClientStd, ClientFast, or "" for DefaultUpstreamClient; anything else is
// ClientStd).
func NewUpstreamTransport(mode string, dial, header time.Duration) http.RoundTripper {
	std := NewTransport(dial, header)
	if mode == "" {
		mode = DefaultUpstreamClient
	}
	if mode != ClientFast {
		return std
	}
	return NewFastTransport(std, dial, header)
}

// FastTransport forwards HTTP/1.1 requests on the calling goroutine: the
// request is written and the response read by the handler itself, over a
// pool of keep-alive connections, instead of being handed to the two
// goroutines http.Transport runs per connection. What it does not handle
// goes to the wrapped http.Transport unchanged: HTTP/2 (an https upstream
// is sent through std until one of its responses shows HTTP/1.x), upstreams
// reached through an HTTP proxy (HTTP_PROXY/HTTPS_PROXY), Upgrade and
// Expect requests, request trailers, and request bodies of unknown length
// or larger than maxFastBody.
//
// Errors are the ones http.Transport gives (dial errors, timeouts as
// net.Error, io.EOF/ECONNRESET, context errors when the request's context
// ends), so the proxy classifies them the same way.
type FastTransport struct {
	std         *http.Transport
	dialer      *net.Dialer
	header      time.Duration
	idleTimeout time.Duration
	maxIdle     int

	mu    sync.RWMutex
	hosts map[hostKey]*hostPool
}

type hostKey struct {
	tls  bool
	host string
}

// maxFastBody is the largest request body FastTransport sends itself; it
// is written before the response is read, so it must fit in the socket
// buffers even when the upstream answers before reading it.
const maxFastBody = 64 << 10

// maxResponseHeader matches http.Transport's default limit.
const maxResponseHeader = 10 << 20

// NewFastTransport wraps std (used for what FastTransport does not handle;
// its TLS settings, idle limits and timeouts are reused).
func NewFastTransport(std *http.Transport, dial, header time.Duration) *FastTransport {
	maxIdle := std.MaxIdleConnsPerHost
	if maxIdle <= 0 {
		maxIdle = http.DefaultMaxIdleConnsPerHost
	}
	idle := std.IdleConnTimeout
	if idle <= 0 {
		idle = 90 * time.Second
	}
	return &FastTransport{
		std:         std,
		dialer:      &net.Dialer{Timeout: dial, KeepAlive: 30 * time.Second},
		header:      header,
		idleTimeout: idle,
		maxIdle:     maxIdle,
		hosts:       map[hostKey]*hostPool{},
	}
}

type hostPool struct {
	key    hostKey
	addr   string // host:port
	direct bool   // no HTTP proxy from the environment applies
	h1     atomic.Bool
	tlsCfg *tls.Config

	mu    sync.Mutex
	idle  []*fconn    // most recently used last
	sweep *time.Timer // armed while idle is not empty
}

// fconn is one upstream connection.
type fconn struct {
	c    net.Conn // what requests are written to (TLS or TCP)
	raw  syscall.RawConn
	peek *peeker
	lr   limitReader
	br   *bufio.Reader
	bw   *bufio.Writer
	idle time.Time
	used bool // carried a request before
}

// limitReader bounds how much a response header may take.
type limitReader struct {
	c net.Conn
	n int64
}

var errHeaderTooLarge = fmt.Errorf("net/http: server response headers exceeded %d bytes; aborted", maxResponseHeader)

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errHeaderTooLarge
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.c.Read(p)
	l.n -= int64(n)
	return n, err
}

// CloseIdleConnections closes the idle upstream connections of both paths.
func (t *FastTransport) CloseIdleConnections() {
	t.mu.RLock()
	pools := make([]*hostPool, 0, len(t.hosts))
	for _, hp := range t.hosts {
		pools = append(pools, hp)
	}
	t.mu.RUnlock()
	for _, hp := range pools {
		hp.mu.Lock()
		idle := hp.idle
		hp.idle = nil
		hp.mu.Unlock()
		for _, fc := range idle {
			fc.c.Close()
		}
	}
	t.std.CloseIdleConnections()
}

func (t *FastTransport) pool(req *http.Request) *hostPool {
	return t.poolFor(req.URL)
}

// poolFor returns the pool of u's host (nil for schemes other than http and
// https).
func (t *FastTransport) poolFor(u *url.URL) *hostPool {
	var k hostKey
	switch u.Scheme {
	case "http":
	case "https":
		k.tls = true
	default:
		return nil
	}
	k.host = u.Host
	t.mu.RLock()
	hp := t.hosts[k]
	t.mu.RUnlock()
	if hp != nil {
		return hp
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if hp = t.hosts[k]; hp != nil {
		return hp
	}
	hp = &hostPool{key: k, addr: u.Host}
	host := u.Hostname()
	if u.Port() == "" {
		if k.tls {
			hp.addr = net.JoinHostPort(host, "443")
		} else {
			hp.addr = net.JoinHostPort(host, "80")
		}
	}
	pu, err := http.ProxyFromEnvironment(&http.Request{URL: u})
	hp.direct = err == nil && pu == nil
	if t.std.Proxy == nil {
		hp.direct = true
	}
	if k.tls {
		if t.std.TLSClientConfig != nil {
			hp.tlsCfg = t.std.TLSClientConfig.Clone()
		} else {
			hp.tlsCfg = &tls.Config{}
		}
		if hp.tlsCfg.ServerName == "" {
			hp.tlsCfg.ServerName = host
		}
		hp.tlsCfg.NextProtos = []string{"http/1.1"}
	}
	if len(t.hosts) < 1024 {
		t.hosts[k] = hp
	}
	return hp
}

// handles reports whether req can take the fast path.
func handles(req *http.Request) bool {
	if req.Method == http.MethodConnect || req.URL.Host == "" || len(req.TransferEncoding) > 0 || len(req.Trailer) > 0 {
		return false
	}
	if req.Body != nil && req.Body != http.NoBody && (req.ContentLength <= 0 || req.ContentLength > maxFastBody) {
		return false
	}
	h := req.Header
	if len(h["Upgrade"]) > 0 || len(h["Expect"]) > 0 || len(h["Connection"]) > 0 || len(h["Transfer-Encoding"]) > 0 {
		return false
	}
	return true
}

// RoundTrip implements http.RoundTripper.
func (t *FastTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	hp := t.pool(req)
	if hp == nil || !hp.direct || (hp.key.tls && !hp.h1.Load()) || !handles(req) {
		resp, err := t.std.RoundTrip(req)
		if err == nil && hp != nil && hp.key.tls && hp.direct && resp.ProtoMajor == 1 && resp.TLS != nil {
			hp.h1.Store(true)
		}
		return resp, err
	}
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		closeReqBody(req)
		return nil, err
	}
	if req.Body != nil && req.Body != http.NoBody {
		// Read the (small) body first, so that the request goes out in one
		// write: net/http flushes the head on its own before a body it
		// does not know to be in memory.
		bp := fastBodies.Get().(*[]byte)
		defer fastBodies.Put(bp)
		buf := (*bp)[:req.ContentLength]
		_, err := io.ReadFull(req.Body, buf)
		req.Body.Close()
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return nil, cerr
			}
			return nil, err
		}
		// An io.NopCloser around a *bytes.Reader: net/http then knows the
		// body is in memory. req is restored before RoundTrip returns.
		orig := req.Body
		req.Body = io.NopCloser(bytes.NewReader(buf))
		defer func() { req.Body = orig }()
	}
	for attempt := 0; ; attempt++ {
		fc, err := t.getConn(ctx, hp, time.Now())
		if err != nil {
			closeReqBody(req)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, err
		}
		resp, retry, err := t.exchange(ctx, hp, fc, req)
		if err == nil {
			return resp, nil
		}
		if retry && attempt == 0 {
			continue
		}
		closeReqBody(req)
		return nil, err
	}
}

var fastBodies = sync.Pool{New: func() any { b := make([]byte, maxFastBody); return &b }}

func closeReqBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// replayable is http.Transport's rule for retrying a request that failed on
// a reused connection before any response: no body, idempotent.
func replayable(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody {
		return false
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	h := req.Header
	return len(h["Idempotency-Key"]) > 0 || len(h["X-Idempotency-Key"]) > 0
}

var aLongTimeAgo = time.Unix(1, 0)

// exchange writes req on fc and reads the response head. retry reports that
// nothing came back on a reused connection and req may be sent again.
func (t *FastTransport) exchange(ctx context.Context, hp *hostPool, fc *fconn, req *http.Request) (resp *http.Response, retry bool, err error) {
	// Cancelling the request unblocks whatever the connection is doing.
	stop := context.AfterFunc(ctx, func() { fc.c.SetDeadline(aLongTimeAgo) })
	fail := func(err error) (*http.Response, bool, error) {
		stop()
		fc.c.Close()
		if cerr := ctx.Err(); cerr != nil {
			return nil, false, cerr
		}
		return nil, false, err
	}
	werr := req.Write(fc.bw)
	if werr == nil {
		werr = fc.bw.Flush()
	}
	if werr != nil {
		if ctx.Err() != nil {
			return fail(werr)
		}
		// The upstream may have answered and closed before reading the
		// whole request (an early 413 or 429): read what it sent.
		fc.c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		fc.lr.n = maxResponseHeader
		r, rerr := http.ReadResponse(fc.br, req)
		if rerr != nil {
			if fc.used && replayable(req) && ctx.Err() == nil {
				stop()
				fc.c.Close()
				return nil, true, werr
			}
			return fail(werr)
		}
		fc.c.SetReadDeadline(time.Time{})
		r.Close = true
		return t.finishResponse(ctx, hp, fc, req, r, stop)
	}
	if t.header > 0 {
		fc.c.SetReadDeadline(time.Now().Add(t.header))
	}
	fc.lr.n = maxResponseHeader
	var n1xx int
	for {
		resp, err = http.ReadResponse(fc.br, req)
		if err != nil {
			if fc.used && replayable(req) && ctx.Err() == nil && fc.lr.n == maxResponseHeader && isConnGone(err) {
				stop()
				fc.c.Close()
				return nil, true, err
			}
			return fail(err)
		}
		code := resp.StatusCode
		if code < 100 || code >= 200 {
			break
		}
		if code == http.StatusSwitchingProtocols {
			return fail(errors.New("proxy: unexpected 101 Switching Protocols"))
		}
		if n1xx++; n1xx > 5 {
			return fail(errors.New("net/http: too many 1xx informational responses"))
		}
		if tr := httptrace.ContextClientTrace(ctx); tr != nil && tr.Got1xxResponse != nil {
			if err := tr.Got1xxResponse(code, textproto.MIMEHeader(resp.Header)); err != nil {
				return fail(err)
			}
		}
	}
	fc.lr.n = math.MaxInt64
	if t.header > 0 {
		fc.c.SetReadDeadline(time.Time{})
	}
	return t.finishResponse(ctx, hp, fc, req, resp, stop)
}

func isConnGone(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func (t *FastTransport) finishResponse(ctx context.Context, hp *hostPool, fc *fconn, req *http.Request, resp *http.Response, stop func() bool) (*http.Response, bool, error) {
	keep := !resp.Close && !req.Close
	if resp.Body == nil || resp.Body == http.NoBody {
		if keep && stop() && fc.br.Buffered() == 0 {
			t.putConn(hp, fc, time.Now())
		} else {
			stop()
			fc.c.Close()
		}
		return resp, false, nil
	}
	resp.Body = &fastBody{rc: resp.Body, t: t, hp: hp, fc: fc, ctx: ctx, stop: stop, keep: keep}
	return resp, false, nil
}

// fastBody is a response body on a pooled connection: the connection goes
// back to the pool at EOF, and is closed on error or early Close.
type fastBody struct {
	rc   io.ReadCloser
	t    *FastTransport
	hp   *hostPool
	fc   *fconn
	ctx  context.Context
	stop func() bool
	keep bool
	done atomic.Bool
}

func (b *fastBody) Read(p []byte) (int, error) {
	if b.done.Load() {
		return 0, io.EOF
	}
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.release(true)
	} else if err != nil {
		b.release(false)
		if cerr := b.ctx.Err(); cerr != nil {
			err = cerr
		}
	}
	return n, err
}

func (b *fastBody) Close() error {
	b.release(false)
	return nil
}

func (b *fastBody) release(eof bool) {
	if !b.done.CompareAndSwap(false, true) {
		return
	}
	if eof && b.keep && b.stop() && b.fc.br.Buffered() == 0 {
		b.t.putConn(b.hp, b.fc, time.Now())
		return
	}
	b.stop()
	b.fc.c.Close()
}

// getConn takes an idle connection to hp (now is the time) or dials one.
func (t *FastTransport) getConn(ctx context.Context, hp *hostPool, now time.Time) (*fconn, error) {
	hp.mu.Lock()
	for n := len(hp.idle); n > 0; n = len(hp.idle) {
		fc := hp.idle[n-1]
		hp.idle[n-1] = nil
		hp.idle = hp.idle[:n-1]
		hp.mu.Unlock()
		if now.Sub(fc.idle) < t.idleTimeout && fc.alive() {
			fc.used = true
			return fc, nil
		}
		fc.c.Close()
		hp.mu.Lock()
	}
	hp.mu.Unlock()
	return t.dial(ctx, hp)
}

// putConn returns fc to hp's idle connections; now is the time.
func (t *FastTransport) putConn(hp *hostPool, fc *fconn, now time.Time) {
	fc.idle = now
	var stale *fconn
	hp.mu.Lock()
	if len(hp.idle) >= t.maxIdle {
		hp.mu.Unlock()
		fc.c.Close()
		return
	}
	if len(hp.idle) > 0 && fc.idle.Sub(hp.idle[0].idle) >= t.idleTimeout {
		stale = hp.idle[0]
		hp.idle = append(hp.idle[:0], hp.idle[1:]...)
	}
	hp.idle = append(hp.idle, fc)
	if hp.sweep == nil {
		hp.sweep = time.AfterFunc(t.idleTimeout, func() { t.sweepIdle(hp) })
	}
	hp.mu.Unlock()
	if stale != nil {
		stale.c.Close()
	}
}

// sweepIdle closes the connections idle for idleTimeout, so that a pool
// nobody uses any more does not hold connections open.
func (t *FastTransport) sweepIdle(hp *hostPool) {
	now := time.Now()
	var old []*fconn
	hp.mu.Lock()
	n := 0
	for n < len(hp.idle) && now.Sub(hp.idle[n].idle) >= t.idleTimeout {
		n++
	}
	if n > 0 {
		old = append(old, hp.idle[:n]...)
		hp.idle = append(hp.idle[:0], hp.idle[n:]...)
	}
	if len(hp.idle) > 0 {
		hp.sweep.Reset(t.idleTimeout - now.Sub(hp.idle[0].idle))
	} else {
		hp.sweep = nil
	}
	hp.mu.Unlock()
	for _, fc := range old {
		fc.c.Close()
	}
}

func (t *FastTransport) dial(ctx context.Context, hp *hostPool) (*fconn, error) {
	var c net.Conn
	var err error
	c, err = t.dialer.DialContext(ctx, "tcp", hp.addr)
	if err != nil {
		return nil, err
	}
	c = newSysConn(c)
	if hp.key.tls {
		tc := tls.Client(c, hp.tlsCfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, err
		}
		c = tc
	}
	fc := &fconn{c: c}
	rawc := c
	if tc, ok := c.(*tls.Conn); ok {
		if p := tc.ConnectionState().NegotiatedProtocol; p != "" && p != "http/1.1" {
			c.Close()
			return nil, errors.New("proxy: upstream negotiated " + strings.ToValidUTF8(p, "?"))
		}
		rawc = tc.NetConn()
	}
	if sc, ok := rawc.(syscall.Conn); ok {
		fc.raw, _ = sc.SyscallConn()
	}
	fc.lr = limitReader{c: c, n: math.MaxInt64}
	fc.br = bufio.NewReaderSize(&fc.lr, 16<<10)
	fc.bw = bufio.NewWriterSize(c, 16<<10)
	return fc, nil
}

// alive reports whether an idle connection may carry another request: an
// idle HTTP/1.1 connection has nothing to read, so anything readable (EOF,
// a reset, a TLS close_notify, stray bytes) means it is done.
func (fc *fconn) alive() bool {
	if fc.raw == nil {
		return true
	}
	if fc.peek == nil {
		fc.peek = &peeker{}
		fc.peek.fn = fc.peek.peek
	}
	fc.peek.alive = false
	err := fc.raw.Read(fc.peek.fn)
	return err == nil && fc.peek.alive
}

// peeker holds what a liveness check needs, made once per connection: the
// callback handed to RawConn.Read would otherwise be allocated per request.
type peeker struct {
	alive bool
	buf   [1]byte
	fn    func(fd uintptr) bool
}
