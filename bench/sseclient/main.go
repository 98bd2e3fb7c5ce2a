// Command sseclient measures server-sent events for scripts/bench.sh and
// prints one JSON object.
//
// By default it opens -n streams one after another and reports the time to
// the first byte of each body and the delays between events (µs), and the
// fewest and most events a stream carried:
//
//	sseclient -url http://127.0.0.1:8797/fake/v1/chat/completions -n 100
//
// With -concurrent it opens -n streams at once and holds them until the
// provider ends them. Every event of every stream is counted against
// -expect: a stream with another count, another status than 200 or a read
// that fails is a failed stream, and the events it lacks are reported as
// missing. For the processes named by -pids (a proxy: nginx's master and
// workers, or one process) it reads their resident memory before the first
// stream opens and, every 200 ms, while all of them are held (from the
// moment each has its first event until the first one ends; the peak is
// kept), and their CPU time from the first stream's opening to the last
// one's end:
//
//	sseclient -concurrent -n 1000 -expect 24 -pids 1234 -url http://127.0.0.1:8797/fake/v1/chat/completions
//
// A failed stream does not stop the run: the counts are the result. Only a
// wrong flag exits non-zero in that mode.
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

	"github.com/headroomhq/headroom/bench/internal/proc"
)

func main() {
	url := flag.String("url", "", "streaming endpoint (POST)")
	n := flag.Int("n", 100, "streams")
	body := flag.String("body", `{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"Hello!"}]}`, "request body")
	key := flag.String("key", "sk-bench", "bearer token")
	concurrent := flag.Bool("concurrent", false, "open the -n streams at once and hold them (see the command's doc)")
	expect := flag.Int("expect", 0, "with -concurrent: events every stream must carry (0: any number)")
	pids := flag.String("pids", "", "with -concurrent: comma-separated process ids whose RSS and CPU time to read")
	timeout := flag.Duration("timeout", 2*time.Minute, "longest a stream may take")
	flag.Parse()
	if *url == "" || *n < 1 {
		fail(2, "-url and a positive -n are required")
	}
	group, err := proc.ParseGroup(*pids)
	if err != nil {
		fail(2, "-pids: %v", err)
	}
	newRequest := func() *http.Request {
		req, err := http.NewRequest("POST", *url, strings.NewReader(*body))
		if err != nil {
			fail(2, "-url: %v", err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+*key)
		return req
	}
	var out map[string]any
	if *concurrent {
		// One connection per stream, all open at once: no pool limit.
		client := &http.Client{Timeout: *timeout, Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: *n}}
		out = hold(client, newRequest, *n, *expect, group)
	} else {
		out = sequential(&http.Client{Timeout: *timeout}, newRequest, *n)
	}
	json.NewEncoder(os.Stdout).Encode(out)
}

func sequential(client *http.Client, newRequest func() *http.Request, n int) map[string]any {
	var ttfb, gaps []float64
	events, fewest, most := 0, -1, 0
	for i := 0; i < n; i++ {
		start := time.Now()
		resp, err := client.Do(newRequest())
		if err != nil {
			fail(1, "%v", err)
		}
		br := bufio.NewReader(resp.Body)
		if _, err := br.Peek(1); err != nil {
			fail(1, "empty body: %v", err)
		}
		ttfb = append(ttfb, us(time.Since(start)))
		var last time.Time
		got, err := readEvents(br, func() {
			now := time.Now()
			if !last.IsZero() {
				gaps = append(gaps, us(now.Sub(last)))
			}
			last = now
		})
		resp.Body.Close()
		if resp.StatusCode != 200 {
			fail(1, "status %d", resp.StatusCode)
		}
		if err != nil {
			fail(1, "stream %d: %v", i, err)
		}
		events += got
		most = max(most, got)
		if fewest < 0 || got < fewest {
			fewest = got
		}
	}
	return map[string]any{
		"streams": n, "events": events, "events_min": fewest, "events_max": most,
		"ttfb_p50_us": pct(ttfb, 50), "ttfb_p99_us": pct(ttfb, 99),
		"gap_p50_us": pct(gaps, 50), "gap_p99_us": pct(gaps, 99),
	}
}

// streamResult is what one held stream saw.
type streamResult struct {
	events int
	ttfb   time.Duration // to the first event
	err    error
}

func hold(client *http.Client, newRequest func() *http.Request, n, expect int, group proc.Group) map[string]any {
	results := make([]streamResult, n)
	var opened, done sync.WaitGroup
	opened.Add(n)
	done.Add(n)
	firstEnd := make(chan struct{})
	var endOnce sync.Once

	rss0, cpu0 := group.RSS(), group.CPUTime()
	start := time.Now()
	for i := range results {
		go func(r *streamResult) {
			defer done.Done()
			defer endOnce.Do(func() { close(firstEnd) })
			open := sync.OnceFunc(opened.Done)
			defer open()
			resp, err := client.Do(newRequest())
			if err != nil {
				r.err = err
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 {
				r.err = fmt.Errorf("status %d", resp.StatusCode)
				return
			}
			r.events, r.err = readEvents(bufio.NewReader(resp.Body), func() {
				if r.ttfb == 0 {
					r.ttfb = time.Since(start)
					open()
				}
			})
		}(&results[i])
	}
	opened.Wait()
	allOpen := time.Since(start)
	peak, samples := group.RSS(), 1
	tick := time.NewTicker(200 * time.Millisecond)
sampling:
	for {
		select {
		case <-firstEnd:
			break sampling
		case <-tick.C:
			peak = max(peak, group.RSS())
			samples++
		}
	}
	tick.Stop()
	held := time.Since(start) - allOpen
	done.Wait()
	total := time.Since(start)
	cpu := group.CPUTime() - cpu0

	out := map[string]any{
		"streams": n, "events_per_stream": expect,
		"open_ms": ms(allOpen), "held_ms": ms(held), "total_ms": ms(total),
	}
	var ttfb []float64
	events, missing, extra, failed := 0, 0, 0, 0
	errs := map[string]int{}
	for _, r := range results {
		events += r.events
		bad := r.err != nil
		if r.err != nil {
			errs[r.err.Error()]++
		}
		if expect > 0 && r.events != expect {
			bad = true
			missing += max(expect-r.events, 0)
			extra += max(r.events-expect, 0)
			if r.err == nil {
				errs[fmt.Sprintf("%d events, want %d", r.events, expect)]++
			}
		}
		if bad {
			failed++
		}
		if r.ttfb > 0 {
			ttfb = append(ttfb, us(r.ttfb))
		}
	}
	out["events"], out["missing_events"], out["extra_events"], out["failed_streams"] = events, missing, extra, failed
	out["ttfb_p50_us"], out["ttfb_p99_us"] = pct(ttfb, 50), pct(ttfb, 99)
	if len(errs) > 0 {
		out["errors"] = errs
		for e, c := range errs {
			fmt.Fprintf(os.Stderr, "sseclient: %d streams: %s\n", c, e)
		}
	}
	if len(group) > 0 {
		out["rss_before_kib"] = rss0 >> 10
		out["rss_held_kib"] = peak >> 10
		out["rss_samples"] = samples
		out["rss_growth_per_stream_kib"] = float64(peak-rss0) / 1024 / float64(n)
		out["cpu_ms"] = ms(cpu)
	}
	return out
}

// readEvents reads a stream to its end and counts its events (their data
// lines: one per event in the streams the benchmarks read), calling
// onEvent as each arrives. The error is nil at a clean end.
func readEvents(br *bufio.Reader, onEvent func()) (int, error) {
	events := 0
	for {
		line, err := br.ReadSlice('\n')
		if bytes.HasPrefix(line, []byte("data:")) {
			events++
			onEvent()
		}
		for err == bufio.ErrBufferFull { // the rest of a long line
			_, err = br.ReadSlice('\n')
		}
		if err == io.EOF {
			return events, nil
		}
		if err != nil {
			return events, err
		}
	}
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }

func pct(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[int(float64(len(s)-1)*p/100)]
}

func fail(code int, format string, args ...any) {
	fmt.Fprintf(os.Stderr, "sseclient: "+format+"\n", args...)
	os.Exit(code)
}
