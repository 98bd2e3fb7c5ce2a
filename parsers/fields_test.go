package parsers

import (
	"net/http"
	"reflect"
	"sort"
	"strings"
	"testing"
	"unsafe"
)

// fieldsOf lays h out as the proxy's fast path passes it: one buffer
// holding every name and value, and Fields pointing into it. Names are in
// lower case, as most servers send them, or with mixed, in mixed case (as
// net/http and others send them).
func fieldsOf(h http.Header, mixed bool) ([]Field, []byte) {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var buf []byte
	type span struct{ n0, n1, v0, v1 int }
	var spans []span
	for i, k := range keys {
		name := k
		if !mixed || i%2 == 0 {
			name = lowerName(k) // ASCII only, as the wire has it: ToLower would rewrite invalid UTF-8
		}
		for _, v := range h[k] {
			s := span{n0: len(buf)}
			buf = append(buf, name...)
			s.n1, s.v0 = len(buf), len(buf)
			buf = append(buf, v...)
			s.v1 = len(buf)
			spans = append(spans, s)
		}
	}
	fs := make([]Field, len(spans))
	for i, s := range spans {
		fs[i] = Field{Name: unsafeString(buf[s.n0:s.n1]), Value: unsafeString(buf[s.v0:s.v1])}
	}
	return fs, buf
}

func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

type parsed struct {
	golden
	values []string // the errors' values, which toGolden leaves out
}

func parsedOf(r *Result) parsed {
	p := parsed{golden: toGolden(r)}
	for _, e := range r.Errors {
		p.values = append(p.values, strings.Clone(e.Value)) // a copy, to compare with later
	}
	return p
}

// sameFromFields parses in again from its header as a field list (no map)
// and requires the result the map gave, also after the field list's buffer
// is overwritten: nothing in a Result may point into it.
func sameFromFields(t *testing.T, d Dialect, in *Input, want *Result) {
	t.Helper()
	fs, buf := fieldsOf(in.Header, true)
	fin := *in
	fin.Header, fin.Fields = nil, fs
	var r Result
	d.Parse(&fin, &r)
	got := parsedOf(&r)
	if exp := parsedOf(want); !reflect.DeepEqual(got, exp) {
		t.Errorf("%s: parsed from fields:\n got %+v\nwant %+v (from the map)", d.Name(), got, exp)
	}
	for i := range buf {
		buf[i] = '#'
	}
	if again := parsedOf(&r); !reflect.DeepEqual(again, got) {
		t.Errorf("%s: the result shares the fields' buffer:\n%+v\nbecame %+v", d.Name(), got, again)
	}
}

func TestEqualFold(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"X-Ratelimit-Limit", "x-ratelimit-limit", true},
		{"RETRY-AFTER", "Retry-After", true},
		{"Date", "date", true},
		{"Date", "Dat", false},
		{"Date", "Datf", false},
		{"a-b", "a_b", false},
		{"@", "`", false}, // equal once 0x20 is set, but not letters
		{"[", "{", false},
		{"1", "1", true},
		{"", "", true},
		{"X-RateLimit-Limit-Requests", "x-ratelimit-reset-requests", false},
		{"X-RATELIMIT-LIMIT-REQUESTS", "x-ratelimit-limit-requests", true},
		{"x-ratelimit-limit-requests^", "x-ratelimit-limit-requests~", false}, // equal folded 8 at a time
		{"^x-ratelimit-limit-requests", "~x-ratelimit-limit-requests", false},
		{"anthropic-ratelimit-requests-limit", "anthropic-ratelimit-requests-reset", false},
	} {
		if got, std := sameName(c.a, strings.ToLower(c.b)), strings.EqualFold(c.a, c.b); got != std {
			t.Errorf("sameName(%q, %q) = %v, strings.EqualFold %v", c.a, strings.ToLower(c.b), got, std)
		}
		if got := equalFold(c.a, c.b); got != c.want {
			t.Errorf("equalFold(%q, %q) = %v", c.a, c.b, got)
		}
		if got, std := equalFold(c.a, c.b), strings.EqualFold(c.a, c.b); got != std {
			t.Errorf("equalFold(%q, %q) = %v, strings.EqualFold %v", c.a, c.b, got, std)
		}
	}
}

func TestReadsFields(t *testing.T) {
	// The table dialects read fields; the ones that walk every field get
	// a map built for them (and still parse the same: TestGolden).
	for name, want := range map[string]bool{"openai": true, "anthropic": true, "together": true, "fireworks": true, "ietf": false, "mistral": false, "github": false} {
		d, ok := Lookup(name)
		if !ok {
			t.Fatalf("no dialect %s", name)
		}
		if got := ReadsFields(d); got != want {
			t.Errorf("ReadsFields(%s) = %v, want %v", name, got, want)
		}
	}
}

// FuzzSameName: sameName against strings.EqualFold for token names.
func FuzzSameName(f *testing.F) {
	f.Add("X-RateLimit-Limit-Requests", "x-ratelimit-limit-requests")
	f.Add("x-ratelimit-limit-requests^", "x-ratelimit-limit-requests~")
	f.Fuzz(func(t *testing.T, a, b string) {
		if !isToken(a) || !isToken(b) {
			return
		}
		lower := strings.ToLower(b)
		if got, want := sameName(a, lower), strings.EqualFold(a, b); got != want {
			t.Errorf("sameName(%q, %q) = %v, strings.EqualFold %v", a, lower, got, want)
		}
	})
}

func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}
