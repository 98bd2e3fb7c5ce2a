//go:build unix

package proxy

import "syscall"

// peekAlive looks at an idle connection without reading from it: one
// non-blocking MSG_PEEK recv. Nothing to read (EAGAIN) is alive.
func peekAlive(rc syscall.RawConn) bool {
	alive := false
	var buf [1]byte
	err := rc.Read(func(fd uintptr) bool {
		n, _, errno := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = n < 0 && (errno == syscall.EAGAIN || errno == syscall.EWOULDBLOCK)
		return true
	})
	return err == nil && alive
}
