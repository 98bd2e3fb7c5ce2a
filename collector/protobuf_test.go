package collector

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/encoding/protodelim"
	"google.golang.org/protobuf/proto"

	"github.com/headroomhq/headroom/parsers"
)

// protoAccept is what Prometheus sends with scrape_protocols:
// [PrometheusProto, ...].
const protoAccept = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.5,application/openmetrics-text;version=1.0.0;q=0.4,text/plain;version=0.0.4;q=0.2,*/*;q=0.1"

// checkProtoMatches scrapes h and ref (client_golang) in the delimited
// protobuf format, plain and gzipped (or as gzs says), and wants the same
// bytes and headers. It returns the families scraped.
func checkProtoMatches(t *testing.T, h, ref http.Handler, gzs ...bool) []*dto.MetricFamily {
	t.Helper()
	var fams []*dto.MetricFamily
	if gzs == nil {
		gzs = []bool{false, true}
	}
	for _, gz := range gzs {
		got, gh := scrape(t, h, protoAccept, gz)
		want, wh := scrape(t, ref, protoAccept, gz)
		for _, k := range []string{"Content-Type", "Content-Encoding"} {
			if gh.Get(k) != wh.Get(k) {
				t.Fatalf("gzip %v: %s %q, client_golang says %q", gz, k, gh.Get(k), wh.Get(k))
			}
		}
		if got != want {
			_, err := protoEqual(got, want)
			t.Fatalf("gzip %v: %d bytes differ from client_golang's %d from byte %d (decoded: %v)",
				gz, len(got), len(want), firstByteDiff(got, want), err)
		}
		fams = decodeProto(t, got)
	}
	return fams
}

func firstByteDiff(a, b string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func decodeProto(t *testing.T, s string) []*dto.MetricFamily {
	t.Helper()
	var out []*dto.MetricFamily
	d := expfmt.NewDecoder(strings.NewReader(s), expfmt.NewFormat(expfmt.TypeProtoDelim))
	for {
		mf := &dto.MetricFamily{}
		if err := d.Decode(mf); err == io.EOF {
			return out
		} else if err != nil {
			t.Fatalf("decoding family %d: %v", len(out), err)
		}
		out = append(out, mf)
	}
}

func familyNames(mfs []*dto.MetricFamily) []string {
	var out []string
	for _, mf := range mfs {
		out = append(out, mf.GetName())
	}
	return out
}

// TestProtoMatchesReference: the scenario (every family, escaping, bucket
// boundaries, expired series, caps) encodes to client_golang's bytes.
func TestProtoMatchesReference(t *testing.T) {
	c, _ := scenario(t)
	mfs := checkProtoMatches(t, c.Handler(restRegistry(), HandlerOpts{}), referenceHandler(c, restRegistry()))
	for _, f := range c.own {
		if !slices.Contains(familyNames(mfs), f.name) {
			t.Errorf("the scenario has no %s: the test does not cover it", f.name)
		}
	}
}

// TestProtoEmptyFamilies: a family without series is left out, as
// client_golang's Gather leaves it out, whichever the others are.
func TestProtoEmptyFamilies(t *testing.T) {
	for _, tc := range []struct {
		name    string
		feed    func(c *Collector, now time.Time)
		present []string
		absent  []string
	}{
		{"nothing observed", func(*Collector, time.Time) {}, []string{"headroom_provider_info"},
			[]string{"headroom_ratelimit_limit", "headroom_ratelimit_observed_timestamp_seconds", "headroom_requests_total", "headroom_request_duration_seconds"}},
		{"remaining only", func(c *Collector, now time.Time) {
			c.ObserveResponse(c.Labels("heroku-us", "m", "k"), 200, &parsers.Result{Observations: []parsers.Observation{
				{Resource: "requests", Window: "1m", Remaining: 3, HasRemaining: true}}}, now)
		}, []string{"headroom_ratelimit_remaining", "headroom_ratelimit_observed_timestamp_seconds"},
			[]string{"headroom_ratelimit_limit", "headroom_ratelimit_reset_timestamp_seconds", "headroom_requests_total"}},
		{"counters without gauges", func(c *Collector, now time.Time) {
			c.ObserveCompletion(c.Labels("heroku-us", "m", "k"), 200, 0, 5, 0)
		}, []string{"headroom_requests_total", "headroom_tokens_total"},
			[]string{"headroom_ratelimit_observed_timestamp_seconds", "headroom_request_duration_seconds", "headroom_ratelimited_total"}},
		{"all expired", func(c *Collector, now time.Time) {
			c.ObserveResponse(c.Labels("heroku-us", "m", "k"), 200, twoLimits(1, 1), now.Add(-time.Hour))
		}, []string{"headroom_provider_info"}, []string{"headroom_ratelimit_limit", "headroom_ratelimit_observed_timestamp_seconds"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, clk := newTest(t, Options{})
			tc.feed(c, clk.Now())
			names := familyNames(checkProtoMatches(t, c.Handler(nil, HandlerOpts{}), referenceHandler(c, prometheus.NewRegistry())))
			for _, n := range tc.present {
				if !slices.Contains(names, n) {
					t.Errorf("no %s in %v", n, names)
				}
			}
			for _, n := range tc.absent {
				if slices.Contains(names, n) {
					t.Errorf("%s without series exposed", n)
				}
			}
		})
	}
	// Nothing at all: an empty body both ways.
	c := New(Options{})
	got, _ := scrape(t, c.Handler(nil, HandlerOpts{}), protoAccept, false)
	want, _ := scrape(t, referenceHandler(c, prometheus.NewRegistry()), protoAccept, false)
	if got != "" || want != "" {
		t.Errorf("empty collector: %d bytes, client_golang %d", len(got), len(want))
	}
}

// TestProtoLabelValues: label values of any UTF-8 and of lengths around
// the varint boundaries (127/128 bytes, 16383/16384; families over 2 MiB)
// encode as client_golang's, and decode back to what was observed.
func TestProtoLabelValues(t *testing.T) {
	c, _, clk := newTest(t, Options{MaxKeysPerProvider: 1000, MaxModelsPerProvider: 1000})
	models := []string{"", "модель-é", "🚀 emoji 𝄞", "\u202eRTL override", "a\x00b", "\ufeffbom", "line\u2028sep", "e\u0301 combining",
		"\xff\xfe invalid", "ok\xc3", strings.Repeat("é", 70), `quo"te\back` + "\nnl\ttab",
		strings.Repeat("m", 120), strings.Repeat("m", 125)}
	keys := []string{"k", strings.Repeat("k", 114), strings.Repeat("k", 115), strings.Repeat("k", 127), strings.Repeat("k", 128),
		strings.Repeat("ключ", 2000), strings.Repeat("k", 16383), strings.Repeat("k", 16384)}
	now := clk.Now()
	var ls []Labels
	type pair struct{ model, key string }
	var pairs []pair
	for _, m := range models {
		for _, k := range keys {
			pairs = append(pairs, pair{m, k})
		}
	}
	// Three series make a family of over 2 MiB.
	for _, m := range models[:3] {
		pairs = append(pairs, pair{m, strings.Repeat("K", 750000)})
	}
	for _, p := range pairs {
		l := c.Labels("heroku-us", p.model, p.key)
		ls = append(ls, l)
		c.ObserveResponse(l, 429, &parsers.Result{ThrottledResource: "tokens", Observations: []parsers.Observation{
			{Resource: "requests", Window: "1m", Limit: 100, Remaining: 0, HasLimit: true, HasRemaining: true, Reset: now.Add(time.Second)}}}, now)
		c.ObserveCompletion(l, 429, 1300*time.Millisecond, 1<<40, 0)
	}
	// Plain only: 18 MB of gzip is slow under -race and tells nothing more.
	mfs := checkProtoMatches(t, c.Handler(restRegistry(), HandlerOpts{}), referenceHandler(c, restRegistry()), false)
	for _, mf := range mfs {
		if n := proto.Size(mf); mf.GetName() == "headroom_ratelimit_limit" && n < 1<<21 {
			t.Errorf("%s is %d bytes: its length is not a 4-byte varint", mf.GetName(), n)
		}
	}
	seen := map[[2]string]bool{}
	for _, mf := range mfs {
		if mf.GetName() != "headroom_ratelimit_limit" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var k, model string
			for _, lp := range m.GetLabel() {
				switch lp.GetName() {
				case "key":
					k = lp.GetValue()
				case "model":
					model = lp.GetValue()
				}
			}
			seen[[2]string{model, k}] = true
		}
	}
	for _, l := range ls {
		if !seen[[2]string{l.Model, l.Key}] {
			t.Errorf("no series for model %q key of %d bytes", l.Model, len(l.Key))
		}
	}
}

// TestProto10k: the benchmark's 10k series encode as client_golang's
// (plain only: gzip does not depend on the size, and this is the slowest
// test under -race).
func TestProto10k(t *testing.T) {
	if testing.Short() {
		t.Skip("10k series through client_golang")
	}
	c := loaded10k(t)
	mfs := checkProtoMatches(t, c.Handler(nil, HandlerOpts{}), referenceHandler(c, prometheus.NewRegistry()), false)
	for _, mf := range mfs {
		if mf.GetName() == "headroom_ratelimit_limit" && len(mf.GetMetric()) != 10000 {
			t.Errorf("%d headroom_ratelimit_limit series, want 10000", len(mf.GetMetric()))
		}
	}
}

// TestProtoOtherFamiliesThroughClientGolang: families the collector does
// not render (its low-cardinality ones, and the rest of the registry) keep
// client_golang's encoding, including what only protobuf carries (native
// histograms, exemplars), in order among the collector's.
func TestProtoOtherFamiliesThroughClientGolang(t *testing.T) {
	var own []string
	c, _ := scenario(t)
	for _, f := range c.own {
		own = append(own, f.name)
	}
	wantOwn := []string{"headroom_ratelimit_limit", "headroom_ratelimit_observed_timestamp_seconds", "headroom_ratelimit_remaining",
		"headroom_ratelimit_reset_timestamp_seconds", "headroom_ratelimited_total", "headroom_request_duration_seconds",
		"headroom_requests_total", "headroom_tokens_total"}
	if !slices.Equal(own, wantOwn) {
		t.Errorf("families rendered by the collector: %v, want %v", own, wantOwn)
	}

	rest := restRegistry()
	nh := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "headroom_ratelimit_native_seconds", Help: "Native.",
		NativeHistogramBucketFactor: 1.1, Buckets: []float64{1, 2}})
	ex := prometheus.NewCounter(prometheus.CounterOpts{Name: "headroom_requests_exemplar_total", Help: "With an exemplar."})
	rest.MustRegister(nh, ex)
	for _, v := range []float64{0.001, 0.5, 1, 3, 700} {
		nh.Observe(v)
	}
	ex.(prometheus.ExemplarAdder).AddWithExemplar(2, prometheus.Labels{"trace_id": "abc"})
	names := familyNames(checkProtoMatches(t, c.Handler(rest, HandlerOpts{}), referenceHandler(c, rest)))
	if !slices.IsSorted(names) {
		t.Errorf("families not sorted: %v", names)
	}
	for _, n := range []string{"headroom_ratelimit_native_seconds", "headroom_requests_exemplar_total", "headroom_retry_after_seconds", "headroom_provider_info"} {
		if !slices.Contains(names, n) {
			t.Errorf("no %s", n)
		}
	}
}

// TestProtoNameFilter: name[] selects families in the protobuf format too.
func TestProtoNameFilter(t *testing.T) {
	c, _ := scenario(t)
	h := c.Handler(restRegistry(), HandlerOpts{})
	req := httptest.NewRequest("GET", "/metrics?name[]=headroom_ratelimit_limit&name[]=aaa_first&name[]=headroom_request_duration_seconds", nil)
	req.Header.Set("Accept", protoAccept)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	got := familyNames(decodeProto(t, w.Body.String()))
	if want := []string{"aaa_first", "headroom_ratelimit_limit", "headroom_request_duration_seconds"}; !slices.Equal(got, want) {
		t.Errorf("families %v, want %v", got, want)
	}
}

// TestProtoFieldEncodings: the pieces whose size depends on the value
// encode as Go's protobuf does, for values the scenarios cannot produce
// (created timestamps come from time.Now): timestamps with zero seconds or
// nanoseconds, before 1970, far ahead; counts of every varint length;
// special floats.
func TestProtoFieldEncodings(t *testing.T) {
	times := []time.Time{time.Unix(0, 0), time.Unix(1700000000, 0), time.Unix(0, 5), time.Unix(-1, 999999999),
		time.Unix(-62135596800, 0), time.Unix(1<<40, 123456789), time.Date(2026, 11, 23, 0, 0, 0, 1, time.FixedZone("x", 3600))}
	cf := newCounterFamily("x_total", "Help.", "a")
	hf := newHistogramFamily("x_seconds", "Help.", []float64{1, 2}, "a")
	for i, ts := range times {
		c := cf.get(fmt.Sprint(i))
		c.created = ts
		c.n.Store(uint64(1)<<(i*9) - 1)
		h := hf.get(fmt.Sprint(i))
		h.created = ts
		h.counts = []uint64{uint64(1) << (i * 10), uint64(1)<<(i*9+1) + 1, 1<<63 - 1}
		h.count, h.sum = uint64(1)<<(i*9+5), math.Ldexp(1, i*100)
	}
	for _, f := range []interface {
		writeProto(*expoWriter)
		metricFamily() *dto.MetricFamily
	}{cf, hf} {
		var got, want bytes.Buffer
		w := &expoWriter{out: &got}
		f.writeProto(w)
		w.flush()
		if _, err := protodelim.MarshalTo(&want, f.metricFamily()); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			_, err := protoEqual(got.String(), want.String())
			t.Errorf("differs from byte %d (%v)", firstByteDiff(got.String(), want.String()), err)
		}
	}

	// Gauges, through the handler.
	c, _, clk := newTest(t, Options{})
	for i, v := range []float64{0, math.Copysign(0, -1), 1, -1, 0.5, 1e308, 5e-324, math.Inf(1), math.Inf(-1), math.NaN(), 1 << 53} {
		c.ObserveResponse(c.Labels("heroku-us", "m", fmt.Sprint(i)), 200, &parsers.Result{Observations: []parsers.Observation{
			{Resource: "requests", Window: "1m", Limit: v, Remaining: -v, HasLimit: true, HasRemaining: true, Reset: times[i%len(times)]}}}, clk.Now())
	}
	checkProtoMatches(t, c.Handler(nil, HandlerOpts{}), referenceHandler(c, prometheus.NewRegistry()))
}
