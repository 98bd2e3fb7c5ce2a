//go:build !linux || 386

package proxy

import "net"

// newSysConn returns c: raw non-blocking reads and writes (sysconn_linux.go)
// are made on Linux only, and not on 386, whose socket calls go through
// socketcall.
func newSysConn(c net.Conn) net.Conn { return c }

// writeAwait writes p (sysconn_linux.go also waits for the answer) after
// running then.
func writeAwait(c net.Conn, p []byte, then func()) error { return writeThen(c, p, then) }
