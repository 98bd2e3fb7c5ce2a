// Command gen writes Headroom's Prometheus rule files (recording_rules.yml, alerts.yml) from
// a thresholds file. Run it through `go generate ./alerts/...`.
package main

import "github.com/headroomhq/headroom/alerts"

func main() { alerts.Generate("alerts/gen", "rule files", alerts.Render) }
