package proxy

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/headroomhq/headroom/keyid"
)

// The rules of RFC 9112 and RFC 9110 for intermediaries that fasthttp's
// parser leaves to its user. fasthttp already refuses, with 400 and a
// closed connection, what it cannot frame: repeated or differing
// Content-Length, several Transfer-Encoding fields, a coding other than
// chunked, Transfer-Encoding on HTTP/1.0, a malformed chunked body. What it
// accepts and a proxy must not forward is refused here, as nginx refuses
// it: the request is answered, never sent upstream, and the connection
// closed.

// refusal is a request Headroom answers itself.
type refusal struct {
	status int
	msg    string
	// reason labels headroom_client_errors_total.
	reason string
}

// checkRequest applies the rules to a request whose head fasthttp parsed;
// the zero refusal means it may be forwarded.
func checkRequest(h *fasthttp.RequestHeader) refusal {
	switch {
	case h.IsConnect(), h.IsTrace():
		// A reverse proxy tunnels nothing, and TRACE would echo the
		// credentials Headroom is in front of.
		return refusal{http.StatusMethodNotAllowed, "method " + string(h.Method()) + " is not allowed", "method"}
	}
	if r := checkFraming(h); r.status != 0 {
		return r
	}
	return refusal{}
}

// checkFraming refuses what could be framed two ways (RFC 9112 §6.1, §6.3):
// a request smuggled behind one of them is the classic attack on a chain of
// proxies.
func checkFraming(h *fasthttp.RequestHeader) refusal {
	raw := h.RawHeaders()
	if hasObsFold(raw) {
		// RFC 9112 §5.2: a server must reject obs-fold or replace it;
		// nginx rejects it. A folded Transfer-Encoding could read as
		// chunked to one hop and not to the next.
		return refusal{http.StatusBadRequest, "obsolete line folding in request header", "framing"}
	}
	if h.ContentLength() == -1 && hasField(raw, "content-length") {
		// fasthttp lets Transfer-Encoding win, as RFC 9112 §6.3 allows a
		// server to; an intermediary that forwards such a request lets
		// the next hop choose otherwise.
		return refusal{http.StatusBadRequest, "request has both Content-Length and Transfer-Encoding", "framing"}
	}
	return refusal{}
}

// hasObsFold reports a field line continued on the next line (one that
// starts with a space or tab) in a raw header block.
func hasObsFold(raw []byte) bool {
	return bytes.Contains(raw, []byte("\n ")) || bytes.Contains(raw, []byte("\n\t"))
}

// hasField reports whether the raw header block has a field named name
// (lower case), at the start of a line.
func hasField(raw []byte, name string) bool {
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		if i := bytes.IndexByte(line, ':'); i >= 0 && strings.EqualFold(strings.TrimRight(b2s(line[:i]), " \t"), name) {
			return true
		}
	}
	return false
}

// credentialFields are the fields providers take keys from.
var credentialFields = []string{"Authorization", "X-Api-Key", "Api-Key"}

// credentialOf returns the request's credential (the token of
// "Authorization: Bearer <token>", the whole value for other schemes, or
// the provider's key field), refusing a credential field repeated with
// different values: the provider and Headroom could each take a different
// one, and the call would be counted against a key that did not pay for it.
func credentialOf(h *fasthttp.RequestHeader, keyHeader string) ([]byte, refusal) {
	names := credentialFields
	if keyHeader != "" && !isCredentialField(keyHeader) {
		names = append(names[:len(names):len(names)], keyHeader)
	}
	for _, n := range names {
		if vs := h.PeekAll(n); len(vs) > 1 {
			for _, v := range vs[1:] {
				if !bytes.Equal(v, vs[0]) {
					return nil, refusal{http.StatusBadRequest, "request carries " + n + " more than once with different values", "credential"}
				}
			}
		}
	}
	if keyHeader != "" {
		if v := bytes.TrimSpace(h.Peek(keyHeader)); len(v) > 0 {
			return v, refusal{}
		}
	}
	return keyid.Token(h.Peek("Authorization")), refusal{}
}

func isCredentialField(n string) bool {
	for _, c := range credentialFields {
		if strings.EqualFold(c, n) {
			return true
		}
	}
	return false
}

// splitProvider splits the raw (escaped) request path "/name/rest" into
// name and "/rest". Dot segments are refused in any spelling (".", "..",
// "%2e%2E", …): they could walk a path out of the upstream's base.
func splitProvider(raw []byte) (name string, rest []byte, ok bool) {
	if len(raw) < 2 || raw[0] != '/' {
		return "", nil, false
	}
	if bytes.IndexByte(raw, '%') >= 0 {
		dec, err := url.PathUnescape(b2s(raw))
		if err != nil || hasDotSegment(dec) {
			return "", nil, false
		}
	} else if hasDotSegment(b2s(raw)) {
		return "", nil, false
	}
	i := bytes.IndexByte(raw[1:], '/')
	if i < 0 {
		return string(raw[1:]), nil, true
	}
	return b2s(raw[1 : i+1]), raw[i+1:], true
}

func hasDotSegment(p string) bool {
	for p != "" {
		seg := p
		if i := strings.IndexByte(p, '/'); i >= 0 {
			seg, p = p[:i], p[i+1:]
		} else {
			p = ""
		}
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// hopByHop are the fields that describe one connection, not the message
// (RFC 9110 §7.6.1); a proxy drops them, and the fields Connection names.
var hopByHop = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization", "Proxy-Authenticate", "TE", "Trailer", "Transfer-Encoding", "Upgrade"}
