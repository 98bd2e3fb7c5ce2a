// Command sseclient measures server-sent-event timing for scripts/bench.sh:
// time to first byte of the body and the delay between events, over n
// sequential streams. It prints one JSON object (microseconds).
//
//	sseclient -url http://127.0.0.1:8797/fake/v1/chat/completions -n 100
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
	"time"
)

func main() {
	url := flag.String("url", "", "streaming endpoint (POST)")
	n := flag.Int("n", 100, "streams")
	body := flag.String("body", `{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"Hello!"}]}`, "request body")
	key := flag.String("key", "sk-bench", "bearer token")
	flag.Parse()
	if *url == "" {
		fmt.Fprintln(os.Stderr, "sseclient: -url is required")
		os.Exit(2)
	}
	client := &http.Client{Timeout: time.Minute}
	var ttfb, gaps []float64
	events := 0
	for i := 0; i < *n; i++ {
		req, _ := http.NewRequest("POST", *url, bytes.NewReader([]byte(*body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+*key)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			fmt.Fprintln(os.Stderr, "sseclient:", err)
			os.Exit(1)
		}
		br := bufio.NewReader(resp.Body)
		if _, err := br.Peek(1); err != nil {
			fmt.Fprintln(os.Stderr, "sseclient: empty body:", err)
			os.Exit(1)
		}
		ttfb = append(ttfb, us(time.Since(start)))
		var last time.Time
		for {
			line, err := br.ReadString('\n')
			if strings.HasPrefix(line, "data:") {
				now := time.Now()
				if !last.IsZero() {
					gaps = append(gaps, us(now.Sub(last)))
				}
				last = now
				events++
			}
			if err != nil {
				break
			}
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			fmt.Fprintln(os.Stderr, "sseclient: status", resp.StatusCode)
			os.Exit(1)
		}
	}
	out := map[string]any{
		"streams": *n, "events": events,
		"ttfb_p50_us": pct(ttfb, 50), "ttfb_p99_us": pct(ttfb, 99),
		"gap_p50_us": pct(gaps, 50), "gap_p99_us": pct(gaps, 99),
	}
	json.NewEncoder(os.Stdout).Encode(out)
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }

func pct(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	i := int(float64(len(s)-1) * p / 100)
	return s[i]
}
