package proxy

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// Server serves the proxy listener with fasthttp's server.
type Server struct {
	Proxy *Proxy
	// ReadHeaderTimeout bounds a request head (slowloris protection; the
	// first 8 KiB of a body arrive under it too). IdleTimeout bounds the
	// wait for a keep-alive connection's next request.
	ReadHeaderTimeout, IdleTimeout time.Duration
	Logger                         *slog.Logger

	srv   *fasthttp.Server
	mu    sync.Mutex
	conns map[net.Conn]struct{} // open client connections fasthttp serves
}

// maxRequestHead is the largest request head accepted (431 beyond), as
// nginx's large_client_header_buffers (8 KiB a line): it is also the
// connection's read buffer.
const maxRequestHead = 8 << 10

func (s *Server) init() {
	s.conns = map[net.Conn]struct{}{}
	p := s.Proxy
	s.srv = &fasthttp.Server{
		Handler:       p.Handler,
		ErrorHandler:  p.ErrorHandler,
		ExpectHandler: p.ExpectHandler,
		// Answers carry what the provider sent, but for Date: fasthttp
		// writes its own (nginx does the same); the dialect reads the
		// provider's.
		NoDefaultServerHeader: true,
		NoDefaultContentType:  true,
		// Request field names are canonicalised (as net/http does): the
		// fields Headroom looks up are then found in any spelling.
		// Bodies stream to the provider; multipart bodies are bytes to
		// relay, not forms to parse.
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		ReadBufferSize:               maxRequestHead,
		WriteBufferSize:              4 << 10,
		ReadTimeout:                  s.ReadHeaderTimeout,
		IdleTimeout:                  s.IdleTimeout,
		// Answers during a shutdown close their connection.
		CloseOnShutdown: true,
		// Errors name their cause, never the request bytes (a key).
		SecureErrorLogMessage: true,
		Concurrency:           1 << 20,
		// A worker goroutine idle this long is let go (fasthttp keeps them
		// 10 s): a burst's goroutines are gone soon after it, and making one
		// again costs a microsecond.
		MaxIdleWorkerDuration: 2 * time.Second,
		Logger:                fasthttpLogger{s.Logger},
		ConnState:             s.connState,
	}
}

func (s *Server) connState(c net.Conn, st fasthttp.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch st {
	case fasthttp.StateNew:
		s.conns[c] = struct{}{}
	case fasthttp.StateClosed, fasthttp.StateHijacked:
		// A hijacked connection is an upgrade's (Proxy.tunnels) or a
		// lingering close's, which ends by itself.
		delete(s.conns, c)
	}
}

// Serve accepts connections until Shutdown or Close.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.srv == nil {
		s.init()
		s.Proxy.watch.start()
	}
	srv := s.srv
	s.mu.Unlock()
	return srv.Serve(ln)
}

// Shutdown stops accepting, closes idle connections, and lets requests in
// flight (their answers carry Connection: close) and upgraded connections
// finish until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	if err := srv.ShutdownWithContext(ctx); err != nil {
		return err
	}
	// Upgraded connections (WebSockets) are the proxy's, not fasthttp's.
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if s.Proxy.tunnels.count() == 0 {
			s.Proxy.up.CloseIdleConnections()
			s.Proxy.watch.close()
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Close closes the listener and every connection at once.
func (s *Server) Close() error {
	s.mu.Lock()
	srv := s.srv
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.Proxy.tunnels.closeAll()
	if srv == nil {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = srv.ShutdownWithContext(ctx)
	s.Proxy.up.CloseIdleConnections()
	s.Proxy.watch.close()
	return nil
}

// fasthttpLogger sends fasthttp's own messages to slog at debug level:
// they are about single connections (a client that sent garbage).
type fasthttpLogger struct{ l *slog.Logger }

func (f fasthttpLogger) Printf(format string, args ...any) {
	if f.l != nil {
		f.l.Debug("proxy listener", "msg", fmt.Sprintf(format, args...))
	}
}
