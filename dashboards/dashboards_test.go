package dashboards

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/headroomhq/headroom/alerts"
)

var files = []string{OverviewFile, ProviderFile}

// TestGeneratedFilesUpToDate fails when the committed dashboards differ from what the
// generator makes from alerts/thresholds.yml.
func TestGeneratedFilesUpToDate(t *testing.T) {
	out, err := Render(alerts.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(files) {
		t.Fatalf("Render made %d files, want %v", len(out), files)
	}
	for name, want := range out {
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatalf("%v: run `go generate ./dashboards/...` and commit the result", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("dashboards/%s is out of date: run `go generate ./dashboards/...` and commit the result", name)
		}
	}
}

func load(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return d
}

// panels returns every non-row panel, rows' nested panels included.
func panels(d map[string]any) []map[string]any {
	var out []map[string]any
	var walk func([]any)
	walk = func(ps []any) {
		for _, p := range ps {
			pm := p.(map[string]any)
			if pm["type"] != "row" {
				out = append(out, pm)
			}
			if nested, ok := pm["panels"].([]any); ok {
				walk(nested)
			}
		}
	}
	walk(d["panels"].([]any))
	return out
}

func get(m any, path ...string) any {
	for _, p := range path {
		mm, ok := m.(map[string]any)
		if !ok {
			return nil
		}
		m = mm[p]
	}
	return m
}

// TestImportReady: a datasource variable and no hard-coded datasource uid, the provider,
// model and key variables, unique panel ids and refIds, a unit on every panel.
func TestImportReady(t *testing.T) {
	for _, name := range files {
		t.Run(name, func(t *testing.T) {
			d := load(t, name)
			if d["uid"] == "" || d["title"] == "" {
				t.Error("no uid or title")
			}
			if v, ok := d["schemaVersion"].(float64); !ok || v < 36 {
				t.Errorf("schemaVersion %v", d["schemaVersion"])
			}
			vars := map[string]map[string]any{}
			for _, v := range get(d, "templating", "list").([]any) {
				vm := v.(map[string]any)
				vars[vm["name"].(string)] = vm
			}
			if ds := vars["datasource"]; ds == nil || ds["type"] != "datasource" || ds["query"] != "prometheus" {
				t.Errorf("datasource variable = %v", ds)
			}
			for _, n := range []string{"provider", "model", "key"} {
				v := vars[n]
				if v == nil || v["type"] != "query" || get(v, "datasource", "uid") != "${datasource}" {
					t.Errorf("variable %s = %v", n, v)
				}
			}
			// Every datasource reference anywhere is the variable.
			var checkDS func(path string, x any)
			checkDS = func(path string, x any) {
				switch v := x.(type) {
				case map[string]any:
					for k, c := range v {
						if k == "datasource" {
							if uid := get(c, "uid"); uid != "${datasource}" {
								t.Errorf("%s.datasource uid %v: hard-coded datasource", path, uid)
							}
						}
						checkDS(path+"."+k, c)
					}
				case []any:
					for i, c := range v {
						checkDS(fmt.Sprintf("%s[%d]", path, i), c)
					}
				}
			}
			checkDS("", d)

			ids := map[float64]bool{}
			for _, p := range d["panels"].([]any) {
				id, _ := p.(map[string]any)["id"].(float64)
				if id == 0 || ids[id] {
					t.Errorf("panel %q: id %v missing or duplicate", p.(map[string]any)["title"], id)
				}
				ids[id] = true
			}
			units := map[string]bool{}
			for _, p := range panels(d) {
				title := p["title"].(string)
				targets, _ := p["targets"].([]any)
				if len(targets) == 0 {
					t.Errorf("panel %q has no query", title)
				}
				refs := map[string]bool{}
				for _, tg := range targets {
					ref, _ := get(tg, "refId").(string)
					if ref == "" || refs[ref] {
						t.Errorf("panel %q: refId %q missing or duplicate", title, ref)
					}
					refs[ref] = true
					if e, _ := get(tg, "expr").(string); strings.TrimSpace(e) == "" {
						t.Errorf("panel %q: empty expr", title)
					}
				}
				unit, _ := get(p, "fieldConfig", "defaults", "unit").(string)
				if unit == "" && p["type"] != "table" {
					t.Errorf("panel %q has no unit", title)
				}
				units[unit] = true
				for _, o := range get(p, "fieldConfig", "overrides").([]any) {
					for _, prop := range get(o, "properties").([]any) {
						if get(prop, "id") == "unit" {
							units[get(prop, "value").(string)] = true
						}
					}
				}
				if p["type"] == "timeseries" && get(p, "options", "legend", "showLegend") != true {
					t.Errorf("panel %q hides its legend", title)
				}
			}
			for _, u := range []string{"percentunit", "s", "reqps"} {
				if !units[u] {
					t.Errorf("no panel uses unit %s", u)
				}
			}
		})
	}
}

func thresholdValues(p map[string]any) []float64 {
	var out []float64
	steps, _ := get(p, "fieldConfig", "defaults", "thresholds", "steps").([]any)
	for _, s := range steps {
		if v, ok := get(s, "value").(float64); ok {
			out = append(out, v)
		}
	}
	return out
}

// TestThresholdsMatchAlerts: panels that mirror an alert colour at the alert's thresholds,
// taken from the same thresholds file; a changed threshold changes the dashboards.
func TestThresholdsMatchAlerts(t *testing.T) {
	c := alerts.DefaultConfig()
	checkThresholds(t, c)

	other := alerts.DefaultConfig()
	other.Saturation.Warning, other.Saturation.Critical = 0.7, 0.9
	other.RateLimited.Warning, other.RateLimited.Critical = 0.01, 0.1
	other.Concurrency.Warning = 0.75
	checkThresholds(t, other)
}

func checkThresholds(t *testing.T, c *alerts.Config) {
	t.Helper()
	out, err := Render(c)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]float64{
		"Remaining share of limit":                  {round(1 - c.Saturation.Critical), round(1 - c.Saturation.Warning)},
		"Remaining share of limit, all windows":     {round(1 - c.Saturation.Critical), round(1 - c.Saturation.Warning)},
		"Remaining share of limit, now (worst key)": {round(1 - c.Saturation.Critical), round(1 - c.Saturation.Warning)},
		"Lowest remaining share":                    {round(1 - c.Saturation.Critical), round(1 - c.Saturation.Warning)},
		"Share of requests answered 429":            {c.RateLimited.Warning, c.RateLimited.Critical},
		"Requests answered 429":                     {c.RateLimited.Warning, c.RateLimited.Critical},
		"Concurrency utilisation":                   {c.Concurrency.Warning},
	}
	seen := map[string]bool{}
	for _, name := range files {
		var d map[string]any
		if err := json.Unmarshal(out[name], &d); err != nil {
			t.Fatal(err)
		}
		for _, p := range panels(d) {
			title := p["title"].(string)
			w, ok := want[title]
			if !ok {
				continue
			}
			seen[title] = true
			if got := thresholdValues(p); !reflect.DeepEqual(got, w) {
				t.Errorf("%s %q: thresholds %v, want %v (alerts/thresholds.yml)", name, title, got, w)
			}
		}
	}
	for title := range want {
		if !seen[title] {
			t.Errorf("no panel %q", title)
		}
	}
}

func TestMayBeEmptyNamesRealPanels(t *testing.T) {
	for file, titles := range MayBeEmpty {
		d := load(t, file)
		have := map[string]bool{}
		for _, p := range panels(d) {
			have[p["title"].(string)] = true
		}
		for title := range titles {
			if !have[title] {
				t.Errorf("MayBeEmpty[%s] names %q, which is no panel", file, title)
			}
		}
	}
}
