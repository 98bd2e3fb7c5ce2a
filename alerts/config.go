// Package alerts generates Headroom's Prometheus recording and alerting rules from one
// thresholds file (thresholds.yml), and exposes those thresholds to the dashboards generator
// so panel colours match the alerts.
//
//	go generate ./alerts/...
//
// rewrites recording_rules.yml and alerts.yml; TestGeneratedFilesUpToDate fails when the
// committed files differ from what the generator produces.
package alerts

import (
	"bytes"
	_ "embed"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

//go:generate go run ./gen -out .

// ThresholdsYAML is the committed thresholds.yml, the default configuration.
//
//go:embed thresholds.yml
var ThresholdsYAML []byte

// Duration is a Prometheus duration ("30s", "5m", "1d") kept in its written form.
type Duration string

// Seconds returns the duration in seconds. The config was validated on load.
func (d Duration) Seconds() float64 {
	md, err := model.ParseDuration(string(d))
	if err != nil {
		panic(fmt.Sprintf("alerts: unvalidated duration %q: %v", string(d), err))
	}
	return time.Duration(md).Seconds()
}

func (d Duration) String() string { return string(d) }

// Config is thresholds.yml.
type Config struct {
	RunbookURL     string `yaml:"runbook_url"`
	ScrapeSelector string `yaml:"scrape_selector"`

	Saturation Saturation `yaml:"saturation"`

	RateLimited struct {
		For            Duration `yaml:"for"`
		Warning        float64  `yaml:"warning"`
		Critical       float64  `yaml:"critical"`
		MinRequestRate float64  `yaml:"min_request_rate"`
	} `yaml:"ratelimited"`

	Exhaustion []ExhaustionWindow `yaml:"exhaustion"`

	Stale struct {
		Lookback     Duration            `yaml:"lookback"`
		For          Duration            `yaml:"for"`
		DefaultAfter Duration            `yaml:"default_after"`
		After        map[string]Duration `yaml:"after"`
	} `yaml:"stale"`

	Down struct {
		For Duration `yaml:"for"`
	} `yaml:"down"`

	Absent struct {
		For Duration `yaml:"for"`
	} `yaml:"absent"`

	LimitBelowDocumented struct {
		Ratio float64  `yaml:"ratio"`
		For   Duration `yaml:"for"`
	} `yaml:"limit_below_documented"`

	Concurrency struct {
		Warning      float64  `yaml:"warning"`
		For          Duration `yaml:"for"`
		ExhaustedFor Duration `yaml:"exhausted_for"`
	} `yaml:"concurrency"`

	ParseErrors struct {
		Rate float64  `yaml:"rate"`
		For  Duration `yaml:"for"`
	} `yaml:"parse_errors"`

	Drift struct {
		UnreadFor  Duration `yaml:"unread_for"`
		MissingFor Duration `yaml:"missing_for"`
	} `yaml:"drift"`

	Bucket Saturation `yaml:"bucket"`

	LimitLowered struct {
		Keep Duration `yaml:"keep"`
	} `yaml:"limit_lowered"`

	RetryStorm struct {
		Rate float64  `yaml:"rate"`
		For  Duration `yaml:"for"`
	} `yaml:"retry_storm"`
}

// Saturation configures a peak-utilisation alert (saturation of a key's
// limits, or of a shared bucket's).
type Saturation struct {
	Windows  []string `yaml:"windows"`
	PeakOver Duration `yaml:"peak_over"`
	For      Duration `yaml:"for"`
	Warning  float64  `yaml:"warning"`
	Critical float64  `yaml:"critical"`
}

// ExhaustionWindow configures the burn alert of one long window.
type ExhaustionWindow struct {
	Window         string   `yaml:"window"`
	Lookback       Duration `yaml:"lookback"`
	For            Duration `yaml:"for"`
	CriticalWithin Duration `yaml:"critical_within"`
}

// DefaultConfig returns the committed thresholds.yml.
func DefaultConfig() *Config {
	c, err := ParseConfig(ThresholdsYAML)
	if err != nil {
		panic(fmt.Sprintf("alerts: committed thresholds.yml is invalid: %v", err))
	}
	return c
}

// LoadConfig reads and validates a thresholds file.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := ParseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseConfig decodes (strictly: unknown keys are errors) and validates a thresholds file.
func ParseConfig(b []byte) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Validate checks every duration parses, every ratio is in range and the lists are usable.
func (c *Config) Validate() error {
	var errs []string
	bad := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	dur := func(name string, d Duration) {
		if _, err := model.ParseDuration(string(d)); err != nil {
			bad("%s: %q is not a Prometheus duration", name, string(d))
		}
	}
	ratio := func(name string, v float64, max float64) {
		if math.IsNaN(v) || v < 0 || v > max {
			bad("%s: %v is outside [0, %v]", name, v, max)
		}
	}
	window := func(name, w string) {
		if w == "none" {
			return
		}
		if _, err := model.ParseDuration(w); err != nil {
			bad("%s: window %q is neither a Prometheus duration nor none", name, w)
		}
	}
	if !strings.HasPrefix(c.RunbookURL, "https://") && !strings.HasPrefix(c.RunbookURL, "http://") {
		bad("runbook_url: %q is not an http(s) URL", c.RunbookURL)
	}
	if strings.ContainsAny(c.RunbookURL, "#?") {
		bad("runbook_url: %q must not carry a fragment or query", c.RunbookURL)
	}
	if strings.TrimSpace(c.ScrapeSelector) == "" {
		bad("scrape_selector: empty")
	}

	saturation := func(name string, s Saturation) {
		if len(s.Windows) == 0 {
			bad("%s.windows: empty", name)
		}
		for _, w := range s.Windows {
			window(name+".windows", w)
		}
		dur(name+".peak_over", s.PeakOver)
		dur(name+".for", s.For)
		ratio(name+".warning", s.Warning, 1)
		ratio(name+".critical", s.Critical, 1)
		if s.Warning > s.Critical {
			bad("%s: warning %v above critical %v", name, s.Warning, s.Critical)
		}
	}
	saturation("saturation", c.Saturation)

	dur("ratelimited.for", c.RateLimited.For)
	ratio("ratelimited.warning", c.RateLimited.Warning, 1)
	ratio("ratelimited.critical", c.RateLimited.Critical, 1)
	if c.RateLimited.Warning > c.RateLimited.Critical {
		bad("ratelimited: warning %v above critical %v", c.RateLimited.Warning, c.RateLimited.Critical)
	}
	ratio("ratelimited.min_request_rate", c.RateLimited.MinRequestRate, math.MaxFloat64)

	if len(c.Exhaustion) == 0 {
		bad("exhaustion: empty")
	}
	seen := map[string]bool{}
	for i, e := range c.Exhaustion {
		p := fmt.Sprintf("exhaustion[%d]", i)
		window(p+".window", e.Window)
		if e.Window == "none" {
			bad("%s.window: none has no reset to exhaust before", p)
		}
		if seen[e.Window] {
			bad("%s.window: %s listed twice", p, e.Window)
		}
		seen[e.Window] = true
		dur(p+".lookback", e.Lookback)
		dur(p+".for", e.For)
		dur(p+".critical_within", e.CriticalWithin)
	}

	dur("stale.lookback", c.Stale.Lookback)
	dur("stale.for", c.Stale.For)
	dur("stale.default_after", c.Stale.DefaultAfter)
	for w, d := range c.Stale.After {
		window("stale.after", w)
		dur("stale.after."+w, d)
	}
	dur("down.for", c.Down.For)
	dur("absent.for", c.Absent.For)
	ratio("limit_below_documented.ratio", c.LimitBelowDocumented.Ratio, math.MaxFloat64)
	dur("limit_below_documented.for", c.LimitBelowDocumented.For)
	ratio("concurrency.warning", c.Concurrency.Warning, math.MaxFloat64)
	dur("concurrency.for", c.Concurrency.For)
	dur("concurrency.exhausted_for", c.Concurrency.ExhaustedFor)
	ratio("parse_errors.rate", c.ParseErrors.Rate, math.MaxFloat64)
	dur("parse_errors.for", c.ParseErrors.For)
	dur("drift.unread_for", c.Drift.UnreadFor)
	dur("drift.missing_for", c.Drift.MissingFor)

	saturation("bucket", c.Bucket)
	dur("limit_lowered.keep", c.LimitLowered.Keep)
	ratio("retry_storm.rate", c.RetryStorm.Rate, math.MaxFloat64)
	dur("retry_storm.for", c.RetryStorm.For)

	if len(errs) > 0 {
		return fmt.Errorf("invalid thresholds: %s", strings.Join(errs, "; "))
	}
	return nil
}

// StaleWindows returns the windows with their own staleness threshold, shortest first
// ("none" last).
func (c *Config) StaleWindows() []string {
	ws := make([]string, 0, len(c.Stale.After))
	for w := range c.Stale.After {
		ws = append(ws, w)
	}
	sortWindows(ws)
	return ws
}

// sortWindows orders windows by length, "none" last, ties by name.
func sortWindows(ws []string) {
	secs := func(w string) float64 {
		if w == "none" {
			return math.Inf(1)
		}
		return Duration(w).Seconds()
	}
	sort.Slice(ws, func(i, j int) bool {
		si, sj := secs(ws[i]), secs(ws[j])
		if si != sj {
			return si < sj
		}
		return ws[i] < ws[j]
	})
}
