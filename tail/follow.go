package tail

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Follower follows one log file by polling, the way production tailers do:
//
//   - rename + create (logrotate's default, nginx -s reopen): the path
//     names a new file; the old one is kept open and read until it has been
//     quiet for RotateWait (writers reopen late), then closed, its partial
//     last line flushed as a line. The new file is read from its start.
//   - copytruncate: the file shrinks below the read offset, or its first
//     bytes change (truncated and already regrown past the offset); reading
//     restarts at offset 0. Lines written between the last read and the
//     truncation are only in the copy and are lost — copytruncate's
//     inherent window, at most one poll interval of lines. Nothing is read
//     twice.
//   - a file that does not exist yet is waited for and read from its start.
//   - a partial last line is held until its newline arrives.
//   - lines longer than MaxLineBytes are skipped (TooLong is called once
//     per line) without buffering them.
//
// A file present at start is read from its end (StartAtEnd, from the last
// complete line) unless a saved position (PositionFile: device, inode,
// offset and a fingerprint of the file's first bytes) names it, in which
// case reading resumes exactly there. If the file was rotated while
// Headroom was down, the rotated file is looked for beside it by inode and
// finished first, then the new file is read from its start.
type Follower struct {
	o FollowOptions

	active   *source
	draining []*source
	started  bool
	lastSave time.Time
	saved    Position
	buf      []byte
	final    *Position
}

// FollowOptions configure a Follower.
type FollowOptions struct {
	Path         string
	StartAtEnd   bool
	PositionFile string
	// Resume, when set, is used instead of the position file (a config
	// reload hands the position of the previous follower over).
	Resume       *Position
	MaxLineBytes int
	PollInterval time.Duration
	RotateWait   time.Duration
	Logger       *slog.Logger
	// Line receives each complete line without its newline (and without a
	// trailing '\r' or leading NUL padding). The slice is only valid during
	// the call.
	Line func(line []byte)
	// TooLong is called once for every line longer than MaxLineBytes.
	TooLong func()
	// Event reports "rotated", "truncated" and "opened", for metrics.
	Event func(kind string)
	// Now is the clock (tests).
	Now func() time.Time
}

// Position is where reading stopped in a file, as saved in a position file.
type Position struct {
	Dev    uint64 `json:"dev"`
	Ino    uint64 `json:"ino"`
	Offset int64  `json:"offset"`
	// Skip: the offset is inside an over-long line being skipped.
	Skip bool `json:"skip,omitempty"`
	// HeadLen and HeadSHA256 fingerprint the file's first bytes, so a new
	// file that reuses the inode number is not mistaken for the old one.
	HeadLen    int    `json:"head_len"`
	HeadSHA256 string `json:"head_sha256"`
	Path       string `json:"path,omitempty"`
}

type fileID struct{ dev, ino uint64 }

type source struct {
	f        *os.File
	id       fileID
	off      int64  // next byte to read
	pending  []byte // partial line
	skipping bool   // inside an over-long line
	head     []byte // the file's first bytes, for truncation detection
	quietAt  time.Time
	name     string
}

// headLen bytes of a file's start fingerprint it.
const headLen = 1024

// NewFollower returns a follower; Run starts it.
func NewFollower(o FollowOptions) *Follower {
	if o.MaxLineBytes <= 0 {
		o.MaxLineBytes = 64 << 10
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 250 * time.Millisecond
	}
	if o.RotateWait <= 0 {
		o.RotateWait = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Line == nil {
		o.Line = func([]byte) {}
	}
	if o.TooLong == nil {
		o.TooLong = func() {}
	}
	if o.Event == nil {
		o.Event = func(string) {}
	}
	n := 256 << 10
	if o.MaxLineBytes+1 > n {
		n = o.MaxLineBytes + 1
	}
	return &Follower{o: o, buf: make([]byte, n)}
}

// Run follows the file until ctx ends, then reads what is left, saves the
// position and closes the files.
func (fw *Follower) Run(ctx context.Context) {
	t := time.NewTicker(fw.o.PollInterval)
	defer t.Stop()
	for {
		fw.Poll()
		select {
		case <-ctx.Done():
			fw.Poll()
			fw.Close()
			return
		case <-t.C:
		}
	}
}

// Poll does one round: checks for rotation and truncation, reads every open
// file to its end, retires rotated files that went quiet and saves the
// position. Run calls it every PollInterval; tests call it directly.
func (fw *Follower) Poll() {
	now := fw.o.Now()
	if !fw.started {
		fw.started = true
		fw.startup()
	}
	// Rotated files first: their lines came before the new file's.
	kept := fw.draining[:0]
	for _, s := range fw.draining {
		if fw.read(s, now) {
			kept = append(kept, s)
			continue
		}
		if now.Sub(s.quietAt) >= fw.o.RotateWait {
			fw.retire(s)
			continue
		}
		kept = append(kept, s)
	}
	fw.draining = kept
	fw.checkPath(now)
	if fw.active != nil {
		fw.read(fw.active, now)
	}
	fw.save(now, false)
}

// Close saves the position and closes every file. Partial lines of
// rotated files are flushed; the active file's partial line stays unread
// (the saved position points at its start).
func (fw *Follower) Close() {
	for _, s := range fw.draining {
		fw.retire(s)
	}
	fw.draining = nil
	fw.save(fw.o.Now(), true)
	if p, ok := fw.Position(); ok {
		fw.final = &p
	}
	if fw.active != nil {
		fw.active.f.Close()
		fw.active = nil
	}
}

// Position returns the active file's position (offset of the first byte
// not yet delivered as a line).
func (fw *Follower) Position() (Position, bool) {
	if fw.active == nil {
		return Position{}, false
	}
	s := fw.active
	p := Position{Dev: s.id.dev, Ino: s.id.ino, Offset: s.off - int64(len(s.pending)), Skip: s.skipping, Path: fw.o.Path}
	p.HeadLen = len(s.head)
	sum := sha256.Sum256(s.head)
	p.HeadSHA256 = hex.EncodeToString(sum[:])
	return p, true
}

// last is the position at Close, for handing over to a successor.
func (fw *Follower) last() (Position, bool) {
	if fw.final == nil {
		return Position{}, false
	}
	return *fw.final, true
}

func (fw *Follower) startup() {
	pos, ok := fw.loadPosition()
	fi, err := os.Stat(fw.o.Path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			fw.o.Logger.Warn("tail: cannot stat log", "file", fw.o.Path, "error", err)
		}
		if ok {
			fw.resumeRotated(pos)
		}
		return
	}
	if ok {
		if idOf(fi) == (fileID{pos.Dev, pos.Ino}) {
			if s := fw.open(fw.o.Path, pos.Offset, &pos); s != nil {
				s.skipping = pos.Skip
				fw.active = s
				return
			}
		} else {
			// Rotated while we were away: finish the old file if it is still
			// beside this one, then read the new one from its start.
			fw.resumeRotated(pos)
			fw.active = fw.open(fw.o.Path, 0, nil)
			return
		}
	}
	var off int64
	if fw.o.StartAtEnd {
		off = lastLineEnd(fw.o.Path, fi.Size(), fw.o.MaxLineBytes)
	}
	fw.active = fw.open(fw.o.Path, off, nil)
}

// lastLineEnd is the offset just after the last newline at or before
// size, so starting at the end does not read the tail of a half-written
// line as a line of its own.
func lastLineEnd(path string, size int64, max int) int64 {
	if size == 0 {
		return 0
	}
	f, err := os.Open(path)
	if err != nil {
		return size
	}
	defer f.Close()
	n := int64(max) + 1
	if n > size {
		n = size
	}
	b := make([]byte, n)
	k, _ := f.ReadAt(b, size-n)
	b = b[:k]
	i := bytes.LastIndexByte(b, '\n')
	if i < 0 {
		// A line longer than max, or no newline at all: start at the end.
		return size
	}
	return size - n + int64(i) + 1
}

// resumeRotated looks beside the log for the file the saved position
// names (renamed by a rotation) and queues the rest of it for reading.
func (fw *Follower) resumeRotated(pos Position) {
	dir, base := filepath.Split(fw.o.Path)
	if dir == "" {
		dir = "."
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), base) || e.Name() == base || e.IsDir() {
			continue
		}
		p := filepath.Join(dir, e.Name())
		fi, err := os.Stat(p)
		if err != nil || idOf(fi) != (fileID{pos.Dev, pos.Ino}) {
			continue
		}
		if s := fw.open(p, pos.Offset, &pos); s != nil {
			s.skipping = pos.Skip
			s.quietAt = fw.o.Now()
			fw.draining = append(fw.draining, s)
			fw.o.Logger.Info("tail: finishing the file rotated while Headroom was stopped", "file", fw.o.Path, "rotated", p)
		}
		return
	}
}

// open opens path at off. With a saved position, the file's first bytes
// must match its fingerprint, else nil is returned (an inode reused by a
// new file) — except that the caller then reads it from the start.
func (fw *Follower) open(path string, off int64, pos *Position) *source {
	f, err := os.Open(path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			fw.o.Logger.Warn("tail: cannot open log", "file", path, "error", err)
		}
		return nil
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil
	}
	s := &source{f: f, id: idOf(fi), off: off, name: path, quietAt: fw.o.Now()}
	n := int64(headLen)
	if fi.Size() < n {
		n = fi.Size()
	}
	if pos != nil && int64(pos.HeadLen) <= fi.Size() {
		n = int64(pos.HeadLen)
	}
	s.head = make([]byte, n)
	k, _ := f.ReadAt(s.head, 0)
	s.head = s.head[:k]
	if pos != nil {
		sum := sha256.Sum256(s.head)
		if int64(pos.HeadLen) > fi.Size() || hex.EncodeToString(sum[:]) != pos.HeadSHA256 || pos.Offset > fi.Size() {
			fw.o.Logger.Info("tail: saved position does not match the file (replaced or truncated); reading it from the start", "file", path)
			s.off = 0
			s.skipping = false
			pos.Skip = false
		}
	}
	fw.o.Event("opened")
	return s
}

// checkPath notices rotation: the path naming another file (rename +
// create), or no file (renamed, not yet recreated).
func (fw *Follower) checkPath(now time.Time) {
	fi, err := os.Stat(fw.o.Path)
	if err != nil {
		if fw.active != nil {
			fw.rotate(now)
		}
		return
	}
	if fw.active != nil && idOf(fi) == fw.active.id {
		return
	}
	if fw.active != nil {
		fw.rotate(now)
	}
	id := idOf(fi)
	for i, s := range fw.draining {
		if s.id == id {
			// Renamed back: carry on where we were.
			fw.active = s
			fw.draining = append(fw.draining[:i], fw.draining[i+1:]...)
			return
		}
	}
	fw.active = fw.open(fw.o.Path, 0, nil)
}

func (fw *Follower) rotate(now time.Time) {
	s := fw.active
	fw.active = nil
	// Whatever reached the old file before the rename is read now.
	fw.read(s, now)
	s.quietAt = now
	fw.draining = append(fw.draining, s)
	fw.o.Event("rotated")
}

// retire closes a rotated file, delivering its unterminated last line.
func (fw *Follower) retire(s *source) {
	if len(s.pending) > 0 && !s.skipping {
		fw.o.Line(trimLine(s.pending))
	}
	s.pending = nil
	s.f.Close()
}

// read reads s to its end, delivering complete lines. It reports whether
// anything was read.
func (fw *Follower) read(s *source, now time.Time) bool {
	fi, err := s.f.Stat()
	if err != nil {
		return false
	}
	if fi.Size() < s.off || fw.headChanged(s) {
		fw.truncated(s)
	}
	any := false
	for {
		n, err := s.f.ReadAt(fw.buf, s.off)
		if n > 0 {
			chunk := fw.buf[:n]
			// Truncated (and regrown) between the check above and this
			// read? Then chunk is not what followed our offset: start over.
			if s.off > 0 && fw.headChanged(s) {
				fw.truncated(s)
				continue
			}
			if s.off < int64(headLen) && int64(len(s.head)) >= s.off {
				// Extend the fingerprint while reading the file's start.
				take := int64(headLen) - s.off
				if take > int64(n) {
					take = int64(n)
				}
				s.head = append(s.head[:s.off], chunk[:take]...)
			}
			s.off += int64(n)
			fw.feed(s, chunk)
			any = true
		}
		if err != nil || n < len(fw.buf) {
			if err != nil && err != io.EOF {
				fw.o.Logger.Warn("tail: read failed", "file", s.name, "error", err)
			}
			break
		}
	}
	if any {
		s.quietAt = now
	}
	return any
}

func (fw *Follower) truncated(s *source) {
	fw.recoverFromCopy(s)
	// copytruncate: start over. A partial line is dropped: loggers write
	// whole lines, so its end went into the copy, and joining it to the new
	// file's first line would make garbage.
	s.off = 0
	s.head = s.head[:0]
	s.pending = s.pending[:0]
	s.skipping = false
	fw.o.Event("truncated")
}

// recoverFromCopy finishes reading a copytruncated file from its copy.
// logrotate copies the file (to path.1, path-DATE, …) and then truncates it,
// so the lines written after our last read and before the copy exist only
// in the copy, from our offset on. The copy is recognised by its first
// bytes (our fingerprint of the live file before truncation) and a size of
// at least our offset; it must be the only such file. Lines written between
// a copy and its truncation are in neither file: copytruncate's inherent
// loss, which no reader can avoid. Nor are files copytruncated twice within
// one poll interval recovered: a newer copy cannot be told apart from a
// copy of the live file, and reading it could count lines twice.
// Compressed copies are not read.
func (fw *Follower) recoverFromCopy(s *source) {
	if s.off == 0 || len(s.head) == 0 || fw.o.Path == "" {
		return
	}
	type copyFile struct {
		path string
		mod  time.Time
	}
	var copies []copyFile
	paths, _ := filepath.Glob(fw.o.Path + ".*")
	dated, _ := filepath.Glob(fw.o.Path + "-*")
	for _, c := range append(paths, dated...) {
		switch filepath.Ext(c) {
		case ".gz", ".bz2", ".xz", ".zst", ".lz4", ".pos", ".tmp":
			continue
		}
		fi, err := os.Stat(c)
		if err != nil || !fi.Mode().IsRegular() || idOf(fi) == s.id {
			continue
		}
		copies = append(copies, copyFile{c, fi.ModTime()})
	}
	sort.Slice(copies, func(i, j int) bool { return copies[i].mod.Before(copies[j].mod) })
	best, matches := -1, 0
	probe := make([]byte, len(s.head))
	for i, c := range copies {
		f, err := os.Open(c.path)
		if err != nil {
			continue
		}
		k, _ := f.ReadAt(probe, 0)
		fi, serr := f.Stat()
		f.Close()
		if serr == nil && fi.Size() >= s.off && k == len(probe) && bytes.Equal(probe, s.head) {
			best = i
			matches++
		}
	}
	if matches != 1 {
		// None, or a fingerprint too short to tell copies apart (we had read
		// only a few bytes): reading the wrong copy would count lines twice,
		// and losing them is the lesser harm.
		return
	}
	read := fw.readCopy(s, copies[best].path, s.off)
	fw.o.Logger.Debug("tail: read a copytruncated file's last lines from its copy", "file", fw.o.Path, "copy", copies[best].path, "bytes", read)
}

// readCopy feeds path from off to its end and returns the bytes read.
func (fw *Follower) readCopy(s *source, path string, off int64) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	start := off
	for {
		n, err := f.ReadAt(fw.buf, off)
		if n > 0 {
			fw.feed(s, fw.buf[:n])
			off += int64(n)
		}
		if err != nil || n < len(fw.buf) {
			return off - start
		}
	}
}

// headChanged reports whether the file's first bytes differ from those
// seen before: it was truncated and rewritten.
func (fw *Follower) headChanged(s *source) bool {
	if len(s.head) == 0 {
		return false
	}
	var b [headLen]byte
	k, _ := s.f.ReadAt(b[:len(s.head)], 0)
	return !bytes.Equal(b[:k], s.head)
}

// feed splits chunk into lines.
func (fw *Follower) feed(s *source, chunk []byte) {
	max := fw.o.MaxLineBytes
	for len(chunk) > 0 {
		i := bytes.IndexByte(chunk, '\n')
		if i < 0 {
			if s.skipping {
				return
			}
			if len(s.pending)+len(chunk) > max+1 { // +1: a '\r' before the newline
				fw.o.TooLong()
				s.skipping = true
				s.pending = s.pending[:0]
				return
			}
			s.pending = append(s.pending, chunk...)
			return
		}
		part := chunk[:i]
		chunk = chunk[i+1:]
		if s.skipping {
			s.skipping = false
			continue
		}
		line := part
		if len(s.pending) > 0 {
			s.pending = append(s.pending, part...)
			line = s.pending
		}
		line = trimLine(line)
		if len(line) > max {
			fw.o.TooLong()
		} else if len(line) > 0 {
			fw.o.Line(line)
		}
		s.pending = s.pending[:0]
	}
}

// trimLine drops a trailing '\r' and leading NULs (the zero-filled gap a
// non-O_APPEND writer leaves after copytruncate).
func trimLine(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	for len(b) > 0 && b[0] == 0 {
		b = b[1:]
	}
	return b
}

const saveEvery = 100 * time.Millisecond

// save writes the position file when the position moved (at most every
// saveEvery, always when final).
func (fw *Follower) save(now time.Time, final bool) {
	if fw.o.PositionFile == "" {
		return
	}
	p, ok := fw.Position()
	if !ok || p == fw.saved || (!final && now.Sub(fw.lastSave) < saveEvery) {
		return
	}
	b, _ := json.Marshal(p)
	tmp := fw.o.PositionFile + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		fw.o.Logger.Warn("tail: cannot save position", "file", fw.o.Path, "position_file", fw.o.PositionFile, "error", err)
		return
	}
	if err := os.Rename(tmp, fw.o.PositionFile); err != nil {
		fw.o.Logger.Warn("tail: cannot save position", "file", fw.o.Path, "position_file", fw.o.PositionFile, "error", err)
		return
	}
	fw.saved, fw.lastSave = p, now
}

func (fw *Follower) loadPosition() (Position, bool) {
	if fw.o.Resume != nil {
		return *fw.o.Resume, true
	}
	if fw.o.PositionFile == "" {
		return Position{}, false
	}
	b, err := os.ReadFile(fw.o.PositionFile)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			fw.o.Logger.Warn("tail: cannot read position file; starting as configured", "position_file", fw.o.PositionFile, "error", err)
		}
		return Position{}, false
	}
	var p Position
	if err := json.Unmarshal(b, &p); err != nil || p.Offset < 0 || p.Ino == 0 {
		fw.o.Logger.Warn("tail: position file is corrupt; starting as configured", "position_file", fw.o.PositionFile)
		return Position{}, false
	}
	return p, true
}
