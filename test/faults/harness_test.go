// Package faults runs the real agent (internal/agent, as cmd/exporter does)
// in front of misbehaving upstreams written with raw TCP, and in front of
// misbehaving clients, and checks that every client gets the upstream's
// answer or a clear 502/504 within a deadline, that nothing hangs or leaks,
// and that nothing nonsensical or secret reaches /metrics or the logs.
//
// `go test ./test/faults` runs everything at a reduced size; add
// `-args -long` (or `go test ./test/faults -long`) for the full-size
// cardinality attack (100k calls) and a 5-minute soak.
package faults

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/headroomhq/headroom/config"
	"github.com/headroomhq/headroom/internal/agent"
	"github.com/headroomhq/headroom/internal/testenv"
)

var long = flag.Bool("long", false, "run the full-size cardinality attack and the multi-minute soak")

// TestMain doubles as the agent binary for the soak test, which runs the
// agent in a child process (this test binary, re-executed) so that its RSS
// and goroutines can be sampled apart from the load generator's.
func TestMain(m *testing.M) {
	if os.Getenv("FAULTS_RUN_AGENT") == "1" {
		os.Exit(runAgentProcess())
	}
	os.Exit(m.Run())
}

// runAgentProcess is the child's main: unlike startAgent it has no
// *testing.T and takes every setting (providers file, addresses, log level)
// from the environment the parent gave it, so it builds the agent itself
// rather than through testenv.Start; only the shutdown is shared.
func runAgentProcess() int {
	s, err := config.LoadSettings()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := agent.New(s, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := a.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// The parent reads the bound addresses from stdout.
	fmt.Printf("proxy=%s metrics=%s\n", a.ProxyAddr, a.MetricsAddr)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	<-sigs
	testenv.Shutdown(a)
	return 0
}

// deadline is how long any single client call may take before the test
// calls it a hang.
const deadline = 10 * time.Second

// env is one running agent with its providers.
type env struct {
	t      *testing.T
	agent  *agent.Agent
	logs   *testenv.LogBuffer
	client *http.Client
	base   int // goroutines once everything was started, before traffic
}

type provider struct {
	name, dialect, upstream string
}

type envOption func(*config.Settings)

func headerTimeout(d time.Duration) envOption {
	return func(s *config.Settings) { s.UpstreamHeaderTimeout = d }
}

func caps(models, keys int) envOption {
	return func(s *config.Settings) { s.MaxModelsPerProvider, s.MaxKeysPerProvider = models, keys }
}

// startAgent runs the agent in this process with a providers file naming
// ps, logging at debug level into env.logs.
func startAgent(t *testing.T, ps []provider, opts ...envOption) *env {
	t.Helper()
	var y strings.Builder
	y.WriteString("providers:\n")
	for _, p := range ps {
		fmt.Fprintf(&y, "  - name: %s\n    dialect: %s\n    upstream: %s\n", p.name, p.dialect, p.upstream)
	}
	logs := &testenv.LogBuffer{}
	a := testenv.Start(t, testenv.Options{
		ProvidersYAML: y.String(),
		Settings: func(s *config.Settings) {
			s.LogLevel = "debug"
			for _, o := range opts {
				o(s)
			}
		},
		Logger: testenv.DebugLogger(logs),
	})
	e := &env{t: t, agent: a, logs: logs, client: &http.Client{
		Timeout: deadline,
		// Never follow a redirect: what the proxy returned is what we test.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true},
	}}
	// Registered after testenv.Start's cleanup, so it runs first: the
	// client's idle connections close before the agent shuts down.
	t.Cleanup(e.client.CloseIdleConnections)
	e.base = countGoroutines()
	return e
}

func (e *env) url(path string) string { return "http://" + e.agent.ProxyAddr + path }

type reply struct {
	status int
	header http.Header
	body   []byte
	err    error // transport or body error; the status may still be set
	took   time.Duration
}

// do sends a request through the proxy and reads the whole answer. It
// fails the test if the call takes longer than deadline.
func (e *env) do(method, path string, body []byte, hdr ...string) reply {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url(path), bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if body == nil {
		req.Body = http.NoBody
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	start := time.Now()
	resp, err := e.client.Do(req)
	var r reply
	if err != nil {
		r.err = err
	} else {
		r.status, r.header = resp.StatusCode, resp.Header
		r.body, r.err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	r.took = time.Since(start)
	if r.took >= deadline || isTimeout(r.err) {
		e.t.Errorf("%s %s: no answer within %v (%v)", method, path, deadline, r.err)
	}
	return r
}

func isTimeout(err error) bool {
	var ne net.Error
	return err != nil && (errors.As(err, &ne) && ne.Timeout())
}

// checkLeaks fails the test if, once clients and upstreams have closed
// their connections, the goroutine count does not settle back to what it
// was before the traffic. Call it after closing upstream connections.
func (e *env) checkLeaks(upstreams ...*rawUpstream) {
	e.t.Helper()
	e.client.CloseIdleConnections()
	for _, u := range upstreams {
		u.closeConns()
	}
	const slack = 2
	limit := time.Now().Add(5 * time.Second)
	n := countGoroutines()
	for n > e.base+slack && time.Now().Before(limit) {
		time.Sleep(50 * time.Millisecond)
		n = countGoroutines()
	}
	if n > e.base+slack {
		var b bytes.Buffer
		pprof.Lookup("goroutine").WriteTo(&b, 1)
		e.t.Errorf("goroutines: %d before traffic, %d after it settled (leak?)\n%s", e.base, n, b.String())
	}
}

// libraryGoroutines are fasthttp's background goroutines: a few per
// process or per pool whatever the traffic (an idle worker kept for reuse,
// the cleaner of a connection pool, the clock of Date fields), not one per
// request. They are not counted as leaks.
var libraryGoroutines = []string{
	"fasthttp.(*workerPool).workerFunc",
	"fasthttp.(*workerPool).Start",
	"fasthttp.(*HostClient).connsCleaner",
	"fasthttp.(*TCPDialer).tcpAddrsClean",
	"fasthttp.updateServerDate",
}

// countGoroutines counts the goroutines, but for libraryGoroutines.
func countGoroutines() int {
	var b bytes.Buffer
	pprof.Lookup("goroutine").WriteTo(&b, 1)
	n := 0
	for _, group := range strings.Split(b.String(), "\n\n") {
		var count int
		if _, err := fmt.Sscanf(group, "%d @", &count); err != nil {
			continue
		}
		lib := false
		for _, f := range libraryGoroutines {
			lib = lib || strings.Contains(group, f)
		}
		if !lib {
			n += count
		}
	}
	return n
}

// scrape fetches /metrics over HTTP, as Prometheus would, returning the raw
// text and the parsed families.
func (e *env) scrape() (string, map[string]*dto.MetricFamily) {
	e.t.Helper()
	resp, err := e.client.Get("http://" + e.agent.MetricsAddr + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(raw))
	if err != nil {
		e.t.Fatal(err)
	}
	return string(raw), mfs
}

// series returns the samples of one metric as label maps with values.
type sample struct {
	labels map[string]string
	value  float64
}

func seriesOf(mfs map[string]*dto.MetricFamily, name string) []sample {
	mf := mfs[name]
	if mf == nil {
		return nil
	}
	var out []sample
	for _, m := range mf.GetMetric() {
		lv := map[string]string{}
		for _, l := range m.GetLabel() {
			lv[l.GetName()] = l.GetValue()
		}
		v := m.GetGauge().GetValue() + m.GetCounter().GetValue() + m.GetUntyped().GetValue()
		out = append(out, sample{lv, v})
	}
	return out
}

// sum adds up the samples of name matching the k=v labels.
func sum(mfs map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	var s float64
	for _, smp := range seriesOf(mfs, name) {
		if matches(smp.labels, labels) {
			s += smp.value
		}
	}
	return s
}

func matches(lv map[string]string, labels []string) bool {
	for _, kv := range labels {
		k, v, _ := strings.Cut(kv, "=")
		if lv[k] != v {
			return false
		}
	}
	return true
}

// assertSaneRateLimits: no rate-limit gauge is negative, NaN or infinite,
// and remaining never exceeds the limit of the same series.
func assertSaneRateLimits(t *testing.T, mfs map[string]*dto.MetricFamily) {
	t.Helper()
	limits := map[string]float64{}
	key := func(lv map[string]string) string {
		return lv["provider"] + "|" + lv["model"] + "|" + lv["key"] + "|" + lv["resource"] + "|" + lv["window"]
	}
	for _, name := range []string{"headroom_ratelimit_limit", "headroom_ratelimit_remaining",
		"headroom_ratelimit_reset_timestamp_seconds", "headroom_ratelimit_observed_timestamp_seconds"} {
		for _, s := range seriesOf(mfs, name) {
			if math.IsNaN(s.value) || math.IsInf(s.value, 0) || s.value < 0 || math.Signbit(s.value) {
				t.Errorf("%s%v = %v exported", name, s.labels, s.value)
			}
			if name == "headroom_ratelimit_limit" {
				limits[key(s.labels)] = s.value
			}
		}
	}
	for _, s := range seriesOf(mfs, "headroom_ratelimit_remaining") {
		if l, ok := limits[key(s.labels)]; ok && s.value > l {
			t.Errorf("remaining %v > limit %v for %v", s.value, l, s.labels)
		}
	}
}

// rawUpstream is a TCP listener whose connections are handled by a
// function: misbehaving upstreams are written against the socket, not
// net/http, so they can send exactly the bytes (or silence) a fault needs.
type rawUpstream struct {
	t      *testing.T
	ln     net.Listener
	handle func(c net.Conn, br *bufio.Reader)
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
	stop   chan struct{}
	hits   int
}

func newRawUpstream(t *testing.T, handle func(c net.Conn, br *bufio.Reader)) *rawUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &rawUpstream{t: t, ln: ln, handle: handle, conns: map[net.Conn]struct{}{}, stop: make(chan struct{})}
	u.wg.Add(1)
	go u.serve()
	t.Cleanup(u.close)
	return u
}

func (u *rawUpstream) url() string { return "http://" + u.ln.Addr().String() }

func (u *rawUpstream) serve() {
	defer u.wg.Done()
	for {
		c, err := u.ln.Accept()
		if err != nil {
			return
		}
		u.mu.Lock()
		u.conns[c] = struct{}{}
		u.hits++
		u.mu.Unlock()
		u.wg.Add(1)
		go func() {
			defer u.wg.Done()
			defer func() {
				u.mu.Lock()
				delete(u.conns, c)
				u.mu.Unlock()
				c.Close()
			}()
			u.handle(c, bufio.NewReader(c))
		}()
	}
}

func (u *rawUpstream) accepted() int { u.mu.Lock(); defer u.mu.Unlock(); return u.hits }

// stopping is closed when the test ends; handlers that wait use it.
func (u *rawUpstream) stopping() <-chan struct{} { return u.stop }

func (u *rawUpstream) closeConns() {
	u.mu.Lock()
	defer u.mu.Unlock()
	for c := range u.conns {
		c.Close()
	}
}

func (u *rawUpstream) close() {
	select {
	case <-u.stop:
		return
	default:
	}
	close(u.stop)
	u.ln.Close()
	u.closeConns()
	done := make(chan struct{})
	go func() { u.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		u.t.Errorf("upstream handlers did not return")
	}
}

// serveHTTP wraps a per-request handler for upstreams that behave at the
// HTTP level but want raw control of the response bytes: it reads each
// request (body included) and passes it on, keeping the connection alive
// while the handler returns true.
func serveHTTP(fn func(c net.Conn, req *http.Request, body []byte) (keepAlive bool)) func(net.Conn, *bufio.Reader) {
	return func(c net.Conn, br *bufio.Reader) {
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			body, err := io.ReadAll(req.Body)
			if err != nil {
				return
			}
			if !fn(c, req, body) {
				return
			}
		}
	}
}

// rateLimitHeaders is a clean openai-dialect header set.
const rateLimitHeaders = "x-ratelimit-limit-requests: 100\r\nx-ratelimit-remaining-requests: 99\r\n" +
	"x-ratelimit-reset-requests: 600ms\r\nx-ratelimit-limit-tokens: 10000\r\nx-ratelimit-remaining-tokens: 9000\r\n" +
	"x-ratelimit-reset-tokens: 6s\r\n"

// okResponse is a complete 200 JSON response with rate-limit headers.
func okResponse(body string) string {
	return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + rateLimitHeaders +
		fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body)) + body
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
