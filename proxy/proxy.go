// Package proxy is Headroom's reverse proxy: /<provider>/<path> is
// forwarded to that provider's upstream, unchanged and streamed both ways,
// while the answer's rate-limit headers, 429 bodies and token usage are fed
// to the collector on the side.
//
// One engine serves every request: github.com/valyala/fasthttp's server
// for the listener and its HostClient for the pools of upstream
// connections; HTTP/1.1 parsing and framing are the library's. Headroom
// adds the rules an intermediary must follow that a library leaves to its
// user (rules.go), the observation of each call (call.go, usage.go), and
// two things fasthttp cannot do, each in one file: noticing a client that
// went away while its provider is still thinking (watch.go), and relaying
// a protocol switch such as a WebSocket (upgrade.go).
//
// The rule that shapes everything here: Headroom must never be the reason
// a request fails. Observation works on copies and bounded peeks; whatever
// it finds (or fails to find) the bytes go through as they came.
package proxy

import (
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/valyala/fasthttp"

	"github.com/headroomhq/headroom/calls"
	"github.com/headroomhq/headroom/collector"
	"github.com/headroomhq/headroom/config"
	"github.com/headroomhq/headroom/decide"
	"github.com/headroomhq/headroom/keyid"
	"github.com/headroomhq/headroom/parsers"
	"github.com/headroomhq/headroom/tracing"
)

// Options tune the proxy.
type Options struct {
	// Upstream holds the connection pools; nil builds one with the
	// default timeouts (10 s to connect, 10 minutes for response heads).
	Upstream *Upstream
	Logger   *slog.Logger
	// Hooks observe each call when it is recorded (the access log).
	Hooks []calls.Hook
	// Tracer turns each call into a span (see package tracing); nil is off
	// and costs one nil check per request.
	Tracer *tracing.Tracer
	// MaxRequestBody bounds request bodies (HEADROOM_MAX_REQUEST_BODY_BYTES):
	// larger ones get 413. Zero means no limit.
	MaxRequestBody int64
	// RequestBodyTimeout is how long a request body may pause between two
	// reads (HEADROOM_REQUEST_BODY_TIMEOUT) before the client gets 408.
	// Zero is 60 s.
	RequestBodyTimeout time.Duration
	// Decide is told each call's start and end, and adds pacing fields to
	// answers (decide.go); nil is off.
	Decide *decide.Engine
}

const tooLargeMsg = "request body is larger than HEADROOM_MAX_REQUEST_BODY_BYTES"

type route struct {
	cfg  config.Provider
	keys keyid.Resolver
	hc   *fasthttp.HostClient
	// origin is "http://" and the upstream's host (TLS, if any, is the
	// dial function's); basePath its escaped path, to which the client's
	// path is appended.
	origin, basePath string
	// keyHeader is the provider's credential field when it is not
	// Authorization.
	keyHeader string
	// fieldsOnly: the dialect reads the answer's fields as received, and
	// nothing else needs an http.Header (no hooks, no header-recording
	// spans): none is built.
	fieldsOnly bool
}

// Proxy serves /<provider>/<path>: Handler is its fasthttp handler.
type Proxy struct {
	coll        *collector.Collector
	rec         *calls.Recorder
	log         *slog.Logger
	hooks       []calls.Hook
	tracer      *tracing.Tracer
	maxBody     int64
	bodyTimeout time.Duration
	up          *Upstream
	routes      atomic.Pointer[map[string]*route]
	calls       sync.Pool // *call
	tunnels     tunnels   // upgraded connections
	watch       watchList // clients of calls in progress (watch.go)
	decide      *decide.Engine
}

// New builds a proxy for cfg's providers.
func New(cfg *config.Config, coll *collector.Collector, opts Options) *Proxy {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Upstream == nil {
		opts.Upstream = &Upstream{DialTimeout: 10 * time.Second, HeaderTimeout: 10 * time.Minute}
	}
	if opts.RequestBodyTimeout <= 0 {
		opts.RequestBodyTimeout = 60 * time.Second
	}
	p := &Proxy{
		coll: coll, rec: &calls.Recorder{Coll: coll, Tracer: opts.Tracer, Hooks: opts.Hooks},
		log: opts.Logger, hooks: opts.Hooks, tracer: opts.Tracer,
		maxBody: opts.MaxRequestBody, bodyTimeout: opts.RequestBodyTimeout, up: opts.Upstream, decide: opts.Decide,
	}
	p.calls.New = func() any { return new(call) }
	p.Update(cfg)
	return p
}

// Update swaps in a new provider set (config reload). Requests already in
// flight finish on the routes they started with.
func (p *Proxy) Update(cfg *config.Config) {
	m := make(map[string]*route, len(cfg.Providers))
	for _, pc := range cfg.Providers {
		u := pc.Upstream
		rt := &route{
			cfg:  pc,
			keys: keyid.Resolver{Aliases: pc.KeyAlias},
			hc:   p.up.client(u),
			// TLS is the dial function's: fasthttp writes plain HTTP.
			origin:     "http://" + u.Host,
			basePath:   strings.TrimSuffix(u.EscapedPath(), "/"),
			keyHeader:  pc.KeyHeader,
			fieldsOnly: parsers.ReadsFields(pc.Dialect) && len(p.hooks) == 0 && !p.tracer.RecordsHeaders(),
		}
		m[pc.Name] = rt
	}
	p.routes.Store(&m)
}

// b2s views b as a string without copying; the string is valid while b
// is unchanged.
func b2s(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// s2b views s as bytes without copying; they must not be written.
func s2b(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
