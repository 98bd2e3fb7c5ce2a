package proxy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/headroomhq/headroom/collector"
	"github.com/headroomhq/headroom/parsers"
)

// The fast path: one goroutine per client connection reads a request head,
// writes the request (head rewritten, body as sent) to a pooled upstream
// connection in one write, and relays the response back as it arrives, the
// raw bytes unchanged apart from hop-by-hop fields. Rate-limit headers,
// 429 bodies and token usage are observed on the side exactly as on the
// net/http path (modifyResponse, observedBody), and calls finish through the
// same callState.

const (
	// clientBufSize bounds request heads on the fast path; larger heads go
	// to net/http (whose limit is 1 MiB).
	clientBufSize = 8 << 10
	// watchAfter is how long the relay waits for the upstream's answer
	// before it starts watching the client for a disconnect (which then
	// cancels the upstream request, as net/http's server does at once).
	watchAfter = 100 * time.Millisecond
)

type relayConn struct {
	s  *Server
	p  *Proxy
	c  net.Conn
	cr clientReader
	br *bufio.Reader

	idle atomic.Bool

	fs       []field         // request fields
	keep     []field         // request fields forwarded upstream
	rfs      []field         // response fields
	pf       []parsers.Field // rfs for the dialect (fieldsOf)
	hdr      http.Header     // response header, for parsers and hooks
	reqHdr   http.Header     // request header, for trace context (tracing on)
	headBuf  []byte          // a copy of the request head (tracing on)
	st       callState
	result   parsers.Result
	in       parsers.Input
	rh       respHeader // builds hdr
	js       jsonSniffer
	ss       sseSniffer
	body     []byte // 429 body, decoded, for dialects that read it
	headCopy []byte // the response head, when its body is read first (429)

	// The last credential seen on this connection and its label: clients
	// send the same key on every request, and hashing it each time is
	// measurable.
	lastCred  []byte
	lastLabel string

	lastRoute *route
	lastModel string

	comp collector.Completions // the series of the last call's metrics

	// closeAfter: the connection ends after the current response.
	closeAfter bool

	// An answer relayResponse left for serve to write (flush), and its
	// buffer from relayBufs.
	pending    []byte
	pendingBuf *[]byte
	// The call behind pending, recorded once the answer is written
	// (record); recordFn is rc.record, made once.
	rec      recording
	recordFn func()
	// The call's labels and in-flight count, made while the upstream
	// works (label); labelFn is rc.label, made once.
	lb      labeling
	labelFn func()
	// recs is odd from the moment a request may reach the upstream until
	// it is counted in flight (label), and from the moment an answer may
	// reach the client until its call is recorded (record):
	// Server.settle waits for it to change.
	recs atomic.Uint32

	// Timeouts, enforced by the Server's sweeper (deadline.go): the
	// client's idle and request-head deadlines, and the upstream's
	// response-head deadline.
	client, upstream deadline

	// Disconnect watcher (see watchAfter). watchAt is when the sweeper
	// starts it (0: not armed; expired: started).
	armed     bool
	watchArm  int64
	watchAt   atomic.Int64
	watchDone chan struct{}
	watchBuf  [1]byte
	watchN    int
	watchUp   atomic.Pointer[fconn]
	gone      atomic.Bool
}

func newRelayConn(s *Server, c net.Conn) *relayConn {
	rc := &relayConn{s: s, p: s.Proxy, c: c}
	rc.client.c = c
	rc.cr.c = c
	rc.br = bufio.NewReaderSize(&rc.cr, clientBufSize)
	rc.recordFn = rc.record
	rc.labelFn = func() { rc.label() }
	return rc
}

var relayBufs = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

func (rc *relayConn) serve() {
	handed := false
	defer func() {
		rc.s.untrack(rc)
		if !handed {
			rc.c.Close()
		}
	}()
	std := rc.s.Std
	for first := true; ; first = false {
		rc.idle.Store(true) // Shutdown closes connections waiting for a request
		if first {
			rc.client.set(rc.c, after(std.ReadHeaderTimeout))
		} else {
			if rc.s.shutting.Load() {
				return
			}
			// Also clears flush's recheck if it fired.
			rc.client.set(rc.c, after(std.IdleTimeout))
		}
		if _, err := rc.br.Peek(1); err != nil {
			return
		}
		rc.idle.Store(false)
		if rc.s.shutting.Load() {
			return
		}
		start := time.Now() // the request's first byte
		if !first {
			rc.client.set(rc.c, at(start, std.ReadHeaderTimeout))
		}
		head, ok := rc.readHead()
		if !ok {
			return
		}
		if head == nil || !rc.relay(head, start) {
			// Not ours (or not ours to decide): net/http takes the
			// connection with nothing consumed of this request.
			if rc.s.shutting.Load() {
				return
			}
			rc.client.set(rc.c, 0)
			rc.c.SetDeadline(time.Time{})
			handed = true
			rc.s.untrack(rc)
			rc.s.handoff.push(&handedConn{Conn: rc.c, br: rc.br, cr: &rc.cr})
			return
		}
		if !rc.flush() || rc.closeAfter {
			return
		}
	}
}

// flush writes the answer relayResponse left in pending (the whole of a
// response that came in one piece) and, when the connection stays open
// and nothing of a next request is buffered, waits for the next request
// in the same poller wait (writeAwait): that saves the read that would
// otherwise find nothing (EAGAIN) before the wait. Everything about the
// call (metrics, hooks, the upstream connection's return to the pool) is
// done between the write and the wait (record): the client does not wait
// for it. It reports whether the write succeeded.
//
// A client that does not wait for the answer before sending more (HTTP
// pipelining, or a FIN after its request) may have bytes in the socket
// that arrived before the wait began: the poller forgets readiness seen
// before a wait starts, so nothing would wake it. The wait is therefore
// bounded by a recheck (the sweeper's period, 50–100 ms), after which
// serve reads the socket as usual. A client that waits for its answer,
// as nearly all do, sends its next request after the write, which wakes
// the wait at once; TestFastPathPipelinedRace covers the other kind.
func (rc *relayConn) flush() bool {
	out, bp := rc.pending, rc.pendingBuf
	if bp == nil {
		return true
	}
	rc.pending, rc.pendingBuf = nil, nil
	defer func() {
		*bp = out[:0]
		relayBufs.Put(bp)
	}()
	if rc.closeAfter || rc.s.shutting.Load() || rc.br.Buffered() > 0 || len(rc.cr.pending) > 0 {
		return writeThen(rc.c, out, rc.recordFn) == nil
	}
	// Idle: Shutdown wakes connections waiting for a request. The
	// response's arrival was read just now.
	rc.idle.Store(true)
	recheck := sweepEvery
	if t := rc.s.Std.IdleTimeout; t > 0 && t < recheck {
		recheck = t
	}
	rc.client.set(rc.c, at(rc.rec.now, recheck))
	return writeAwait(rc.c, out, rc.recordFn) == nil
}

// writeThen runs then (if not nil) and writes p: what writeAwait does
// where it cannot wait.
func writeThen(c net.Conn, p []byte, then func()) error {
	if then != nil {
		then()
	}
	_, err := c.Write(p)
	return err
}

// testHookRecord, when set by a test, runs as record starts.
var testHookRecord func()

// recording is what record needs of a call whose answer flush writes.
type recording struct {
	rt     *route
	st     *callState
	fc     *fconn
	sn     sniffer
	code   int
	now    time.Time // the response head's arrival
	keepUp bool
	// The response head (rc.rfs are its fields) and the body that went
	// out with it, with the framing before it, for the usage sniffer
	// (sniff). All stay valid until the upstream connection is reused,
	// which record allows.
	head, body []byte
	fr         bodyFraming
	sniff      bool
}

// record records the call behind pending (observe, then the call's end)
// and returns its upstream connection to the pool. It runs once the
// answer is written, so the client does not wait for it; a reader of the
// metrics in between waits for it (Server.settle).
func (rc *relayConn) record() {
	w := &rc.rec
	if w.st == nil {
		return
	}
	if testHookRecord != nil {
		testHookRecord()
	}
	if w.sniff {
		w.fr.take(w.body, w.sn.write)
	}
	rc.fillHeader(w.rt, w.st, w.head)
	rc.observe(w.rt, w.st, w.code, w.now)
	rc.complete(w.st, w.sn)
	if w.keepUp && w.fc.br.Buffered() == 0 {
		rc.s.Upstream.putConn(w.rt.pool, w.fc, w.st.call.End)
	} else {
		w.fc.c.Close()
	}
	*w = recording{}
	rc.recs.Add(1) // even: recorded
}

// after is the deadline d from now, or none (0) for d <= 0.
func after(d time.Duration) int64 { return later(clock(), d) }

// at is the deadline d after t (read with time.Now: its monotonic reading
// makes this a subtraction, not another clock read).
func at(t time.Time, d time.Duration) int64 { return later(int64(t.Sub(clockStart)), d) }

// later is the deadline d after the clock value now, or none (0) for d <= 0.
func later(now int64, d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return now + int64(d)
}

// readHead peeks a complete request head. It returns nil, true when the
// head does not fit the buffer (net/http then takes the connection), and
// ok false when the client went away or was too slow.
func (rc *relayConn) readHead() (head []byte, ok bool) {
	for {
		b, _ := rc.br.Peek(rc.br.Buffered())
		if e := headEnd(b); e >= 0 {
			return b[:e], true
		}
		if rc.br.Buffered() >= rc.br.Size() {
			return nil, true
		}
		if _, err := rc.br.Peek(rc.br.Buffered() + 1); err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return nil, true
			}
			return nil, false
		}
	}
}

// request is what the fast path reads from a request head. The byte
// slices point into the client buffer and are only valid until the body is
// read; relay copies what it keeps.
type request struct {
	method, target   []byte
	targetAt         int // offset of target in the head
	nameEnd, queryAt int // in target: end of "/<provider>", start of "?" (or len)
	contentLength    int64
	close            bool
	auth, key, ctype []byte
	keepFields       []field
	hasHost          bool

	// Kept past the body read.
	isHead, replay bool
}

// parseRequest reads head strictly; ok false hands the request to net/http.
func (rc *relayConn) parseRequest(head []byte, routes map[string]*route) (*route, request, bool) {
	var r request
	i := bytes.IndexByte(head, '\n')
	if i < 2 || head[i-1] != '\r' {
		return nil, r, false
	}
	line := head[:i-1]
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 < 1 || !validFieldName(line[:sp1]) {
		return nil, r, false
	}
	rest := line[sp1+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 < 1 || string(rest[sp2+1:]) != "HTTP/1.1" {
		return nil, r, false
	}
	r.method, r.target, r.targetAt = line[:sp1], rest[:sp2], sp1+1
	if r.target[0] != '/' {
		return nil, r, false // absolute-form, asterisk-form: net/http decides
	}
	r.queryAt = len(r.target)
	for j, c := range r.target {
		if c <= ' ' || c >= 0x7f || c == '#' {
			return nil, r, false
		}
		if c == '?' && r.queryAt == len(r.target) {
			r.queryAt = j
		}
		if r.queryAt == len(r.target) && !pathChar[c] {
			// Escapes and characters net/http would escape keep its
			// rules for decoding and re-encoding the path.
			return nil, r, false
		}
	}
	path := r.target[:r.queryAt]
	name, ok := splitPathBytes(path)
	if !ok {
		return nil, r, false
	}
	r.nameEnd = 1 + len(name)
	route := routes[string(name)]
	if route == nil || route.pool == nil {
		return nil, r, false
	}
	var fs []field
	fs, ok = parseFields(head, i+1, rc.fs[:0])
	rc.fs = fs
	if !ok {
		return nil, r, false
	}
	r.contentLength = -1
	keep := rc.keep[:0]
	keyHeader := route.keyHeaderLower
	for _, f := range fs {
		n, v := f.name(head), f.value(head)
		switch {
		case is(n, "host"):
			if r.hasHost {
				return nil, r, false
			}
			r.hasHost = true
			continue
		case is(n, "content-length"):
			l := parseLength(v)
			if l < 0 || (r.contentLength >= 0 && l != r.contentLength) {
				return nil, r, false
			}
			r.contentLength = l
		case is(n, "transfer-encoding"), is(n, "expect"), is(n, "upgrade"), is(n, "trailer"):
			return nil, r, false
		case is(n, "connection"):
			switch {
			case is(v, "close"):
				r.close = true
			case is(v, "keep-alive"):
			default:
				return nil, r, false // it may name other hop-by-hop fields
			}
			continue
		case is(n, "te"):
			if !is(v, "trailers") {
				continue
			}
		case is(n, "keep-alive"), is(n, "proxy-connection"), is(n, "proxy-authorization"), is(n, "proxy-authenticate"):
			continue
		case is(n, "authorization"):
			r.auth = v
		case is(n, "content-type"):
			r.ctype = v
		case keyHeader != "" && is(n, keyHeader):
			r.key = v
		case is(n, "traceparent"), is(n, "tracestate"):
		}
		keep = append(keep, f)
	}
	if !r.hasHost {
		return nil, r, false
	}
	if r.contentLength > maxFastBody || (rc.p.maxBody > 0 && r.contentLength > rc.p.maxBody) {
		return nil, r, false
	}
	r.keepFields = keep
	rc.keep = keep
	return route, r, true
}

// pathChar marks what the fast path takes verbatim in a path: RFC 3986
// unreserved characters, sub-delims, ':', '@' and '/' — the characters
// net/url leaves as they are, so both paths send the same request line.
var pathChar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "-._~!$&'()*+,;=:@/" {
		t[c] = true
	}
	return t
}()

// splitPathBytes returns the provider name of "/name/rest", refusing dot
// segments anywhere (as splitProvider does).
func splitPathBytes(path []byte) (name []byte, ok bool) {
	if len(path) < 2 || path[0] != '/' {
		return nil, false
	}
	for rest := path[1:]; ; {
		seg := rest
		i := bytes.IndexByte(rest, '/')
		if i >= 0 {
			seg = rest[:i]
		}
		if len(seg) <= 2 && len(seg) > 0 && (string(seg) == "." || string(seg) == "..") {
			return nil, false
		}
		if i < 0 {
			break
		}
		rest = rest[i+1:]
	}
	if i := bytes.IndexByte(path[1:], '/'); i >= 0 {
		return path[1 : i+1], true
	}
	return path[1:], true
}

// methodString avoids allocating the common method names.
func methodString(m []byte) string {
	switch string(m) {
	case "POST":
		return http.MethodPost
	case "GET":
		return http.MethodGet
	case "HEAD":
		return http.MethodHead
	case "PUT":
		return http.MethodPut
	case "DELETE":
		return http.MethodDelete
	case "OPTIONS":
		return http.MethodOptions
	case "PATCH":
		return http.MethodPatch
	}
	return string(m)
}

// relay forwards one request. It returns false, having consumed nothing,
// when the request is for net/http; otherwise the request has been
// answered and rc.closeAfter says whether the connection must close.
func (rc *relayConn) relay(head []byte, start time.Time) bool {
	p := rc.p
	routes := *p.routes.Load()
	rt, r, ok := rc.parseRequest(head, routes)
	if !ok {
		return false
	}
	rc.closeAfter = r.close
	method := methodString(r.method)
	r.isHead = method == http.MethodHead
	r.replay = r.contentLength <= 0 && (method == http.MethodGet || r.isHead || method == http.MethodOptions)
	key := rc.keyLabel(rt, &r)
	wantModel := r.contentLength > 0 && method != http.MethodGet && !r.isHead && isJSONBytes(r.ctype)
	path := ""
	if len(p.hooks) > 0 || p.tracer != nil {
		path = string(r.target[r.nameEnd:r.queryAt])
	}

	// The upstream request: rewritten head, then the body, in one buffer.
	bp := relayBufs.Get().(*[]byte)
	defer relayBufs.Put(bp)
	// With tracing on, the head is written once the span exists (below):
	// the buffer then holds only the body, and the client's head is kept.
	var out, hc []byte
	if p.tracer != nil {
		rc.headBuf = append(rc.headBuf[:0], head...)
		hc = rc.headBuf
		out = (*bp)[:0]
	} else {
		out = appendUpstreamHead((*bp)[:0], rt, head, &r, nil)
	}
	bodyAt := len(out)
	rc.br.Discard(len(head))
	rc.client.set(rc.c, 0) // bodies are not bound by the header timeout
	var body []byte
	if r.contentLength > 0 {
		out = growLen(out, int(r.contentLength))
		*bp = out[:0]
		if _, err := io.ReadFull(rc.br, out[bodyAt:]); err != nil {
			// The client left mid-body: nothing was sent upstream.
			rc.closeAfter = true
			l := p.coll.Labels(rt.cfg.Name, "", key)
			p.coll.ObserveCompletion(l, 499, time.Since(start), 0, 0)
			return true
		}
		body = out[bodyAt:]
	}
	// head and r's slices are stale from here on.

	st := &rc.st
	*st = callState{p: p, route: rt, comp: &rc.comp}
	st.call = Call{
		Provider: rt.cfg.Name, Method: method, Path: path, Upstream: rt.cfg.Upstream.Host, Start: start,
	}
	rc.result.Reset()
	// The labels (the model from the body) and the in-flight count are
	// made while the upstream works on the request (label, which
	// writeAwait runs after the write), unless the span needs them first.
	rc.lb = labeling{st: st, key: key, body: body, wantModel: wantModel}
	if p.tracer != nil {
		// The span starts now that the model is known; the upstream gets
		// its context in place of the caller's (as rewrite does).
		model := rc.label()
		r.method, r.target = hc[:len(r.method)], hc[r.targetAt:r.targetAt+len(r.target)]
		if rc.reqHdr == nil {
			rc.reqHdr = http.Header{}
		}
		fillHeader(rc.reqHdr, hc, r.keepFields, nil)
		ctx := p.startSpan(context.Background(), st, &spanRequest{method: method, header: rc.reqHdr, rawQuery: queryOf(&r)}, model)
		inj := http.Header{}
		p.tracer.Inject(ctx, inj)
		tp := relayBufs.Get().(*[]byte)
		defer relayBufs.Put(tp)
		traced := appendUpstreamHead((*tp)[:0], rt, hc, &r, inj)
		traced = append(traced, body...)
		*tp = traced[:0]
		out = traced
	}
	rc.exchange(rt, &r, st, out)
	if rc.rec.st == nil { // else flush records it
		rc.endCall(st)
	}
	return true
}

// appendUpstreamHead appends the request head sent upstream: the target
// under the upstream's base path, its Host, and the client's fields minus
// hop-by-hop ones, in the client's order and spelling.
func appendUpstreamHead(out []byte, rt *route, head []byte, r *request, inject http.Header) []byte {
	out = append(out, r.method...)
	out = append(out, ' ')
	pathStart := len(out)
	out = append(out, rt.basePath...)
	out = append(out, r.target[r.nameEnd:r.queryAt]...)
	if len(out) == pathStart {
		out = append(out, '/')
	}
	out = append(out, r.target[r.queryAt:]...)
	out = append(out, " HTTP/1.1\r\nHost: "...)
	out = append(out, rt.cfg.Upstream.Host...)
	out = append(out, "\r\n"...)
	for _, f := range r.keepFields {
		if inject != nil {
			if _, ok := inject[canonicalKey(f.name(head))]; ok {
				continue
			}
		}
		out = append(out, head[f.n0:f.v1]...)
		out = append(out, "\r\n"...)
	}
	for k, vs := range inject {
		for _, v := range vs {
			out = append(out, k...)
			out = append(out, ": "...)
			out = append(out, v...)
			out = append(out, "\r\n"...)
		}
	}
	return append(out, "\r\n"...)
}

// queryOf is the raw query of r's target, without "?".
func queryOf(r *request) string {
	if r.queryAt < len(r.target) {
		return string(r.target[r.queryAt+1:])
	}
	return ""
}

func growLen(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		nb := make([]byte, len(b), len(b)+n)
		copy(nb, b)
		b = nb
	}
	return b[:len(b)+n]
}

func isJSONBytes(ct []byte) bool {
	return len(ct) == 0 || bytes.Contains(ct, []byte("json"))
}

// keyLabel is the key label of r (keyid's rules), cached per connection.
func (rc *relayConn) keyLabel(rt *route, r *request) string {
	cred := r.key
	if len(cred) == 0 {
		cred = r.auth
		if len(cred) > 7 && is(cred[:7], "bearer ") {
			cred = bytes.TrimSpace(cred[7:])
		}
	}
	if rc.lastLabel != "" && bytes.Equal(cred, rc.lastCred) && rc.lastRoute == rt {
		return rc.lastLabel
	}
	l := rt.keys.LabelOf(cred)
	rc.lastCred = append(rc.lastCred[:0], cred...)
	rc.lastLabel, rc.lastRoute = l, rt
	return l
}

// labeling is what label needs of a call not yet labelled.
type labeling struct {
	st        *callState // nil: labelled
	key       string
	body      []byte
	wantModel bool
	// bracketed: recs was made odd before the request was written
	// upstream, so that a metrics read waits for the count.
	bracketed bool
}

// label sets the call's labels (with the model from the request body) and
// counts it in flight, once per call. It returns the model as sent (the
// label may be capped).
func (rc *relayConn) label() string {
	lb := &rc.lb
	st := lb.st
	if st == nil {
		return ""
	}
	model := ""
	var body []byte // JSON, for max_tokens
	if lb.wantModel {
		model = reuse(&rc.lastModel, findTopLevelBytes(lb.body, "model"))
		body = lb.body
	}
	p := rc.p
	st.call.Labels = p.coll.Labels(st.call.Provider, model, lb.key)
	st.inflight = p.coll.InflightCached(&rc.comp, st.call.Labels)
	st.inflight.Inc()
	p.decideStart(st, st.call.Labels, body)
	if lb.bracketed {
		rc.recs.Add(1) // even: counted
	}
	*lb = labeling{}
	return model
}

// exchange sends req (head and body in one buffer) upstream and relays the
// answer, retrying once on a reused connection that turned out to be dead.
func (rc *relayConn) exchange(rt *route, r *request, st *callState, req []byte) {
	t := rc.s.Upstream
	for attempt := 0; ; attempt++ {
		fc, err := t.getConn(context.Background(), rt.pool, st.call.Start)
		if err != nil {
			rc.label()
			rc.fail(st, err)
			return
		}
		if !rc.roundTrip(rt, r, st, fc, req, attempt == 0) {
			return
		}
	}
}

// roundTrip runs one attempt on fc. It returns true (having answered
// nothing) when the request may be sent again on a new connection: on the
// first attempt, a reused connection that failed before taking the request,
// or before any byte of an answer to a replayable one (http.Transport's
// rules).
func (rc *relayConn) roundTrip(rt *route, r *request, st *callState, fc *fconn, req []byte, first bool) (retry bool) {
	t := rc.s.Upstream
	// The response-head deadline and the disconnect watcher are armed
	// before the write: writeAwait writes and waits for the answer in one.
	now := clock()
	rc.upstream.set(fc.c, later(now, t.header))
	rc.startWatch(fc, now)
	// Whoever sees the request arrive upstream and then reads the metrics
	// finds it counted in flight (TestInflightCounts): recs is odd until
	// label, which runs right after the write, has counted it.
	var then func()
	if rc.lb.st != nil {
		rc.lb.bracketed = true
		rc.recs.Add(1)
		then = rc.labelFn
	}
	werr := writeAwait(fc.c, req, then)
	if werr != nil {
		rc.upstream.set(fc.c, 0)
		if rc.stopWatch() {
			rc.clientGone(st, fc)
			return false
		}
		if fc.used && first {
			fc.c.Close()
			return true
		}
		// The upstream may have answered and closed before reading the
		// whole request (an early 413 or 429): read what it sent.
		fc.c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		rc.startWatch(fc, clock())
	}
	fc.lr.n = maxResponseHeader
	var head []byte
	var owned bool
	var err error
	for n1xx := 0; ; n1xx++ {
		head, owned, err = readResponseHead(fc.br)
		if err != nil {
			break
		}
		code := statusOf(head)
		if code < 100 || code >= 200 {
			break
		}
		if code == http.StatusSwitchingProtocols || n1xx >= 5 {
			err = errors.New("proxy: unexpected 1xx response")
			break
		}
		// Informational answers (103 Early Hints) go to the client as sent.
		if _, werr := rc.c.Write(head); werr != nil {
			err = werr
			break
		}
		if !owned {
			fc.br.Discard(len(head))
		}
	}
	if err != nil {
		if rc.stopWatch() {
			rc.clientGone(st, fc)
			return false
		}
		fc.c.Close()
		if werr != nil {
			err = werr
		}
		if fc.used && first && r.replay && fc.lr.n == maxResponseHeader && fc.br.Buffered() == 0 && isConnGone(err) {
			return true
		}
		rc.fail(st, err)
		return false
	}
	fc.lr.n = 1<<62 - 1
	if werr != nil {
		fc.c.SetReadDeadline(time.Time{})
	} else {
		rc.upstream.set(fc.c, 0)
	}
	rc.relayResponse(rt, r, st, fc, head, owned, werr != nil)
	return false
}

// clientGone ends a call whose client left while the upstream had not
// answered yet: the upstream request is abandoned (its connection closed),
// as net/http's server cancels it, and the call counts as 499.
func (rc *relayConn) clientGone(st *callState, fc *fconn) {
	fc.c.Close()
	st.call.Status, st.call.UpstreamErr = 499, "client_closed"
	rc.closeAfter = true
	st.finish()
}

// readResponseHead returns the next response head in br. A head that fits
// br's buffer stays there (owned false: the caller discards it once used);
// a larger one (legal, if rare) is read out of br into a buffer of its own,
// up to maxResponseHeader.
func readResponseHead(br *bufio.Reader) (head []byte, owned bool, err error) {
	for {
		b, _ := br.Peek(br.Buffered())
		if e := headEnd(b); e >= 0 {
			return b[:e], false, nil
		}
		if _, err := br.Peek(br.Buffered() + 1); err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return readLargeHead(br)
			}
			if err == io.EOF && br.Buffered() > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, false, err
		}
	}
}

func readLargeHead(br *bufio.Reader) ([]byte, bool, error) {
	var acc []byte
	for {
		b, _ := br.Peek(br.Buffered())
		// The end may straddle what was accumulated and what is new.
		from := max(len(acc)-3, 0)
		acc = append(acc, b...)
		if e := headEnd(acc[from:]); e >= 0 {
			end := from + e
			br.Discard(len(b) - (len(acc) - end))
			return acc[:end], true, nil
		}
		br.Discard(len(b))
		if len(acc) > maxResponseHeader {
			return nil, true, errHeaderTooLarge
		}
		if _, err := br.Peek(1); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, true, err
		}
	}
}

// statusOf returns the status code of a response head, or 0.
func statusOf(head []byte) int {
	if len(head) < 12 || !bytes.HasPrefix(head, []byte("HTTP/1.")) || head[8] != ' ' {
		return 0
	}
	c := head[9:12]
	if c[0] < '1' || c[0] > '9' || c[1] < '0' || c[1] > '9' || c[2] < '0' || c[2] > '9' {
		return 0
	}
	if len(head) > 12 && head[12] != ' ' && head[12] != '\r' {
		return 0
	}
	return int(c[0]-'0')*100 + int(c[1]-'0')*10 + int(c[2]-'0')
}

var errBadResponse = errors.New("proxy: malformed response from upstream")

// relayResponse parses the response head, observes it, and relays head and
// body to the client.
func (rc *relayConn) relayResponse(rt *route, r *request, st *callState, fc *fconn, head []byte, owned, upstreamClosing bool) {
	p := rc.p
	now := time.Now()
	code := statusOf(head)
	eol := bytes.IndexByte(head, '\n')
	var ok bool
	rc.rfs, ok = parseFields(head, eol+1, rc.rfs[:0])
	if code == 0 || !ok || eol < 0 || head[eol-1] != '\r' {
		fc.c.Close()
		rc.fail(st, errBadResponse)
		return
	}
	http10 := head[7] == '0'
	var fr bodyFraming
	fr.mode = modeClose
	cl := int64(-1)
	keepUp := !http10 && !upstreamClosing
	te := false
	var connTokens, ctype, cenc []byte
	hasCtype, hasCenc := false, false
	for _, f := range rc.rfs {
		n, v := f.name(head), f.value(head)
		switch {
		case is(n, "content-type"):
			if !hasCtype { // http.Header.Get's value: the first
				ctype, hasCtype = v, true
			}
		case is(n, "content-encoding"):
			if !hasCenc {
				cenc, hasCenc = v, true
			}
		case is(n, "content-length"):
			l := parseLength(v)
			if l < 0 || (cl >= 0 && l != cl) {
				fc.c.Close()
				rc.fail(st, errBadResponse)
				return
			}
			cl = l
		case is(n, "transfer-encoding"):
			te = true
			if lastToken(v, "chunked") {
				fr.mode = modeChunked
			}
		case is(n, "connection"):
			connTokens = v
			if hasToken(v, "close") {
				keepUp = false
			} else if http10 && hasToken(v, "keep-alive") {
				keepUp = true
			}
		}
	}
	switch {
	case r.isHead, code == 204, code == 304:
		fr.mode = modeNone
	case te:
		cl = -1 // Transfer-Encoding overrides Content-Length (RFC 9112 6.3)
	case cl >= 0:
		fr.mode, fr.remain = modeLength, cl
		if cl == 0 {
			fr.mode = modeNone
		}
	}
	if fr.mode == modeClose {
		keepUp = false
		rc.closeAfter = true
	}

	// Observe: the same steps as modifyResponse. The header the dialect
	// and hooks read (fillHeader) is built once the answer is out when it
	// goes out in one piece (record), else before the first write.
	st.call.Received = now
	st.call.Status = code
	st.call.Streamed = isEventStreamBytes(ctype)
	var sn sniffer
	if code < 300 && identityEncodingBytes(cenc) {
		if st.call.Streamed {
			rc.ss.reset()
			sn = &rc.ss
		} else if isJSONBytes(ctype) {
			rc.js.head, rc.js.tail = rc.js.head[:0], rc.js.tail[:0]
			sn = &rc.js
		}
	}

	// The client's head: status line and fields as sent, minus hop-by-hop
	// fields, plus Connection: close when this connection ends after it.
	bp := relayBufs.Get().(*[]byte)
	defer func() {
		if rc.pendingBuf != bp {
			relayBufs.Put(bp)
		}
	}()
	out := appendClientHead((*bp)[:0], head, rc.rfs, connTokens, te)
	out = rc.appendPacing(out, head, rc.rfs, st)
	if rc.closeAfter || rc.s.shutting.Load() {
		out = append(out, "Connection: close\r\n"...)
		rc.closeAfter = true
	}
	out = append(out, "\r\n"...)
	if !owned {
		fc.br.Discard(len(head))
	}

	in := &rc.in // a field: through the Dialect interface it would escape
	*in = parsers.Input{Status: code, Received: now}
	var rerr error
	// The body bytes that go out with the head, and the framing before
	// them: the usage sniffer reads them after the write when the answer
	// is whole (record), before it otherwise.
	bodyAt, fr0, sniffed := len(out), fr, true
	if rt.cfg.Dialect.WantsBody(code) && fr.mode != modeNone {
		if !owned {
			// Reading the body may refill fc.br from its start, where
			// head is, and the dialect reads head after the body
			// (TestFastPathAnswersInPieces): it reads a copy.
			rc.headCopy = append(rc.headCopy[:0], head...)
			head = rc.headCopy
		}
		// Buffer (raw) up to maxPeek of body, decoded for the dialect.
		rc.body = rc.body[:0]
		for !fr.done() && len(rc.body) < maxPeek && rerr == nil {
			var b []byte
			b, rerr = peekSome(fc.br)
			k, ferr := fr.take(b, func(d []byte) { rc.body = append(rc.body, d...) })
			firstChunk(st, k)
			out = append(out, b[:k]...)
			fc.br.Discard(k)
			if ferr != nil {
				rerr = ferr
			}
		}
		if fr.mode == modeClose && rerr == io.EOF {
			rerr = nil
			fr.mode = modeNone
		}
		in.Body = rc.body // for observe
		if sn != nil {
			sn.write(rc.body)
		}
	} else if b := peekBuffered(fc.br); len(b) > 0 {
		// What arrived with the head goes out with it: one write for a
		// small response.
		k, ferr := fr.take(b, nil)
		sniffed = sn == nil
		firstChunk(st, k)
		out = append(out, b[:k]...)
		fc.br.Discard(k)
		rerr = ferr
	}
	var gone bool
	if fr.done() && rerr == nil && p.tracer == nil && !rc.closeAfter {
		// The whole answer is in out: serve writes it, together with the
		// wait for the next request (flush), and records the call right
		// after the write (record).
		if gone = rc.stopWatch(); !gone {
			rc.pending, rc.pendingBuf = out, bp
			rc.rec = recording{rt: rt, st: st, fc: fc, sn: sn, code: code, now: now, keepUp: keepUp,
				head: head, body: out[bodyAt:], fr: fr0, sniff: !sniffed}
			rc.recs.Add(1) // odd: the answer may be out before the call is recorded
			return
		}
	}
	if !sniffed {
		fr0.take(out[bodyAt:], sn.write)
	}
	rc.fillHeader(rt, st, head)
	rc.observe(rt, st, code, now)

	// Otherwise the call is recorded before the write that completes the
	// response: a client that reads its answer and then the metrics sees
	// its call counted (as on net/http's path, where this happens at the
	// body's EOF, before the server sends the last bytes).
	complete := func() {
		rc.complete(st, sn)
		sn = nil
	}
	if fr.done() && rerr == nil {
		complete()
	}
	_, werr := rc.c.Write(out)
	*bp = out[:0]
	for werr == nil && rerr == nil && !fr.done() {
		var b []byte
		b, rerr = peekSome(fc.br)
		if len(b) == 0 {
			break
		}
		k, ferr := fr.take(b, sinkOf(sn))
		firstChunk(st, k)
		if ferr != nil {
			rerr = ferr
		} else if fr.done() {
			complete()
		}
		_, werr = rc.c.Write(b[:k])
		fc.br.Discard(k)
	}
	if fr.mode == modeClose && rerr == io.EOF {
		rerr, fr.mode = nil, modeNone
	}
	gone = rc.stopWatch() || gone
	if ts := st.trace; ts != nil {
		switch {
		case werr != nil || gone:
			ts.bodyErr = "client_closed"
		case rerr != nil:
			ts.bodyErr = bodyErrorType(rerr)
		case !fr.done():
			ts.bodyErr = "reset"
		}
	}
	switch {
	case werr != nil || gone:
		// The client left: the rest of the answer is not read.
		fc.c.Close()
		rc.closeAfter = true
	case rerr != nil || !fr.done():
		// The upstream broke off mid-body; closing is the only way to
		// tell the client the response is incomplete.
		fc.c.Close()
		rc.closeAfter = true
	case keepUp && fc.br.Buffered() == 0:
		rc.s.Upstream.putConn(rt.pool, fc, st.call.End) // End: just now
	default:
		fc.c.Close()
	}
	complete()
}

// fillHeader gives the dialect, hooks and spans the response header from
// head and its fields (rc.rfs): as an http.Header (rc.hdr), or, when only
// the dialect reads it and can read fields, as the fields themselves.
func (rc *relayConn) fillHeader(rt *route, st *callState, head []byte) {
	if rt.fieldsOnly {
		rc.in.Header, st.call.Header = nil, nil
		rc.in.Fields = rc.fieldsOf(head)
		return
	}
	rc.hdr = rc.rh.fill(head, rc.rfs, len(rc.p.hooks) > 0)
	st.call.Header = rc.hdr
	rc.in.Header, rc.in.Fields = rc.hdr, nil
}

// fieldsOf is rc.rfs as the dialect reads them, their strings pointing
// into head, not copied: parsers.Input.Fields are read only during Parse
// (observe), which runs before anything can overwrite head, and a dialect
// keeps none of them (TestGolden and FuzzDialects check with a buffer
// overwritten after the parse).
func (rc *relayConn) fieldsOf(head []byte) []parsers.Field {
	pf := rc.pf[:0]
	for _, f := range rc.rfs {
		pf = append(pf, parsers.Field{Name: bytesString(f.name(head)), Value: bytesString(f.value(head))})
	}
	rc.pf = pf
	return pf
}

// bytesString is b as a string sharing its memory (see fieldsOf).
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// observe parses the response (rc.in) for the dialect and records its
// rate limits.
func (rc *relayConn) observe(rt *route, st *callState, code int, now time.Time) {
	p, in := rc.p, &rc.in
	rt.cfg.Dialect.Parse(in, &rc.result)
	in.Body, in.Fields = nil, nil
	st.result = rc.result
	p.coll.ObserveResponse(st.call.Labels, code, &rc.result, now)
	if ts := st.trace; ts != nil && p.tracer.RecordsHeaders() {
		ts.headers = p.tracer.ResponseHeaderAttributes(rc.hdr, ts.headers)
	}
}

// complete takes the usage sn saw (nil: none) and records the call.
func (rc *relayConn) complete(st *callState, sn sniffer) {
	if sn != nil {
		u := sn.usage()
		st.call.InputTok, st.call.OutputTok, st.call.RespModel = u.input, u.output, u.model
	}
	rc.endCall(st)
}

// firstChunk notes when the first body bytes arrived, for the span.
func firstChunk(st *callState, k int) {
	if ts := st.trace; ts != nil && k > 0 && ts.firstChunk.IsZero() {
		ts.firstChunk = time.Now()
	}
}

// endCall records the call (once) and ends its in-flight count.
func (rc *relayConn) endCall(st *callState) {
	st.finish()
	// A long event line or a large 429 body grew a buffer: an idle
	// keep-alive connection does not keep it.
	if cap(rc.ss.line) > keepBuffer {
		rc.ss.line = nil
	}
	if cap(rc.body) > keepBuffer {
		rc.body = nil
	}
}

// keepBuffer bounds what a connection keeps of its per-response buffers.
const keepBuffer = 16 << 10

// peekSome returns what br holds, reading once if it holds nothing.
func peekSome(br *bufio.Reader) ([]byte, error) {
	if br.Buffered() == 0 {
		if _, err := br.Peek(1); err != nil {
			return nil, err
		}
	}
	return peekBuffered(br), nil
}

func peekBuffered(br *bufio.Reader) []byte {
	b, _ := br.Peek(br.Buffered())
	return b
}

func sinkOf(sn sniffer) func([]byte) {
	if sn == nil {
		return nil
	}
	return sn.write
}

// hopByHop lists the response fields that describe one connection only
// (as httputil.ReverseProxy drops them). Transfer-Encoding stays: chunked
// bodies are relayed with their framing.
func hopByHop(n []byte) bool {
	return is(n, "connection") || is(n, "keep-alive") || is(n, "proxy-connection") || is(n, "upgrade") ||
		is(n, "proxy-authenticate") || is(n, "te")
}

// appendClientHead appends the response head the client gets, without its
// final empty line: the status line as HTTP/1.1, then the fields fs of head
// as sent, minus hop-by-hop ones, those the Connection value conn names,
// and Content-Length when te (Transfer-Encoding governs). Runs of kept
// lines are copied as they are, in one piece each: a typical answer has
// one field to drop (Connection) and a dozen to keep.
func appendClientHead(out, head []byte, fs []field, conn []byte, te bool) []byte {
	named := false // does conn name fields (not only close, keep-alive)?
	eachToken(conn, func(t []byte) {
		if len(t) > 0 && !is(t, "close") && !is(t, "keep-alive") {
			named = true
		}
	})
	out = append(out, "HTTP/1.1"...)
	run := 8 // the start of the lines not yet copied
	for _, f := range fs {
		n := f.name(head)
		if hopByHop(n) || (named && namedIn(conn, n)) || (te && is(n, "content-length")) {
			out = append(out, head[run:f.n0]...)
			run = int(f.v1) + bytes.IndexByte(head[f.v1:], '\n') + 1
		}
	}
	// head ends with the empty line (CRLF), left out.
	return append(out, head[run:len(head)-2]...)
}

// namedIn reports whether the Connection field value v names field n
// (other than the close and keep-alive options).
func namedIn(v, n []byte) bool {
	found := false
	eachToken(v, func(t []byte) {
		if len(t) == len(n) && bytes.EqualFold(t, n) && !is(t, "close") && !is(t, "keep-alive") {
			found = true
		}
	})
	return found
}

func hasToken(v []byte, tok string) bool {
	found := false
	eachToken(v, func(t []byte) {
		if is(t, tok) {
			found = true
		}
	})
	return found
}

// eachToken calls f with each comma-separated, trimmed element of v
// (without allocating, unlike bytes.Split: it runs for every field).
func eachToken(v []byte, f func([]byte)) {
	for len(v) > 0 {
		t := v
		if i := bytes.IndexByte(v, ','); i >= 0 {
			t, v = v[:i], v[i+1:]
		} else {
			v = nil
		}
		f(bytes.TrimSpace(t))
	}
}

func lastToken(v []byte, tok string) bool {
	if i := bytes.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return is(bytes.TrimSpace(v), tok)
}

// fail answers a request the upstream did not (errorHandler's rules).
func (rc *relayConn) fail(st *callState, err error) {
	if rc.gone.Load() {
		st.call.Status, st.call.UpstreamErr = 499, "client_closed"
		rc.closeAfter = true
		st.finish()
		return
	}
	status, reason, msg := classify(context.Background(), err)
	st.call.Status, st.call.UpstreamErr = status, reason
	p := rc.p
	p.coll.UpstreamError(st.call.Provider, reason)
	p.log.Warn("upstream request failed", "provider", st.call.Provider, "reason", reason, "detail", msg, "status", status)
	// Counted before the client has the answer (as everywhere on this path).
	st.finish()
	rc.writeError(status, st.call.Provider, msg)
}

// writeError writes writeError's answer on the raw connection.
func (rc *relayConn) writeError(status int, provider, msg string) {
	var b errorBody
	b.Error.Type = "headroom_error"
	b.Error.Message = msg
	b.Error.Provider = provider
	var body bytes.Buffer
	_ = json.NewEncoder(&body).Encode(&b)
	out := make([]byte, 0, 256+body.Len())
	out = append(out, "HTTP/1.1 "...)
	out = strconv.AppendInt(out, int64(status), 10)
	out = append(out, ' ')
	out = append(out, http.StatusText(status)...)
	out = append(out, "\r\nContent-Type: application/json\r\nX-Headroom-Error: 1\r\nDate: "...)
	out = time.Now().UTC().AppendFormat(out, http.TimeFormat)
	out = append(out, "\r\nContent-Length: "...)
	out = strconv.AppendInt(out, int64(body.Len()), 10)
	if rc.closeAfter {
		out = append(out, "\r\nConnection: close"...)
	}
	out = append(out, "\r\n\r\n"...)
	out = append(out, body.Bytes()...)
	if _, err := rc.c.Write(out); err != nil {
		rc.closeAfter = true
	}
}

// startWatch arms the disconnect watcher for a request waiting on fc.
func (rc *relayConn) startWatch(fc *fconn, now int64) {
	rc.gone.Store(false)
	if rc.br.Buffered() > 0 || len(rc.cr.pending) > 0 {
		return // the client already sent more: it is not gone
	}
	rc.watchUp.Store(fc)
	rc.armed = true
	if rc.watchDone == nil {
		rc.watchDone = make(chan struct{}, 1)
	}
	rc.watchArm = now + int64(watchAfter)
	rc.watchAt.Store(rc.watchArm)
}

// watch runs when the upstream is slow to answer: a read that returns
// EOF or an error means the client went away, and the upstream request is
// abandoned (its connection closed), as net/http's server cancels it.
func (rc *relayConn) watch() {
	rc.watchN = 0
	n, err := rc.c.Read(rc.watchBuf[:])
	rc.watchN = n
	if n == 0 && err != nil && !isTimeout(err) {
		rc.gone.Store(true)
		if fc := rc.watchUp.Load(); fc != nil {
			fc.c.SetDeadline(aLongTimeAgo)
		}
	}
	rc.watchDone <- struct{}{}
}

// stopWatch disarms the watcher and reports whether the client is gone.
func (rc *relayConn) stopWatch() bool {
	rc.watchUp.Store(nil)
	if !rc.armed {
		return false
	}
	rc.armed = false
	if rc.watchAt.CompareAndSwap(rc.watchArm, 0) {
		return false // not started
	}
	// Running or ran: interrupt its read and take back what it read.
	rc.c.SetReadDeadline(aLongTimeAgo)
	<-rc.watchDone
	rc.c.SetReadDeadline(time.Time{})
	rc.watchAt.Store(0)
	if rc.watchN > 0 {
		rc.cr.pending = append(rc.cr.pending[:0], rc.watchBuf[0])
	}
	return rc.gone.Load()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
