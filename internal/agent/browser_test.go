package agent_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/headroomhq/headroom/internal/testtool"
)

// TestLandingPageInBrowser renders the landing page in headless Chromium, as
// a person would open it, and checks the state table with its bars. The
// screenshot is kept in HEADROOM_SCREENSHOT_DIR when set (docs use it).
func TestLandingPageInBrowser(t *testing.T) {
	chromium := testtool.Require(t, "chromium")
	remaining := map[string]string{"/heroku-us": "30", "/heroku-eu": "190"}
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-ratelimit-limit-requests", "200")
		w.Header().Set("x-ratelimit-remaining-requests", remaining[r.Header.Get("X-Region")])
		w.Header().Set("x-ratelimit-reset-requests", "51s")
		w.Header().Set("x-ratelimit-limit-tokens", "800000")
		w.Header().Set("x-ratelimit-remaining-tokens", "799892")
		w.Header().Set("x-ratelimit-reset-tokens", "51s")
	})
	a, _ := newAgent(t, "providers:\n  - name: heroku-us\n    upstream: "+up+"\n  - name: heroku-eu\n    upstream: "+up+"\n")
	for _, p := range []string{"/heroku-us", "/heroku-eu"} {
		req, _ := http.NewRequest("POST", "http://"+a.ProxyAddr+p+"/v1/chat/completions", strings.NewReader(`{"model":"claude-4-sonnet"}`))
		req.Header.Set("Authorization", "Bearer k")
		req.Header.Set("X-Region", p)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	dir := os.Getenv("HEADROOM_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	shot := filepath.Join(dir, "landing.png")
	url := "http://" + a.MetricsAddr + "/"
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--window-size=1200,700"}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dom, err := exec.CommandContext(ctx, chromium, append(base, "--dump-dom", url)...).Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v", err)
	}
	for _, want := range []string{`id="state"`, "heroku-us", "heroku-eu", `class="fill warn" style="width:15%"`, `class="fill" style="width:95%"`} {
		if !bytes.Contains(dom, []byte(want)) {
			t.Errorf("rendered page lacks %s:\n%s", want, dom)
		}
	}
	if out, err := exec.CommandContext(ctx, chromium, append(base, "--screenshot="+shot, url)...).CombinedOutput(); err != nil {
		t.Fatalf("chromium --screenshot: %v\n%s", err, out)
	}
	png, err := os.ReadFile(shot)
	if err != nil || len(png) < 5000 || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatalf("screenshot missing or empty (%d bytes): %v", len(png), err)
	}
}
