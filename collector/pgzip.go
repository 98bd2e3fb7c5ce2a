package collector

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"hash/crc32"
	"io"
	"runtime"
	"sync"
)

// parallelGzip writes one gzip member whose deflate stream is compressed in
// blocks of gzipBlock bytes on up to GOMAXPROCS goroutines, as pigz does:
// each block is deflated on its own (no history from the previous block)
// and ends with a sync flush, so the blocks' outputs are byte-aligned and
// concatenate into one valid deflate stream, closed by an empty final
// block. Compressing the 7 MiB scrape of 10k series took most of a scrape's
// time on one core; this spreads it over the others while the exposition
// is still being rendered. Blocks reach the underlying writer in order,
// from the calling goroutine only.
type parallelGzip struct {
	out     io.Writer
	cur     *gzipChunk // the block being filled
	crc     uint32
	size    uint32
	pending []*gzipChunk // submitted, not yet written, in order
	sem     chan struct{}
	err     error
	header  bool
}

const (
	gzipBlock = 256 << 10
	// gzipMaxPending bounds the blocks in flight (memory: 2 × 256 KiB each).
	gzipMaxPending = 4
)

type gzipChunk struct {
	in   []byte
	out  bytes.Buffer
	done chan struct{}
}

var (
	flatePool = sync.Pool{New: func() any {
		w, _ := flate.NewWriter(nil, flate.BestSpeed)
		return w
	}}
	gzipChunkPool = sync.Pool{New: func() any {
		return &gzipChunk{in: make([]byte, 0, gzipBlock), done: make(chan struct{}, 1)}
	}}
	pgzipPool = sync.Pool{New: func() any { return &parallelGzip{} }}
)

func newParallelGzip(out io.Writer) *parallelGzip {
	z := pgzipPool.Get().(*parallelGzip)
	*z = parallelGzip{out: out, pending: z.pending[:0], sem: z.sem}
	if z.sem == nil {
		z.sem = make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))
	}
	z.cur = gzipChunkPool.Get().(*gzipChunk)
	return z
}

// release returns z to the pool; z must not be used after.
func (z *parallelGzip) release() {
	for _, c := range z.pending {
		<-c.done
		putChunk(c)
	}
	if z.cur != nil {
		putChunk(z.cur)
	}
	*z = parallelGzip{pending: z.pending[:0], sem: z.sem}
	pgzipPool.Put(z)
}

func putChunk(c *gzipChunk) {
	c.in = c.in[:0]
	c.out.Reset()
	gzipChunkPool.Put(c)
}

func (z *parallelGzip) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && z.err == nil {
		k := min(len(p), gzipBlock-len(z.cur.in))
		z.cur.in = append(z.cur.in, p[:k]...)
		p = p[k:]
		if len(z.cur.in) == gzipBlock {
			z.submit()
		}
	}
	return n, z.err
}

// submit hands the current block to a compressing goroutine and writes
// out whatever finished blocks lead the queue.
func (z *parallelGzip) submit() {
	c := z.cur
	z.cur = gzipChunkPool.Get().(*gzipChunk)
	z.crc = crc32.Update(z.crc, crc32.IEEETable, c.in)
	z.size += uint32(len(c.in))
	z.pending = append(z.pending, c)
	sem := z.sem
	sem <- struct{}{}
	go func() {
		fw := flatePool.Get().(*flate.Writer)
		fw.Reset(&c.out)
		fw.Write(c.in)
		fw.Flush()
		flatePool.Put(fw)
		<-sem
		c.done <- struct{}{}
	}()
	z.drain(len(z.pending) >= gzipMaxPending)
}

// drain writes out finished blocks from the head of the queue; with wait,
// it waits for the first one.
func (z *parallelGzip) drain(wait bool) {
	for len(z.pending) > 0 {
		c := z.pending[0]
		if wait {
			<-c.done
			wait = false
		} else {
			select {
			case <-c.done:
			default:
				return
			}
		}
		z.pending = z.pending[1:]
		z.write(c.out.Bytes())
		putChunk(c)
	}
}

func (z *parallelGzip) write(p []byte) {
	if z.err != nil {
		return
	}
	if !z.header {
		z.header = true
		// ID1 ID2 CM=deflate FLG=0 MTIME=0 XFL=4 (fastest) OS=255 (unknown).
		if _, z.err = z.out.Write([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 255}); z.err != nil {
			return
		}
	}
	_, z.err = z.out.Write(p)
}

// Close compresses what is left, writes every block, the final empty block
// and the gzip trailer.
func (z *parallelGzip) Close() error {
	if len(z.cur.in) > 0 {
		z.submit()
	}
	for len(z.pending) > 0 {
		z.drain(true)
	}
	// An empty final block with fixed Huffman codes: BFINAL=1, BTYPE=01,
	// end-of-block; then CRC-32 and size, little-endian.
	var t [10]byte
	t[0], t[1] = 0x03, 0x00
	binary.LittleEndian.PutUint32(t[2:], z.crc)
	binary.LittleEndian.PutUint32(t[6:], z.size)
	z.write(t[:])
	return z.err
}
