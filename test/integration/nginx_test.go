package integration

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/headroomhq/headroom/catalog"
	"github.com/headroomhq/headroom/config"
	"github.com/headroomhq/headroom/fakeprovider"
	"github.com/headroomhq/headroom/internal/testtool"
)

// A real nginx (Debian's nginx-light, scripts/deps/nginx.sh) proxies to
// fakeproviders with the log format shipped in
// docs/snippets/nginx-log-format.conf (included verbatim by
// tail/testdata/nginx.conf.tmpl, so docs and test cannot drift); Headroom
// tails the log nginx writes. Exact values on /metrics, across a rotation
// done the way logrotate does it — rename then `nginx -s reopen` — and a
// copytruncate.

type nginx struct {
	t              *testing.T
	bin, dir, conf string
	addr, log      string
	cmd            *exec.Cmd
	stderr         bytes.Buffer
}

type upstream struct{ Name, URL string }

func startNginx(t *testing.T, ups map[string]string) *nginx {
	t.Helper()
	bin := testtool.Require(t, "nginx")
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Run as root, nginx's workers are "nobody": on `nginx -s reopen` they
	// reopen the log themselves, so they must reach the directory.
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	snippet, err := filepath.Abs("../../docs/snippets/nginx-log-format.conf")
	if err != nil {
		t.Fatal(err)
	}
	tmpl := template.Must(template.ParseFiles("../../tail/testdata/nginx.conf.tmpl"))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var list []upstream
	for n, u := range ups {
		list = append(list, upstream{n, u})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	n := &nginx{t: t, bin: bin, dir: dir, conf: filepath.Join(dir, "nginx.conf"), addr: addr, log: filepath.Join(dir, "access.log")}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, map[string]any{"Dir": dir, "Snippet": snippet, "Listen": addr, "Log": n.log, "Upstreams": list}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(n.conf, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-t", "-c", n.conf, "-p", dir).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
	n.cmd = exec.Command(bin, "-c", n.conf, "-p", dir)
	n.t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx error.log:\n%s", b)
		}
	})
	n.cmd.Stderr = &n.stderr
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.stop)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not listen on %s: %s", addr, n.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return n
}

func (n *nginx) stop() {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	n.cmd.Process.Signal(syscall.SIGQUIT)
	done := make(chan struct{})
	go func() { n.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		n.cmd.Process.Kill()
		<-done
	}
	n.cmd = nil
}

// reopen is logrotate's postrotate for nginx.
func (n *nginx) reopen() {
	n.t.Helper()
	if out, err := exec.Command(n.bin, "-c", n.conf, "-p", n.dir, "-s", "reopen").CombinedOutput(); err != nil {
		n.t.Fatalf("nginx -s reopen: %v\n%s", err, out)
	}
}

func (n *nginx) call(provider, path, body string, headers ...string) int {
	n.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+n.addr+"/"+provider+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func TestNginxTail(t *testing.T) {
	predClock := frozen()
	ups := fakes(t, map[string]fakeprovider.Options{
		"heroku-us":   {Now: frozen()},
		"predictions": {Now: predClock, Limits: []catalog.Limit{{Resource: "requests", Window: "1m", Value: 3}}},
	})
	ng := startNginx(t, ups)
	// No static provider: each line's upstream_host ($proxy_host) is matched
	// against the providers' upstream hosts.
	yaml := providersYAML(ups, nil) + fmt.Sprintf(`tail:
  - path: %s
    format: nginx
    poll_interval: 10ms
    rotate_wait: 300ms
`, ng.log)
	h := startAgent(t, yaml, nil)
	ok := func(n float64) { h.waitFor(n, "headroom_tail_lines_total", "file="+ng.log, "result=ok") }

	auth := []string{"Authorization", "Bearer nginx-SECRET"}
	for i := 0; i < 3; i++ {
		if s := ng.call("heroku-us", "/v1/chat/completions", chat("claude-4-sonnet"), auth...); s != 200 {
			t.Fatalf("heroku via nginx: %d", s)
		}
	}
	codes := map[int]int{}
	for i := 0; i < 5; i++ {
		codes[ng.call("predictions", "/v1/predictions", `{"version":"v1","input":{"prompt":"x"}}`, auth...)]++
	}
	if codes[201] != 3 || codes[429] != 2 {
		t.Fatalf("predictions via nginx: %v", codes)
	}
	ok(8)
	hk := []string{"provider=heroku-us", "model=claude-4-sonnet", "key=none"}
	h.expect(150, "headroom_ratelimit_limit", append(hk, "resource=requests", "window=1m")...)
	h.expect(147, "headroom_ratelimit_remaining", append(hk, "resource=requests", "window=1m")...)
	h.expect(800000, "headroom_ratelimit_limit", append(hk, "resource=tokens", "window=1m")...)
	h.expect(3, "headroom_requests_total", append(hk, "code=200")...)
	pk := []string{"provider=predictions", "model=", "key=none"}
	h.expect(3, "headroom_ratelimit_limit", append(pk, "resource=requests", "window=1m")...)
	h.expect(0, "headroom_ratelimit_remaining", append(pk, "resource=requests", "window=1m")...)
	h.expect(2, "headroom_ratelimited_total", append(pk, "resource=requests")...)
	h.expect(3, "headroom_requests_total", append(pk, "code=201")...)
	h.expect(2, "headroom_requests_total", append(pk, "code=429")...)
	// The fixed-minute reset is the epoch the fake sent on its frozen clock:
	// the next minute boundary. Exported exactly, unless nginx and the agent
	// took longer to start than Headroom's 2 s skew tolerance, in which case
	// it is shifted by the fake clock's lag behind the line's time (Date vs
	// receive time), which is at most the time elapsed since freezing.
	frozenAt := predClock()
	next := float64(frozenAt.Truncate(time.Minute).Add(time.Minute).Unix())
	elapsed := time.Since(frozenAt).Seconds() + 1
	if v, _ := h.value("headroom_ratelimit_reset_timestamp_seconds", append(pk, "resource=requests", "window=1m")...); v < next || v > next+elapsed {
		t.Errorf("predictions reset %v, want %v (+ at most %.1f s of clock skew)", v, next, elapsed)
	}
	mf := h.scrape()["headroom_retry_after_seconds"]
	if mf == nil || mf.GetMetric()[0].GetHistogram().GetSampleCount() != 2 {
		t.Errorf("retry-after not observed twice: %v", mf)
	}

	// logrotate, the default way: rename, then nginx -s reopen (postrotate).
	// Until the reopen nginx keeps writing to the renamed file.
	if err := os.Rename(ng.log, ng.log+".1"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		ng.call("heroku-us", "/v1/chat/completions", chat("claude-4-sonnet"), auth...)
	}
	ng.reopen()
	waitFile(t, ng.log)
	for i := 0; i < 2; i++ {
		ng.call("heroku-us", "/v1/chat/completions", chat("claude-4-sonnet"), auth...)
	}
	ok(12)
	h.expect(143, "headroom_ratelimit_remaining", append(hk, "resource=requests", "window=1m")...)
	h.expect(7, "headroom_requests_total", append(hk, "code=200")...)
	h.expect(1, "headroom_tail_rotations_total", "file="+ng.log, "kind=rename")
	heroku := 7

	// logrotate's copytruncate (nginx keeps its file open). nginx -s reopen
	// is asynchronous: make sure the new file has lines first, else there
	// is nothing to truncate.
	for i := 0; ; i++ {
		ng.call("heroku-us", "/v1/chat/completions", chat("claude-4-sonnet"), auth...)
		if fi, err := os.Stat(ng.log); err == nil && fi.Size() > 0 {
			ok(13 + float64(i))
			heroku += i + 1
			break
		}
		if i > 50 {
			t.Fatal("nginx never wrote to the reopened log")
		}
		time.Sleep(20 * time.Millisecond)
	}
	lines := float64(12 + heroku - 7) // lines so far
	copyTo(t, ng.log, ng.log+".2")
	if err := os.Truncate(ng.log, 0); err != nil {
		t.Fatal(err)
	}
	h.waitFor(1, "headroom_tail_rotations_total", "file="+ng.log, "kind=truncate")
	for i := 0; i < 2; i++ {
		ng.call("heroku-us", "/v1/chat/completions", chat("claude-4-sonnet"), auth...)
	}
	ok(lines + 2)
	heroku += 2
	h.expect(float64(150-heroku), "headroom_ratelimit_remaining", append(hk, "resource=requests", "window=1m")...)
	h.expect(float64(heroku), "headroom_requests_total", append(hk, "code=200")...)
	for _, r := range []string{"invalid_json", "missing_fields", "too_long", "unknown_provider"} {
		h.expect(0, "headroom_tail_lines_total", "file="+ng.log, "result="+r)
	}
}

func waitFile(t *testing.T, p string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(p); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never appeared", p)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func copyTo(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A restart with a position file neither skips nor re-counts lines.
func TestNginxTailResume(t *testing.T) {
	ups := fakes(t, map[string]fakeprovider.Options{"heroku-us": {Now: frozen()}})
	ng := startNginx(t, ups)
	pos := filepath.Join(t.TempDir(), "nginx.pos")
	yaml := providersYAML(ups, nil) + fmt.Sprintf(`tail:
  - path: %s
    format: nginx
    provider: heroku-us
    key: edge
    position_file: %s
    poll_interval: 10ms
`, ng.log, pos)
	auth := []string{"Authorization", "Bearer nginx-SECRET-2"}
	h := startAgent(t, yaml, nil)
	for i := 0; i < 2; i++ {
		ng.call("heroku-us", "/v1/chat/completions", chat("claude-3-haiku"), auth...)
	}
	h.waitFor(2, "headroom_requests_total", "provider=heroku-us", "model=claude-3-haiku", "key=edge", "code=200")
	h.stop()
	// Written while Headroom is down.
	for i := 0; i < 3; i++ {
		ng.call("heroku-us", "/v1/chat/completions", chat("claude-3-haiku"), auth...)
	}
	h2 := startAgent(t, yaml, func(s *config.Settings) {})
	h2.waitFor(3, "headroom_requests_total", "provider=heroku-us", "model=claude-3-haiku", "key=edge", "code=200")
	time.Sleep(100 * time.Millisecond)
	h2.expect(3, "headroom_requests_total", "provider=heroku-us", "model=claude-3-haiku", "key=edge", "code=200")
	h2.expect(245, "headroom_ratelimit_remaining", "provider=heroku-us", "model=claude-3-haiku", "key=edge", "resource=requests", "window=1m")
}
