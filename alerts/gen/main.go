// Command gen writes Headroom's Prometheus rule files (recording_rules.yml, alerts.yml) from
// a thresholds file. Run it through `go generate ./alerts/...`.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/headroomhq/headroom/alerts"
)

func main() {
	config := flag.String("config", "", "thresholds file (default: the committed alerts/thresholds.yml)")
	out := flag.String("out", ".", "directory to write the rule files to")
	flag.Parse()

	cfg := alerts.DefaultConfig()
	if *config != "" {
		var err error
		if cfg, err = alerts.LoadConfig(*config); err != nil {
			fail(err)
		}
	}
	files, err := alerts.Render(cfg)
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

func fail(err error) {
	fmt.Fprintln(os.Stderr, "alerts/gen:", err)
	os.Exit(1)
}
