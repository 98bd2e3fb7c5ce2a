package proxy

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpproxy"
)

// Upstream holds the connection pools to the providers: one
// fasthttp.HostClient per scheme and host, shared by every route (and kept
// across reloads) that reaches that host.
//
// Providers are reached over HTTP/1.1 (TLS with ALPN http/1.1 for https),
// as nginx reaches its upstreams; HTTP_PROXY, HTTPS_PROXY and NO_PROXY from
// the environment are honoured (CONNECT tunnels, fasthttpproxy). TLS is
// done by the dial function, under the upConn wrapper, so that the proxy
// sees (and fasthttp reads) the plain bytes on every connection.
type Upstream struct {
	// DialTimeout bounds connecting (and the TLS handshake);
	// HeaderTimeout bounds waiting for a response's headers.
	DialTimeout, HeaderTimeout time.Duration
	// TLSConfig is cloned for https upstreams; nil uses the system roots.
	TLSConfig *tls.Config
	// MaxIdleConnDuration closes connections idle for longer; zero is
	// defaultIdle.
	MaxIdleConnDuration time.Duration

	mu    sync.Mutex
	hosts map[hostKey]*fasthttp.HostClient
}

// defaultIdle is under the 60 s most servers keep an idle connection open
// (nginx's keepalive_timeout, load balancers'): a connection the provider
// closed while it sat in the pool is not picked up often, and when it is,
// exchange replaces it.
const defaultIdle = 50 * time.Second

type hostKey struct {
	tls  bool
	addr string
}

// maxResponseHead is the largest response head (status line and fields)
// Headroom reads from a provider; larger heads get a 502. Providers send
// 1–4 KiB; nginx's default (proxy_buffer_size) is one 4 or 8 KiB page, and
// so is this. The buffer is held by every answer in flight, so it is also
// much of what a held stream costs (docs/benchmarks.md).
const maxResponseHead = 8 << 10

// client returns the pool for u, creating it on first use.
func (up *Upstream) client(u *url.URL) *fasthttp.HostClient {
	k := hostKey{tls: u.Scheme == "https", addr: hostPort(u)}
	up.mu.Lock()
	defer up.mu.Unlock()
	if hc := up.hosts[k]; hc != nil {
		return hc
	}
	if up.hosts == nil {
		up.hosts = map[hostKey]*fasthttp.HostClient{}
	}
	idle := up.MaxIdleConnDuration
	if idle <= 0 {
		idle = defaultIdle
	}
	hc := &fasthttp.HostClient{
		Addr: k.addr,
		Dial: up.dialer(k.tls, u.Hostname()),
		// Header names and paths go as the client sent them.
		DisableHeaderNamesNormalizing: true,
		DisablePathNormalizing:        true,
		NoDefaultUserAgentHeader:      true,
		// Bodies stream both ways; nothing is buffered whole.
		StreamResponseBody: true,
		ReadBufferSize:     maxResponseHead,
		WriteBufferSize:    8 << 10,
		// The header timeout: the read deadline set before the response
		// is read. Bodies are bounded by nothing (generations take
		// minutes): streamBody clears the deadline once the head is in.
		ReadTimeout:           up.HeaderTimeout,
		SecureErrorLogMessage: true,
		MaxIdleConnDuration:   idle,
		MaxConns:              1 << 16,
		// Retries are the proxy's decision (Proxy.exchange), made with
		// what only it knows: whether the connection was reused and
		// whether the body can be sent again.
		MaxIdemponentCallAttempts: 1,
		RetryIfErr:                func(*fasthttp.Request, int, error) (bool, bool) { return false, false },
	}
	up.hosts[k] = hc
	return hc
}

// CloseIdleConnections closes every pool's idle connections (shutdown).
func (up *Upstream) CloseIdleConnections() {
	up.mu.Lock()
	defer up.mu.Unlock()
	for _, hc := range up.hosts {
		hc.CloseIdleConnections()
	}
}

// hostPort is u's host with the scheme's default port made explicit.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "https" {
		return net.JoinHostPort(u.Hostname(), "443")
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

// dialer returns the HostClient's dial function: the environment's proxy
// (or a direct dial), each connection wrapped as an upConn, and dial
// failures marked as such for classify.
func (up *Upstream) dialer(isTLS bool, serverName string) fasthttp.DialFunc {
	d := &fasthttpproxy.Dialer{Timeout: up.DialTimeout, ConnectTimeout: up.DialTimeout, DialDualStack: true}
	dial, err := d.GetDialFuncForTLS(true, isTLS)
	if err != nil {
		// A malformed HTTP(S)_PROXY: every call fails with the reason.
		return func(string) (net.Conn, error) { return nil, &dialError{err} }
	}
	var tc *tls.Config
	if isTLS {
		tc = &tls.Config{}
		if up.TLSConfig != nil {
			tc = up.TLSConfig.Clone()
		}
		tc.ServerName = serverName
		tc.NextProtos = []string{"http/1.1"}
	}
	return func(addr string) (net.Conn, error) {
		c, err := dial(addr)
		if err != nil {
			return nil, &dialError{err}
		}
		if tc != nil {
			t := tls.Client(c, tc)
			_ = t.SetDeadline(time.Now().Add(up.DialTimeout))
			if err := t.Handshake(); err != nil {
				c.Close()
				return nil, &dialError{err}
			}
			_ = t.SetDeadline(time.Time{})
			c = t
		}
		uc := &upConn{Conn: c}
		uc.addr = &upAddr{Addr: c.RemoteAddr(), c: uc}
		return uc, nil
	}
}

// dialError is a failure to reach the upstream at all (502 connect).
type dialError struct{ err error }

func (e *dialError) Error() string { return "dial: " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// upConn is an upstream connection as the proxy sees it: it knows which
// call is waiting on it, so that a client that goes away can have its
// upstream request abandoned (watch.go), and whether it served a request
// before (a reused connection that fails before any answer is retried).
type upConn struct {
	net.Conn
	addr *upAddr
	// uses counts the calls that claimed this connection.
	uses atomic.Int32
	// closedByProxy: Close came from abandon, not from the pool.
	closedByProxy atomic.Bool
	// head: the next reads start an answer's head (a request was
	// written), line gathers its first line; tunnel: the connection
	// carries another protocol now.
	head, tunnel atomic.Bool
	line         []byte
	// bad is why the connection was closed under an answer fasthttp
	// would misread (it reports a closed connection).
	bad atomic.Pointer[error]
}

// The first line of every answer is checked as it arrives, before
// fasthttp reads it: the one look the proxy takes at answer bytes.
// fasthttp's parser waits for a head to end in CRLF CRLF, so a provider
// that ends its lines with a bare LF (RFC 9112 §2.2 lets a recipient
// accept them; nginx does) would have the call wait for the header
// timeout; and it reads a status of 000 as 200. Such answers fail at once
// (502), as nginx fails an invalid status line.
var (
	errBareLF    = errors.New("upstream answer head has bare LF line endings")
	errBadStatus = errors.New("upstream answer has an invalid status line")
)

func (c *upConn) Write(p []byte) (int, error) {
	if !c.tunnel.Load() && !c.head.Load() {
		c.line = c.line[:0]
		c.head.Store(true)
	}
	return c.Conn.Write(p)
}

func (c *upConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && c.head.Load() {
		if err := c.checkLine(p[:n]); err != nil {
			bad := err // allocated only here
			c.bad.Store(&bad)
			c.Conn.Close()
			return 0, bad
		}
	}
	return n, err
}

// checkLine gathers the answer's first line from what was read and checks
// it once whole: "HTTP/1.0" or "HTTP/1.1", a space, a status from 100 to
// 599, CRLF.
func (c *upConn) checkLine(p []byte) error {
	i := bytes.IndexByte(p, '\n')
	if i < 0 {
		if len(c.line)+len(p) > maxStatusLine {
			return errBadStatus
		}
		c.line = append(c.line, p...)
		return nil
	}
	line := append(c.line, p[:i+1]...)
	c.line = line[:0]
	c.head.Store(false)
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return errBareLF
	}
	line = line[:len(line)-2]
	sp := bytes.IndexByte(line, ' ')
	if sp != len("HTTP/1.1") || !bytes.HasPrefix(line, []byte("HTTP/1.")) || (line[7] != '0' && line[7] != '1') ||
		len(line) < sp+4 || (len(line) > sp+4 && line[sp+4] != ' ') {
		// HTTP/1.0 or HTTP/1.1: fasthttp reads other versions' framing
		// its own way (it ignores Transfer-Encoding on them).
		return errBadStatus
	}
	code := line[sp+1 : sp+4]
	for _, d := range code {
		if d < '0' || d > '9' {
			return errBadStatus
		}
	}
	if code[0] < '1' || code[0] > '5' {
		return errBadStatus
	}
	return nil
}

const maxStatusLine = 512

// upAddr is the connection's remote address, carrying the connection: the
// one way a call can learn which pooled connection fasthttp gave it. See
// claim.
type upAddr struct {
	net.Addr
	c *upConn
}

func (c *upConn) RemoteAddr() net.Addr { return c.addr }

// abandon closes the connection under a call whose client went away: the
// provider sees the request cancelled, as nginx and net/http's server do.
func (c *upConn) abandon() {
	c.closedByProxy.Store(true)
	c.Conn.Close()
}

// claim finds the connection a request is being written on.
//
// fasthttp's HostClient keeps its pooled connections to itself: nothing in
// its API says which connection a request got, and so nothing can cancel
// a request that waits for its answer. But before it writes a request it
// records the connection's remote address on the response
// (Response.ParseNetConn), on the calling goroutine; the request body is
// read right after, on the same goroutine. reqBody.Read calls claim, and
// the address it finds is the upAddr of the connection in use. This is
// the one place the proxy relies on the order of fasthttp's steps; the
// client-abandon tests (TestClientLeavesWhileWaiting and the fault suite's
// TestClientGivesUpBeforeHeaders) fail if it changes.
func claim(resp *fasthttp.Response) *upConn {
	a, ok := resp.RemoteAddr().(*upAddr)
	if !ok {
		return nil
	}
	return a.c
}

// isUpgrade reports a request asking to switch protocols (WebSocket).
func isUpgrade(h *fasthttp.RequestHeader) bool {
	return len(h.Peek("Upgrade")) > 0 && headerHasToken(h.Peek("Connection"), "upgrade")
}

// headerHasToken reports whether the comma-separated list v has tok
// (case-insensitively).
func headerHasToken(v []byte, tok string) bool {
	for len(v) > 0 {
		var t []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			t, v = v[:i], v[i+1:]
		} else {
			t, v = v, nil
		}
		if strings.EqualFold(strings.TrimSpace(b2s(t)), tok) {
			return true
		}
	}
	return false
}
