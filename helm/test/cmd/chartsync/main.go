// Command chartsync refreshes the Helm chart's copies of Headroom's rules and dashboards
// (helm/headroom/files/) from alerts/ and dashboards/. Run it through helm/sync.sh after
// changing alerts/thresholds.yml, the rule generator or a dashboard; with -check it only
// reports drift (exit status 1).
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/headroomhq/headroom/helm/test/chartsync"
)

func main() {
	check := flag.Bool("check", false, "report drift instead of writing")
	flag.Parse()

	wd, err := os.Getwd()
	if err != nil {
		fail(err)
	}
	root, err := chartsync.RepoRoot(wd)
	if err != nil {
		fail(err)
	}
	drift := false
	for _, set := range []struct {
		name, dir, glob string
		build           func(string) (map[string][]byte, error)
	}{
		{"rules", chartsync.ChartRulesDir, "*", chartsync.ChartRules},
		{"dashboards", chartsync.ChartDashboardsDir, "*.json", chartsync.ChartDashboards},
		{"values", chartsync.ChartDir, "values.yaml", chartsync.ChartValues},
	} {
		want, err := set.build(root)
		if errors.Is(err, chartsync.ErrNoSource) {
			fmt.Fprintf(os.Stderr, "chartsync: %s: skipped: %v\n", set.name, err)
			continue
		}
		if err != nil {
			fail(fmt.Errorf("%s: %w", set.name, err))
		}
		dir := filepath.Join(root, set.dir)
		diffs, err := chartsync.Diff(dir, set.glob, want)
		if err != nil {
			fail(err)
		}
		if *check {
			for _, d := range diffs {
				fmt.Println(d)
			}
			drift = drift || len(diffs) > 0
			continue
		}
		if err := chartsync.Write(dir, set.glob, want); err != nil {
			fail(err)
		}
		for _, d := range diffs {
			fmt.Println("updated:", d)
		}
	}
	if drift {
		fmt.Fprintln(os.Stderr, "chartsync: the chart's copies are out of date: run helm/sync.sh")
		os.Exit(1)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "chartsync:", err)
	os.Exit(2)
}
