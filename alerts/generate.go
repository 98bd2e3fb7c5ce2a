package alerts

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// Generate is the main of the generators under alerts/gen and
// dashboards/gen: it reads -config (default: the committed thresholds),
// renders files with render and writes them into -out. helm/sync.sh calls
// both with the same flags.
func Generate(tool, what string, render func(*Config) (map[string][]byte, error)) {
	config := flag.String("config", "", "thresholds file (default: the committed alerts/thresholds.yml)")
	out := flag.String("out", ".", "directory to write the "+what+" to")
	flag.Parse()
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, tool+":", err)
		os.Exit(1)
	}
	cfg := DefaultConfig()
	if *config != "" {
		var err error
		if cfg, err = LoadConfig(*config); err != nil {
			fail(err)
		}
	}
	files, err := render(cfg)
	if err != nil {
		fail(err)
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(*out, n), files[n], 0o644); err != nil {
			fail(err)
		}
	}
}
