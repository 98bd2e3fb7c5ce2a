package proxy

import (
	"bytes"
	"testing"
)

// clientHeadRef is appendClientHead as it was first written, field by
// field: the reference its faster form must agree with.
func clientHeadRef(out, head []byte, fs []field, conn []byte, te bool) []byte {
	eol := bytes.IndexByte(head, '\n')
	out = append(out, "HTTP/1.1"...)
	out = append(out, head[8:eol+1]...)
	for _, f := range fs {
		n := f.name(head)
		if hopByHop(n) || namedIn(conn, n) || (te && is(n, "content-length")) {
			continue
		}
		out = append(out, head[f.n0:f.v1]...)
		out = append(out, "\r\n"...)
	}
	return out
}

// sameHead reports whether two heads (without their empty line) have the
// same status line and the same fields, values compared without the
// whitespace around them.
func sameHead(t *testing.T, got, want []byte) bool {
	t.Helper()
	got, want = append(got, "\r\n"...), append(want, "\r\n"...)
	ge, we := bytes.IndexByte(got, '\n'), bytes.IndexByte(want, '\n')
	if ge < 0 || we < 0 || !bytes.Equal(got[:ge], want[:we]) {
		return false
	}
	gf, gok := parseFields(got, ge+1, nil)
	wf, wok := parseFields(want, we+1, nil)
	if !gok || !wok || len(gf) != len(wf) {
		return false
	}
	for i := range gf {
		if !bytes.Equal(gf[i].name(got), wf[i].name(want)) || !bytes.Equal(gf[i].value(got), wf[i].value(want)) {
			return false
		}
	}
	return true
}

func checkClientHead(t *testing.T, head string) {
	t.Helper()
	h := []byte(head)
	eol := bytes.IndexByte(h, '\n')
	fs, ok := parseFields(h, eol+1, nil)
	if !ok || len(h) < 12 {
		return // relayResponse answers 502 before building a head
	}
	var conn []byte
	te := false
	for _, f := range fs {
		switch n := f.name(h); {
		case is(n, "connection"):
			conn = f.value(h)
		case is(n, "transfer-encoding"):
			te = true
		}
	}
	got := appendClientHead(nil, h, fs, conn, te)
	want := clientHeadRef(nil, h, fs, conn, te)
	if !sameHead(t, got, want) {
		t.Errorf("head %q:\ngot  %q\nwant %q", head, got, want)
	}
}

func TestAppendClientHead(t *testing.T) {
	for _, head := range []string{
		"HTTP/1.1 200 OK\r\n\r\n",
		"HTTP/1.0 204 No Content\r\nDate: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: keep-alive\r\nx-ratelimit-limit-requests: 500\r\n\r\n",
		"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n",
		"HTTP/1.1 200 OK\r\nA: 1 \t\r\nConnection: close, X-Secret\r\nX-Secret: s\r\nB:2\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 9\r\nTE: trailers\r\nUpgrade: h2c\r\nProxy-Authenticate: x\r\n\r\n",
		"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nProxy-Connection: keep-alive\r\nConnection: ,,\r\n\r\n",
	} {
		checkClientHead(t, head)
	}
}

// FuzzAppendClientHead: the head written to the client keeps the same
// fields as the field-by-field reference (hop-by-hop ones and those named
// in Connection dropped), whatever the upstream sent.
func FuzzAppendClientHead(f *testing.F) {
	f.Add("HTTP/1.1 200 OK\r\nServer: nginx\r\nConnection: keep-alive, Foo\r\nFoo: 1\r\nContent-Length: 2\r\n\r\n")
	f.Add("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 9\r\n\r\n")
	f.Fuzz(func(t *testing.T, head string) {
		if len(head) < 12 || head[:7] != "HTTP/1." || head[8] != ' ' {
			return
		}
		checkClientHead(t, head)
	})
}

func BenchmarkAppendClientHead(b *testing.B) {
	h := []byte("HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Tue, 24 Nov 2026 04:00:00 GMT\r\nContent-Type: application/json\r\n" +
		"Content-Length: 260\r\nConnection: keep-alive\r\nx-ratelimit-limit-requests: 10000\r\nx-ratelimit-remaining-requests: 9999\r\n" +
		"x-ratelimit-reset-requests: 6ms\r\nx-ratelimit-limit-tokens: 2000000\r\nx-ratelimit-remaining-tokens: 1999982\r\n" +
		"x-ratelimit-reset-tokens: 1ms\r\nopenai-processing-ms: 1\r\n\r\n")
	eol := bytes.IndexByte(h, '\n')
	fs, _ := parseFields(h, eol+1, nil)
	conn := []byte("keep-alive")
	out := make([]byte, 0, 1024)
	b.Run("fields", func(b *testing.B) {
		for b.Loop() {
			out = clientHeadRef(out[:0], h, fs, conn, false)
		}
	})
	b.Run("runs", func(b *testing.B) {
		for b.Loop() {
			out = appendClientHead(out[:0], h, fs, conn, false)
		}
	})
}
