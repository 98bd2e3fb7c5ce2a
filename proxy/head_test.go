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
