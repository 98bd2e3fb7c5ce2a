// Package testenv starts the real agent (internal/agent, as cmd/exporter
// does) inside a test process.
//
// It exists because the suites under test/ and internal/agent's own tests
// each had a copy of the same start-up: config.LoadSettings(), a providers
// file in a temporary directory, both listeners on 127.0.0.1:0, a logger,
// agent.New, Start, and a cleanup that shuts down with a 5 s deadline. The
// copies drifted apart in small ways (ignored errors, log levels); here is
// the one place to change when starting an agent changes.
//
// Settings always start from config.LoadSettings(), so HEADROOM_* in the
// environment still applies; Options override only what a test names.
//
// internal/agent's tests use it from the external test package agent_test:
// package agent itself cannot import it (import cycle).
package testenv

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/headroomhq/headroom/config"
	"github.com/headroomhq/headroom/internal/agent"
)

// Options says what a test wants of its agent; the zero value is an agent
// on the settings of the environment, with its listeners on loopback ports
// chosen by the kernel and its logs discarded.
type Options struct {
	// ProvidersYAML, when not empty, is written to providers.yaml in the
	// test's temporary directory, which becomes Settings.ConfigFile (read
	// it back from agent.Settings.ConfigFile to rewrite it for a reload).
	// Empty keeps the ConfigFile of the environment (HEADROOM_CONFIG).
	ProvidersYAML string
	// Settings, when set, changes the settings last, after the providers
	// file and the loopback addresses.
	Settings func(*config.Settings)
	// Logger gets the agent's logs; nil discards them (at slog's default
	// level, info). DebugLogger(&LogBuffer{}) keeps them for assertions.
	Logger *slog.Logger
	// WebConfigFile is set on the agent before it starts (exporter-toolkit's
	// --web.config.file for the metrics listener).
	WebConfigFile string
	// ManualShutdown leaves the shutdown to the test (with Start): no
	// cleanup is registered, for tests that time or order the shutdown
	// themselves.
	ManualShutdown bool
}

// Settings returns the settings New would build the agent with.
func Settings(tb testing.TB, o Options) config.Settings {
	tb.Helper()
	s, err := config.LoadSettings()
	if err != nil {
		tb.Fatal(err)
	}
	s.ProxyAddr, s.MetricsAddr = "127.0.0.1:0", "127.0.0.1:0"
	if o.ProvidersYAML != "" {
		path := filepath.Join(tb.TempDir(), "providers.yaml")
		if err := os.WriteFile(path, []byte(o.ProvidersYAML), 0o600); err != nil {
			tb.Fatal(err)
		}
		s.ConfigFile = path
	}
	if o.Settings != nil {
		o.Settings(&s)
	}
	return s
}

// New builds the agent without starting it: nothing listens, its handlers
// can be driven directly.
func New(tb testing.TB, o Options) *agent.Agent {
	tb.Helper()
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	a, err := agent.New(Settings(tb, o), log)
	if err != nil {
		tb.Fatal(err)
	}
	a.WebConfigFile = o.WebConfigFile
	return a
}

// Start builds and starts the agent; a.ProxyAddr and a.MetricsAddr are the
// bound addresses. Unless o.ManualShutdown, the agent is shut down (as by
// Shutdown) when the test ends.
func Start(tb testing.TB, o Options) *agent.Agent {
	tb.Helper()
	a := New(tb, o)
	if err := a.Start(); err != nil {
		tb.Fatal(err)
	}
	if !o.ManualShutdown {
		tb.Cleanup(func() { Shutdown(a) })
	}
	return a
}

// Shutdown stops a, giving in-flight requests 5 seconds to drain.
func Shutdown(a *agent.Agent) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return a.Shutdown(ctx)
}

// DebugLogger logs everything, debug level included, as text into w.
func DebugLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// LogBuffer collects log output for assertions; the agent writes to it from
// many goroutines while the test reads it.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
