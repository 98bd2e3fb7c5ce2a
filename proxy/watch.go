package proxy

import (
	"errors"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// A client that gives up (a timeout, a cancelled agent step) while its
// provider is still thinking, or in a pause of a stream, should not leave
// the provider generating tokens nobody reads. nginx and net/http's server
// notice the client's connection closing and abandon the upstream request;
// fasthttp's server looks at a connection only when it reads or writes it.
// So the proxy watches the client connections of calls in progress: every
// watchEvery, one goroutine peeks at each connection whose call is older
// than that (a non-blocking MSG_PEEK, which leaves the bytes of a
// pipelined request where fasthttp reads them); end of stream or a reset
// means the client left, and the call's upstream connection is closed
// under it (claim says which one it is). Calls answered sooner cost a map
// insertion and deletion. This is the proxy's one look at client sockets
// outside fasthttp.

// watchEvery is the watcher's period: a client that left is noticed within
// one to two of them (within a second once a call has run two seconds).
const watchEvery = 100 * time.Millisecond

type watchList struct {
	tick   atomic.Int64 // sweeps so far: a call's age, without a clock read
	shards [16]watchShard

	mu         sync.Mutex // start and close
	stop, done chan struct{}
}

type watchShard struct {
	mu    sync.Mutex
	calls map[*call]int64 // the next tick the call is looked at
}

func (w *watchList) shard(c *call) *watchShard {
	return &w.shards[(uintptr(unsafe.Pointer(c))>>8)%uintptr(len(w.shards))]
}

// add watches c's client from now until remove.
func (w *watchList) add(c *call) {
	c.watchedFrom = w.tick.Load()
	s := w.shard(c)
	s.mu.Lock()
	if s.calls == nil {
		s.calls = map[*call]int64{}
	}
	s.calls[c] = w.tick.Load() + 2
	s.mu.Unlock()
}

// remove ends the watch; once it returns the watcher no longer looks at c.
func (w *watchList) remove(c *call) {
	s := w.shard(c)
	s.mu.Lock()
	delete(s.calls, c)
	s.mu.Unlock()
}

// start runs the watcher until close.
func (w *watchList) start() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stop != nil {
		return
	}
	stop, done := make(chan struct{}), make(chan struct{})
	w.stop, w.done = stop, done
	go func() {
		defer close(done)
		t := time.NewTicker(watchEvery)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				w.sweep(w.tick.Add(1))
			}
		}
	}()
}

func (w *watchList) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stop != nil {
		close(w.stop)
		<-w.done
		w.stop = nil
	}
}

// slowAfter is the age (in ticks) past which a call is looked at every
// slowEvery ticks only: a stream that has run for seconds is seldom left
// within the next tenth of one, and a thousand held streams would
// otherwise cost ten thousand peeks a second.
const (
	slowAfter = 20
	slowEvery = 10
)

// sweep looks at the clients of the calls due: every tick from their
// second, every slowEvery ticks once they are slowAfter ticks old.
func (w *watchList) sweep(now int64) {
	for i := range w.shards {
		s := &w.shards[i]
		s.mu.Lock()
		for c, due := range s.calls {
			if now < due {
				continue
			}
			if !clientGone(c) {
				next := now + 1
				if now-c.watchedFrom > slowAfter {
					next = now + slowEvery
				}
				s.calls[c] = next
				continue
			}
			delete(s.calls, c)
			c.gone.Store(true)
			if uc := c.conn.Load(); uc != nil {
				uc.abandon()
			}
		}
		s.mu.Unlock()
	}
}

// clientGone peeks at c's client connection: end of stream or an error
// (a reset) means the client left. Bytes waiting (a pipelined request) or
// nothing to read mean it is there.
func clientGone(c *call) bool {
	sc, ok := c.ctx.Conn().(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	gone := false
	_ = rc.Control(func(fd uintptr) {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		gone = (n == 0 && err == nil) || (err != nil && !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EINTR))
	})
	return gone
}
