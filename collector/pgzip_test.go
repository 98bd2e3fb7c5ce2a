package collector

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"math/rand/v2"
	"os/exec"
	"strconv"
	"testing"
)

// TestParallelGzip: the output is one gzip member (any gzip reader gets all
// of it, not only a first member) with the right CRC and size, for sizes
// around the block size, written in pieces of any length.
func TestParallelGzip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 100, gzipBlock - 1, gzipBlock, gzipBlock + 1, 3*gzipBlock + 17, 11 * gzipBlock} {
		var in bytes.Buffer
		for in.Len() < n {
			// Compressible text with some noise, like an exposition.
			in.WriteString("headroom_ratelimit_limit{key=\"k-" + strconv.Itoa(rng.IntN(1000)) + "\",model=\"m\"} " + strconv.FormatFloat(rng.Float64()*1e9, 'g', -1, 64) + "\n")
		}
		data := in.Bytes()[:n]
		var out bytes.Buffer
		z := newParallelGzip(&out)
		for rest := data; len(rest) > 0; {
			k := min(len(rest), 1+rng.IntN(100000))
			if _, err := z.Write(rest[:k]); err != nil {
				t.Fatal(err)
			}
			rest = rest[k:]
		}
		if err := z.Close(); err != nil {
			t.Fatal(err)
		}
		z.release()
		zr, err := gzip.NewReader(bytes.NewReader(out.Bytes()))
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		zr.Multistream(false)
		got, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: read back %d bytes, err %v", n, len(got), err)
		}
		if rest, _ := io.ReadAll(zr); len(rest) != 0 {
			t.Fatalf("%d bytes: trailing data", n)
		}
		if n >= gzipBlock && out.Len() > n/2 {
			t.Errorf("%d bytes compressed to %d", n, out.Len())
		}
		// And the gzip tool, when there is one.
		if path, err := exec.LookPath("gzip"); err == nil && n == 3*gzipBlock+17 {
			cmd := exec.Command(path, "-dc")
			cmd.Stdin = bytes.NewReader(out.Bytes())
			if got, err := cmd.Output(); err != nil || !bytes.Equal(got, data) {
				t.Errorf("gzip -d: %d bytes, %v", len(got), err)
			}
		}
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("client went away")
	}
	f.n--
	return len(p), nil
}

// TestParallelGzipWriteError: a failing client stops the writer without
// leaking its goroutines or blocking.
func TestParallelGzipWriteError(t *testing.T) {
	z := newParallelGzip(&failWriter{n: 2})
	block := bytes.Repeat([]byte("abcdefgh"), gzipBlock/8)
	var err error
	for range 10 {
		if _, err = z.Write(block); err != nil {
			break
		}
	}
	if err == nil {
		err = z.Close()
	}
	z.release()
	if err == nil {
		t.Fatal("no error from a failing writer")
	}
}
