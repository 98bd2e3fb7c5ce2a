package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/headroomhq/headroom/config"
)

// FuzzChunkedFraming: the fast path's chunked decoder agrees with
// net/http's, whole or fed in two pieces, and never claims more bytes than
// it was given.
func FuzzChunkedFraming(f *testing.F) {
	for _, s := range []string{
		"3\r\nabc\r\n0\r\n\r\n",
		"3;ext=1\r\nabc\r\n0\r\nX-Sum: 1\r\n\r\n",
		"A\r\n0123456789\r\n0\r\n\r\nNEXT",
		"1\nx\n0\n\n",
		"fffffffffffffffff\r\n",
		"0\r\n\r\n",
		"zz\r\n",
	} {
		f.Add([]byte(s), uint16(1))
	}
	f.Fuzz(func(t *testing.T, in []byte, split uint16) {
		whole, n1, done1, err1 := decodeChunked(in, len(in))
		part, n2, done2, err2 := decodeChunked(in, int(split)%(len(in)+1))
		if n1 > len(in) || n2 > len(in) {
			t.Fatalf("took %d/%d of %d bytes", n1, n2, len(in))
		}
		if (err1 == nil) != (err2 == nil) || done1 != done2 || n1 != n2 || !bytes.Equal(whole, part) {
			t.Fatalf("split changes the result: %q %d %v %v / %q %d %v %v", whole, n1, done1, err1, part, n2, done2, err2)
		}
		if !done1 || err1 != nil {
			return
		}
		// What net/http decodes from the same message.
		want, err := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(in[:n1])))
		if err != nil {
			// net/http is stricter in places (chunk extensions, bare
			// LF): being more lenient is fine as long as it agrees on
			// the messages both accept.
			return
		}
		if !bytes.Equal(whole, want) {
			t.Fatalf("decoded %q, net/http %q", whole, want)
		}
	})
}

// decodeChunked feeds in to a chunked bodyFraming in two pieces split at at.
func decodeChunked(in []byte, at int) (data []byte, n int, done bool, err error) {
	fr := bodyFraming{mode: modeChunked}
	sink := func(p []byte) { data = append(data, p...) }
	for _, piece := range [][]byte{in[:at], in[at:]} {
		if fr.done() {
			break
		}
		k, ferr := fr.take(piece, sink)
		n += k
		if ferr != nil {
			return data, n, false, ferr
		}
		if k < len(piece) && !fr.done() {
			return data, n, false, io.ErrShortBuffer
		}
	}
	return data, n, fr.done(), nil
}

func routeConfig(host string) config.Provider {
	return config.Provider{Name: "p", Upstream: &url.URL{Scheme: "http", Host: host, Path: "/base"}}
}

// FuzzFastPathRequest: whatever the client sends, a request the fast path
// takes is one net/http reads the same way (method, target, length), and
// the request it writes upstream is well-formed, keeps the body framing,
// and drops hop-by-hop fields.
func FuzzFastPathRequest(f *testing.F) {
	for _, s := range []string{
		"POST /p/v1/chat HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}",
		"GET /p/v1/models?a=b HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer k\r\n\r\n",
		"POST /p/v1/x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
		"POST /p/v1/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n{}",
		"GET /p/../q HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /p/x HTTP/1.1\r\nHost: x\r\n Folded: y\r\n\r\n",
		"GET /p/x HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n",
		"GET /p/x HTTP/1.1\r\nHost: x\r\nKeep-Alive: 5\r\nTE: trailers\r\nProxy-Authorization: x\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	rt := &route{pool: &hostPool{}, basePath: "/base", cfg: routeConfig("up.example:8080")}
	f.Fuzz(func(t *testing.T, raw []byte) {
		e := headEnd(raw)
		if e < 0 {
			return
		}
		head := raw[:e]
		rc := &relayConn{p: &Proxy{maxBody: 1 << 20}}
		got, r, ok := rc.parseRequest(head, map[string]*route{"p": rt})
		if !ok {
			return
		}
		if got != rt {
			t.Fatal("wrong route")
		}
		std, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			t.Fatalf("the fast path took a request net/http refuses (%v): %q", err, head)
		}
		if std.Method != string(r.method) || std.RequestURI != string(r.target) || std.ContentLength != max(r.contentLength, 0) || std.Close != r.close {
			t.Fatalf("disagrees with net/http: %q %q %d %v vs %q %q %d %v", std.Method, std.RequestURI, std.ContentLength, std.Close,
				r.method, r.target, r.contentLength, r.close)
		}
		up := appendUpstreamHead(nil, rt, head, &r, nil)
		up = append(up, raw[e:]...)
		out, err := http.ReadRequest(bufio.NewReader(strings.NewReader(string(up))))
		if err != nil {
			t.Fatalf("upstream request unreadable (%v): %q", err, up)
		}
		if out.Host != "up.example:8080" || out.ContentLength != max(r.contentLength, 0) || len(out.TransferEncoding) > 0 {
			t.Fatalf("upstream request: host %q length %d te %v", out.Host, out.ContentLength, out.TransferEncoding)
		}
		for _, h := range []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization", "Upgrade"} {
			if _, ok := out.Header[h]; ok {
				t.Fatalf("hop-by-hop %s forwarded: %q", h, up)
			}
		}
		if !strings.HasPrefix(out.URL.Path, "/base/") && out.URL.Path != "/base" {
			t.Fatalf("upstream path %q outside the base", out.URL.Path)
		}
	})
}
