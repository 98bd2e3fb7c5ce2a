//go:build linux && !386

// Command lockrelay is the floor of Headroom's own fast path (docs/proxy.md):
// a byte relay built the way that path is, reading nothing of HTTP. One
// goroutine per client connection reads a request, writes it to a
// connection of its own to the upstream, waits for the answer and writes it
// back; reads and writes are raw non-blocking syscalls (syscall.RawSyscall
// inside syscall.RawConn's Read and Write callbacks, as proxy/sysconn_linux.go
// makes them: no entersyscall bookkeeping, no sysmon wake-ups) and every
// wait is a goroutine parked in Go's netpoller. scripts/bench.sh measures it
// beside bench/tcprelay (io.Copy, two goroutines per connection, net.Conn's
// syscalls) and bench/epollrelay (no netpoller at all): what it adds over
// epollrelay is what the netpoller itself costs a design like Headroom's,
// and what Headroom adds over it is the cost of the HTTP it reads.
//
// It is a measuring stick, not a proxy. Reading no HTTP, it cannot know
// where an answer ends: a turn is one read from the client (more only while
// reads fill the buffer), written upstream whole, then one wait for the
// upstream's answer and whatever more of it is already readable (a
// non-blocking read that finds nothing, one syscall per request, ends the
// turn); then it reads the client again. It
// is exact only for clients that send a request and wait for its answer
// (wrk, vegeta), with requests that reach it in one piece and answers that
// are all readable once their first bytes are relayed, as the bench's
// 260-byte answers are. A byte of an answer that arrives later is relayed at
// the next turn, after the client's next request: a client waiting for it
// waits for ever (a 100 KB file from nginx, written 32 KB at a time, often
// stops short). One upstream connection per client connection, dialled when
// the client connects.
//
//	lockrelay -listen 127.0.0.1:8080 -upstream 127.0.0.1:9000
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"syscall"
	"unsafe"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "listen address")
	upstream := flag.String("upstream", "", "upstream host:port")
	flag.Parse()
	if *upstream == "" {
		fmt.Fprintln(os.Stderr, "lockrelay: -upstream host:port is required")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "lockrelay:", err)
		os.Exit(1)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "lockrelay:", err)
			os.Exit(1)
		}
		go relay(c, *upstream)
	}
}

// relay runs one client connection's turns until either side fails or
// closes, then closes both.
func relay(c net.Conn, upstream string) {
	defer c.Close()
	u, err := net.Dial("tcp", upstream)
	if err != nil {
		return
	}
	defer u.Close()
	cs, us := newSock(c), newSock(u)
	if cs == nil || us == nil {
		return
	}
	buf := make([]byte, 64<<10) // the connection's only buffer: a turn goes one way at a time
	for {
		// The request: one read, and more only while reads fill the
		// buffer (a short read emptied the socket; trying again would be a
		// syscall per request that Headroom, which knows where a request
		// ends, does not make).
		n, ok := cs.read(buf)
		for ok {
			if !us.write(buf[:n]) {
				return
			}
			if n < len(buf) {
				break
			}
			if n, ok = cs.poll(buf); ok && n == 0 {
				break
			}
		}
		if !ok {
			return
		}
		// The answer: wait for its first bytes, then relay what else is
		// readable now.
		n, ok = us.read(buf)
		for ok && n > 0 {
			if !cs.write(buf[:n]) {
				return
			}
			n, ok = us.poll(buf)
		}
		if !ok {
			return
		}
	}
}

// sock makes a TCP connection's reads and writes as raw syscalls on its
// non-blocking socket, waiting for readiness through the netpoller
// (syscall.RawConn). The callbacks are made once per connection: a closure
// per call would be an allocation per request.
type sock struct {
	raw syscall.RawConn
	p   []byte        // what the current call reads into or writes
	n   int           // bytes read, or written so far
	err syscall.Errno // the call's error, EAGAIN included

	waitFn, writeFn func(fd uintptr) bool
	pollFn          func(fd uintptr)
}

func newSock(c net.Conn) *sock {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	s := &sock{raw: raw}
	s.waitFn, s.writeFn, s.pollFn = s.waitRead, s.sendAll, s.pollRead
	return s
}

// read reads into p, parked in the netpoller until something is readable.
// It fails on an error and at EOF.
func (s *sock) read(p []byte) (int, bool) {
	s.p, s.n, s.err = p, 0, 0
	if s.raw.Read(s.waitFn) != nil || s.err != 0 || s.n == 0 {
		return 0, false
	}
	return s.n, true
}

// poll reads into p what is readable now, without waiting: 0 and true when
// nothing is. It fails on an error and at EOF.
func (s *sock) poll(p []byte) (int, bool) {
	s.p, s.n, s.err = p, 0, 0
	if s.raw.Control(s.pollFn) != nil {
		return 0, false
	}
	switch {
	case s.err == syscall.EAGAIN:
		return 0, true
	case s.err != 0 || s.n == 0:
		return 0, false
	}
	return s.n, true
}

// write writes all of p, parked in the netpoller while the socket's send
// buffer is full. A peer that has gone away fails it (EPIPE; MSG_NOSIGNAL:
// no SIGPIPE).
func (s *sock) write(p []byte) bool {
	s.p, s.n, s.err = p, 0, 0
	return s.raw.Write(s.writeFn) == nil && s.err == 0
}

// sysRead is one read(2) on fd into s.p, retried on EINTR.
func (s *sock) sysRead(fd uintptr) syscall.Errno {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&s.p[0])), uintptr(len(s.p)))
		switch e {
		case 0:
			s.n = int(n)
			return 0
		case syscall.EINTR:
			continue
		}
		return e
	}
}

// waitRead is read's RawConn.Read callback: false (wait) on EAGAIN.
func (s *sock) waitRead(fd uintptr) bool {
	s.err = s.sysRead(fd)
	return s.err != syscall.EAGAIN
}

// pollRead is poll's RawConn.Control callback.
func (s *sock) pollRead(fd uintptr) {
	s.err = s.sysRead(fd)
}

// sendAll is write's RawConn.Write callback: it sends s.p[s.n:] with
// send(MSG_NOSIGNAL), looping on partial writes, and returns false (wait
// for room) on EAGAIN; s.n keeps what was sent for the next call.
func (s *sock) sendAll(fd uintptr) bool {
	for s.n < len(s.p) {
		k, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&s.p[s.n])), uintptr(len(s.p)-s.n), syscall.MSG_NOSIGNAL, 0, 0)
		switch e {
		case 0:
			s.n += int(k)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			s.err = e
			return true
		}
	}
	return true
}
