package decide

import (
	"math"
	"os"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/headroomhq/headroom/parsers"
)

// forecastCase is one case of testdata/forecast.yaml.
type forecastCase struct {
	Name      string    `yaml:"name"`
	Resource  string    `yaml:"resource"`
	Window    string    `yaml:"window"`
	Limit     float64   `yaml:"limit"`
	Reset     *float64  `yaml:"reset"` // seconds after t0
	Every     float64   `yaml:"every"`
	Remaining []float64 `yaml:"remaining"`
	Drain     float64   `yaml:"drain"`
	ETA       *float64  `yaml:"eta"`
	PromQL    bool      `yaml:"promql"`
}

func loadForecastCases(t testing.TB) []forecastCase {
	b, err := os.ReadFile("testdata/forecast.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases []forecastCase `yaml:"cases"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f.Cases
}

// run feeds the case to an engine and returns its forecast at the last
// sample.
func (fc *forecastCase) run(t testing.TB) (Forecast, bool) {
	c := &clock{}
	e := newTestEngine(t, c, false)
	var reset time.Time
	if fc.Reset != nil {
		reset = at(sec(*fc.Reset))
	}
	l := lbl("heroku-us", "claude-4-sonnet", "k-aaaaaaaaaaaa")
	for i, v := range fc.Remaining {
		c.set(sec(float64(i) * fc.Every))
		respond(e, l, 200, c.now, obs(fc.Resource, fc.Window, fc.Limit, v, reset))
	}
	return e.Forecast("heroku-us", "claude-4-sonnet", "k-aaaaaaaaaaaa", fc.Resource, fc.Window)
}

func close(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func TestForecast(t *testing.T) {
	for _, fc := range loadForecastCases(t) {
		t.Run(fc.Name, func(t *testing.T) {
			f, ok := fc.run(t)
			if !ok || !f.HasDrain || !close(f.Drain, fc.Drain) {
				t.Fatalf("drain %v (known %v, ok %v), want %v", f.Drain, f.HasDrain, ok, fc.Drain)
			}
			if fc.ETA == nil {
				if f.ExhaustsBeforeReset {
					t.Fatalf("ETA %v, want none (the reset comes first or nothing drains)", f.ETA)
				}
				return
			}
			if !f.ExhaustsBeforeReset || !close(f.ETA.Seconds(), *fc.ETA) {
				t.Fatalf("ETA %v (before reset %v), want %vs", f.ETA, f.ExhaustsBeforeReset, *fc.ETA)
			}
		})
	}
}

// A fixed window's history starts over when it resets: the drain of the
// old window does not leak into the new one.
func TestForecastStartsOverAtTheReset(t *testing.T) {
	c := &clock{}
	e := newTestEngine(t, c, false)
	l := lbl("heroku-us", "claude-4-sonnet", "k-aaaaaaaaaaaa")
	for i, v := range []float64{30, 20, 10} {
		c.set(time.Duration(i) * 10 * time.Second)
		respond(e, l, 200, c.now, obs(parsers.Requests, "1m", 30, v, at(time.Minute)))
	}
	if f, _ := e.Forecast("heroku-us", "claude-4-sonnet", "k-aaaaaaaaaaaa", parsers.Requests, "1m"); !close(f.Drain, 1) || f.ETA != 10*time.Second {
		t.Fatalf("first window: %+v", f)
	}
	c.set(61 * time.Second)
	respond(e, l, 200, c.now, obs(parsers.Requests, "1m", 30, 29, at(2*time.Minute)))
	if f, ok := e.Forecast("heroku-us", "claude-4-sonnet", "k-aaaaaaaaaaaa", parsers.Requests, "1m"); !ok || f.HasDrain || f.ExhaustsBeforeReset {
		t.Fatalf("one sample of the new window: %+v", f)
	}
	c.set(71 * time.Second)
	respond(e, l, 200, c.now, obs(parsers.Requests, "1m", 30, 28, at(2*time.Minute)))
	if f, _ := e.Forecast("heroku-us", "claude-4-sonnet", "k-aaaaaaaaaaaa", parsers.Requests, "1m"); !close(f.Drain, 0.1) || f.ExhaustsBeforeReset {
		t.Fatalf("new window: %+v (28 left at 0.1/s: 280 s, after the reset)", f)
	}
	// The reset passed with no new observation: nothing to say.
	c.set(121 * time.Second)
	if _, ok := e.Forecast("heroku-us", "claude-4-sonnet", "k-aaaaaaaaaaaa", parsers.Requests, "1m"); ok {
		t.Fatal("forecast of a window that has reset")
	}
}

// Many observations cost histSlots samples, and the fit still spans the
// lookback.
func TestForecastHistoryIsBounded(t *testing.T) {
	c := &clock{}
	e := newTestEngine(t, c, false)
	l := lbl("heroku-us", "claude-4-sonnet", "k-aaaaaaaaaaaa")
	// 10 observations a second for 20 minutes, falling 0.5/s from 1000 in
	// an hourly window.
	for i := 0; i <= 12000; i++ {
		c.set(time.Duration(i) * 100 * time.Millisecond)
		respond(e, l, 200, c.now, obs(parsers.Tokens, "1h", 1000, 1000-0.5*float64(i)/10, at(time.Hour)))
	}
	s := e.series[seriesKey{"heroku-us", "claude-4-sonnet", "k-aaaaaaaaaaaa", parsers.Tokens, "1h"}]
	if s.hist.n != histSlots {
		t.Fatalf("%d samples kept", s.hist.n)
	}
	f, _ := e.Forecast("heroku-us", "claude-4-sonnet", "k-aaaaaaaaaaaa", parsers.Tokens, "1h")
	if !close(f.Drain, 0.5) || !close(f.ETA.Seconds(), 400/0.5) {
		t.Fatalf("%+v", f)
	}
}

// The lookbacks match the PromQL exhaustion alerts' (alerts/thresholds.yml).
func TestLookbackMatchesTheAlerts(t *testing.T) {
	for _, w := range []struct {
		window, lookback time.Duration
	}{{time.Second, time.Second}, {10 * time.Second, 10 * time.Second}, {time.Minute, time.Minute},
		{time.Hour, 15 * time.Minute}, {24 * time.Hour, time.Hour}, {30 * 24 * time.Hour, 6 * time.Hour}} {
		if got := Lookback(w.window); got != w.lookback {
			t.Errorf("Lookback(%v) = %v, want %v", w.window, got, w.lookback)
		}
	}
}
