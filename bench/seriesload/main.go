// Command seriesload fills a running Headroom with rate-limit series and
// measures what that costs, for scripts/bench.sh: it sends one call per
// (model, key) pair through the proxy (each response carrying requests and
// tokens limits: two series per pair), then scrapes /metrics repeatedly and
// reads the process's RSS before the load, after it, and after the scrapes,
// and the CPU time the process spent per scrape (user + system, from
// /proc: unlike wall time it hardly depends on what else the machine
// runs). It prints one JSON object.
//
//	seriesload -proxy http://127.0.0.1:8797/up -metrics http://127.0.0.1:9797/metrics -pid 1234 -models 100 -keys 50
//
// -format picks the Accept header of the scrapes: text (none, as Go's
// http.Client and curl send), openmetrics (Prometheus' default) or proto
// (Prometheus with native histograms or scrape_protocols:
// [PrometheusProto, ...]). Every scrape asks for gzip, as both do.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/headroomhq/headroom/bench/internal/proc"
)

// accepts are the Accept headers of -format; openmetrics and proto are
// what Prometheus 3 sends for its default scrape_protocols and for
// [PrometheusProto, OpenMetricsText1.0.0, OpenMetricsText0.0.1, PrometheusText0.0.4].
var accepts = map[string]string{
	"text":        "",
	"openmetrics": "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1",
	"proto":       "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.5,application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.4,application/openmetrics-text;version=0.0.1;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1",
}

func main() {
	proxy := flag.String("proxy", "", "proxy URL prefix of the provider, e.g. http://127.0.0.1:8797/up")
	metrics := flag.String("metrics", "", "/metrics URL")
	pid := flag.Int("pid", 0, "Headroom's process id (for RSS)")
	models := flag.Int("models", 100, "distinct models")
	keys := flag.Int("keys", 50, "distinct keys")
	scrapes := flag.Int("scrapes", 20, "scrapes to time")
	format := flag.String("format", "text", "exposition format to ask for: text, openmetrics or proto")
	flag.Parse()
	if *proxy == "" || *metrics == "" || *pid == 0 {
		fmt.Fprintln(os.Stderr, "seriesload: -proxy, -metrics and -pid are required")
		os.Exit(2)
	}
	accept, ok := accepts[*format]
	if !ok {
		fmt.Fprintf(os.Stderr, "seriesload: -format %q: want text, openmetrics or proto\n", *format)
		os.Exit(2)
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	rssBefore := proc.RSS(*pid)

	type job struct{ m, k int }
	jobs := make(chan job)
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := 0
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				body := fmt.Sprintf(`{"model":"bench-model-%03d","messages":[]}`, j.m)
				req, _ := http.NewRequest("POST", *proxy+"/v1/chat/completions", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", fmt.Sprintf("Bearer sk-bench-key-%03d", j.k))
				resp, err := client.Do(req)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if err != nil || resp.StatusCode != 200 {
					mu.Lock()
					failed++
					mu.Unlock()
				}
			}
		}()
	}
	start := time.Now()
	for m := 0; m < *models; m++ {
		for k := 0; k < *keys; k++ {
			jobs <- job{m, k}
		}
	}
	close(jobs)
	wg.Wait()
	load := time.Since(start)
	rssLoaded := proc.RSS(*pid)

	var durs []float64
	var contentType string
	cpu0 := proc.CPUTime(*pid)
	// One buffer for every scrape, as Prometheus pools its scrape buffers:
	// growing a fresh 7 MiB slice per scrape would time this client's
	// allocations as much as the scrape.
	var buf bytes.Buffer
	for i := 0; i < *scrapes; i++ {
		req, _ := http.NewRequest("GET", *metrics, nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		// Go's Transport asks for gzip and inflates itself, as long as the
		// request does not set Accept-Encoding.
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			fmt.Fprintln(os.Stderr, "seriesload:", err)
			os.Exit(1)
		}
		buf.Reset()
		buf.ReadFrom(resp.Body)
		resp.Body.Close()
		durs = append(durs, float64(time.Since(t0).Microseconds())/1e3)
		contentType = resp.Header.Get("Content-Type")
	}
	cpuPerScrape := (proc.CPUTime(*pid) - cpu0).Seconds() * 1e3 / float64(*scrapes)
	sort.Float64s(durs)
	// Counted once, after the timed scrapes: decoding 6 MB of protobuf
	// between scrapes would compete with Headroom for the CPU.
	series, err := countSeries(buf.Bytes(), expfmt.Format(contentType))
	if err != nil {
		fmt.Fprintf(os.Stderr, "seriesload: reading the %s scrape: %v\n", contentType, err)
		os.Exit(1)
	}
	out := map[string]any{
		"format": *format, "content_type": contentType,
		"calls": *models * *keys, "failed": failed, "load_seconds": load.Seconds(),
		"ratelimit_series": series, "scrape_bytes": buf.Len(),
		"scrape_p50_ms": durs[len(durs)/2], "scrape_max_ms": durs[len(durs)-1], "scrape_cpu_ms": cpuPerScrape,
		"rss_before_mib": float64(rssBefore) / (1 << 20), "rss_loaded_mib": float64(rssLoaded) / (1 << 20), "rss_after_mib": float64(proc.RSS(*pid)) / (1 << 20),
	}
	json.NewEncoder(os.Stdout).Encode(out)
}

// countSeries counts the headroom_ratelimit_limit series of a scrape.
func countSeries(b []byte, ct expfmt.Format) (int, error) {
	if ct.FormatType() != expfmt.TypeProtoDelim {
		n := 0
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "headroom_ratelimit_limit{") {
				n++
			}
		}
		return n, sc.Err()
	}
	d := expfmt.NewDecoder(bytes.NewReader(b), ct)
	for {
		var mf dto.MetricFamily
		if err := d.Decode(&mf); err == io.EOF {
			return 0, nil
		} else if err != nil {
			return 0, err
		}
		if mf.GetName() == "headroom_ratelimit_limit" {
			return len(mf.GetMetric()), nil
		}
	}
}
