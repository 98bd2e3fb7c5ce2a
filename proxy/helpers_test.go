package proxy

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/headroomhq/headroom/collector"
	"github.com/headroomhq/headroom/config"
	"github.com/headroomhq/headroom/parsers"
)

const secret = "sk-test-SECRET-0123456789"

type env struct {
	proxy *testServer
	reg   *prometheus.Registry
	logs  *syncBuffer
	coll  *collector.Collector
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// testUpstream is what the tests' proxies reach providers with: short
// timeouts, the test servers' TLS roots added by the tests that need them.
func testUpstream() *Upstream {
	return &Upstream{DialTimeout: 2 * time.Second, HeaderTimeout: 2 * time.Second}
}

// newEnv serves provider "p" of dialect at upstream, with its own
// collector, registry and debug log; opts complete the Options.
func newEnv(t testing.TB, dialect, upstream string, opts ...func(*Options)) *env {
	t.Helper()
	u, _ := url.Parse(upstream)
	d, ok := parsers.Lookup(dialect)
	if !ok {
		t.Fatalf("no dialect %q", dialect)
	}
	cfg := &config.Config{Providers: []config.Provider{{Name: "p", Family: dialect, Dialect: d, Upstream: u}}}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	coll := collector.New(collector.Options{Logger: log})
	reg := prometheus.NewRegistry()
	coll.Register(reg)
	coll.SetProviders([]collector.Provider{{Name: "p", Family: dialect, Dialect: dialect}})
	o := Options{Logger: log, Upstream: testUpstream(), MaxRequestBody: 1 << 20}
	for _, f := range opts {
		f(&o)
	}
	px := serve(t, New(cfg, coll, o))
	return &env{proxy: px, reg: reg, logs: logs, coll: coll}
}

type testServer struct {
	URL string
	srv *Server
}

// serve runs p behind a Server on a loopback port until the test ends.
func serve(t testing.TB, p *Proxy) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Proxy: p, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute}
	done := make(chan struct{})
	go func() { s.Serve(ln); close(done) }()
	t.Cleanup(func() {
		s.Close()
		<-done
	})
	return &testServer{URL: "http://" + ln.Addr().String(), srv: s}
}

// dial opens a raw connection to the proxy, closed when the test ends.
func (s *testServer) dial(t testing.TB) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// answerInPieces is a raw upstream's handler: after each request it reads,
// it writes pieces with a pause between them long enough for each to reach
// the proxy in a read of its own, and closes after the first when close
// is set.
func answerInPieces(close bool, pieces ...string) func(net.Conn) {
	return func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			for i, p := range pieces {
				if i > 0 {
					time.Sleep(10 * time.Millisecond)
				}
				io.WriteString(c, p)
			}
			if close {
				return
			}
		}
	}
}

// exchange writes raw request bytes on a new connection and reads n
// responses (bodies read in full), and whether the proxy closed the
// connection after them.
func exchange(t *testing.T, base, raw string, n int) (out []*http.Response, closed bool) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	// The requests, for their methods (a HEAD answer has no body).
	var reqs []*http.Request
	rr := bufio.NewReader(strings.NewReader(raw))
	for {
		r, err := http.ReadRequest(rr)
		if err != nil {
			break
		}
		io.Copy(io.Discard, r.Body)
		reqs = append(reqs, r)
	}
	br := bufio.NewReader(c)
	for i := range n {
		var req *http.Request
		if i < len(reqs) {
			req = reqs[i]
		}
		resp, err := http.ReadResponse(br, req)
		for err == nil && resp.StatusCode < 200 {
			resp, err = http.ReadResponse(br, req) // 100 Continue
		}
		if err != nil {
			t.Fatalf("reading response %d: %v", len(out)+1, err)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("reading body %d: %v", len(out)+1, err)
		}
		resp.Body = io.NopCloser(bytes.NewReader(b))
		out = append(out, resp)
	}
	return out, connClosed(c, br)
}

// connClosed reports whether the peer closed c (within a second).
func connClosed(c net.Conn, br *bufio.Reader) bool {
	c.SetReadDeadline(time.Now().Add(time.Second))
	_, err := br.ReadByte()
	return err == io.EOF || (err != nil && !isTimeout(err))
}

func bodyOf(r *http.Response) string {
	b, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(b))
	return string(b)
}

func (e *env) metrics(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	mfs, _ := e.reg.Gather()
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			b.WriteString(mf.GetName())
			for _, l := range m.GetLabel() {
				b.WriteString(" " + l.GetName() + "=" + l.GetValue())
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

// value is the sum of the series of name whose labels include every
// "label=value" of match.
func (e *env) value(t *testing.T, name string, match ...string) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var v float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for _, kv := range match {
				k, want, _ := strings.Cut(kv, "=")
				if have[k] != want {
					continue series
				}
			}
			v += m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
		}
	}
	return v
}

// metricsText lists the series and values that do not depend on timing.
func (e *env) metricsText(t *testing.T) string {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, mf := range mfs {
		if strings.Contains(mf.GetName(), "duration") || strings.Contains(mf.GetName(), "timestamp") {
			continue
		}
		for _, m := range mf.GetMetric() {
			var b strings.Builder
			b.WriteString(mf.GetName())
			for _, l := range m.GetLabel() {
				b.WriteString(" " + l.GetName() + "=" + l.GetValue())
			}
			switch {
			case m.Gauge != nil:
				fmt.Fprintf(&b, " %g", m.Gauge.GetValue())
			case m.Counter != nil:
				fmt.Fprintf(&b, " %g", m.Counter.GetValue())
			}
			lines = append(lines, b.String())
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
