package parsers

import (
	"net/http"
	"strings"
)

// header is a response's header as the table dialects read it: the
// caller's map, or when it built none the fields as received. A dialect
// looks up a handful of names in a dozen fields, so a scan comparing
// lengths first costs about what the map lookups do, and spares the caller
// building the map.
type header struct {
	m  http.Header
	fs []Field
}

func headerOf(in *Input) header { return header{m: in.Header, fs: in.Fields} }

// lookup is the map form's lookup for a canonical key: the first value,
// trimmed, and whether a repeat of the field disagrees with it.
func (h header) lookup(key string) (v string, ok bool, dup bool) {
	if h.m != nil || h.fs == nil {
		return lookup(h.m, key)
	}
	for i := range h.fs {
		f := &h.fs[i]
		if len(f.Name) != len(key) || !equalFold(f.Name, key) {
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
func (h header) first(key string) string {
	if h.m != nil || h.fs == nil {
		return first(h.m, key)
	}
	for i := range h.fs {
		if f := &h.fs[i]; len(f.Name) == len(key) && equalFold(f.Name, key) {
			return f.Value
		}
	}
	return ""
}

// equalFold is strings.EqualFold for ASCII, which field names are (the
// caller checked them as tokens): a canonical key and a name as sent are
// the same field exactly when they are equal ignoring ASCII case.
func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
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
