package accesslog

import (
	"errors"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/headroomhq/headroom/calls"
)

// AccessLog is a calls.Hook that writes one line per proxied call in the
// headroom format (format.go), so another Headroom can tail it
// (HEADROOM_ACCESS_LOG). It logs the provider, model, key label (a
// fingerprint or alias, never the credential), method, path without query,
// status, duration, token usage, the normalised rate limits and, under
// "headers", the raw rate-limit headers of the response (rateLimitHeader:
// only names a dialect reads, so never Authorization, keys or cookies;
// values cut at maxHeaderValue bytes); no other headers and no bodies.
//
// CallDone only encodes the line into a buffer; a goroutine writes it out,
// so a slow disk or a blocked stdout never holds up a request. If the
// buffer passes MaxPending (the writer is stuck), lines are dropped and
// counted in headroom_access_log_dropped_lines_total.
type AccessLog struct {
	dest    string
	log     *slog.Logger
	dropped prometheus.Counter

	mu      sync.Mutex
	f       *os.File
	buf     []byte
	spare   []byte
	closed  bool
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	writeMu sync.Mutex
}

// MaxPending bounds the bytes waiting to be written.
const MaxPending = 4 << 20

// NewDroppedCounter is headroom_access_log_dropped_lines_total. It is
// exported (as 0) even when no access log is configured.
func NewDroppedCounter() prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{
		Name: "headroom_access_log_dropped_lines_total",
		Help: "Access-log lines dropped because the log could not be written fast enough.",
	})
}

// OpenAccessLog opens dest for appending ("-" is standard output); dropped
// lines are counted in dropped (NewDroppedCounter; nil for none).
func OpenAccessLog(dest string, log *slog.Logger, dropped prometheus.Counter) (*AccessLog, error) {
	if log == nil {
		log = slog.Default()
	}
	if dropped == nil {
		dropped = NewDroppedCounter()
	}
	a := &AccessLog{dest: dest, log: log, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		dropped: dropped}
	f, err := a.open()
	if err != nil {
		return nil, err
	}
	a.f = f
	go a.run()
	return a, nil
}

func (a *AccessLog) open() (*os.File, error) {
	if a.dest == "-" {
		return os.Stdout, nil
	}
	f, err := os.OpenFile(a.dest, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, errors.New("HEADROOM_ACCESS_LOG: " + err.Error())
	}
	return f, nil
}

// CallDone implements calls.Hook.
func (a *AccessLog) CallDone(c *calls.Call) {
	l := LogLine{
		Time: c.Received, Provider: c.Provider, Model: c.Labels.Model, Key: c.Labels.Key,
		Method: c.Method, Path: c.Path, Upstream: c.Upstream, Status: c.Status,
		Duration: c.End.Sub(c.Start), InputTokens: c.InputTok, OutputTokens: c.OutputTok,
		Streamed: c.Streamed, UpstreamError: c.UpstreamErr,
	}
	if l.Time.IsZero() {
		l.Time = c.End
	}
	if r := c.Result; r != nil {
		l.Observations = r.Observations
		l.RetryAfter, l.HasRetryAfter = r.RetryAfter, r.HasRetryAfter
		l.Throttled = r.ThrottledResource
	}
	a.mu.Lock()
	if a.closed || len(a.buf) > MaxPending {
		a.mu.Unlock()
		a.dropped.Inc()
		return
	}
	a.buf = appendHeaders(AppendLine(a.buf, &l), c.Header)
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

func (a *AccessLog) run() {
	defer close(a.done)
	for {
		select {
		case <-a.wake:
			a.flush()
		case <-a.stop:
			a.flush()
			return
		}
	}
}

// flush writes what is pending.
func (a *AccessLog) flush() {
	a.writeMu.Lock()
	defer a.writeMu.Unlock()
	a.mu.Lock()
	b := a.buf
	a.buf = a.spare[:0]
	f := a.f
	a.mu.Unlock()
	if len(b) > 0 {
		if _, err := f.Write(b); err != nil {
			a.log.Warn("access log: write failed; lines lost", "file", a.dest, "error", err)
		}
	}
	a.mu.Lock()
	if cap(b) <= 1<<20 {
		a.spare = b[:0]
	}
	a.mu.Unlock()
}

// Reopen reopens the file (after logrotate moved it; SIGHUP).
func (a *AccessLog) Reopen() error {
	if a.dest == "-" {
		return nil
	}
	f, err := a.open()
	if err != nil {
		return err
	}
	a.flush()
	a.writeMu.Lock()
	a.mu.Lock()
	old := a.f
	a.f = f
	a.mu.Unlock()
	a.writeMu.Unlock()
	return old.Close()
}

// Close writes what is pending and closes the file.
func (a *AccessLog) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	a.mu.Unlock()
	close(a.stop)
	<-a.done
	if a.dest == "-" {
		return nil
	}
	return a.f.Close()
}

// Bounds on the raw headers one line carries.
const (
	maxHeaderValue = 256
	maxHeaders     = 32
)

// appendHeaders adds ,"headers":{...} with h's rate-limit headers (names in
// lower case, sorted; repeated values joined with ", ") to line, which ends
// with AppendLine's "}\n".
func appendHeaders(line []byte, h http.Header) []byte {
	var buf [maxHeaders]string
	names := buf[:0]
	for k := range h {
		if len(names) < maxHeaders && rateLimitHeader(k) {
			names = append(names, k)
		}
	}
	if len(names) == 0 || len(line) < 2 {
		return line
	}
	slices.Sort(names)
	b := append(line[:len(line)-2], `,"headers":{`...)
	for i, k := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, strings.ToLower(k))
		b = append(b, ':')
		v := strings.Join(h[k], ", ")
		if len(v) > maxHeaderValue {
			v = strings.ToValidUTF8(v[:maxHeaderValue], "")
		}
		b = appendJSONString(b, v)
	}
	return append(b, '}', '}', '\n')
}

// rateLimitHeader reports whether a response header is one the dialects read
// for rate limits: *ratelimit* / *rate-limit* (x-ratelimit-*,
// anthropic-ratelimit-*, x-ms-ratelimit-*, RateLimit, RateLimit-Policy),
// anthropic-priority-*, Retry-After and Retry-After-Ms. The rule is by name
// so that credentials (Authorization, *-Key, Cookie, Set-Cookie) can never
// match.
func rateLimitHeader(name string) bool {
	if len(name) > 128 {
		return false
	}
	var lb [128]byte
	l := lb[:len(name)]
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		l[i] = c
	}
	n := string(l)
	if strings.Contains(n, "key") || strings.Contains(n, "cookie") || strings.Contains(n, "auth") || strings.Contains(n, "token-id") {
		return false
	}
	return strings.Contains(n, "ratelimit") || strings.Contains(n, "rate-limit") ||
		strings.HasPrefix(n, "anthropic-priority-") || n == "retry-after" || n == "retry-after-ms"
}
