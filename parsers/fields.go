package parsers

import (
	"net/http"
	"strings"
)

// header is a response's header as the table dialects read it: the
// caller's map, or when it built none the fields as received, filed by the
// names the dialect reads in one pass (sorted). Either costs the dialect
// about the same; the field list spares the caller building the map, a
// good part of the proxy's work per response.
type header struct {
	m  http.Header
	fs []Field
	// Set by sorted: the fields filed by these names.
	names *fieldNames
	sl    *slots
}

func headerOf(in *Input) header { return header{m: in.Header, fs: in.Fields} }

// fieldNames are the lower-case names a dialect reads, numbered, with the
// numbers by name length: one pass over a field list then files every field
// the dialect wants (sorted), and each lookup is an index, where a scan per
// name would cost names × fields comparisons.
type fieldNames struct {
	names []string
	canon []string // the names as net/http's map keys spell them
	byLen [][]int8 // by name length, the numbers of the names that long
}

// maxNames is how many names a dialect can number (slots holds one value
// each); the names past it are looked up by a scan.
const maxNames = 32

// index numbers name (once per distinct name) and returns its number, or
// -1 for no name or no room.
func (n *fieldNames) index(name string) int8 {
	if name == "" {
		return -1
	}
	for i, m := range n.names {
		if m == name {
			return int8(i)
		}
	}
	if len(n.names) == maxNames {
		return -1
	}
	i := int8(len(n.names))
	n.names = append(n.names, name)
	n.canon = append(n.canon, http.CanonicalHeaderKey(name))
	for len(n.byLen) <= len(name) {
		n.byLen = append(n.byLen, nil)
	}
	n.byLen[len(name)] = append(n.byLen[len(name)], i)
	return i
}

// slot is what a lookup of one name returns (see header.lookup).
type slot struct {
	v       string
	ok, dup bool
}

type slots struct {
	s [maxNames]slot
	// other are the rate-limit-looking names no name of the dialect
	// matched, for header drift: the one pass over the header finds them,
	// so drift costs only these.
	other  [maxUnread]string
	nother uint8
}

// sorted files the header into sl by the names of n, in one pass over its
// fields (or its map's keys): each lookup is then an index, where a scan
// per name would cost names × fields comparisons and a map lookup per name
// a hash of each, present or not.
func (h header) sorted(n *fieldNames, sl *slots) header {
	if h.m == nil && h.fs == nil {
		return h
	}
	if h.m != nil {
		// A map (Input.Header: canonical keys) is looked up name by name,
		// and its keys are walked, for drift, only when some are neither
		// the dialect's names nor Date: an access log's line carries just
		// the headers it logs, and walking a map costs more than the
		// lookups.
		found := 0
		for j, key := range n.canon {
			vs := h.m[key]
			if len(vs) > 0 {
				found++
			}
			for _, v := range vs {
				sl.file(int8(j), key, v)
			}
		}
		if _, date := h.m["Date"]; date {
			found++
		}
		if len(h.m) > found {
			for k := range h.m {
				if k != "Date" && n.numberKey(k) < 0 {
					sl.file(-1, k, "")
				}
			}
		}
	} else {
		for i := range h.fs {
			f := &h.fs[i]
			sl.file(n.number(f.Name), f.Name, f.Value)
		}
	}
	h.names, h.sl = n, sl
	return h
}

// number is the number of name (in any case) in n, -1 for none.
func (n *fieldNames) number(name string) int8 {
	if len(name) >= len(n.byLen) {
		return -1
	}
	for _, j := range n.byLen[len(name)] {
		if sameName(name, n.names[j]) {
			return j
		}
	}
	return -1
}

// numberKey is number for a map key, which is canonical (net/http's
// spelling) but for a map built by hand: an exact comparison first.
func (n *fieldNames) numberKey(key string) int8 {
	if len(key) >= len(n.byLen) {
		return -1
	}
	for _, j := range n.byLen[len(key)] {
		if key == n.canon[j] {
			return j
		}
	}
	return n.number(key)
}

// file puts a field's value in the slot of its name's number j, or, for a
// name n does not number, keeps the name when it looks like a rate limit.
func (sl *slots) file(j int8, name, value string) {
	if j < 0 {
		if int(sl.nother) < len(sl.other) && LooksLikeRateLimit(name) {
			sl.other[sl.nother] = name
			sl.nother++
		}
		return
	}
	w, s := trimSpace(value), &sl.s[j]
	if !s.ok {
		s.v, s.ok = w, true
	} else if w != s.v {
		s.dup = true
	}
}

// get is lookup, answered from the slots when h was sorted by n and the
// name has a number there.
func (h *header) get(n *fieldNames, key, lower string, idx int8) (v string, ok bool, dup bool) {
	if h.sl != nil && h.names == n && idx >= 0 {
		s := &h.sl.s[idx]
		return s.v, s.ok, s.dup
	}
	return h.lookup(key, lower)
}

// lookup is the map form's lookup for a canonical key (lower is the same
// name in lower case): the first value, trimmed, and whether a repeat of
// the field disagrees with it.
func (h *header) lookup(key, lower string) (v string, ok bool, dup bool) {
	if h.m != nil || h.fs == nil {
		return lookup(h.m, key)
	}
	for i := range h.fs {
		f := &h.fs[i]
		if !sameName(f.Name, lower) {
			continue
		}
		w := trimSpace(f.Value)
		if !ok {
			v, ok = w, true
		} else if w != v {
			return v, true, true
		}
	}
	return v, ok, false
}

// first is the first value of a canonical key, untrimmed (http.Header.Get).
func (h *header) first(key, lower string) string {
	if h.m != nil || h.fs == nil {
		return first(h.m, key)
	}
	for i := range h.fs {
		if f := &h.fs[i]; sameName(f.Name, lower) {
			return f.Value
		}
	}
	return ""
}

// sameName reports whether name, as sent, is the field lower names. The
// names a dialect looks for share long prefixes and often lengths
// ("x-ratelimit-limit-requests", "x-ratelimit-reset-requests"), so the
// comparison runs from the end, 8 bytes at a time with ASCII case folded,
// which rejects a near miss in one step; a byte loop only confirms a match
// that is not exact (a name sent in upper or mixed case).
func sameName(name, lower string) bool {
	if len(name) != len(lower) {
		return false
	}
	const fold = 0x2020202020202020
	i := len(name)
	for ; i >= 8; i -= 8 {
		if load64(name, i-8)|fold != load64(lower, i-8)|fold {
			return false
		}
	}
	for ; i > 0; i-- {
		if name[i-1]|0x20 != lower[i-1]|0x20 {
			return false
		}
	}
	return name == lower || equalFold(name, lower)
}

// load64 is the 8 bytes of s from i, little-endian (one load).
func load64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// equalFold is strings.EqualFold for ASCII, which field names are (the
// caller checked them as tokens): a canonical key and a name as sent are
// the same field exactly when they are equal ignoring ASCII case. It
// compares from the end: a provider's names share long prefixes
// ("anthropic-ratelimit-requests-") and differ at the end.
func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := len(a) - 1; i >= 0; i-- {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if x|0x20 != y|0x20 || x|0x20 < 'a' || x|0x20 > 'z' {
			return false
		}
	}
	return true
}

// headerMap is in's header as a map, for the dialects that walk every
// field (ReadsFields is false for them). Built from Fields when the caller
// passed none, with the values copied: those dialects may keep parts of
// them (a window named in a field).
func (in *Input) headerMap() http.Header {
	if in.Header != nil || in.Fields == nil {
		return in.Header
	}
	h := make(http.Header, len(in.Fields))
	for _, f := range in.Fields {
		k := strings.Clone(http.CanonicalHeaderKey(f.Name))
		h[k] = append(h[k], strings.Clone(f.Value))
	}
	return h
}
