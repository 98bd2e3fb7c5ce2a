// Command exporter is the Headroom agent: a reverse proxy in front of AI
// inference providers that exports their rate-limit state to Prometheus.
//
// Settings come from HEADROOM_* environment variables (see README.md);
// with none at all it proxies every provider of the built-in catalog.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/prometheus/common/version"

	"github.com/headroomhq/headroom/config"
	"github.com/headroomhq/headroom/internal/agent"
)

func main() {
	os.Exit(run())
}

func run() int {
	webConfig := flag.String("web.config.file", "", "exporter-toolkit web configuration (TLS, basic auth) for the metrics listener")
	showVersion := flag.Bool("version", false, "print version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println(version.Print("headroom"))
		return 0
	}
	s, err := config.LoadSettings()
	if err != nil {
		fmt.Fprintln(os.Stderr, "headroom: invalid settings:", err)
		return 2
	}
	log := newLogger(s)
	a, err := agent.New(s, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "headroom: invalid configuration:", err)
		return 2
	}
	a.WebConfigFile = *webConfig
	if err := a.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "headroom:", err)
		return 1
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM)
	for {
		select {
		case err := <-a.Errors():
			log.Error("listener failed", "error", err)
			return 1
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				_ = a.Reload()
				continue
			}
			log.Info("shutting down; draining in-flight requests", "signal", sig.String(), "timeout", s.ShutdownTimeout)
			ctx, cancel := context.WithTimeout(context.Background(), s.ShutdownTimeout)
			err := a.Shutdown(ctx)
			cancel()
			if err != nil {
				return 1
			}
			return 0
		}
	}
}

func newLogger(s config.Settings) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(s.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if s.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}
