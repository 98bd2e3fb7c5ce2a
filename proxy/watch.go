package proxy

import (
	"errors"
	"sync"
	"syscall"
	"time"
)

// A client that gives up while its provider is still thinking (a timeout,
// a cancelled agent step) should not leave the provider generating tokens
// nobody reads. nginx and net/http's server notice the client's connection
// closing and abandon the upstream request; fasthttp's server does not
// look at a connection while its handler runs. So a call that has waited
// watchAfter for its answer watches the client's socket, peeking (the
// bytes of a pipelined next request stay where fasthttp reads them): end
// of stream or a reset means the client left, and the call's upstream
// connection is closed under it (claim says which one it is). This is the
// proxy's one look at a client socket outside fasthttp, and it costs
// nothing to calls answered sooner: the timer is stopped before it fires.

// watchAfter is how long a call waits for its answer before watching.
const watchAfter = 100 * time.Millisecond

type watcher struct {
	c     *call
	timer *time.Timer

	mu       sync.Mutex
	running  bool
	stopping bool
	done     chan struct{}
}

// arm starts the timer for c's wait.
func (w *watcher) arm(c *call) {
	w.c = c
	w.mu.Lock()
	w.stopping, w.running = false, false
	w.mu.Unlock()
	if w.timer == nil {
		w.timer = time.AfterFunc(watchAfter, w.run)
	} else {
		w.timer.Reset(watchAfter)
	}
}

// disarm ends the watch once the answer's head is in (or the call failed),
// before the client's connection is written to or read again.
func (w *watcher) disarm() {
	if w.timer.Stop() {
		return
	}
	w.mu.Lock()
	w.stopping = true
	running, done := w.running, w.done
	w.mu.Unlock()
	if !running {
		return
	}
	conn := w.c.ctx.Conn()
	// Wake the poller wait, wait for the watch to end, then leave the
	// connection's deadline to fasthttp again.
	_ = conn.SetReadDeadline(time.Unix(1, 0))
	<-done
	_ = conn.SetReadDeadline(time.Time{})
}

func (w *watcher) run() {
	sc, ok := w.c.ctx.Conn().(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	w.mu.Lock()
	if w.stopping {
		w.mu.Unlock()
		return
	}
	w.running, w.done = true, make(chan struct{})
	done := w.done
	w.mu.Unlock()
	defer close(done)

	// The connection may carry the header or body read deadline: the
	// watch has no end of its own.
	_ = w.c.ctx.Conn().SetReadDeadline(time.Time{})
	var buf [1]byte
	var n int
	var perr error
	err = rc.Read(func(fd uintptr) bool {
		w.mu.Lock()
		stop := w.stopping
		w.mu.Unlock()
		if stop {
			return true
		}
		n, _, perr = syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return !errors.Is(perr, syscall.EAGAIN)
	})
	w.mu.Lock()
	stop := w.stopping
	w.mu.Unlock()
	if err != nil || stop || n > 0 {
		// Woken by disarm, or the client sent more: it is there.
		return
	}
	// End of stream (n == 0) or an error such as a reset: the client left.
	c := w.c
	c.gone.Store(true)
	if uc := c.conn.Load(); uc != nil {
		uc.abandon()
	}
}
