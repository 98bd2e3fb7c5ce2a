package proxy

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestDeadlineExpires(t *testing.T) {
	a, b := tcpPair(t)
	var d deadline
	d.set(a, clock()+int64(time.Hour))
	d.expire(clock()) // not due
	b.Write([]byte("x"))
	if _, err := a.Read(make([]byte, 1)); err != nil {
		t.Fatalf("read before the deadline: %v", err)
	}
	d.set(a, clock()+int64(time.Millisecond))
	time.Sleep(2 * time.Millisecond)
	d.expire(clock())
	if _, err := a.Read(make([]byte, 1)); !isTimeout(err) {
		t.Fatalf("read after the deadline: %v, want a timeout", err)
	}
}

// TestDeadlineLateExpiryCleared: an expiry that lands after the read it
// guarded returned must not fail the next read once the owner moves on.
func TestDeadlineLateExpiryCleared(t *testing.T) {
	for _, next := range []struct {
		name string
		at   func() int64
	}{
		{"disarm", func() int64 { return 0 }},
		{"rearm", func() int64 { return clock() + int64(time.Hour) }},
	} {
		t.Run(next.name, func(t *testing.T) {
			a, b := tcpPair(t)
			var d deadline
			d.set(a, clock()-1)
			d.expire(clock()) // late: the guarded read already returned
			d.set(a, next.at())
			b.Write([]byte("x"))
			if _, err := a.Read(make([]byte, 1)); err != nil {
				t.Fatalf("read after the owner moved on: %v", err)
			}
		})
	}
	t.Run("other conn", func(t *testing.T) {
		a, _ := tcpPair(t)
		c, d2 := tcpPair(t)
		var d deadline
		d.set(a, clock()-1)
		d.expire(clock())
		d.set(c, clock()+int64(time.Hour)) // the upstream deadline moves to a new connection
		d2.Write([]byte("x"))
		if _, err := c.Read(make([]byte, 1)); err != nil {
			t.Fatalf("read on the new connection: %v", err)
		}
		d.expire(clock())
		if d.c != c {
			t.Fatalf("deadline still on the old connection")
		}
	})
	t.Run("kill", func(t *testing.T) {
		a, b := tcpPair(t)
		var d deadline
		d.c = a
		d.kill()
		if _, err := a.Read(make([]byte, 1)); !isTimeout(err) {
			t.Fatalf("read after kill: %v, want a timeout", err)
		}
		d.set(a, 0)
		b.Write([]byte("x"))
		if _, err := a.Read(make([]byte, 1)); err != nil {
			t.Fatalf("read after the owner moved on: %v", err)
		}
	})
}

// TestDeadlineRace has a sweeper expire as fast as it can while the owner
// arms deadlines that are already due and then disarms them: whatever the
// interleaving, a read after disarming never fails. Run with -race.
func TestDeadlineRace(t *testing.T) {
	a, b := tcpPair(t)
	var d deadline
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			d.expire(clock())
		}
	}()
	go io.Copy(b, b) // echo
	buf := make([]byte, 1)
	for i := 0; i < 2000; i++ {
		d.set(a, clock()-1)
		d.set(a, 0)
		if _, err := a.Write([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(a, buf); err != nil || buf[0] != byte(i) {
			t.Fatalf("round %d: read %v, %v", i, buf, err)
		}
	}
	stop.Store(true)
	wg.Wait()
}

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (a, b *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		done <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-done
	if s == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}
