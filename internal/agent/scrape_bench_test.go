package agent_test

import (
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/headroomhq/headroom/config"
	"github.com/headroomhq/headroom/internal/agent"
	"github.com/headroomhq/headroom/internal/testenv"
	"github.com/headroomhq/headroom/internal/testtool/loopback"
)

// loadedAgent builds an agent (not started) with one OpenAI-dialect provider
// "up" and sends models × keys calls through its proxy handler, the way
// bench/seriesload does against a running Headroom: each response carries a
// requests and a tokens limit (two rate-limit series per model × key) and a
// usage block (requests_total, tokens_total input and output, duration).
func loadedAgent(tb testing.TB, models, keys int, settings func(*config.Settings)) *agent.Agent {
	tb.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("X-Ratelimit-Limit-Requests", "10000")
		h.Set("X-Ratelimit-Remaining-Requests", "9999")
		h.Set("X-Ratelimit-Reset-Requests", "6ms")
		h.Set("X-Ratelimit-Limit-Tokens", "2000000")
		h.Set("X-Ratelimit-Remaining-Tokens", "1999982")
		h.Set("X-Ratelimit-Reset-Tokens", "1ms")
		io.WriteString(w, `{"id":"chatcmpl-bench","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"Hello!"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":9,"total_tokens":18}}`)
	}))
	tb.Cleanup(up.Close)
	a := testenv.Start(tb, testenv.Options{
		ProvidersYAML: "providers:\n  - name: up\n    dialect: openai\n    upstream: " + up.URL + "\n",
		Settings:      settings,
	})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	defer client.CloseIdleConnections()
	url := "http://" + a.ProxyAddr + "/up/v1/chat/completions"
	type job struct{ m, k int }
	jobs := make(chan job)
	var wg sync.WaitGroup
	var failed sync.Map
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				body := fmt.Sprintf(`{"model":"bench-model-%03d","messages":[]}`, j.m)
				req, _ := http.NewRequest("POST", url, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", fmt.Sprintf("Bearer sk-bench-key-%03d", j.k))
				resp, err := client.Do(req)
				if err != nil {
					failed.Store(j, err)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Store(j, resp.StatusCode)
				}
			}
		}()
	}
	for m := range models {
		for k := range keys {
			jobs <- job{m, k}
		}
	}
	close(jobs)
	wg.Wait()
	failed.Range(func(k, v any) bool {
		tb.Fatalf("call %v answered %v", k, v)
		return false
	})
	return a
}

// discard is a ResponseWriter that only counts bytes.
type discard struct {
	h http.Header
	n int64
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) WriteHeader(int)             {}
func (d *discard) Write(p []byte) (int, error) { d.n += int64(len(p)); return len(p), nil }

// BenchmarkScrape10k times one full /metrics scrape through the agent's
// metrics handler with 10k rate-limit series (100 models × 50 keys × 2
// resources) and the counters the same traffic created: the scale case of
// docs/benchmarks.md without the network. Sub-benchmarks by what the client
// asks for: Go's http.Client (text, gzip; what bench/seriesload sends) and
// Prometheus (OpenMetrics preferred, gzip).
//
//	go test -run XXX -bench BenchmarkScrape10k -benchmem ./internal/agent
func BenchmarkScrape10k(b *testing.B) {
	a := loadedAgent(b, 100, 50, func(s *config.Settings) { s.MaxSeriesPerProvider = 10000 })
	if n := len(a.Collector().Snapshot()); n != 10000 {
		b.Fatalf("%d rate-limit series, want 10000", n)
	}
	h := a.MetricsHandler()
	for _, c := range []struct{ name, accept, encoding string }{
		{"text-gzip", "", "gzip"},
		{"text", "", ""},
		{"openmetrics-gzip", "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1", "gzip"},
		// Prometheus with PrometheusProto first (native histograms): dto
		// families built from the collector's state, not rendered.
		{"proto-gzip", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited", "gzip"},
	} {
		b.Run(c.name, func(b *testing.B) {
			runtime.GC()
			b.ReportAllocs()
			var size int64
			cpu0 := loopback.CPUTime()
			for b.Loop() {
				req := httptest.NewRequest("GET", "/metrics", nil)
				if c.accept != "" {
					req.Header.Set("Accept", c.accept)
				}
				if c.encoding != "" {
					req.Header.Set("Accept-Encoding", c.encoding)
				}
				w := &discard{h: http.Header{}}
				h.ServeHTTP(w, req)
				size = w.n
			}
			b.ReportMetric(float64(size), "body-bytes")
			// CPU of the whole process (every goroutine gzipping) per scrape.
			b.ReportMetric(float64((loopback.CPUTime()-cpu0).Microseconds())/1e3/float64(b.N), "cpu-ms/op")
		})
	}
}

// TestScrapeIsValid checks that the loaded agent's /metrics parses, in the
// format a plain client gets, gzipped, with every rate-limit series in it.
func TestScrapeLoaded(t *testing.T) {
	a := loadedAgent(t, 10, 5, nil)
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	w := httptest.NewRecorder()
	a.MetricsHandler().ServeHTTP(w, req)
	if w.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("not gzipped: %v", w.Header())
	}
	zr, err := gzip.NewReader(w.Body)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(zr)
	if n := strings.Count(string(body), "\nheadroom_ratelimit_limit{"); n != 100 {
		t.Errorf("%d headroom_ratelimit_limit series, want 100", n)
	}
}
