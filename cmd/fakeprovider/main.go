// Command fakeprovider runs a local fake inference provider with real
// rate-limit accounting, speaking one provider's rate-limit dialect, so
// Headroom's metrics and alerts can be watched draining, refilling and
// firing without a real provider. See package fakeprovider for the
// endpoints, the accounting and the token-estimation rule.
//
// Every flag has an environment variable (flags win):
//
//	-listen             FAKEPROVIDER_LISTEN             address (default 127.0.0.1:8089)
//	-provider           FAKEPROVIDER_PROVIDER           catalog instance, e.g. heroku-us
//	-dialect            FAKEPROVIDER_DIALECT            dialect (default: the provider's)
//	-limit (repeatable) FAKEPROVIDER_LIMITS             [model:]resource/window=value, comma-separated in the env
//	-scale              FAKEPROVIDER_SCALE              multiply catalog limits, e.g. 0.01
//	-stream-delay       FAKEPROVIDER_STREAM_DELAY       pause between SSE events (default 50ms)
//	-stream-chunks      FAKEPROVIDER_STREAM_CHUNKS      content chunks per stream (default 4)
//	-completion-tokens  FAKEPROVIDER_COMPLETION_TOKENS  completion size without max_tokens (default 16)
//	-keys               FAKEPROVIDER_KEYS               comma-separated accepted keys (default: any)
//	-shared-keys (rep.) FAKEPROVIDER_SHARED_KEYS        comma-separated keys that drain one bucket; groups ';'-separated in the env
//	-log-level          FAKEPROVIDER_LOG_LEVEL          debug, info, warn, error (default info)
//
// Example:
//
//	fakeprovider -provider heroku-us -limit requests/1m=5
//	curl -i localhost:8089/v1/chat/completions -H 'Authorization: Bearer k' \
//	     -d '{"model":"claude-4-sonnet","messages":[{"role":"user","content":"hi"}]}'
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/headroomhq/headroom/catalog"
	"github.com/headroomhq/headroom/fakeprovider"
)

type limitFlag []catalog.Limit

func (l *limitFlag) String() string {
	parts := make([]string, len(*l))
	for i, v := range *l {
		parts[i] = fmt.Sprintf("%s/%s=%v", v.Resource, v.Window, v.Value)
		if v.Model != "" {
			parts[i] = v.Model + ":" + parts[i]
		}
	}
	return strings.Join(parts, ",")
}

func (l *limitFlag) Set(s string) error {
	v, err := fakeprovider.ParseLimit(s)
	if err != nil {
		return err
	}
	*l = append(*l, v)
	return nil
}

// sharedFlag collects -shared-keys groups.
type sharedFlag [][]string

func (f *sharedFlag) String() string {
	gs := make([]string, len(*f))
	for i, g := range *f {
		gs[i] = strings.Join(g, ",")
	}
	return strings.Join(gs, ";")
}

func (f *sharedFlag) Set(s string) error {
	var g []string
	for _, k := range strings.Split(s, ",") {
		if k = strings.TrimSpace(k); k != "" {
			g = append(g, k)
		}
	}
	*f = append(*f, g)
	return nil
}

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "fakeprovider:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("fakeprovider", flag.ContinueOnError)
	listen := fs.String("listen", env("FAKEPROVIDER_LISTEN", "127.0.0.1:8089"), "listen address")
	provider := fs.String("provider", env("FAKEPROVIDER_PROVIDER", ""), "catalog provider instance (e.g. heroku-us, infercom, sambanova, predictions, openai)")
	dialect := fs.String("dialect", env("FAKEPROVIDER_DIALECT", ""), "dialect to speak (default: the provider's); one of "+strings.Join(fakeprovider.Dialects(), ", "))
	var limits limitFlag
	fs.Var(&limits, "limit", "limit override [model:]resource/window=value (repeatable; negative removes)")
	scaleS := fs.String("scale", env("FAKEPROVIDER_SCALE", "1"), "multiply catalog limits by this factor")
	delayS := fs.String("stream-delay", env("FAKEPROVIDER_STREAM_DELAY", "50ms"), "pause between SSE events")
	chunksS := fs.String("stream-chunks", env("FAKEPROVIDER_STREAM_CHUNKS", strconv.Itoa(fakeprovider.DefaultStreamChunks)), "content chunks per stream")
	complS := fs.String("completion-tokens", env("FAKEPROVIDER_COMPLETION_TOKENS", strconv.Itoa(fakeprovider.DefaultCompletionTokens)), "completion tokens of a request without max_tokens")
	keysS := fs.String("keys", env("FAKEPROVIDER_KEYS", ""), "comma-separated accepted API keys (default: any non-empty key)")
	var shared sharedFlag
	fs.Var(&shared, "shared-keys", "comma-separated API keys that drain one bucket, as an organisation's keys do (repeatable: one group each)")
	levelS := fs.String("log-level", env("FAKEPROVIDER_LOG_LEVEL", "info"), "log level: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if len(shared) == 0 {
		for _, g := range strings.Split(os.Getenv("FAKEPROVIDER_SHARED_KEYS"), ";") {
			if strings.TrimSpace(g) != "" {
				shared.Set(g)
			}
		}
	}
	if len(limits) == 0 {
		for _, s := range strings.Split(os.Getenv("FAKEPROVIDER_LIMITS"), ",") {
			if strings.TrimSpace(s) == "" {
				continue
			}
			if err := limits.Set(s); err != nil {
				return err
			}
		}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*levelS)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	scale, err := strconv.ParseFloat(*scaleS, 64)
	if err != nil || scale <= 0 {
		return fmt.Errorf("-scale %q: want a positive number", *scaleS)
	}
	delay, err := time.ParseDuration(*delayS)
	if err != nil || delay < 0 {
		return fmt.Errorf("-stream-delay %q: want a non-negative duration", *delayS)
	}
	chunks, err := strconv.Atoi(*chunksS)
	if err != nil || chunks <= 0 {
		return fmt.Errorf("-stream-chunks %q: want a positive integer", *chunksS)
	}
	compl, err := strconv.Atoi(*complS)
	if err != nil || compl <= 0 {
		return fmt.Errorf("-completion-tokens %q: want a positive integer", *complS)
	}
	var keys []string
	for _, k := range strings.Split(*keysS, ",") {
		if k = strings.TrimSpace(k); k != "" {
			keys = append(keys, k)
		}
	}

	srv, err := fakeprovider.NewServer(fakeprovider.Options{
		Provider: *provider, Dialect: *dialect, Scale: scale, Limits: limits, Keys: keys, SharedKeys: shared,
		StreamDelay: delay, StreamChunks: chunks, CompletionTokens: compl, Logger: log,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	log.Info("fakeprovider listening", "addr", ln.Addr().String(), "provider", srv.Provider(), "dialect", srv.Dialect(), "limit_overrides", limits.String(), "scale", scale)

	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(shCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
