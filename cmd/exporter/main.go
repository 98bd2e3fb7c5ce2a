// Command exporter is the Headroom agent: a reverse proxy in front of AI
// inference providers that exports their rate-limit state to Prometheus.
//
// Settings come from HEADROOM_* environment variables (see README.md);
// with none at all it proxies every provider of the built-in catalog.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/common/version"

	"github.com/headroomhq/headroom/catalog"
	"github.com/headroomhq/headroom/config"
	"github.com/headroomhq/headroom/internal/agent"
)

func main() {
	os.Exit(run())
}

func run() int {
	webConfig := flag.String("web.config.file", "", "exporter-toolkit web configuration (TLS, basic auth) for the metrics listener")
	showVersion := flag.Bool("version", false, "print version and exit")
	lifecycle := flag.Bool("web.enable-lifecycle", false, "serve POST /-/reload on the metrics listener")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: %s [flags]          run the agent (settings: HEADROOM_* variables, see README.md)\n", os.Args[0])
		fmt.Fprintf(flag.CommandLine.Output(), "       %s check-config [FILE] validate a providers file (default: $HEADROOM_CONFIG) and exit\n", os.Args[0])
		fmt.Fprintf(flag.CommandLine.Output(), "       %s healthcheck      exit 0 if the local agent answers /healthz (for container HEALTHCHECK without a shell)\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	switch flag.Arg(0) {
	case "healthcheck":
		return healthcheck()
	case "check-config":
		return checkConfig(flag.Arg(1))
	}
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
	a.EnableLifecycle = *lifecycle
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

// checkConfig validates settings and a providers file the way the agent
// would at start, for CI pipelines and chart tests.
func checkConfig(path string) int {
	s, err := config.LoadSettings()
	if err != nil {
		fmt.Fprintln(os.Stderr, "invalid settings:", err)
		return 2
	}
	if path == "" {
		path = s.ConfigFile
	}
	cat, err := catalog.Load()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	cfg, err := config.Load(path, cat)
	if err != nil {
		fmt.Fprintln(os.Stderr, "invalid configuration:", err)
		return 2
	}
	for _, p := range cfg.Providers {
		fmt.Printf("%-16s %-14s %s\n", p.Name, p.Dialect.Name(), p.Upstream)
	}
	return 0
}

// healthcheck asks the agent on this host for /healthz, so a container
// image without a shell (FROM scratch) can still have a HEALTHCHECK. It
// reads the same HEADROOM_METRICS_ADDR as the agent.
func healthcheck() int {
	s, err := config.LoadSettings()
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		return 1
	}
	host, port, err := net.SplitHostPort(s.MetricsAddr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck: HEADROOM_METRICS_ADDR:", err)
		return 1
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	scheme := "http"
	if os.Getenv("HEADROOM_HEALTHCHECK_TLS") == "1" {
		scheme = "https"
	}
	c := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{
		// The check only asks whether this process answers; certificate
		// names rarely match 127.0.0.1.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec
	}}
	resp, err := c.Get(scheme + "://" + net.JoinHostPort(host, port) + "/healthz")
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, "healthcheck: status", resp.StatusCode)
		return 1
	}
	return 0
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
