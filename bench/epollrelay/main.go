//go:build linux

// Command epollrelay is bench/tcprelay without Go's netpoller: one OS
// thread (runtime.LockOSThread) runs its own epoll loop over non-blocking
// sockets and relays bytes between each client connection and a
// connection of its own to the upstream, reading nothing of HTTP.
// scripts/bench.sh measures it beside tcprelay and nginx's stream proxy:
// the difference between it and tcprelay is what goroutines parked and
// woken through the netpoller cost per request on the machine, apart from
// anything a proxy does with the bytes.
//
// It is a measuring stick, not a proxy: one thread, a blocking connect
// per new client connection, and a full send buffer is retried at once.
//
//	epollrelay -listen 127.0.0.1:8080 -upstream 127.0.0.1:9000
package main

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"syscall"
	"unsafe"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "listen address (IPv4)")
	upstream := flag.String("upstream", "", "upstream IPv4 host:port")
	flag.Parse()
	la, err1 := netip.ParseAddrPort(*listen)
	ua, err2 := netip.ParseAddrPort(*upstream)
	if err1 != nil || err2 != nil || !la.Addr().Is4() || !ua.Addr().Is4() {
		fmt.Fprintln(os.Stderr, "epollrelay: -listen and -upstream must be IPv4 host:port")
		os.Exit(2)
	}
	if err := run(la, ua); err != nil {
		fmt.Fprintln(os.Stderr, "epollrelay:", err)
		os.Exit(1)
	}
}

func sockaddr(a netip.AddrPort) *syscall.SockaddrInet4 {
	return &syscall.SockaddrInet4{Port: int(a.Port()), Addr: a.Addr().As4()}
}

func run(listen, upstream netip.AddrPort) error {
	runtime.LockOSThread() // the loop owns its thread, as an nginx worker does
	lfd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	syscall.SetsockoptInt(lfd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
	if err := syscall.Bind(lfd, sockaddr(listen)); err != nil {
		return err
	}
	if err := syscall.Listen(lfd, 4096); err != nil {
		return err
	}
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	watch := func(fd int) error {
		return syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, fd, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)})
	}
	if err := watch(lfd); err != nil {
		return err
	}
	peer := map[int]int{} // each relayed socket's other end
	closePair := func(fd int) {
		p := peer[fd]
		delete(peer, fd)
		delete(peer, p)
		syscall.Close(fd)
		syscall.Close(p)
	}
	buf := make([]byte, 64<<10)
	events := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(ep, events, -1)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		for _, ev := range events[:n] {
			fd := int(ev.Fd)
			if fd == lfd {
				accept(lfd, sockaddr(upstream), peer, watch)
				continue
			}
			if _, ok := peer[fd]; !ok {
				continue // closed earlier in this batch
			}
			k, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
			switch {
			case e == syscall.EAGAIN || e == syscall.EINTR:
				continue
			case e != 0 || k == 0:
				closePair(fd)
				continue
			}
			if !sendAll(peer[fd], buf[:k]) {
				closePair(fd)
			}
		}
	}
}

// accept takes one client connection and pairs it with a new upstream
// connection.
func accept(lfd int, upstream *syscall.SockaddrInet4, peer map[int]int, watch func(int) error) {
	c, _, err := syscall.Accept4(lfd, syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
	if err != nil {
		return
	}
	u, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		syscall.Close(c)
		return
	}
	if err := syscall.Connect(u, upstream); err != nil {
		syscall.Close(c)
		syscall.Close(u)
		return
	}
	for _, fd := range []int{c, u} {
		syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1) // as Go's net does
		syscall.SetNonblock(fd, true)
	}
	peer[c], peer[u] = u, c
	if watch(c) != nil || watch(u) != nil {
		delete(peer, c)
		delete(peer, u)
		syscall.Close(c)
		syscall.Close(u)
	}
}

// sendAll writes b to fd, retrying at once while its buffer is full.
func sendAll(fd int, b []byte) bool {
	for len(b) > 0 {
		// A closed peer gives EPIPE: Go ignores SIGPIPE on sockets.
		k, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		switch e {
		case 0:
			b = b[k:]
		case syscall.EAGAIN, syscall.EINTR:
		default:
			return false
		}
	}
	return true
}
