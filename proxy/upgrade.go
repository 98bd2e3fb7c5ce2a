package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/headroomhq/headroom/parsers"
)

// A request to switch protocols (a WebSocket: OpenAI's Realtime API) is
// the one exchange fasthttp's HostClient cannot make: it closes a
// connection that answers 101. So an upgrade gets a connection of its own
// (dialled as the pool dials, TLS included); fasthttp writes the request
// and reads the answer's head on it; a 101 is relayed and both connections
// are then joined byte for byte until either side closes. Any other answer
// (401, 429, …) is relayed as an ordinary one. Either way it is one call:
// its rate-limit headers observed, counted when the session ends.

func (p *Proxy) upgrade(ctx *fasthttp.RequestCtx, rt *route, rest []byte, key string, start time.Time) {
	c := p.calls.Get().(*call)
	c.reset(p, rt, ctx)
	inf := &c.info
	inf.Provider, inf.Method, inf.Upstream, inf.Start = rt.cfg.Name, string(ctx.Method()), rt.cfg.Upstream.Host, start
	inf.Path = rt.cfg.Upstream.Path + string(rest)
	// Realtime APIs name the model in the query (?model=…).
	model := string(ctx.QueryArgs().Peek("model"))
	if model == "" {
		model = pathModel(rest) // Gemini's Live API names it in the path
	}
	inf.Labels = p.coll.Labels(inf.Provider, model, key)
	c.inflight = p.coll.InflightCached(&c.comp, inf.Labels)
	c.inflight.Inc()
	c.decideStart(nil)
	if p.tracer != nil {
		c.startSpan(model)
	}
	h := &ctx.Request.Header
	c.buildRequest(h, rest)
	c.out.Header.Set("Connection", "Upgrade")
	c.out.Header.SetBytesV("Upgrade", h.Peek("Upgrade"))

	up, br, err := c.dialUpgrade()
	if err != nil {
		c.failed(err)
		return
	}
	now := time.Now()
	if c.resp.StatusCode() != http.StatusSwitchingProtocols {
		// Refused: read the (bounded) body and relay it as any answer.
		err := c.resp.ReadBody(br, maxPeek)
		up.Close()
		if err != nil {
			c.failed(err)
			return
		}
		c.relayAnswer(now)
		return
	}
	c.observeHead(now)
	// The 101 head and the session are written on the hijacked connection.
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(func(client net.Conn) {
		c.tunnel(client, up, br)
	})
}

// dialUpgrade opens a connection to the provider, sends the request and
// reads the answer's head.
func (c *call) dialUpgrade() (net.Conn, *bufio.Reader, error) {
	hc, up := c.rt.hc, c.p.up
	conn, err := hc.Dial(hc.Addr)
	if err != nil {
		return nil, nil, err
	}
	uc := conn.(*upConn)
	c.own(uc)
	bw := bufio.NewWriter(conn)
	if err := c.out.Write(bw); err == nil {
		err = bw.Flush()
	}
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	c.p.watch.add(c)
	defer c.p.watch.remove(c)
	_ = conn.SetReadDeadline(time.Now().Add(up.HeaderTimeout))
	br := bufio.NewReaderSize(conn, maxResponseHead)
	if err := c.resp.Header.Read(br); err != nil {
		conn.Close()
		return nil, nil, err
	}
	_ = conn.SetReadDeadline(time.Time{})
	uc.tunnel.Store(true)
	return conn, br, nil
}

// observeHead reads the rate limits of an answer's head (an upgrade's 101).
func (c *call) observeHead(now time.Time) {
	resp, rt := &c.resp, c.rt
	status := resp.StatusCode()
	c.info.Received, c.info.Status = now, status
	c.fields = appendFields(c.fields[:0], &resp.Header)
	in := &c.in
	*in = parsers.Input{Status: status, Fields: c.fields, Received: now}
	if !rt.fieldsOnly {
		c.info.Header = fieldsHeader(c.fields)
		in.Header = c.info.Header
	}
	rt.cfg.Dialect.Parse(in, &c.result)
	c.info.Result = &c.result
	c.p.rec.Answered(&c.info)
	if ts := c.trace; ts != nil && c.p.tracer.RecordsHeaders() {
		ts.headers = c.p.tracer.ResponseHeaderAttributes(c.info.Header, ts.headers)
	}
}

// tunnel writes the 101 to the client and joins the two connections until
// either side closes, then records the call.
func (c *call) tunnel(client, up net.Conn, br *bufio.Reader) {
	p := c.p
	id := p.tunnels.add(client, up)
	defer func() {
		p.tunnels.remove(id)
		client.Close()
		up.Close()
		c.finish(time.Now())
		c.release()
	}()
	bw := bufio.NewWriter(client)
	err := c.resp.Header.Write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		c.bodyErr("client_closed")
		return
	}
	// The client reader may hold bytes the client sent after its request
	// (fasthttp passes them in client's reader); br may hold the
	// provider's first frames.
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(up, client)
		closeWrite(up)
	}()
	// The provider's messages are read on their way (realtime.go).
	watch := newWSWatch(c, headerValue(&c.resp.Header, "Sec-WebSocket-Extensions"))
	buf := make([]byte, 32<<10)
	for {
		n, err := br.Read(buf)
		if n > 0 {
			if _, werr := client.Write(buf[:n]); werr != nil {
				break
			}
			watch.feed(buf[:n])
		}
		if err != nil {
			if err != io.EOF {
				c.bodyErr("reset")
			}
			break
		}
	}
	closeWrite(client)
	// One side is done: the session is over (WebSocket closes both ways).
	client.Close()
	up.Close()
	<-done
}

func closeWrite(c net.Conn) {
	type closeWriter interface{ CloseWrite() error }
	if cw, ok := c.(closeWriter); ok {
		_ = cw.CloseWrite()
	}
}

// tunnels are the open upgraded sessions, for shutdown.
type tunnels struct {
	mu   sync.Mutex
	next int
	m    map[int][2]net.Conn
}

func (t *tunnels) add(a, b net.Conn) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[int][2]net.Conn{}
	}
	t.next++
	t.m[t.next] = [2]net.Conn{a, b}
	return t.next
}

func (t *tunnels) remove(id int) {
	t.mu.Lock()
	delete(t.m, id)
	t.mu.Unlock()
}

func (t *tunnels) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

func (t *tunnels) closeAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, cs := range t.m {
		cs[0].Close()
		cs[1].Close()
	}
}

// headerValue is a field of an answer, found in any spelling.
func headerValue(h *fasthttp.ResponseHeader, name string) string {
	for k, v := range h.All() {
		if strings.EqualFold(b2s(k), name) {
			return string(v)
		}
	}
	return ""
}
