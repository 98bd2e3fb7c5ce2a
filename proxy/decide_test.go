package proxy

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/headroomhq/headroom/collector"
	"github.com/headroomhq/headroom/config"
	"github.com/headroomhq/headroom/decide"
	"github.com/headroomhq/headroom/internal/testtool/loopback"
	"github.com/headroomhq/headroom/keyid"
	"github.com/headroomhq/headroom/parsers"
)

// decideEnv serves provider "p" (openai dialect) at upstream with an
// admission engine fed by the collector.
func decideEnv(t *testing.T, upstream string, pacing bool) (*testServer, *decide.Engine) {
	t.Helper()
	u, _ := url.Parse(upstream)
	d, _ := parsers.Lookup("openai")
	cfg := &config.Config{Providers: []config.Provider{{Name: "p", Family: "openai", Dialect: d, Upstream: u}}}
	log := slog.New(slog.DiscardHandler)
	e := decide.New(decide.Options{Pacing: pacing, Logger: log})
	e.Update(cfg)
	coll := collector.New(collector.Options{Logger: log, Observer: e})
	coll.SetProviders([]collector.Provider{{Name: "p", Family: "openai", Dialect: "openai"}})
	o := Options{Logger: log, Upstream: testUpstream(), Decide: e}
	return serve(t, New(cfg, coll, o)), e
}

// The proxy reports each call's start with its max_tokens, and adds the
// pacing fields (when on) unless the provider sends RateLimit fields.
func TestDecideWiring(t *testing.T) {
	var n atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		switch n.Add(1) {
		case 1: // the provider's word: 10 requests and 5000 tokens left of the minute
			w.Header().Set("x-ratelimit-limit-requests", "100")
			w.Header().Set("x-ratelimit-remaining-requests", "10")
			w.Header().Set("x-ratelimit-reset-requests", "30s")
			w.Header().Set("x-ratelimit-limit-tokens", "10000")
			w.Header().Set("x-ratelimit-remaining-tokens", "5000")
			w.Header().Set("x-ratelimit-reset-tokens", "30s")
		case 4: // a provider that sends its own RateLimit fields
			w.Header().Set("RateLimit", `"p";r=1;t=2`)
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"model":"gpt-4o","usage":{"prompt_tokens":1,"completion_tokens":1}}`)
	}))
	defer up.Close()
	px, e := decideEnv(t, up.URL, true)
	post := func(body string) *http.Response {
		req, _ := http.NewRequest("POST", px.URL+"/p/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer sk-test-decide")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	// The first answer's own limits are observed before its head is
	// written: it carries them (10 left, nothing sent since).
	if r := post(`{"model":"gpt-4o","max_tokens":100}`); r.Header.Get("RateLimit") != `"requests-1m";r=10;t=30` {
		t.Fatalf("pacing fields of the first answer: %v", r.Header)
	}
	// Two calls since the observation (no new one: their answers carry no limits).
	post(`{"model":"gpt-4o","max_completion_tokens":700,"messages":[]}`)
	r := post(`{"model":"gpt-4o","max_tokens":300}`)
	// The tightest: requests 10 - 2 = 8 of 100 (tokens: 5000 - 1000 of 10000).
	if got := r.Header.Get("RateLimit"); got != `"requests-1m";r=8;t=30` && got != `"requests-1m";r=8;t=29` {
		t.Errorf("RateLimit %q", got)
	}
	if got := r.Header.Get("RateLimit-Policy"); got != `"requests-1m";q=100;w=60` {
		t.Errorf("RateLimit-Policy %q", got)
	}
	a := e.Admit(decide.Request{Provider: "p", Model: "gpt-4o", Key: keyid.Fingerprint("sk-test-decide"), Requests: 1, Tokens: 4001})
	if a.Admit || a.Limiting == nil || a.Limiting.Resource != "tokens" || a.Limiting.SentSince != 1000 || a.Limiting.Remaining != 4000 {
		t.Fatalf("max_tokens not reserved: %+v %+v", a, a.Limiting)
	}
	if r := post(`{"model":"gpt-4o"}`); strings.Contains(r.Header.Get("RateLimit"), "requests-1m") || r.Header.Get("RateLimit-Policy") != "" {
		t.Errorf("added to the provider's own RateLimit fields: %v", r.Header)
	}
}

// What the admission engine adds to the proxy's cost per request, side by
// side in one run: the proxy over loopback without an engine, with one
// (call start and end, every answer observed), and with pacing fields.
//
//	go test -run XXX -bench DecideOverhead -benchmem ./proxy
func BenchmarkDecideOverhead(b *testing.B) {
	up := loopback.Upstream(b, "")
	for _, mode := range []string{"off", "on", "pacing"} {
		b.Run(mode, func(b *testing.B) {
			u, _ := url.Parse("http://" + up)
			d, _ := parsers.Lookup("openai")
			cfg := &config.Config{Providers: []config.Provider{{Name: "openai", Family: "openai", Dialect: d, Upstream: u}}}
			log := slog.New(slog.DiscardHandler)
			o := Options{Logger: log, Upstream: &Upstream{DialTimeout: 2 * time.Second, HeaderTimeout: 2 * time.Second}}
			co := collector.Options{Logger: log}
			if mode != "off" {
				o.Decide = decide.New(decide.Options{Logger: log, Pacing: mode == "pacing"})
				o.Decide.Update(cfg)
				co.Observer = o.Decide
			}
			coll := collector.New(co)
			coll.SetProviders([]collector.Provider{{Name: "openai", Family: "openai", Dialect: "openai"}})
			c := loopback.Dial(b, serveB(b, New(cfg, coll, o)), loopback.Post("/openai/v1/chat/completions", secret, benchBody))
			loopback.Run(b, func() { c.Do(b) })
		})
	}
}
