package collector

import (
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/proto"

	"github.com/headroomhq/headroom/parsers"
)

var update = flag.Bool("update", false, "rewrite testdata/exposition.* from the reference (client_golang) path")

// scenario feeds a collector a fixed set of calls covering every family the
// collector exports, label values that need escaping or sort in tricky ways,
// values on bucket boundaries and in exponent notation, a series that has
// gone stale, and label caps overflowing into "other".
func scenario(t *testing.T) (*Collector, *fakeClock) {
	t.Helper()
	clk := &fakeClock{t: time.Unix(1700000000, 0)}
	c := New(Options{Now: clk.Now, MaxModelsPerProvider: 8, MaxKeysPerProvider: 4, StaleGrace: 30 * time.Second})
	c.SetProviders([]Provider{
		{Name: "heroku-us", Family: "heroku", Dialect: "heroku", KnownModels: []string{"claude-4-sonnet"},
			Documented: []DocumentedLimit{
				{Model: "claude-4-sonnet", Resource: "requests", Window: "1m", Value: 150},
				{Model: "claude-4-sonnet", Resource: "tokens", Window: "1m", Value: 800000},
			}},
		{Name: "predictions", Family: "predictions", Dialect: "predictions", PerKeyLimits: true},
		{Name: "azure", Family: "azure-openai", Dialect: "azure-openai"},
	})
	now := clk.Now()
	obs := func(provider, model, key string, status int, at time.Time, os ...parsers.Observation) Labels {
		l := c.Labels(provider, model, key)
		c.ObserveResponse(l, status, &parsers.Result{Observations: os}, at)
		return l
	}
	full := func(res, win string, limit, rem float64, reset time.Duration) parsers.Observation {
		return parsers.Observation{Resource: res, Window: win, Limit: limit, Remaining: rem, HasLimit: true, HasRemaining: true, Reset: now.Add(reset)}
	}
	// Expired by the time of the scrape (1m window + 30s grace < 100s).
	obs("heroku-us", "claude-4-sonnet", "k-old", 200, now.Add(-100*time.Second), full("requests", "1m", 150, 1, time.Second))
	for i, m := range []string{"claude-4-sonnet", "a", "a-b", "aB", "B", `quo"te\back`, "new\nline", "modèle-é", "\xff\xfebad", "past-cap-1", "past-cap-2"} {
		for j, k := range []string{"k-0123456789ab", "k-1", "alias one", "none", "k-past-cap"} {
			if (i+j)%3 == 0 {
				continue
			}
			l := obs("heroku-us", m, k, 200, now.Add(time.Duration(i*10+j)*time.Millisecond),
				full("requests", "1m", 150, float64(149-i-j), time.Duration(i*1000+j*7)*time.Millisecond),
				full("tokens", "1m", 800000, 1234567.5-float64(i*j), 51*time.Second),
				parsers.Observation{Resource: "tokens", Window: "1d", Limit: 2e6, HasLimit: true})
			c.ObserveCompletion(l, []int{200, 200, 429, 502}[(i+j)%4], time.Duration(i*j+1)*37*time.Millisecond, int64(i*1000+j), int64(j*1000000+i))
		}
	}
	// Remaining without limit, reset without either, concurrency (no window).
	obs("heroku-us", "a", "k-1", 200, now, parsers.Observation{Resource: "input_tokens", Window: "1m", Remaining: 0, HasRemaining: true})
	obs("heroku-us", "a", "k-1", 200, now, parsers.Observation{Resource: "output_tokens", Window: "1m", Reset: now.Add(1500 * time.Millisecond)})
	obs("azure", "gpt-4o", "k-1", 200, now, parsers.Observation{Resource: "concurrency", Window: "none", Limit: 1, Remaining: 0.5, HasLimit: true, HasRemaining: true})
	// Per-key limits: model "" on the gauges, the model on the counters.
	l := obs("predictions", "owner/model", "k-p", 429, now, full("requests", "1m", 60, 0, 1750*time.Millisecond))
	c.ObserveCompletion(l, 429, 0, 0, 0)
	// 429s with and without a throttled resource, retry-after.
	c.ObserveResponse(l, 429, &parsers.Result{ThrottledResource: "tokens", HasRetryAfter: true, RetryAfter: 2 * time.Second}, now)
	c.ObserveResponse(l, 429, &parsers.Result{HasRetryAfter: true, RetryAfter: 90 * time.Second}, now)
	c.ObserveResponse(c.Labels("azure", "gpt-4o", "k-1"), 429, nil, now)
	// Durations on bucket boundaries and past the last one.
	for _, d := range []time.Duration{50 * time.Millisecond, time.Second, 320 * time.Second, 400 * time.Second, 1} {
		c.ObserveCompletion(c.Labels("azure", "gpt-4o", "k-1"), 200, d, 0, 0)
	}
	c.Inflight(c.Labels("azure", "gpt-4o", "k-1")).Inc()
	c.Inflight(c.Labels("azure", "gpt-4o", "k-2")).Inc()
	c.Inflight(c.Labels("azure", "gpt-4o", "k-2")).Dec()
	c.UpstreamError("azure", "connect")
	c.UpstreamError("azure", "timeout")
	c.parseError("azure", parsers.FieldError{Header: "x-ratelimit-remaining-tokens", Value: "abc", Err: parsers.ErrSyntax})
	clk.Add(2 * time.Second)
	return c, clk
}

// restRegistry stands for the rest of the agent's registry: metrics the
// collector does not own, some sorting before, between and after its own.
func restRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	for _, n := range []string{"aaa_first", "headroom_config_last_reload_successful", "headroom_ratelimit_m_between", "zzz_last"} {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: n, Help: "Help of " + n + ` with "quotes" and \ backslash.`})
		g.Set(1.5)
		reg.MustRegister(g)
	}
	return reg
}

var scrapeFormats = []struct{ name, accept string }{
	{"text", ""},
	{"openmetrics", "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1"},
}

func scrape(t *testing.T, h http.Handler, accept string, gz bool) (string, http.Header) {
	t.Helper()
	req := httptest.NewRequest("GET", "/metrics", nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if gz {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	body := w.Body.Bytes()
	if gz {
		if w.Header().Get("Content-Encoding") != "gzip" {
			t.Fatalf("not gzipped: %v", w.Header())
		}
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	return string(body), w.Header()
}

// referenceHandler serves the collector the way the agent did before it
// rendered its own families: everything through client_golang.
func referenceHandler(c *Collector, rest prometheus.Gatherer) http.Handler {
	reg := prometheus.NewPedanticRegistry()
	if err := c.Register(reg); err != nil {
		panic(err)
	}
	return promhttp.HandlerFor(prometheus.Gatherers{rest, reg}, promhttp.HandlerOpts{EnableOpenMetrics: true})
}

// TestExpositionGolden pins the exposition of the scenario, in the text
// and OpenMetrics formats, byte for byte. The golden files were written by
// the client_golang path before the collector rendered its own families.
func TestExpositionGolden(t *testing.T) {
	for _, f := range scrapeFormats {
		t.Run(f.name, func(t *testing.T) {
			c, _ := scenario(t)
			got, _ := scrape(t, referenceHandler(c, restRegistry()), f.accept, false)
			path := filepath.Join("testdata", "exposition."+f.name)
			if *update {
				os.MkdirAll("testdata", 0o755)
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("%s exposition differs from %s:\n%s", f.name, path, firstDiff(got, string(want)))
			}
		})
	}
}

func firstDiff(got, want string) string {
	gl, wl := bytes.Split([]byte(got), []byte("\n")), bytes.Split([]byte(want), []byte("\n"))
	for i := 0; i < len(gl) || i < len(wl); i++ {
		var g, w []byte
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if !bytes.Equal(g, w) {
			return "line " + strconv.Itoa(i+1) + ":\n got: " + string(g) + "\nwant: " + string(w)
		}
	}
	return "(equal)"
}

// TestHandlerMatchesGolden: the collector's own exposition is byte for byte
// the golden one, plain and gzipped, with promhttp's headers.
func TestHandlerMatchesGolden(t *testing.T) {
	for _, f := range scrapeFormats {
		for _, gz := range []bool{false, true} {
			t.Run(f.name+map[bool]string{true: "-gzip"}[gz], func(t *testing.T) {
				c, _ := scenario(t)
				got, hdr := scrape(t, c.Handler(restRegistry(), HandlerOpts{}), f.accept, gz)
				want, err := os.ReadFile(filepath.Join("testdata", "exposition."+f.name))
				if err != nil {
					t.Fatal(err)
				}
				if got != string(want) {
					t.Errorf("differs from the golden file:\n%s", firstDiff(got, string(want)))
				}
				_, refHdr := scrape(t, referenceHandler(c, restRegistry()), f.accept, gz)
				for _, h := range []string{"Content-Type", "Content-Encoding"} {
					if hdr.Get(h) != refHdr.Get(h) {
						t.Errorf("%s: %q, client_golang says %q", h, hdr.Get(h), refHdr.Get(h))
					}
				}
				if fmt.Sprint(hdr.Values("Vary")) != fmt.Sprint(refHdr.Values("Vary")) {
					t.Errorf("Vary: %q, client_golang says %q", hdr.Values("Vary"), refHdr.Values("Vary"))
				}
			})
		}
	}
}

// TestHandlerMatchesReference compares the collector's exposition with
// client_golang's for the same state through a life of series: created,
// updated, some expiring, new ones sorting before, between and after the
// old, for every format Prometheus negotiates (protobuf included), with a
// name[] filter, and parsed as Prometheus parses it.
func TestHandlerMatchesReference(t *testing.T) {
	c, clk := scenario(t)
	h := c.Handler(restRegistry(), HandlerOpts{})
	ref := referenceHandler(c, restRegistry())
	step := func(i int) {
		now := clk.Now()
		for j, k := range []string{"a", "k-1", "zz", fmt.Sprintf("k-%d", i)} {
			l := c.Labels("azure", fmt.Sprintf("m-%d", (i+j)%5), k)
			c.ObserveResponse(l, 200, &parsers.Result{Observations: []parsers.Observation{
				{Resource: "requests", Window: "1m", Limit: 100, Remaining: float64(i), HasLimit: true, HasRemaining: true, Reset: now.Add(time.Second)},
				{Resource: "tokens", Window: "10s", Limit: 1e6, HasLimit: true}}}, now)
			c.ObserveCompletion(l, 200, time.Duration(i)*time.Second, int64(i), 0)
		}
		clk.Add(7 * time.Second)
	}
	formats := []struct{ name, accept string }{
		{"text", ""},
		{"openmetrics-1", "application/openmetrics-text;version=1.0.0"},
		{"openmetrics-0.0.1", "application/openmetrics-text;version=0.0.1;q=0.9,text/plain;q=0.5"},
		{"text-utf8", "text/plain;version=0.0.4;escaping=allow-utf-8"},
		{"proto", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.9,text/plain;q=0.1"},
		{"proto-text", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text"},
	}
	for i := range 8 {
		step(i)
		for _, f := range formats {
			got, gh := scrape(t, h, f.accept, i%2 == 0)
			want, wh := scrape(t, ref, f.accept, i%2 == 0)
			if gh.Get("Content-Type") != wh.Get("Content-Type") {
				t.Fatalf("step %d %s: Content-Type %q, want %q", i, f.name, gh.Get("Content-Type"), wh.Get("Content-Type"))
			}
			if f.name == "proto" && got != want {
				_, err := protoEqual(got, want)
				t.Fatalf("step %d %s: differs from client_golang's from byte %d (decoded: %v)", i, f.name, firstByteDiff(got, want), err)
			}
			if strings.HasPrefix(f.name, "proto") {
				continue
			}
			if got != want {
				t.Fatalf("step %d %s: differs from client_golang's:\n%s", i, f.name, firstDiff(got, want))
			}
			if f.name == "text" {
				a, b := parseText(t, got), parseText(t, want)
				if len(a) != len(b) {
					t.Fatalf("step %d: %d families, want %d", i, len(a), len(b))
				}
				for n, mf := range b {
					if !proto.Equal(a[n], mf) {
						t.Fatalf("step %d: family %s differs", i, n)
					}
				}
			}
		}
	}
	// name[] filter.
	req := httptest.NewRequest("GET", "/metrics?name[]=headroom_ratelimit_limit&name[]=aaa_first&name[]=headroom_tokens_total", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	fams := parseText(t, w.Body.String())
	if len(fams) != 3 || fams["headroom_ratelimit_limit"] == nil || fams["aaa_first"] == nil || fams["headroom_tokens_total"] == nil {
		t.Errorf("name[] filter: got %d families", len(fams))
	}
}

func parseText(t *testing.T, s string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

func protoEqual(a, b string) (bool, error) {
	read := func(s string) ([]*dto.MetricFamily, error) {
		var out []*dto.MetricFamily
		d := expfmt.NewDecoder(strings.NewReader(s), expfmt.NewFormat(expfmt.TypeProtoDelim))
		for {
			mf := &dto.MetricFamily{}
			if err := d.Decode(mf); err == io.EOF {
				return out, nil
			} else if err != nil {
				return nil, err
			}
			out = append(out, mf)
		}
	}
	x, err := read(a)
	if err != nil {
		return false, err
	}
	y, err := read(b)
	if err != nil {
		return false, err
	}
	if len(x) != len(y) || len(x) == 0 {
		return false, fmt.Errorf("%d families, want %d", len(x), len(y))
	}
	for i := range x {
		if !proto.Equal(x[i], y[i]) {
			return false, fmt.Errorf("family %s differs", x[i].GetName())
		}
	}
	return true, nil
}
