package collector

import (
	"compress/gzip"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"

	"github.com/headroomhq/headroom/parsers"
)

// Accept headers of the scrapes benchmarked: what Go's http.Client sends
// (nothing), what Prometheus sends by default (OpenMetrics first) and with
// native histograms or scrape_protocols: [PrometheusProto, ...] (protobuf
// first).
const (
	acceptOpenMetrics = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1"
	acceptProto       = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6," + acceptOpenMetrics
)

// loaded10k is the collector of the scale benchmark (bench/seriesload,
// internal/agent's BenchmarkScrape10k) without the proxy: 100 models × 50
// keys, each call reporting a requests and a tokens limit (10k rate-limit
// series) and completing with usage (requests, tokens in and out,
// duration).
func loaded10k(tb testing.TB) *Collector {
	tb.Helper()
	clk := &fakeClock{t: time.Unix(1700000000, 0)}
	c := New(Options{Now: clk.Now})
	c.SetProviders([]Provider{{Name: "up", Family: "openai", Dialect: "openai"}})
	now := clk.Now()
	for m := range 100 {
		for k := range 50 {
			l := c.Labels("up", fmt.Sprintf("bench-model-%03d", m), fmt.Sprintf("k-%012x", k*7919))
			c.ObserveResponse(l, 200, &parsers.Result{Observations: []parsers.Observation{
				{Resource: "requests", Window: "1m", Limit: 10000, Remaining: 9999, HasLimit: true, HasRemaining: true, Reset: now.Add(6 * time.Millisecond)},
				{Resource: "tokens", Window: "1m", Limit: 2000000, Remaining: 1999982, HasLimit: true, HasRemaining: true, Reset: now.Add(time.Millisecond)},
			}}, now)
			c.ObserveCompletion(l, 200, time.Duration(m*k+1)*time.Millisecond, 9, 9)
		}
	}
	return c
}

// discardResponse is a ResponseWriter that only counts bytes.
type discardResponse struct {
	h http.Header
	n int64
}

func (d *discardResponse) Header() http.Header         { return d.h }
func (d *discardResponse) WriteHeader(int)             {}
func (d *discardResponse) Write(p []byte) (int, error) { d.n += int64(len(p)); return len(p), nil }

// BenchmarkScrape10k times Handler's /metrics with 10k rate-limit series,
// per negotiated format, plain and gzipped.
//
//	go test -run XXX -bench BenchmarkScrape10k -benchmem ./collector
func BenchmarkScrape10k(b *testing.B) {
	c := loaded10k(b)
	if n := len(c.Snapshot()); n != 10000 {
		b.Fatalf("%d rate-limit series, want 10000", n)
	}
	h := c.Handler(nil, HandlerOpts{})
	for _, f := range []struct{ name, accept string }{
		{"text", ""},
		{"openmetrics", acceptOpenMetrics},
		{"proto", acceptProto},
	} {
		for _, gz := range []bool{false, true} {
			name := f.name
			if gz {
				name += "-gzip"
			}
			b.Run(name, func(b *testing.B) {
				runtime.GC()
				b.ReportAllocs()
				var size int64
				for b.Loop() {
					req := httptest.NewRequest("GET", "/metrics", nil)
					if f.accept != "" {
						req.Header.Set("Accept", f.accept)
					}
					if gz {
						req.Header.Set("Accept-Encoding", "gzip")
					}
					w := &discardResponse{h: http.Header{}}
					h.ServeHTTP(w, req)
					size = w.n
				}
				b.ReportMetric(float64(size), "body-bytes")
			})
		}
	}
}

// BenchmarkScrapeClientGolang is the same scrape done the way
// client_golang would do it, to compare with BenchmarkScrape10k in the
// same run: each family built as a dto.MetricFamily from the collector's
// state and written by expfmt's encoder (a lower bound of promhttp, which
// would also sort and check what it gathered), and gzip as promhttp
// compresses (compress/gzip at its default level over the exposition).
//
//	go test -run XXX -bench 'BenchmarkScrape10k|BenchmarkScrapeClientGolang' -benchmem ./collector
func BenchmarkScrapeClientGolang(b *testing.B) {
	c := loaded10k(b)
	for _, f := range []struct {
		name   string
		format expfmt.Format
	}{
		{"text", expfmt.NewFormat(expfmt.TypeTextPlain)},
		{"openmetrics", expfmt.NewFormat(expfmt.TypeOpenMetrics)},
		{"proto", expfmt.NewFormat(expfmt.TypeProtoDelim)},
	} {
		b.Run(f.name, func(b *testing.B) {
			runtime.GC()
			b.ReportAllocs()
			var size int64
			for b.Loop() {
				w := &discardResponse{}
				enc := expfmt.NewEncoder(w, f.format)
				low, err := c.low.Gather()
				if err != nil {
					b.Fatal(err)
				}
				g := new(gaugeSnapshot)
				c.snapshotGauges(g)
				for _, own := range c.own {
					if mf := own.metricFamily(g); mf != nil {
						low = append(low, mf)
					}
				}
				for _, mf := range low {
					if err := enc.Encode(mf); err != nil {
						b.Fatal(err)
					}
				}
				if closer, ok := enc.(expfmt.Closer); ok {
					closer.Close()
				}
				size = w.n
			}
			b.ReportMetric(float64(size), "body-bytes")
		})
	}
	h := c.Handler(nil, HandlerOpts{})
	gzPool := sync.Pool{New: func() any { return gzip.NewWriter(nil) }}
	b.Run("text-gzip", func(b *testing.B) {
		runtime.GC()
		b.ReportAllocs()
		var size int64
		for b.Loop() {
			out := &discardResponse{}
			zw := gzPool.Get().(*gzip.Writer)
			zw.Reset(out)
			w := &gzipResponse{discardResponse{h: http.Header{}}, zw}
			h.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
			zw.Close()
			gzPool.Put(zw)
			size = out.n
		}
		b.ReportMetric(float64(size), "body-bytes")
	})
}

// gzipResponse compresses what is written through it.
type gzipResponse struct {
	discardResponse
	z *gzip.Writer
}

func (g *gzipResponse) Write(p []byte) (int, error) { return g.z.Write(p) }
