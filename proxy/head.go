package proxy

import (
	"bytes"
	"net/http"
	"net/textproto"
	"sync"
	"sync/atomic"
)

// HTTP/1.1 message heads as the fast path sees them: a byte slice and the
// offsets of each field, parsed strictly. Anything the fast path would have
// to interpret rather than pass on (line folding, bare CR, odd framing) makes
// the parser give up, and the connection goes to net/http, which knows
// every corner of the protocol.

// field locates one header field line inside a head.
type field struct {
	n0, n1, v0, v1 int32 // name and value (without surrounding whitespace)
}

func (f field) name(b []byte) []byte  { return b[f.n0:f.n1] }
func (f field) value(b []byte) []byte { return b[f.v0:f.v1] }

// headEnd returns the length of the head (through its empty line) at the
// start of b, or -1 if b does not hold a complete head yet.
func headEnd(b []byte) int {
	i := bytes.Index(b, crlfcrlf)
	if i < 0 {
		return -1
	}
	return i + 4
}

var crlfcrlf = []byte("\r\n\r\n")

// parseFields splits the field lines of head (which starts after the start
// line and ends with the empty line) and appends them to fs. ok is false for
// anything but plain "name: value\r\n" lines. One pass checks and splits
// each line: a name of token characters up to the colon, a value without
// control characters other than tab up to the CRLF (FuzzParseFields holds
// it to the IndexByte-and-validate form it replaced, kept in head_test.go).
func parseFields(head []byte, off int, fs []field) ([]field, bool) {
	for {
		if off >= len(head) {
			return fs, false
		}
		if head[off] == '\r' {
			return fs, off+1 < len(head) && head[off+1] == '\n' && off+2 == len(head)
		}
		c := off
		for c < len(head) && tokenChar[head[c]] {
			c++
		}
		if c == off || c == len(head) || head[c] != ':' {
			return fs, false
		}
		v0 := c + 1
		for v0 < len(head) && (head[v0] == ' ' || head[v0] == '\t') {
			v0++
		}
		e := v0 // the value's end: the CR
		for e < len(head) && (head[e] >= ' ' && head[e] != 0x7f || head[e] == '\t') {
			e++
		}
		if e+1 >= len(head) || head[e] != '\r' || head[e+1] != '\n' {
			return fs, false
		}
		v1 := e
		for v1 > v0 && (head[v1-1] == ' ' || head[v1-1] == '\t') {
			v1--
		}
		fs = append(fs, field{int32(off), int32(c), int32(v0), int32(v1)})
		off = e + 2
	}
}

// tokenChar marks RFC 9110 tchar.
var tokenChar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

func validFieldName(b []byte) bool {
	for _, c := range b {
		if !tokenChar[c] {
			return false
		}
	}
	return true
}

// is reports whether name equals lower, ignoring ASCII case; lower is the
// lower-case spelling.
func is(name []byte, lower string) bool {
	if len(name) != len(lower) {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// parseLength reads a Content-Length value; -1 if it is not a plain decimal.
func parseLength(b []byte) int64 {
	if len(b) == 0 || len(b) > 18 {
		return -1
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

// canonicalKeys maps header names as providers spell them (often lower case)
// to net/http's canonical form without allocating for names seen before.
// Copy-on-write: reads are one atomic load; the set is small and stable
// (each provider sends the same dozen names), and bounded so that an
// upstream inventing names cannot grow it.
var canonicalKeys struct {
	mu sync.Mutex
	m  atomic.Pointer[map[string]string]
}

const maxCanonicalKeys = 1024

func canonicalKey(name []byte) string {
	if m := canonicalKeys.m.Load(); m != nil {
		if k, ok := (*m)[string(name)]; ok {
			return k
		}
	}
	k := textproto.CanonicalMIMEHeaderKey(string(name))
	canonicalKeys.mu.Lock()
	defer canonicalKeys.mu.Unlock()
	old := canonicalKeys.m.Load()
	if old != nil && len(*old) >= maxCanonicalKeys {
		return k
	}
	m := make(map[string]string, 1+func() int {
		if old == nil {
			return 0
		}
		return len(*old)
	}())
	if old != nil {
		for a, b := range *old {
			m[a] = b
		}
	}
	m[string(name)] = k
	canonicalKeys.m.Store(&m)
	return k
}

// fillHeader rebuilds h (cleared first, its storage reused) from the fields
// of head: what the dialect parsers and hooks read. One string holds every
// value; names come from canonicalKey. vals is reused as the values'
// backing array (h's users do not keep the slices, only the strings) and
// returned for the next call.
func fillHeader(h http.Header, head []byte, fs []field, vals []string) []string {
	clear(h)
	if len(fs) == 0 {
		return vals
	}
	s := string(head)
	if cap(vals) < len(fs) {
		vals = make([]string, len(fs))
	}
	vals = vals[:len(fs)]
	for i, f := range fs {
		k := canonicalKey(f.name(head))
		vals[i] = s[f.v0:f.v1]
		if old, ok := h[k]; ok {
			h[k] = append(old, vals[i])
			continue
		}
		h[k] = vals[i : i+1 : i+1]
	}
	return vals
}

// respHeader is the http.Header of the responses on one upstream-facing
// relay, rebuilt for each. A provider sends the same fields in the same
// order on every answer, so when the field names match the last response's
// and the map still holds exactly what fill put there, only the values are
// replaced. Hooks get the map and may change it, so with hooks (check) each
// field's entry is looked up to make sure; without, nothing changes it
// (TestGolden holds the parsers to that; tracing copies) and the values
// are replaced without a lookup.
type respHeader struct {
	h     http.Header
	vals  []string // backing of h's values, one per field
	keys  []string // canonical name per field of the last rebuild
	names []byte   // the last rebuild's field names as sent, back to back
	ends  []int32  // end of each name in names
	reuse bool     // the last rebuild had no repeated name
}

func (rh *respHeader) fill(head []byte, fs []field, check bool) http.Header {
	if rh.h == nil {
		rh.h = make(http.Header, len(fs))
	}
	if rh.reuse && rh.sameNames(head, fs) && len(rh.h) == len(fs) {
		ok := true
		for i := range fs {
			if !check {
				break
			}
			if v := rh.h[rh.keys[i]]; len(v) != 1 || &v[0] != &rh.vals[i] {
				ok = false
				break
			}
		}
		if ok {
			s := string(head)
			for i, f := range fs {
				rh.vals[i] = s[f.v0:f.v1]
			}
			return rh.h
		}
	}
	rh.vals = fillHeader(rh.h, head, fs, rh.vals)
	rh.names, rh.ends, rh.keys = rh.names[:0], rh.ends[:0], rh.keys[:0]
	for _, f := range fs {
		rh.names = append(rh.names, f.name(head)...)
		rh.ends = append(rh.ends, int32(len(rh.names)))
		rh.keys = append(rh.keys, canonicalKey(f.name(head)))
	}
	rh.reuse = len(rh.h) == len(fs)
	return rh.h
}

func (rh *respHeader) sameNames(head []byte, fs []field) bool {
	if len(fs) != len(rh.ends) {
		return false
	}
	var at int32
	for i, f := range fs {
		if !bytes.Equal(f.name(head), rh.names[at:rh.ends[i]]) {
			return false
		}
		at = rh.ends[i]
	}
	return true
}
