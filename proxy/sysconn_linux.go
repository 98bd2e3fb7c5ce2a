//go:build linux && !386

package proxy

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"unsafe"
)

// sysConn is a TCP connection whose reads and writes are made without the
// runtime's blocking-syscall bookkeeping.
//
// net.Conn's Read and Write enter the kernel through syscall.Syscall, which
// tells the scheduler the thread may block: a P left in a syscall for one
// sysmon tick (20 µs; a loopback write that delivers to the peer often
// takes that long) is handed to another thread, and the first syscall after
// an idle spell wakes sysmon, which then ticks every 20 µs for a
// millisecond or more. On a fast-path request that is several thread
// wake-ups and context switches, each a cross-CPU interrupt on a VM, for
// work of a few microseconds. A socket here is non-blocking, so its reads
// and writes return at once; sysConn makes them with RawSyscall and waits
// for readiness through the connection's poller (syscall.RawConn), which
// also keeps deadlines and Close working as with net.Conn.
//
// Writes use send(MSG_NOSIGNAL): a peer that has gone away gives EPIPE and
// no SIGPIPE.
type sysConn struct {
	*net.TCPConn
	raw syscall.RawConn
	rd  rawOp
	wr  rawOp
	aw  awaitOp
}

// rawOp is the state of one read or write, shared with the callback that
// RawConn calls; the callback is made once per connection (a closure per
// call would be a heap allocation per call). The mutex serialises callers,
// as net.Conn's own fd lock does.
type rawOp struct {
	mu  sync.Mutex
	p   []byte
	n   int
	err syscall.Errno
	fn  func(fd uintptr) bool
}

// newSysConn wraps c when it is a TCP connection; anything else (a TLS
// connection, a test pipe) is returned as it is.
func newSysConn(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	sc := &sysConn{TCPConn: tc, raw: raw}
	sc.rd.fn = sc.rd.read
	sc.wr.fn = sc.wr.write
	sc.aw.fn = sc.aw.step
	return sc
}

func (o *rawOp) read(fd uintptr) bool {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&o.p[0])), uintptr(len(o.p)))
		switch e {
		case 0:
			o.n = int(n)
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		o.err = e
		return true
	}
}

func (o *rawOp) write(fd uintptr) bool {
	switch e := send(fd, o.p, &o.n); e {
	case 0:
		return true
	case syscall.EAGAIN:
		return false // wait for room
	default:
		o.err = e
		return true
	}
}

// send writes p[*n:] on fd with send(MSG_NOSIGNAL), advancing *n, until
// all is written (0), the socket's buffer is full (EAGAIN) or it fails.
func send(fd uintptr, p []byte, n *int) syscall.Errno {
	for *n < len(p) {
		k, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&p[*n])), uintptr(len(p)-*n), syscall.MSG_NOSIGNAL, 0, 0)
		switch e {
		case 0:
			*n += int(k)
		case syscall.EINTR:
		default:
			return e
		}
	}
	return 0
}

func (c *sysConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	o := &c.rd
	o.mu.Lock()
	o.p, o.n, o.err = p, 0, 0
	err := c.raw.Read(o.fn)
	n, errno := o.n, o.err
	o.p = nil
	o.mu.Unlock()
	switch {
	case err != nil:
		return 0, c.opError("read", err)
	case errno != 0:
		return 0, c.opError("read", os.NewSyscallError("read", errno))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

func (c *sysConn) Write(p []byte) (int, error) {
	o := &c.wr
	o.mu.Lock()
	o.p, o.n, o.err = p, 0, 0
	var err error
	if len(p) > 0 {
		err = c.raw.Write(o.fn)
	}
	n, errno := o.n, o.err
	o.p = nil
	o.mu.Unlock()
	switch {
	case err != nil:
		return n, c.opError("write", err)
	case errno != 0:
		return n, c.opError("write", os.NewSyscallError("write", errno))
	}
	return n, nil
}

// opError shapes an error as net.Conn's would be, so that callers testing
// for timeouts, net.ErrClosed or ECONNRESET see the same thing.
func (c *sysConn) opError(op string, err error) error {
	if oe, ok := err.(*net.OpError); ok {
		// RawConn's own errors (a deadline, a closed connection) say
		// "raw-read"; say what the caller did.
		err = oe.Err
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

// peek looks at an idle connection without reading from it: one
// non-blocking MSG_PEEK recv, made raw for the reasons above. Nothing to
// read (EAGAIN) is alive.
func (p *peeker) peek(fd uintptr) bool {
	for {
		_, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&p.buf[0])), 1, syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
		if e == syscall.EINTR {
			continue
		}
		p.alive = e == syscall.EAGAIN
		return true
	}
}

// writeAwait writes p and then waits until the connection has something
// to read, without reading it. net.Conn's Read, called right after a
// write, first tries a read that fails with EAGAIN and only then waits:
// one wasted syscall per request on the upstream side. The wait cannot be
// had on its own (RawConn.Read forgets readiness seen before it starts),
// so the write is made inside the same RawConn.Read, before which
// readiness is reset: an answer that comes after the write cannot be
// missed. A wait ended by the read deadline or Close is left for the next
// Read to report; a send buffer that fills up hands the rest to Write.
//
// then (if not nil) runs once, between the write and the wait: work that
// the peer need not wait for. When p cannot be written at once, or the
// write fails, it runs before writeAwait returns, and before any write
// that waits for room.
func writeAwait(c net.Conn, p []byte, then func()) error {
	sc, ok := c.(*sysConn)
	if !ok {
		return writeThen(c, p, then)
	}
	o := &sc.aw
	o.mu.Lock()
	o.p, o.n, o.err, o.wrote, o.full, o.then = p, 0, 0, false, false, then
	rerr := sc.raw.Read(o.fn)
	n, errno, wrote, full := o.n, o.err, o.wrote, o.full
	then = o.then // still to run
	o.p, o.then = nil, nil
	o.mu.Unlock()
	if then != nil {
		then()
	}
	switch {
	case errno != 0:
		return sc.opError("write", os.NewSyscallError("write", errno))
	case wrote:
		return nil
	case full || rerr != nil:
		// The rest (or all of it, when the connection's read side was
		// already timed out or closed) goes the ordinary way.
		_, err := sc.Write(p[n:])
		return err
	}
	return nil
}

// awaitOp is writeAwait's state (see rawOp).
type awaitOp struct {
	mu          sync.Mutex
	p           []byte
	n           int
	err         syscall.Errno
	wrote, full bool
	then        func()
	fn          func(fd uintptr) bool
}

func (o *awaitOp) step(fd uintptr) bool {
	if o.wrote {
		return true // readable, or woken by a deadline or Close
	}
	switch e := send(fd, o.p, &o.n); e {
	case 0:
		o.wrote = true
		if then := o.then; then != nil {
			o.then = nil
			then()
		}
		return false // now wait for the answer
	case syscall.EAGAIN:
		o.full = true
	default:
		o.err = e
	}
	return true
}
