// Command gen writes Headroom's Grafana dashboards (overview.json, provider.json) with the
// thresholds of alerts/thresholds.yml. Run it through `go generate ./dashboards/...`.
package main

import (
	"github.com/headroomhq/headroom/alerts"
	"github.com/headroomhq/headroom/dashboards"
)

func main() { alerts.Generate("dashboards/gen", "dashboards", dashboards.Render) }
