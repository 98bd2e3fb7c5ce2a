//go:build unix && (!linux || 386)

package proxy

import "syscall"

// peek looks at an idle connection without reading from it: one
// non-blocking MSG_PEEK recv. Nothing to read (EAGAIN) is alive.
func (p *peeker) peek(fd uintptr) bool {
	n, _, errno := syscall.Recvfrom(int(fd), p.buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	p.alive = n < 0 && (errno == syscall.EAGAIN || errno == syscall.EWOULDBLOCK)
	return true
}
