package parsers

import (
	"net/http"
	"strings"
)

// Header drift: a provider that starts sending a rate-limit header family
// Headroom does not read (a new tier, a renamed header) is noticed before a
// user files a bug. Every dialect reports the names of the response's
// rate-limit-looking headers it did not read (Result.UnreadHeader), and its
// steady header families that arrived (Result.Families); the collector
// counts both. Only the names are kept, never the values.

// nameReader is a dialect that can tell whether it reads a header (or
// knows it and leaves it out on purpose). name is as sent, in any case.
type nameReader interface{ readsName(name string) bool }

// maxUnread bounds the unread names recorded from one response: a hostile
// upstream could send any number of them.
const maxUnread = 16

// LooksLikeRateLimit reports whether a header name looks like a rate-limit
// signal: it contains "ratelimit", "rate-limit", "retry-after" or "quota",
// in any case.
func LooksLikeRateLimit(name string) bool {
	for i := 0; i < len(name); i++ {
		switch name[i] | 0x20 {
		case 'r':
			rest := name[i:]
			if hasPrefixFold(rest, "ratelimit") || hasPrefixFold(rest, "rate-limit") || hasPrefixFold(rest, "retry-after") {
				return true
			}
		case 'q':
			if hasPrefixFold(name[i:], "quota") {
				return true
			}
		}
	}
	return false
}

// hasPrefixFold is strings.HasPrefix ignoring ASCII case; prefix is lower
// case.
func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if lowerByte(s[i]) != prefix[i] {
			return false
		}
	}
	return true
}

// lowerByte is an ASCII byte in lower case.
func lowerByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// noteUnread records the rate-limit-looking headers of h that d does not
// read.
func (r *Result) noteUnread(h *header, d nameReader) {
	switch {
	case h.sl != nil:
		// Sorted: only the names no name of the dialect matched.
		for _, name := range h.sl.other[:h.sl.nother] {
			if !d.readsName(name) {
				r.addUnread(name)
			}
		}
	case h.m != nil || h.fs == nil:
		for k := range h.m {
			r.noteName(k, d)
		}
	default:
		for i := range h.fs {
			r.noteName(h.fs[i].Name, d)
		}
	}
}

func (r *Result) noteName(name string, d nameReader) {
	if LooksLikeRateLimit(name) && !d.readsName(name) {
		r.addUnread(name)
	}
}

// addUnread records an unread name, once, up to maxUnread of them.
func (r *Result) addUnread(name string) {
	if len(r.unreadEnd) == maxUnread {
		return
	}
	start := 0
	for _, end := range r.unreadEnd {
		if equalLower(name, r.unread[start:end]) {
			return // a repeated field
		}
		start = int(end)
	}
	for i := 0; i < len(name); i++ {
		r.unread = append(r.unread, lowerByte(name[i]))
	}
	r.unreadEnd = append(r.unreadEnd, int32(len(r.unread)))
}

// equalLower reports whether name, in any case, is lower.
func equalLower(name string, lower []byte) bool {
	if len(name) != len(lower) {
		return false
	}
	for i := 0; i < len(name); i++ {
		if lowerByte(name[i]) != lower[i] {
			return false
		}
	}
	return true
}

// UnreadHeaders is the number of unread rate-limit-looking headers.
func (r *Result) UnreadHeaders() int { return len(r.unreadEnd) }

// UnreadHeader is the lower-case name of the i-th unread rate-limit-looking
// header. It shares r's memory: it is valid until r is reset; copy it to
// keep it.
func (r *Result) UnreadHeader(i int) []byte {
	start := int32(0)
	if i > 0 {
		start = r.unreadEnd[i-1]
	}
	return r.unread[start:r.unreadEnd[i]]
}

// UnreadNames returns the unread names as strings (a copy; tests, logs).
func (r *Result) UnreadNames() []string {
	out := make([]string, r.UnreadHeaders())
	for i := range out {
		out[i] = string(r.UnreadHeader(i))
	}
	return out
}

// knownNames is a set of lower-case header names a dialect reads or knows
// and leaves out on purpose, looked up with the case of the name as sent.
// An entry ending in '*' is a prefix.
type knownNames struct {
	lower []string
	canon []string // as net/http's map keys spell them: compared first
}

func (k *knownNames) has(name string) bool {
	for i, n := range k.lower {
		if p, ok := strings.CutSuffix(n, "*"); ok {
			if hasPrefixFold(name, p) {
				return true
			}
		} else if name == k.canon[i] || sameName(name, n) {
			return true
		}
	}
	return false
}

func (k *knownNames) readsName(name string) bool { return k.has(name) }

func lowerAll(names ...string) knownNames {
	var k knownNames
	for _, n := range names {
		if n != "" {
			k.lower = append(k.lower, strings.ToLower(n))
			k.canon = append(k.canon, http.CanonicalHeaderKey(n))
		}
	}
	return k
}

// familyName names a family of headers by the parts its names share, the
// rest starred: x-ratelimit-limit-requests-day and
// x-ratelimit-remaining-requests-day make "x-ratelimit-*-requests-day". A
// reset header is often shared by two families (Together's static and
// dynamic limits), so it names the family only when nothing else does.
func familyName(limit, remaining, reset, utilization string) string {
	if limit != "" || remaining != "" || utilization != "" {
		return starName(limit, remaining, utilization)
	}
	return starName(reset)
}

func starName(names ...string) string {
	var ns []string
	for _, n := range names {
		if n != "" {
			ns = append(ns, strings.ToLower(n))
		}
	}
	if len(ns) == 0 {
		return ""
	}
	if len(ns) == 1 {
		return ns[0]
	}
	pre, suf := ns[0], ns[0]
	for _, n := range ns[1:] {
		i := 0
		for i < len(pre) && i < len(n) && pre[i] == n[i] {
			i++
		}
		pre = pre[:i]
		j := 0
		for j < len(suf) && j < len(n) && suf[len(suf)-1-j] == n[len(n)-1-j] {
			j++
		}
		suf = suf[len(suf)-j:]
	}
	// Cut at the separators so that the star stands for whole words.
	if i := strings.LastIndexByte(pre, '-'); i >= 0 {
		pre = pre[:i+1]
	} else {
		pre = ""
	}
	if i := strings.IndexByte(suf, '-'); i >= 0 {
		suf = suf[i:]
	} else {
		suf = ""
	}
	return pre + "*" + suf
}
