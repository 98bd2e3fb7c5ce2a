package tail

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// collect is a Line/TooLong sink.
type collect struct {
	mu      sync.Mutex
	lines   []string
	tooLong int
}

func (c *collect) line(b []byte) { c.mu.Lock(); c.lines = append(c.lines, string(b)); c.mu.Unlock() }
func (c *collect) long()         { c.mu.Lock(); c.tooLong++; c.mu.Unlock() }
func (c *collect) get() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.lines...)
}

func newFollower(path string, c *collect, mod func(*FollowOptions)) *Follower {
	o := FollowOptions{Path: path, MaxLineBytes: 64, PollInterval: time.Millisecond, RotateWait: 30 * time.Millisecond,
		Logger: quiet(), Line: c.line, TooLong: c.long}
	if mod != nil {
		mod(&o)
	}
	return NewFollower(o)
}

func appendFile(t testing.TB, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func eq(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("lines %q, want %q", got, want)
	}
}

func TestPartialAndOversizeLines(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.log")
	c := &collect{}
	fw := newFollower(p, c, func(o *FollowOptions) { o.StartAtEnd = true })
	fw.Poll() // no file yet
	appendFile(t, p, "one\ntw")
	fw.Poll()
	eq(t, c.get(), "one")
	appendFile(t, p, "o\r\n")
	fw.Poll()
	eq(t, c.get(), "one", "two")
	// Oversize in one write, and one growing over several polls.
	appendFile(t, p, strings.Repeat("x", 65)+"\nthree\n"+strings.Repeat("y", 40))
	fw.Poll()
	appendFile(t, p, strings.Repeat("y", 40))
	fw.Poll()
	appendFile(t, p, strings.Repeat("y", 400)+"\nfour\n")
	fw.Poll()
	eq(t, c.get(), "one", "two", "three", "four")
	if c.tooLong != 2 {
		t.Errorf("too long %d, want 2", c.tooLong)
	}
	// Exactly max is fine.
	appendFile(t, p, strings.Repeat("z", 64)+"\n")
	fw.Poll()
	if got := c.get(); len(got) != 5 || len(got[4]) != 64 {
		t.Errorf("64-byte line: %d lines", len(got))
	}
	fw.Close()
}

func TestStartAtEndAndBeginning(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.log")
	appendFile(t, p, "old1\nold2\nhalf")
	c := &collect{}
	fw := newFollower(p, c, func(o *FollowOptions) { o.StartAtEnd = true })
	fw.Poll()
	appendFile(t, p, "-line\nnew\n")
	fw.Poll()
	// Starting at the end means after the last complete line: the line
	// being written at start is read whole.
	eq(t, c.get(), "half-line", "new")
	fw.Close()

	c2 := &collect{}
	fw2 := newFollower(p, c2, nil)
	fw2.Poll()
	eq(t, c2.get(), "old1", "old2", "half-line", "new")
	fw2.Close()
}

func TestFileAppearsLater(t *testing.T) {
	p := filepath.Join(t.TempDir(), "later.log")
	c := &collect{}
	fw := newFollower(p, c, func(o *FollowOptions) { o.StartAtEnd = true })
	fw.Poll()
	appendFile(t, p, "a\nb\n")
	fw.Poll()
	// A file that appears after start is new: read from its start.
	eq(t, c.get(), "a", "b")
	fw.Close()
}

func TestResumeFromPosition(t *testing.T) {
	dir := t.TempDir()
	p, pos := filepath.Join(dir, "a.log"), filepath.Join(dir, "a.pos")
	appendFile(t, p, "skipped\n")
	c := &collect{}
	opts := func(o *FollowOptions) { o.StartAtEnd = true; o.PositionFile = pos }
	fw := newFollower(p, c, opts)
	fw.Poll()
	appendFile(t, p, "1\n2\npart")
	fw.Poll()
	fw.Close()
	eq(t, c.get(), "1", "2")

	// Restart: resumes exactly, including the partial line.
	appendFile(t, p, "ial\n3\n")
	fw = newFollower(p, c, opts)
	fw.Poll()
	eq(t, c.get(), "1", "2", "partial", "3")
	fw.Close()

	// Rotated while stopped: the rest of the rotated file, then the new one.
	appendFile(t, p, "4\n")
	if err := os.Rename(p, p+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, p, "5\n")
	fw = newFollower(p, c, opts)
	fw.Poll()
	eq(t, c.get(), "1", "2", "partial", "3", "4", "5")
	fw.Close()

	// A new file that reuses nothing: the fingerprint does not match, so it
	// is read from the start rather than from a stale offset.
	os.Remove(p + ".1")
	os.Remove(p)
	appendFile(t, p, "fresh-1\nfresh-2\n")
	fw = newFollower(p, c, opts)
	fw.Poll()
	got := c.get()
	eq(t, got[len(got)-2:], "fresh-1", "fresh-2")
	fw.Close()

	// A corrupt position file falls back to the configured start.
	os.WriteFile(pos, []byte("{nonsense"), 0o600)
	c3 := &collect{}
	fw = newFollower(p, c3, opts)
	fw.Poll()
	appendFile(t, p, "after\n")
	fw.Poll()
	eq(t, c3.get(), "after")
	fw.Close()
}

func TestSkipResumesAfterOversizeLine(t *testing.T) {
	dir := t.TempDir()
	p, pos := filepath.Join(dir, "a.log"), filepath.Join(dir, "a.pos")
	c := &collect{}
	opts := func(o *FollowOptions) { o.PositionFile = pos }
	fw := newFollower(p, c, opts)
	appendFile(t, p, "a\n"+strings.Repeat("x", 100))
	fw.Poll()
	fw.Close()
	appendFile(t, p, strings.Repeat("x", 100)+"\nb\n")
	fw = newFollower(p, c, opts)
	fw.Poll()
	fw.Close()
	eq(t, c.get(), "a", "b")
	if c.tooLong != 1 {
		t.Errorf("too long %d", c.tooLong)
	}
}

// rotationRun writes numbered lines from one goroutine while another
// rotates the file `rotations` times, and the follower runs on its own
// schedule. It returns how often each number was delivered.
func rotationRun(t *testing.T, rotations int, rotate func(path string, w *writer, h *runHelper)) (seen map[int]int, written int) {
	dir := t.TempDir()
	p := filepath.Join(dir, "access.log")
	w := &writer{path: p}
	w.reopen(t)
	var mu sync.Mutex
	seen = map[int]int{}
	h := &runHelper{t: t, w: w, mu: &mu, seen: seen}
	// RotateWait is how long a renamed file must stay quiet before it is
	// closed; the writer here reopens within milliseconds, but a loaded CI
	// machine can stall it for tens of them (20 ms lost lines once in 25
	// runs under -race).
	fw := NewFollower(FollowOptions{Path: p, PollInterval: time.Millisecond, RotateWait: 250 * time.Millisecond,
		MaxLineBytes: 1024, Logger: quiet(),
		Event: func(kind string) {
			if kind == "opened" {
				h.opened.Add(1)
			}
		},
		Line: func(b []byte) {
			n, err := strconv.Atoi(strings.TrimPrefix(strings.Fields(string(b) + " ")[0], "n="))
			if err != nil {
				mu.Lock()
				seen[-1]++
				mu.Unlock()
				return
			}
			mu.Lock()
			seen[n]++
			mu.Unlock()
		}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); fw.Run(ctx) }()

	stop := make(chan struct{})
	wdone := make(chan struct{})
	go func() {
		defer close(wdone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			w.line(t)
			if w.n.Load()%20 == 0 {
				// About 20k lines/s: a busy proxy, and a pace the follower
				// keeps up with even under the race detector.
				time.Sleep(time.Millisecond)
			}
		}
	}()
	for i := 0; i < rotations; i++ {
		time.Sleep(2 * time.Millisecond)
		rotate(p, w, h)
	}
	close(stop)
	<-wdone
	written = int(w.n.Load())
	// Let the follower catch up (rotated files are finished after
	// RotateWait), then stop it.
	deadline := time.Now().Add(5 * time.Second)
	last, lastChange := -1, time.Now()
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(seen) - min(seen[-1], 1)
		mu.Unlock()
		if n >= written || time.Since(lastChange) > 300*time.Millisecond {
			break
		}
		if n != last {
			last, lastChange = n, time.Now()
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	cancel()
	<-done
	w.close()
	mu.Lock()
	defer mu.Unlock()
	return seen, written
}

// runHelper lets a rotation wait for the follower.
type runHelper struct {
	t      *testing.T
	w      *writer
	mu     *sync.Mutex
	seen   map[int]int
	opened atomic.Int64
}

// waitOpened waits until the follower has opened n files: the guarantee
// holds for files that exist for at least one poll.
func (h *runHelper) waitOpened(n int64) {
	deadline := time.Now().Add(5 * time.Second)
	for h.opened.Load() < n && time.Now().Before(deadline) {
		time.Sleep(100 * time.Microsecond)
	}
}

// waitCaughtUp waits until every line written so far was delivered
// (callers hold the writer still).
func (h *runHelper) waitCaughtUp(written int64) {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		h.mu.Lock()
		n := len(h.seen)
		h.mu.Unlock()
		if int64(n) >= written {
			return
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// writer appends numbered lines with O_APPEND, as nginx does; reopen is
// nginx -s reopen. Lines vary in length so rotations land mid-buffer.
type writer struct {
	mu   sync.Mutex
	path string
	f    *os.File
	n    atomic.Int64
}

func (w *writer) reopen(t testing.TB) {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Error(err)
		return
	}
	w.mu.Lock()
	old := w.f
	w.f = f
	w.mu.Unlock()
	if old != nil {
		old.Close()
	}
}

func (w *writer) line(t testing.TB) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := w.n.Load() + 1
	pad := strings.Repeat("p", int(n%37))
	if _, err := fmt.Fprintf(w.f, "n=%d %s\n", n, pad); err != nil {
		t.Error(err)
	}
	w.n.Store(n)
}

func (w *writer) close() { w.mu.Lock(); w.f.Close(); w.mu.Unlock() }

// logrotate's default: rename, create, signal the writer, which keeps
// writing to the renamed file until it reopens.
func TestRotationRenameCreate(t *testing.T) {
	k := 0
	seen, written := rotationRun(t, 60, func(p string, w *writer, h *runHelper) {
		k++
		rotated := fmt.Sprintf("%s.%d", p, k)
		if err := os.Rename(p, rotated); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(k%3) * time.Millisecond) // writer still on the old file
		if k%2 == 0 {
			// Sometimes the path stays missing for a while.
			time.Sleep(2 * time.Millisecond)
		}
		w.reopen(t)
		// Rotations at least one poll apart: the follower has seen the new
		// file before it is rotated in turn.
		h.waitOpened(int64(k + 1))
		if k > 3 {
			os.Remove(fmt.Sprintf("%s.%d", p, k-3)) // rotate 3
		}
	})
	checkExactlyOnce(t, seen, written)
}

func checkExactlyOnce(t *testing.T, seen map[int]int, written int) {
	t.Helper()
	missing, dup := 0, 0
	if seen[-1] > 0 {
		t.Errorf("%d garbled lines", seen[-1])
	}
	for n := 1; n <= written; n++ {
		switch seen[n] {
		case 0:
			missing++
		case 1:
		default:
			dup++
		}
	}
	if missing > 0 || dup > 0 || len(seen) != written {
		t.Errorf("%d lines written: %d lost, %d delivered more than once, %d distinct", written, missing, dup, len(seen))
	}
	t.Logf("%d lines, each delivered exactly once", written)
}

// copytruncate with the writer paused while logrotate copies and truncates
// and Headroom has read everything before the truncation: nothing may be
// lost or repeated.
func TestRotationCopyTruncateQuiesced(t *testing.T) {
	k := 0
	seen, written := rotationRun(t, 40, func(p string, w *writer, h *runHelper) {
		k++
		w.mu.Lock()
		defer w.mu.Unlock()
		copyFile(t, p, fmt.Sprintf("%s.%d", p, k))
		// The follower has read up to here.
		h.waitCaughtUp(w.n.Load())
		if err := os.Truncate(p, 0); err != nil {
			t.Fatal(err)
		}
	})
	checkExactlyOnce(t, seen, written)
}

// copytruncate racing the writer and the follower: lines Headroom had not
// read when the file was truncated are read from the copy. What may still
// be lost: lines written between logrotate's copy and its truncation (in
// neither file), and lines of a file copytruncated twice within one poll
// interval after Headroom had already restarted on it (this test rotates
// every 2 ms with a 1 ms poll to provoke that). No line is ever delivered
// twice.
func TestRotationCopyTruncateRacing(t *testing.T) {
	k := 0
	seen, written := rotationRun(t, 80, func(p string, w *writer, _ *runHelper) {
		k++
		copyFile(t, p, fmt.Sprintf("%s.%d", p, k))
		if err := os.Truncate(p, 0); err != nil {
			t.Fatal(err)
		}
	})
	missing, dup := 0, 0
	for n := 1; n <= written; n++ {
		if seen[n] == 0 {
			missing++
		}
		if seen[n] > 1 {
			dup++
		}
	}
	if dup > 0 {
		t.Errorf("%d lines delivered more than once", dup)
	}
	delete(seen, -1)
	if len(seen) > written {
		t.Errorf("%d distinct lines delivered, %d written", len(seen), written)
	}
	t.Logf("%d lines written over 80 copytruncates 2 ms apart: %d lost (%.2f%%), none twice",
		written, missing, 100*float64(missing)/float64(written))
}

// The lines written after Headroom's last read and before logrotate's copy
// are only in the copy once the file is truncated: they are read from it.
func TestCopyTruncateReadsTheCopy(t *testing.T) {
	for _, name := range []string{"access.log.1", "access.log-20261123"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "access.log")
			os.WriteFile(p, []byte("line 1\nline 2\n"), 0o644)
			var got []string
			fw := NewFollower(FollowOptions{Path: p, Logger: quiet(),
				Line: func(b []byte) { got = append(got, string(b)) }})
			fw.Poll()
			f, _ := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
			f.WriteString("line 3\nline 4\n")
			copyFile(t, p, filepath.Join(dir, name))
			os.Truncate(p, 0)
			f.WriteString("line 5\n")
			f.Close()
			fw.Poll()
			fw.Close()
			if want := "line 1,line 2,line 3,line 4,line 5"; strings.Join(got, ",") != want {
				t.Errorf("got %q want %q", strings.Join(got, ","), want)
			}
		})
	}
}

func copyFile(t testing.TB, from, to string) {
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
}
