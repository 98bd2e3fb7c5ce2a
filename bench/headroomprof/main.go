// Command headroomprof is cmd/exporter with a CPU profile, for
// scripts/bench.sh: it runs the agent from the same HEADROOM_* settings and
// writes the profile to -cpuprofile (and allocations to -memprofile) when it
// receives SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/headroomhq/headroom/config"
	"github.com/headroomhq/headroom/internal/agent"
)

func main() {
	out := flag.String("cpuprofile", "cpu.pprof", "where to write the CPU profile")
	memOut := flag.String("memprofile", "", "where to write the allocation profile (optional)")
	flag.Parse()
	s, err := config.LoadSettings()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := agent.New(s, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	f, err := os.Create(*out)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := a.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	<-sigs
	pprof.StopCPUProfile()
	f.Close()
	if *memOut != "" {
		if mf, err := os.Create(*memOut); err == nil {
			pprof.Lookup("allocs").WriteTo(mf, 0)
			mf.Close()
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a.Shutdown(ctx)
}
