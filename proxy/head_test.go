package proxy

import (
	"bytes"
	"net/http"
	"reflect"
	"testing"
)

// TestRespHeaderMatchesRebuild: whatever happened to the header between
// two responses (same fields with new values, a hook's edits, other
// fields, repeated names), respHeader.fill gives the header a fresh
// rebuild gives; without hooks (check false), the same when nothing
// edits the header.
func TestRespHeaderMatchesRebuild(t *testing.T) {
	const a = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nx-ratelimit-remaining-requests: 9999\r\nx-ratelimit-limit-requests: 10000\r\n\r\n"
	const a2 = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nx-ratelimit-remaining-requests: 9998\r\nx-ratelimit-limit-requests: 10000\r\n\r\n"
	const reordered = "HTTP/1.1 200 OK\r\nx-ratelimit-remaining-requests: 9997\r\nContent-Type: application/json\r\nx-ratelimit-limit-requests: 10000\r\n\r\n"
	const respelled = "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nX-RateLimit-Remaining-Requests: 1\r\nx-ratelimit-limit-requests: 10\r\n\r\n"
	const repeated = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nx-ratelimit-remaining-requests: 5\r\nx-ratelimit-remaining-requests: 6\r\n\r\n"
	const fewer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n"
	const none = "HTTP/1.1 204 No Content\r\n\r\n"
	edits := map[string]func(http.Header){
		"none":    func(http.Header) {},
		"set":     func(h http.Header) { h.Set("X-Ratelimit-Limit-Requests", "1") },
		"del":     func(h http.Header) { h.Del("Content-Type") },
		"add":     func(h http.Header) { h.Add("Content-Type", "text/html") },
		"new key": func(h http.Header) { h.Set("X-Other", "1") },
		"in place": func(h http.Header) {
			if v := h["Content-Type"]; len(v) > 0 {
				v[0] = "changed"
			}
		},
		"swap": func(h http.Header) {
			h["Content-Type"], h["X-Ratelimit-Limit-Requests"] = h["X-Ratelimit-Limit-Requests"], h["Content-Type"]
		},
	}
	seqs := [][]string{
		{a, a2, a, a2},
		{a, reordered, a},
		{a, respelled, a},
		{a, repeated, a, repeated, repeated},
		{a, fewer, a, none, a},
	}
	for _, seq := range seqs {
		var rh respHeader
		for i, s := range seq {
			head := []byte(s)
			fs, _ := parseFields(head, bytes.IndexByte(head, '\n')+1, nil)
			want := http.Header{}
			fillHeader(want, head, fs, nil)
			if got := rh.fill(head, fs, false); !reflect.DeepEqual(map[string][]string(got), map[string][]string(want)) {
				t.Fatalf("unchecked, response %d of %q:\n got %v\nwant %v", i, seq, got, want)
			}
		}
		for name, edit := range edits {
			var rh respHeader
			for i, s := range seq {
				head := []byte(s)
				fs, ok := parseFields(head, bytes.IndexByte(head, '\n')+1, nil)
				if !ok {
					t.Fatalf("parseFields(%q) failed", s)
				}
				got := rh.fill(head, fs, true)
				want := http.Header{}
				fillHeader(want, head, fs, nil)
				if !reflect.DeepEqual(map[string][]string(got), map[string][]string(want)) {
					t.Fatalf("edit %q, response %d of %q:\n got %v\nwant %v", name, i, seq, got, want)
				}
				edit(got)
			}
		}
	}
}

// parseFieldsRef is parseFields as it was before the one-pass scan: the
// reference FuzzParseFields holds it to.
func parseFieldsRef(head []byte, off int, fs []field) ([]field, bool) {
	for {
		i := bytes.IndexByte(head[off:], '\n')
		if i < 1 || head[off+i-1] != '\r' {
			return fs, false
		}
		line := head[off : off+i-1]
		if len(line) == 0 {
			return fs, off+i+1 == len(head)
		}
		c := bytes.IndexByte(line, ':')
		if c < 1 || !validFieldName(line[:c]) {
			return fs, false
		}
		v0, v1 := c+1, len(line)
		for v0 < v1 && (line[v0] == ' ' || line[v0] == '\t') {
			v0++
		}
		for v1 > v0 && (line[v1-1] == ' ' || line[v1-1] == '\t') {
			v1--
		}
		if !validFieldValue(line[v0:v1]) {
			return fs, false
		}
		fs = append(fs, field{int32(off), int32(off + c), int32(off + v0), int32(off + v1)})
		off += i + 1
	}
}

// validFieldValue refuses control characters other than tab (a CR on its
// own could split the field for a lenient parser downstream).
func validFieldValue(b []byte) bool {
	for _, c := range b {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// FuzzParseFields: the one-pass field parser accepts, refuses and splits
// every head as the reference form above does.
func FuzzParseFields(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-A:  b \t\r\n\r\n",
		"HTTP/1.1 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nA: b\r\n\r\nextra",
		"HTTP/1.1 200 OK\r\nA: b\n\r\n",
		"HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n",
		"HTTP/1.1 200 OK\r\n: b\r\n\r\n",
		"HTTP/1.1 200 OK\r\nA b: c\r\n\r\n",
		"HTTP/1.1 200 OK\r\nA:\r\n\r\n",
		"HTTP/1.1 200 OK\r\nA:\x7f\r\n\r\n",
		"HTTP/1.1 200 OK\r\nA:\xff\t\x80\r\n\r\n",
		"HTTP/1.1 200 OK\r\nA: b\r\n\r",
		"HTTP/1.1 200 OK\r\nA: b\r\n",
		"HTTP/1.1 200 OK\r\n\rA: b\r\n\r\n",
		"POST /p/x HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, head []byte) {
		off := bytes.IndexByte(head, '\n') + 1
		got, gok := parseFields(head, off, nil)
		want, wok := parseFieldsRef(head, off, nil)
		if gok != wok || (gok && !reflect.DeepEqual(got, want)) {
			t.Errorf("parseFields(%q) = %v, %v; the reference: %v, %v", head, got, gok, want, wok)
		}
	})
}

// BenchmarkParseRequest: the fast path's parse of a typical client request
// head (the route lookup, the fields, the checks that decide fast or net/http).
func BenchmarkParseRequest(b *testing.B) {
	head := []byte("POST /up/v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:18003\r\nUser-Agent: Go-http-client/1.1\r\n" +
		"Content-Length: 84\r\nAuthorization: Bearer sk-x\r\nContent-Type: application/json\r\nAccept-Encoding: gzip\r\n\r\n")
	routes := map[string]*route{"up": {pool: &hostPool{}}}
	rc := &relayConn{p: &Proxy{}}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, ok := rc.parseRequest(head, routes); !ok {
			b.Fatal("not taken by the fast path")
		}
	}
}
