package tail

import (
	"encoding/binary"
	"math/bits"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// A small JSON reader for access-log lines: it walks one object in place,
// handing out substrings of the line instead of building maps, so the common
// line costs no allocation. It checks the structure (brackets, strings,
// separators, literals) strictly enough to tell a log line from garbage; it
// does not reject control characters inside strings, which some writers
// emit unescaped.
//
// Why not a library: github.com/tidwall/gjson, which the proxy reads
// bodies with, and github.com/valyala/fastjson both take longer to merely
// walk every member of a line than this reader takes to decode it and map
// it into a record, because this reader lets mapping.go skip the members a
// format does not use without reading them: on the nginx fixture (a large
// headers object, most of it unused) 2.6 times (gjson) and 2.6 times
// (fastjson) as long, on Envoy's 1.4 times, on the headroom format's about
// as long (0.7 to 0.8 times, before any mapping) (BenchmarkJSONSwap, one
// run, docs/benchmarks.md). A hot path may not get slower than 1.2 times
// for a library; tail mode keeps its reader. FuzzJSON holds it to
// encoding/json.

type jsonKind uint8

const (
	jInvalid jsonKind = iota
	jString
	jNumber
	jTrue
	jFalse
	jNull
	jObject
	jArray
)

// jval is one JSON value. For strings raw is the text between the quotes,
// still escaped when esc is set; for numbers and literals the literal; for
// objects and arrays the whole text including brackets.
type jval struct {
	kind jsonKind
	esc  bool
	raw  string
}

// str returns a string value unescaped (allocating only when it had
// escapes), or the literal text of a number; ok is false for other kinds.
func (v jval) str() (string, bool) {
	switch v.kind {
	case jString:
		if !v.esc {
			return v.raw, true
		}
		return unescape(v.raw)
	case jNumber:
		return v.raw, true
	}
	return "", false
}

const maxDepth = 32

func skipWS(s string, i int) int {
	for i < len(s) {
		switch s[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// scanString reads the string whose opening quote is at s[i] and returns
// the index after its closing quote.
func scanString(s string, i int) (end int, esc bool, ok bool) {
	j := quoteOrBackslash(s, i+1)
	if j < len(s) && s[j] == '"' {
		// Nearly every value in an access log: no escapes.
		return j + 1, false, true
	}
	for ; j < len(s); j++ {
		switch s[j] {
		case '"':
			return j + 1, esc, true
		case '\\':
			esc = true
			if j+1 >= len(s) {
				return 0, false, false
			}
			switch s[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j++
			case 'u':
				if j+6 > len(s) || !isHex4(s[j+2:j+6]) {
					return 0, false, false
				}
				j += 5
			default:
				return 0, false, false
			}
		}
	}
	return 0, false, false
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// quoteOrBackslash returns the index of the first '"' or '\\' in s at or
// after i, or len(s). Access-log strings are short (a few to a few dozen
// bytes), too short for strings.IndexByte's vector loop to pay for its
// setup, and a string needs two searches (the quote, then a backslash
// before it); this looks for both at once, eight bytes at a time.
func quoteOrBackslash(s string, i int) int {
	for ; i+8 <= len(s); i += 8 {
		w := binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s[i:]), 8))
		q := w ^ ('"' * lsb)
		b := w ^ ('\\' * lsb)
		// A zero byte in q or b is a match. (x-lsb)&^x&msb flags the first
		// zero byte of x exactly; bytes above it may be flagged falsely,
		// which the lowest set bit never is.
		if m := ((q-lsb)&^q | (b-lsb)&^b) & msb; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' {
			return i
		}
	}
	return i
}

func isHex4(s string) bool {
	for i := 0; i < 4; i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// parseValue reads the value at s[i] (no leading whitespace).
func parseValue(s string, i, depth int) (jval, int, bool) {
	if i >= len(s) {
		return jval{}, i, false
	}
	switch c := s[i]; {
	case c == '"':
		end, esc, ok := scanString(s, i)
		if !ok {
			return jval{}, i, false
		}
		return jval{kind: jString, esc: esc, raw: s[i+1 : end-1]}, end, true
	case c == '{':
		if depth >= maxDepth {
			return jval{}, i, false
		}
		it := objIter{s: s, i: i + 1, depth: depth + 1}
		for {
			if _, _, ok := it.next(); !ok {
				break
			}
		}
		if it.bad {
			return jval{}, i, false
		}
		return jval{kind: jObject, raw: s[i:it.i]}, it.i, true
	case c == '[':
		if depth >= maxDepth {
			return jval{}, i, false
		}
		it := arrIter{s: s, i: i + 1, depth: depth + 1}
		for {
			if _, ok := it.next(); !ok {
				break
			}
		}
		if it.bad {
			return jval{}, i, false
		}
		return jval{kind: jArray, raw: s[i:it.i]}, it.i, true
	case c == 't':
		if strings.HasPrefix(s[i:], "true") {
			return jval{kind: jTrue, raw: "true"}, i + 4, true
		}
	case c == 'f':
		if strings.HasPrefix(s[i:], "false") {
			return jval{kind: jFalse, raw: "false"}, i + 5, true
		}
	case c == 'n':
		if strings.HasPrefix(s[i:], "null") {
			return jval{kind: jNull, raw: "null"}, i + 4, true
		}
	case c == '-' || ('0' <= c && c <= '9'):
		j := i + 1
		for j < len(s) {
			c := s[j]
			if ('0' <= c && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-' {
				j++
				continue
			}
			break
		}
		return jval{kind: jNumber, raw: s[i:j]}, j, true
	}
	return jval{}, i, false
}

// objIter walks the members of an object; i starts after its '{'. After
// the last member, i is past the closing '}' and bad tells a syntax error.
type objIter struct {
	s      string
	i      int
	depth  int
	n      int
	done   bool
	bad    bool
	keyEsc bool
}

func (it *objIter) next() (key string, val jval, ok bool) {
	if key, ok = it.nextKey(); !ok {
		return "", jval{}, false
	}
	if val, ok = it.value(); !ok {
		return "", jval{}, false
	}
	return key, val, true
}

// nextKey advances to the next member and returns its key; its value
// starts at it.i and must be consumed with value, or enter and leave.
func (it *objIter) nextKey() (string, bool) {
	if it.done {
		return "", false
	}
	s := it.s
	i := skipWS(s, it.i)
	if i >= len(s) {
		return it.failKey()
	}
	if it.n == 0 {
		if s[i] == '}' {
			it.i, it.done = i+1, true
			return "", false
		}
	} else {
		switch s[i] {
		case '}':
			it.i, it.done = i+1, true
			return "", false
		case ',':
			i = skipWS(s, i+1)
		default:
			return it.failKey()
		}
	}
	if i >= len(s) || s[i] != '"' {
		return it.failKey()
	}
	end, esc, ok := scanString(s, i)
	if !ok {
		return it.failKey()
	}
	key := s[i+1 : end-1]
	it.keyEsc = esc
	if esc {
		if key, ok = unescape(key); !ok {
			return it.failKey()
		}
	}
	i = skipWS(s, end)
	if i >= len(s) || s[i] != ':' {
		return it.failKey()
	}
	it.i = skipWS(s, i+1)
	it.n++
	return key, true
}

// member is nextKey for a caller that expects key (free of quotes and
// backslashes) next, written without spaces: on a match it consumes the
// key as nextKey would and returns true; otherwise it consumes nothing.
func (it *objIter) member(key string) bool {
	s, i := it.s, it.i
	if it.done {
		return false
	}
	if it.n > 0 {
		if i >= len(s) || s[i] != ',' {
			return false
		}
		i++
	}
	e := i + 1 + len(key)
	if e+1 >= len(s) || s[i] != '"' || s[i+1:e] != key || s[e] != '"' || s[e+1] != ':' {
		return false
	}
	it.i = skipWS(s, e+2)
	it.n++
	it.keyEsc = false
	return true
}

// value reads the current member's value.
func (it *objIter) value() (jval, bool) {
	v, i, ok := parseValue(it.s, it.i, it.depth)
	if !ok {
		it.done, it.bad = true, true
		return jval{}, false
	}
	it.i = i
	return v, true
}

// enter returns an iterator over the current member's value when it is an
// object, without reading it twice; finish with leave.
func (it *objIter) enter() (objIter, bool) {
	if it.i >= len(it.s) || it.s[it.i] != '{' || it.depth >= maxDepth {
		return objIter{}, false
	}
	return objIter{s: it.s, i: it.i + 1, depth: it.depth + 1}, true
}

// leave continues after a sub-iterator that was walked to its end.
func (it *objIter) leave(sub *objIter) bool {
	for !sub.done {
		sub.next()
	}
	if sub.bad {
		it.done, it.bad = true, true
		return false
	}
	it.i = sub.i
	return true
}

func (it *objIter) failKey() (string, bool) {
	it.done, it.bad = true, true
	return "", false
}

func (it *objIter) fail() (string, jval, bool) {
	it.done, it.bad = true, true
	return "", jval{}, false
}

// arrIter walks the elements of an array; i starts after its '['.
type arrIter struct {
	s     string
	i     int
	depth int
	n     int
	done  bool
	bad   bool
}

func (it *arrIter) next() (jval, bool) {
	i, ok := it.start()
	if !ok {
		return jval{}, false
	}
	v, i, ok := parseValue(it.s, i, it.depth)
	if !ok {
		it.done, it.bad = true, true
		return jval{}, false
	}
	it.end(i)
	return v, true
}

// start advances to the next element and returns where it starts (a
// valid index), for a caller that reads it in place and then calls end
// with the index after it.
func (it *arrIter) start() (int, bool) {
	if it.done {
		return 0, false
	}
	s := it.s
	i := skipWS(s, it.i)
	if i >= len(s) {
		it.done, it.bad = true, true
		return 0, false
	}
	if it.n == 0 {
		if s[i] == ']' {
			it.i, it.done = i+1, true
			return 0, false
		}
	} else {
		switch s[i] {
		case ']':
			it.i, it.done = i+1, true
			return 0, false
		case ',':
			if i = skipWS(s, i+1); i >= len(s) {
				it.done, it.bad = true, true
				return 0, false
			}
		default:
			it.done, it.bad = true, true
			return 0, false
		}
	}
	return i, true
}

func (it *arrIter) end(i int) {
	it.i = i
	it.n++
}

// enterArray returns an iterator over the current member's value when it
// is an array, like enter.
func (it *objIter) enterArray() (arrIter, bool) {
	if it.i >= len(it.s) || it.s[it.i] != '[' || it.depth >= maxDepth {
		return arrIter{}, false
	}
	return arrIter{s: it.s, i: it.i + 1, depth: it.depth + 1}, true
}

// unescape decodes a JSON string's escapes.
func unescape(raw string) (string, bool) {
	b := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			b = append(b, c)
			i++
			continue
		}
		if i+1 >= len(raw) {
			return "", false
		}
		switch raw[i+1] {
		case '"', '\\', '/':
			b = append(b, raw[i+1])
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			if i+6 > len(raw) {
				return "", false
			}
			r1, err := strconv.ParseUint(raw[i+2:i+6], 16, 32)
			if err != nil {
				return "", false
			}
			r := rune(r1)
			i += 6
			if utf16.IsSurrogate(r) && i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
				if r2, err := strconv.ParseUint(raw[i+2:i+6], 16, 32); err == nil {
					if dec := utf16.DecodeRune(r, rune(r2)); dec != utf8.RuneError {
						r = dec
						i += 6
					}
				}
			}
			b = utf8.AppendRune(b, r)
			continue
		default:
			return "", false
		}
		i += 2
	}
	return string(b), true
}
