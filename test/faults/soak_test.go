package faults

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestSoak runs sustained mixed load (JSON, SSE streams, 429s, 503s, 20
// models and 10 keys, clients that give up) through the agent in a child
// process for 20 s (5 min with -long), sampling the child's RSS and
// goroutines every second: both must stay flat once warmed up, and
// goroutines must return to their idle level when the load stops. The
// label space is small on purpose: growth up to the cardinality caps is
// TestCardinalityAttack's subject; here any growth is a leak.
func TestSoak(t *testing.T) {
	dur := 20 * time.Second
	if *long {
		dur = 5 * time.Minute
	}
	up := newRawUpstream(t, serveHTTP(func(c net.Conn, req *http.Request, _ []byte) bool {
		var err error
		switch {
		case strings.HasSuffix(req.URL.Path, "/stream"):
			_, err = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"+rateLimitHeaders+"Transfer-Encoding: chunked\r\n\r\n")
			for i := 0; i < 4 && err == nil; i++ {
				ev := fmt.Sprintf("data: {\"choices\":[{\"delta\":{\"content\":\"t%d\"}}]}\n\n", i)
				_, err = fmt.Fprintf(c, "%x\r\n%s\r\n", len(ev), ev)
				time.Sleep(5 * time.Millisecond)
			}
			ev := "data: {\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":4}}\n\ndata: [DONE]\n\n"
			if err == nil {
				_, err = fmt.Fprintf(c, "%x\r\n%s\r\n0\r\n\r\n", len(ev), ev)
			}
		case strings.HasSuffix(req.URL.Path, "/limited"):
			body := `{"error":{"type":"rate_limit_exceeded"}}`
			_, err = fmt.Fprintf(c, "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 2\r\nx-ratelimit-limit-requests: 100\r\nx-ratelimit-remaining-requests: 0\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		case strings.HasSuffix(req.URL.Path, "/broken"):
			_, err = io.WriteString(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\n\r\nbusy!")
		case strings.HasSuffix(req.URL.Path, "/slow"):
			time.Sleep(300 * time.Millisecond)
			_, err = io.WriteString(c, okResponse(`{}`))
		default:
			_, err = io.WriteString(c, okResponse(`{"model":"gpt-4o","usage":{"prompt_tokens":12,"completion_tokens":30}}`))
		}
		return err == nil
	}))
	proxyAddr, metricsAddr, pid := startAgentProcess(t, up.url())

	client := &http.Client{Timeout: deadline, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	defer client.CloseIdleConnections()
	sample := func() (rss, goroutines float64) {
		resp, err := client.Get("http://" + metricsAddr + "/metrics")
		if err != nil {
			t.Fatalf("scrape: %v", err)
		}
		defer resp.Body.Close()
		p := expfmt.NewTextParser(model.UTF8Validation)
		mfs, err := p.TextToMetricFamilies(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return float64(rssOf(t, pid)), sum(mfs, "go_goroutines")
	}
	// One call first: the goroutines a process starts once and keeps (the
	// clock of Date fields, the DNS cache's cleaner, the upstream pool's
	// cleaner) are then part of the idle count.
	if resp, err := client.Post("http://"+proxyAddr+"/soak/v1/chat", "application/json", strings.NewReader(`{}`)); err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	time.Sleep(5 * time.Second) // the worker that served it is let go after 2 s
	_, idle := sample()

	stop := make(chan struct{})
	var calls, bad atomic.Int64
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			paths := []string{"/v1/chat", "/v1/chat", "/v1/chat", "/v1/chat", "/v1/stream", "/v1/stream", "/v1/limited", "/v1/broken", "/v1/slow"}
			for {
				select {
				case <-stop:
					return
				default:
				}
				path := paths[rng.IntN(len(paths))]
				body := fmt.Sprintf(`{"model":"model-%d","stream":%v}`, rng.IntN(20), path == "/v1/stream")
				req, _ := http.NewRequest("POST", "http://"+proxyAddr+"/soak"+path, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", fmt.Sprintf("Bearer key-%d", rng.IntN(10)))
				cl := client
				if rng.IntN(50) == 0 {
					cl = &http.Client{Timeout: 50 * time.Millisecond} // gives up on slow calls
				}
				resp, err := cl.Do(req)
				calls.Add(1)
				if err != nil {
					if cl == client {
						bad.Add(1)
					}
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if cl != client {
					cl.CloseIdleConnections()
				}
				if resp.StatusCode >= 500 && resp.StatusCode != 503 {
					bad.Add(1)
				}
			}
		}()
	}
	var rss, gor []float64
	tick := time.NewTicker(time.Second)
	for start := time.Now(); time.Since(start) < dur; {
		<-tick.C
		r, g := sample()
		rss, gor = append(rss, r), append(gor, g)
	}
	tick.Stop()
	close(stop)
	wg.Wait()
	if n := bad.Load(); n > 0 {
		t.Errorf("%d of %d calls failed", n, calls.Load())
	}
	t.Logf("%d calls in %v (%.0f/s); idle goroutines %v; RSS MiB %v; goroutines %v",
		calls.Load(), dur, float64(calls.Load())/dur.Seconds(), idle, mibf(rss), gor)

	// Flat: after a warm-up quarter, the last third of the samples may not
	// sit meaningfully above the first third.
	warm := len(rss) / 4
	rss, gor = rss[warm:], gor[warm:]
	third := len(rss) / 3
	if third == 0 {
		t.Fatal("too few samples")
	}
	early, late := median(rss[:third]), median(rss[len(rss)-third:])
	if late > early*1.15+4<<20 {
		t.Errorf("RSS grew under constant load: median %.1f MiB early, %.1f MiB late", early/(1<<20), late/(1<<20))
	}
	ge, gl := median(gor[:third]), median(gor[len(gor)-third:])
	if gl > ge+20 {
		t.Errorf("goroutines grew under constant load: median %v early, %v late", ge, gl)
	}

	// Idle again: client and upstream connections closed, the agent's
	// goroutines return to where they started. fasthttp's server keeps an
	// idle worker goroutine for reuse for 2 s (MaxIdleWorkerDuration), checked
	// every 2 s: bounded, not growing with traffic.
	client.CloseIdleConnections()
	up.closeConns()
	var g float64
	for limit := time.Now().Add(10 * time.Second); time.Now().Before(limit); time.Sleep(100 * time.Millisecond) {
		if _, g = sample(); g <= idle+3 {
			break
		}
	}
	if g > idle+3 {
		t.Errorf("goroutines: %v idle before the soak, %v after it", idle, g)
	}
}

// startAgentProcess runs this test binary as the agent (see TestMain) with
// one provider, "soak", in front of upstream.
func startAgentProcess(t *testing.T, upstream string) (proxyAddr, metricsAddr string, pid int) {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "providers.yaml")
	os.WriteFile(cfg, []byte("providers:\n  - name: soak\n    dialect: openai\n    upstream: "+upstream+"\n"), 0o600)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), "FAULTS_RUN_AGENT=1", "HEADROOM_CONFIG="+cfg,
		"HEADROOM_PROXY_ADDR=127.0.0.1:0", "HEADROOM_METRICS_ADDR=127.0.0.1:0", "HEADROOM_LOG_LEVEL=warn")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("agent stderr:\n%s", stderr.String())
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("agent did not start: %v\n%s", err, stderr.String())
	}
	for _, f := range strings.Fields(line) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "proxy":
			proxyAddr = v
		case "metrics":
			metricsAddr = v
		}
	}
	return proxyAddr, metricsAddr, cmd.Process.Pid
}

// rssOf reads VmRSS of a process, in bytes.
func rssOf(t *testing.T, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func mibf(v []float64) []string {
	out := make([]string, len(v))
	for i, x := range v {
		out[i] = fmt.Sprintf("%.0f", x/(1<<20))
	}
	return out
}
