package proxy

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Server serves the proxy listener. Each connection starts on the fast
// path (relay.go): plain HTTP/1.1 requests for a configured provider, with a
// small Content-Length body, are relayed byte for byte by Headroom itself
// over a pool of upstream keep-alive connections. The first request that
// needs anything else (chunked or large bodies, Expect, Upgrade, HTTP/1.0 or
// HTTP/2, an absolute-form target, percent-encoded paths, errors
// such as unknown providers or bodies over the limit) hands the connection,
// with every byte read so far, to Std — net/http's server running the same
// Proxy as a handler — for the rest of its life. Both paths observe calls
// the same way and answer errors the same way.
type Server struct {
	Proxy *Proxy
	// Std serves handed-off connections; its Handler should be Proxy. Its
	// ReadHeaderTimeout and IdleTimeout apply to the fast path too.
	Std *http.Server
	// Upstream is the fast path's connection pool; nil hands every
	// connection to Std.
	Upstream *FastTransport

	handoff  connQueue
	ln       net.Listener
	mu       sync.Mutex
	conns    map[*relayConn]struct{}
	shutting atomic.Bool
	stdErr   chan error

	// The sweeper (deadline.go): stopSweep ends it, swept is closed when
	// it has ended.
	stopSweep chan struct{}
	stopOnce  sync.Once
	swept     chan struct{}

	settling bool // settle is registered with the collector (once, for good)
}

// Serve accepts connections until Shutdown or Close, then returns
// http.ErrServerClosed.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	s.ln = ln
	s.conns = map[*relayConn]struct{}{}
	s.handoff.init(ln.Addr())
	s.stdErr = make(chan error, 1)
	s.stopSweep, s.swept = make(chan struct{}), make(chan struct{})
	s.stopOnce = sync.Once{}
	if !s.settling {
		s.Proxy.coll.BeforeRead(s.settle)
		s.settling = true
	}
	s.mu.Unlock()
	go func() { s.stdErr <- s.Std.Serve(&s.handoff) }()
	go func() {
		defer close(s.swept)
		s.sweep(s.stopSweep)
	}()
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.shutting.Load() {
				return http.ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) {
				// Out of file descriptors and the like: back off as
				// net/http does rather than spin or give up.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			s.handoff.Close()
			return err
		}
		delay = 0
		if s.Upstream == nil {
			s.handoff.push(c)
			continue
		}
		rc := newRelayConn(s, newSysConn(c))
		if !s.track(rc) {
			c.Close()
			continue
		}
		go rc.serve()
	}
}

func (s *Server) track(rc *relayConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutting.Load() {
		return false
	}
	s.conns[rc] = struct{}{}
	return true
}

func (s *Server) untrack(rc *relayConn) {
	s.mu.Lock()
	delete(s.conns, rc)
	s.mu.Unlock()
}

// settleWait bounds settle: recording takes microseconds; only a stalled
// connection goroutine would take longer.
const settleWait = 100 * time.Millisecond

// settle waits until every call whose answer a fast-path connection has
// written is recorded (relayConn.record), so that a client that has its
// answer and then reads the metrics finds its call counted. The
// collector runs it before every read of the metrics.
func (s *Server) settle() {
	type unrecorded struct {
		rc   *relayConn
		recs uint32
	}
	var busy []unrecorded
	s.mu.Lock()
	for rc := range s.conns {
		if v := rc.recs.Load(); v&1 != 0 {
			busy = append(busy, unrecorded{rc, v})
		}
	}
	s.mu.Unlock()
	if len(busy) == 0 {
		return
	}
	end := time.Now().Add(settleWait)
	for _, u := range busy {
		for u.rc.recs.Load() == u.recs && time.Now().Before(end) {
			runtime.Gosched()
		}
	}
}

// Shutdown stops accepting, closes idle connections, lets requests in
// flight finish until ctx ends (as http.Server.Shutdown does), then shuts
// Std down the same way.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutting.Store(true)
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		if s.closeIdle() == 0 {
			break
		}
		select {
		case <-ctx.Done():
			s.Std.Shutdown(ctx)
			return ctx.Err()
		case <-t.C:
		}
	}
	s.endSweep()
	return s.Std.Shutdown(ctx)
}

// endSweep stops the sweeper once no fast-path connection is left (or on
// Close) and waits for it.
func (s *Server) endSweep() {
	s.mu.Lock()
	stop, swept := s.stopSweep, s.swept
	s.mu.Unlock()
	if stop == nil {
		return
	}
	s.stopOnce.Do(func() { close(stop) })
	<-swept
}

// closeIdle wakes idle fast-path connections (they then close) and returns
// how many connections are left.
func (s *Server) closeIdle() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for rc := range s.conns {
		if rc.idle.Load() {
			rc.client.kill()
		}
	}
	return len(s.conns)
}

// Close closes the listener and every connection at once.
func (s *Server) Close() error {
	s.shutting.Store(true)
	s.mu.Lock()
	if s.ln != nil {
		s.ln.Close()
	}
	for rc := range s.conns {
		rc.c.Close()
	}
	s.mu.Unlock()
	s.endSweep()
	return s.Std.Close()
}

// connQueue is the listener Std serves: connections the fast path hands
// over.
type connQueue struct {
	addr   net.Addr
	ch     chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func (q *connQueue) init(addr net.Addr) {
	q.addr = addr
	q.ch = make(chan net.Conn)
	q.closed = make(chan struct{})
	q.once = sync.Once{}
}

func (q *connQueue) push(c net.Conn) {
	select {
	case q.ch <- c:
	case <-q.closed:
		c.Close()
	}
}

func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case c := <-q.ch:
		return c, nil
	case <-q.closed:
		return nil, net.ErrClosed
	}
}

func (q *connQueue) Close() error {
	q.once.Do(func() { close(q.closed) })
	return nil
}

func (q *connQueue) Addr() net.Addr { return q.addr }

// handedConn is a client connection given to Std: what the fast path read
// ahead is read first.
type handedConn struct {
	net.Conn
	br *bufio.Reader
	cr *clientReader
}

func (h *handedConn) Read(p []byte) (int, error) {
	if h.br != nil {
		if h.br.Buffered() > 0 {
			return h.br.Read(p)
		}
		h.br = nil
	}
	return h.cr.Read(p)
}

// clientReader reads the client connection, after the byte the
// disconnect watcher may have read.
type clientReader struct {
	c       net.Conn
	pending []byte
}

func (r *clientReader) Read(p []byte) (int, error) {
	if len(r.pending) > 0 {
		n := copy(p, r.pending)
		r.pending = r.pending[n:]
		return n, nil
	}
	return r.c.Read(p)
}
