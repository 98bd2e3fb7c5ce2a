//go:build linux && !386

package proxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// errClass is what callers of a connection test an error for.
type errClass struct {
	eof, timeout, closed, reset, pipe bool
	op                                string
}

func classOf(err error) errClass {
	var c errClass
	var ne net.Error
	var oe *net.OpError
	c.eof = errors.Is(err, io.EOF)
	c.timeout = errors.As(err, &ne) && ne.Timeout() && errors.Is(err, os.ErrDeadlineExceeded)
	c.closed = errors.Is(err, net.ErrClosed)
	c.reset = errors.Is(err, syscall.ECONNRESET)
	c.pipe = errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET)
	if errors.As(err, &oe) {
		c.op = oe.Op
	}
	return c
}

// TestSysConnMatchesNetConn runs each scenario once on a plain TCP
// connection and once on a sysConn, and requires the same data and the
// same kind of error: the relay's error handling (timeouts to 504,
// resets to 502, net.ErrClosed) must not see a difference.
func TestSysConnMatchesNetConn(t *testing.T) {
	scenarios := []struct {
		name string
		run  func(t *testing.T, c net.Conn, peer *net.TCPConn) ([]byte, error)
	}{
		{"read what the peer wrote", func(t *testing.T, c net.Conn, peer *net.TCPConn) ([]byte, error) {
			peer.Write([]byte("hello"))
			buf := make([]byte, 16)
			n, err := c.Read(buf)
			return buf[:n], err
		}},
		{"zero-length read", func(t *testing.T, c net.Conn, peer *net.TCPConn) ([]byte, error) {
			n, err := c.Read(nil)
			return []byte{byte(n)}, err
		}},
		{"peer closes: EOF", func(t *testing.T, c net.Conn, peer *net.TCPConn) ([]byte, error) {
			peer.Write([]byte("last"))
			peer.Close()
			return io.ReadAll(c)
		}},
		{"read deadline", func(t *testing.T, c net.Conn, peer *net.TCPConn) ([]byte, error) {
			c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			n, err := c.Read(make([]byte, 1))
			return []byte{byte(n)}, err
		}},
		{"deadline in the past", func(t *testing.T, c net.Conn, peer *net.TCPConn) ([]byte, error) {
			peer.Write([]byte("x"))
			time.Sleep(10 * time.Millisecond)
			c.SetReadDeadline(time.Unix(1, 0))
			n, err := c.Read(make([]byte, 1))
			return []byte{byte(n)}, err
		}},
		{"closed while reading", func(t *testing.T, c net.Conn, peer *net.TCPConn) ([]byte, error) {
			time.AfterFunc(20*time.Millisecond, func() { c.Close() })
			n, err := c.Read(make([]byte, 1))
			return []byte{byte(n)}, err
		}},
		{"read after close", func(t *testing.T, c net.Conn, peer *net.TCPConn) ([]byte, error) {
			c.Close()
			n, err := c.Read(make([]byte, 1))
			return []byte{byte(n)}, err
		}},
		{"peer resets", func(t *testing.T, c net.Conn, peer *net.TCPConn) ([]byte, error) {
			peer.SetLinger(0)
			peer.Close()
			time.Sleep(10 * time.Millisecond)
			n, err := c.Read(make([]byte, 1))
			return []byte{byte(n)}, err
		}},
		{"write to a reset peer (no SIGPIPE)", func(t *testing.T, c net.Conn, peer *net.TCPConn) ([]byte, error) {
			peer.SetLinger(0)
			peer.Close()
			time.Sleep(10 * time.Millisecond)
			var err error
			for i := 0; i < 10 && err == nil; i++ {
				_, err = c.Write([]byte("after the reset"))
				time.Sleep(5 * time.Millisecond)
			}
			return nil, err
		}},
		{"write larger than the socket buffers", func(t *testing.T, c net.Conn, peer *net.TCPConn) ([]byte, error) {
			// The peer reads slowly, so the write waits for room
			// (EAGAIN, then the poller) several times.
			big := bytes.Repeat([]byte("0123456789abcdef"), 1<<17) // 2 MiB
			got := make(chan []byte, 1)
			go func() {
				var b bytes.Buffer
				buf := make([]byte, 64<<10)
				for b.Len() < len(big) {
					n, err := peer.Read(buf)
					b.Write(buf[:n])
					if err != nil {
						break
					}
					time.Sleep(time.Millisecond)
				}
				got <- b.Bytes()
			}()
			n, err := c.Write(big)
			if n != len(big) {
				t.Errorf("wrote %d of %d", n, len(big))
			}
			if b := <-got; !bytes.Equal(b, big) {
				t.Errorf("peer read %d bytes, not what was written", len(b))
			}
			return nil, err
		}},
		{"write deadline while the peer does not read", func(t *testing.T, c net.Conn, peer *net.TCPConn) ([]byte, error) {
			c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
			big := make([]byte, 1<<20)
			var err error
			for i := 0; i < 64 && err == nil; i++ {
				_, err = c.Write(big)
			}
			return nil, err
		}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			var data [2][]byte
			var class [2]errClass
			for i, wrap := range []bool{false, true} {
				a, b := tcpPair(t)
				var c net.Conn = a
				if wrap {
					c = newSysConn(a)
					if _, ok := c.(*sysConn); !ok {
						t.Fatalf("newSysConn(%T) = %T", a, c)
					}
				}
				d, err := sc.run(t, c, b)
				data[i], class[i] = d, classOf(err)
			}
			if !bytes.Equal(data[0], data[1]) {
				t.Errorf("data: net.Conn %q, sysConn %q", data[0], data[1])
			}
			if class[0] != class[1] {
				t.Errorf("error: net.Conn %+v, sysConn %+v", class[0], class[1])
			}
		})
	}
}

// TestSysConnConcurrent reads and writes one sysConn from two goroutines at
// once in both directions, as the relay and its disconnect watcher do; run
// with -race.
func TestSysConnConcurrent(t *testing.T) {
	a, b := tcpPair(t)
	c := newSysConn(a)
	const n = 2000
	msg := []byte("ping-pong-0123456789")
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { // peer echoes
		defer wg.Done()
		io.CopyN(b, b, int64(n*len(msg)))
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < n; i++ {
			if _, err := c.Write(msg); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		got, err := io.ReadAll(io.LimitReader(c, int64(n*len(msg))))
		if err != nil || !bytes.Equal(got, bytes.Repeat(msg, n)) {
			t.Errorf("read %d bytes, err %v", len(got), err)
		}
	}()
	wg.Wait()
}

// TestSysConnLeavesOthersAlone: only plain TCP connections are wrapped.
func TestSysConnLeavesOthersAlone(t *testing.T) {
	p, q := net.Pipe()
	defer p.Close()
	defer q.Close()
	if c := newSysConn(p); c != p {
		t.Errorf("newSysConn(pipe) = %T", c)
	}
}

// TestPeekerSeesClose: the liveness check of an idle upstream connection.
func TestPeekerSeesClose(t *testing.T) {
	for _, tc := range []struct {
		name  string
		peer  func(*net.TCPConn)
		alive bool
	}{
		{"idle", func(*net.TCPConn) {}, true},
		{"closed", func(p *net.TCPConn) { p.Close() }, false},
		{"reset", func(p *net.TCPConn) { p.SetLinger(0); p.Close() }, false},
		{"stray bytes", func(p *net.TCPConn) { p.Write([]byte("HTTP/1.1 408\r\n\r\n")) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := tcpPair(t)
			tc.peer(b)
			time.Sleep(20 * time.Millisecond)
			fc := &fconn{c: newSysConn(a)}
			fc.raw, _ = a.SyscallConn()
			if got := fc.alive(); got != tc.alive {
				t.Errorf("alive = %v, want %v", got, tc.alive)
			}
		})
	}
}

// TestWriteAwait: the write-then-wait the relay makes on upstream
// connections loses no answer, however soon it comes, and reports what
// Write and Read would.
func TestWriteAwait(t *testing.T) {
	t.Run("answers at once, many times", func(t *testing.T) {
		a, b := tcpPair(t)
		c := newSysConn(a)
		go io.Copy(b, b) // echo: often answers before the writer waits
		buf := make([]byte, 8)
		for i := 0; i < 5000; i++ {
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			msg := []byte{byte(i), byte(i >> 8), 1, 2, 3, 4, 5, 6}
			if err := writeAwait(c, msg, nil); err != nil {
				t.Fatalf("round %d: %v", i, err)
			}
			if _, err := io.ReadFull(c, buf); err != nil || !bytes.Equal(buf, msg) {
				t.Fatalf("round %d: read %v, %v (a lost wake-up times out)", i, buf, err)
			}
		}
	})
	t.Run("larger than the send buffer", func(t *testing.T) {
		a, b := tcpPair(t)
		c := newSysConn(a)
		big := bytes.Repeat([]byte("abcdefgh"), 1<<18) // 2 MiB
		go func() {
			got, _ := io.ReadAll(io.LimitReader(b, int64(len(big))))
			if bytes.Equal(got, big) {
				b.Write([]byte("ok"))
			} else {
				b.Write([]byte("no"))
			}
		}()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if err := writeAwait(c, big, nil); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 2)
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ok" {
			t.Fatalf("read %q, %v", buf, err)
		}
	})
	t.Run("deadline while waiting", func(t *testing.T) {
		a, b := tcpPair(t)
		c := newSysConn(a)
		c.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
		if err := writeAwait(c, []byte("hi"), nil); err != nil {
			t.Fatalf("write: %v", err)
		}
		got := make([]byte, 2)
		if _, err := io.ReadFull(b, got); err != nil || string(got) != "hi" {
			t.Fatalf("peer read %q, %v", got, err)
		}
		if _, err := c.Read(make([]byte, 1)); !isTimeout(err) {
			t.Fatalf("read: %v, want a timeout", err)
		}
	})
	t.Run("read deadline already passed: still written", func(t *testing.T) {
		a, b := tcpPair(t)
		c := newSysConn(a)
		c.SetReadDeadline(time.Unix(1, 0))
		if err := writeAwait(c, []byte("hi"), nil); err != nil {
			t.Fatalf("write: %v", err)
		}
		got := make([]byte, 2)
		if _, err := io.ReadFull(b, got); err != nil || string(got) != "hi" {
			t.Fatalf("peer read %q, %v", got, err)
		}
	})
	t.Run("closed", func(t *testing.T) {
		a, _ := tcpPair(t)
		c := newSysConn(a)
		c.Close()
		_, want := a.Write([]byte("x"))
		if got := writeAwait(c, []byte("x"), nil); classOf(got) != classOf(want) {
			t.Fatalf("writeAwait: %v, Write: %v", got, want)
		}
	})
	t.Run("peer reset", func(t *testing.T) {
		a, b := tcpPair(t)
		c := newSysConn(a)
		b.SetLinger(0)
		b.Close()
		time.Sleep(10 * time.Millisecond)
		err := writeAwait(c, []byte("x"), nil)
		if err == nil {
			// The reset may only be seen by the read that follows.
			_, err = c.Read(make([]byte, 1))
		}
		if !classOf(err).pipe {
			t.Fatalf("got %v, want a reset or broken pipe", err)
		}
	})
}
