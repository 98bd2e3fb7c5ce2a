package proxy

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// The fast path's timeouts (idle, request head, upstream response head) and
// the disconnect watcher's start are enforced by one sweeper per Server
// instead of a runtime timer per connection. A request used to change
// timers seven times (SetReadDeadline five times, the watcher's timer
// twice), each a locked timer-heap update; now it stores three atomics. The
// sweeper looks at every fast-path connection each sweepEvery and, for a
// deadline that has passed, sets the connection's read deadline in the past:
// the blocked read returns the same timeout error a deadline gives. The
// price is precision: a timeout fires up to sweepEvery late, and the
// watcher starts between watchAfter and watchAfter+sweepEvery.
const sweepEvery = 50 * time.Millisecond

// clock is monotonic nanoseconds since the process started: deadlines must
// not move when the wall clock does.
var clockStart = time.Now()

func clock() int64 { return int64(time.Since(clockStart)) }

const expired = -1

// deadline is one read deadline on one connection. The goroutine that owns
// the connection arms and disarms it; the sweeper expires it. at is 0 when
// disarmed, the clock value when armed, and expired once the sweeper has
// set the connection's read deadline in the past.
type deadline struct {
	at atomic.Int64
	mu sync.Mutex // serialises expiring with clearing an expiry that came too late
	c  net.Conn   // set under mu, read by the sweeper under mu
}

// set arms the deadline for conn c at clock value at (0 disarms it). If the
// sweeper expired the previous deadline after the read it guarded had
// already returned, the read deadline it left in the past is cleared here.
func (d *deadline) set(c net.Conn, at int64) {
	old := d.at.Load()
	if old != expired && d.c == c && d.at.CompareAndSwap(old, at) {
		return
	}
	d.mu.Lock()
	if d.at.Swap(at) == expired {
		d.c.SetReadDeadline(time.Time{})
	}
	d.c = c
	d.mu.Unlock()
}

// expire sets c's read deadline in the past if the deadline is armed and
// passed by now.
func (d *deadline) expire(now int64) {
	at := d.at.Load()
	if at <= 0 || at > now {
		return
	}
	d.mu.Lock()
	if d.at.CompareAndSwap(at, expired) {
		d.c.SetReadDeadline(aLongTimeAgo)
	}
	d.mu.Unlock()
}

// kill sets the read deadline in the past now, armed or not: Shutdown wakes
// connections waiting for their next request this way. A connection that
// has just received one clears it in its next set.
func (d *deadline) kill() {
	d.mu.Lock()
	d.at.Store(expired)
	d.c.SetReadDeadline(aLongTimeAgo)
	d.mu.Unlock()
}

// sweep runs until stop is closed.
func (s *Server) sweep(stop <-chan struct{}) {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	var due []*relayConn
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		now := clock()
		s.mu.Lock()
		for rc := range s.conns {
			rc.client.expire(now)
			rc.upstream.expire(now)
			if at := rc.watchAt.Load(); at > 0 && at <= now && rc.watchAt.CompareAndSwap(at, expired) {
				due = append(due, rc)
			}
		}
		s.mu.Unlock()
		for i, rc := range due {
			go rc.watch()
			due[i] = nil
		}
		due = due[:0]
	}
}
