package fakeprovider

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/headroomhq/headroom/parsers"
)

// fakeClock is a settable clock safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(rfc3339 string) *fakeClock {
	t, err := time.Parse(time.RFC3339Nano, rfc3339)
	if err != nil {
		panic(err)
	}
	return &fakeClock{t: t}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func (c *fakeClock) Set(rfc3339 string) {
	t, err := time.Parse(time.RFC3339Nano, rfc3339)
	if err != nil {
		panic(err)
	}
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

type harness struct {
	t   *testing.T
	s   *Server
	srv *httptest.Server
	clk *fakeClock
	d   parsers.Dialect
}

// newHarness starts a fake for o on a real listener, with a fake clock at
// start, and the Headroom dialect of the same name.
func newHarness(t *testing.T, o Options, start string) *harness {
	t.Helper()
	// A dialect whose Headroom parser (and catalog entry) has not been
	// committed yet is skipped, not failed: the fake's table lands first.
	name := o.Dialect
	if name == "" {
		name = strings.TrimSuffix(o.Provider, "-example")
	}
	if _, speaks := dialects[name]; speaks {
		if _, ok := Parser(name); !ok {
			t.Skipf("Headroom has no %q dialect yet", name)
		}
	}
	clk := newClock(start)
	o.Now = clk.Now
	s, err := NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	d, ok := Parser(s.Dialect())
	if !ok {
		t.Fatalf("no Headroom dialect %q", s.Dialect())
	}
	return &harness{t: t, s: s, srv: srv, clk: clk, d: d}
}

type response struct {
	status int
	header http.Header
	body   string
	res    parsers.Result
}

type req struct {
	method, path, key, body string
	// header is set over the headers every SDK sends; "" removes one.
	header map[string]string
	ctx    context.Context
}

// clientHeaders writes what an SDK sends on every request (Anthropic's
// sends anthropic-version; other dialects ignore it), then extra.
func clientHeaders(h http.Header, extra map[string]string) {
	h.Set("anthropic-version", "2023-06-01")
	for k, v := range extra {
		if v == "" {
			h.Del(k)
			continue
		}
		h.Set(k, v)
	}
}

func (h *harness) do(r req) *response {
	h.t.Helper()
	if r.method == "" {
		r.method = http.MethodPost
	}
	if r.path == "" {
		r.path = "/v1/chat/completions"
	}
	if r.ctx == nil {
		r.ctx = context.Background()
	}
	hr, err := http.NewRequestWithContext(r.ctx, r.method, h.srv.URL+r.path, strings.NewReader(r.body))
	if err != nil {
		h.t.Fatal(err)
	}
	if r.key != "" {
		hr.Header.Set("Authorization", "Bearer "+r.key)
	}
	clientHeaders(hr.Header, r.header)
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	out := &response{status: resp.StatusCode, header: resp.Header, body: string(b)}
	in := parsers.Input{Status: resp.StatusCode, Header: resp.Header, Received: h.clk.Now()}
	if h.d.WantsBody(resp.StatusCode) {
		in.Body = b
	}
	h.d.Parse(&in, &out.res)
	if len(out.res.Errors) > 0 {
		h.t.Errorf("Headroom's %s dialect reported errors: %v", h.d.Name(), out.res.Errors)
	}
	return out
}

// chat posts a chat completion for model with key.
func (h *harness) chat(key, model string) *response {
	h.t.Helper()
	return h.do(req{key: key, body: chatBody(model)})
}

func chatBody(model string) string {
	return `{"model":"` + model + `","messages":[{"role":"user","content":"Hello!"}],"max_tokens":10}`
}

// chatCost is the token cost of chatBody(model): ceil(len/4) + 10.
func chatCost(model string) float64 {
	return float64((len(chatBody(model))+3)/4 + 10)
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// obs is an expected observation.
type obs struct {
	resource, window string
	limit, remaining float64
	reset            string // RFC 3339; "" for none
}

func checkObs(t *testing.T, label string, r *parsers.Result, want []obs) {
	t.Helper()
	if len(r.Observations) != len(want) {
		t.Errorf("%s: got %d observations %+v, want %d", label, len(r.Observations), r.Observations, len(want))
	}
	for _, w := range want {
		o, ok := r.Find(w.resource, w.window)
		if !ok {
			t.Errorf("%s: no %s/%s observation in %+v", label, w.resource, w.window, r.Observations)
			continue
		}
		if !o.HasLimit || o.Limit != w.limit {
			t.Errorf("%s: %s/%s limit = %v (has %v), want %v", label, w.resource, w.window, o.Limit, o.HasLimit, w.limit)
		}
		if !o.HasRemaining || o.Remaining != w.remaining {
			t.Errorf("%s: %s/%s remaining = %v (has %v), want %v", label, w.resource, w.window, o.Remaining, o.HasRemaining, w.remaining)
		}
		var wantReset time.Time
		if w.reset != "" {
			wantReset = mustTime(w.reset)
		}
		if !o.Reset.Equal(wantReset) {
			t.Errorf("%s: %s/%s reset = %v, want %v", label, w.resource, w.window, o.Reset, wantReset)
		}
	}
}
