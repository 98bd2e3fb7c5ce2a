// Command gen writes Headroom's Grafana dashboards (overview.json, provider.json) with the
// thresholds of alerts/thresholds.yml. Run it through `go generate ./dashboards/...`.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/headroomhq/headroom/alerts"
	"github.com/headroomhq/headroom/dashboards"
)

func main() {
	config := flag.String("config", "", "thresholds file (default: the committed alerts/thresholds.yml)")
	out := flag.String("out", ".", "directory to write the dashboards to")
	flag.Parse()

	cfg := alerts.DefaultConfig()
	if *config != "" {
		var err error
		if cfg, err = alerts.LoadConfig(*config); err != nil {
			fail(err)
		}
	}
	files, err := dashboards.Render(cfg)
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
	fmt.Fprintln(os.Stderr, "dashboards/gen:", err)
	os.Exit(1)
}
