package tail

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/headroomhq/headroom/accesslog"
	"github.com/headroomhq/headroom/calls"
	"github.com/headroomhq/headroom/collector"
	"github.com/headroomhq/headroom/config"
	"github.com/headroomhq/headroom/parsers"
)

// TestAccessLogRoundTrip: a call written by the access-log hook (package
// accesslog), raw
// rate-limit headers included, reads back through the headroom format, and
// no credential or cookie header reaches the line.
func TestAccessLogRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	al, err := accesslog.OpenAccessLog(path, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	recv := time.Date(2026, 11, 23, 18, 35, 33, 0, time.UTC)
	h := http.Header{}
	h.Set("X-Ratelimit-Limit-Requests", "150")
	h.Set("X-Ratelimit-Remaining-Requests", "149")
	h.Set("Retry-After", "12")
	h.Set("X-Ratelimit-Garbage", strings.Repeat("9", 1000))
	h.Set("Authorization", "Bearer sk-secret-0000")
	h.Set("X-Api-Key", "sk-secret-0001")
	h.Set("X-Ratelimit-Key", "sk-secret-0002")
	h.Set("Set-Cookie", "session=sk-secret-0003")
	h.Set("Content-Type", "application/json")
	res := parsers.Result{Observations: []parsers.Observation{
		{Resource: parsers.Requests, Window: "1m", Limit: 150, HasLimit: true, Remaining: 149, HasRemaining: true},
	}}
	al.CallDone(&calls.Call{
		Provider: "heroku-us", Labels: collector.Labels{Provider: "heroku-us", Model: "claude-4-sonnet", Key: "k-0123456789ab"},
		Method: "POST", Path: "/v1/chat/completions", Upstream: "127.0.0.1:1", Start: recv, Received: recv,
		End: recv.Add(time.Second), Status: 200, Header: h, Result: &res,
	})
	if err := al.Close(); err != nil {
		t.Fatal(err)
	}
	line, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Count(line, []byte("\n")) != 1 {
		t.Fatalf("want one line, got %q", line)
	}
	for _, want := range []string{`"x-ratelimit-limit-requests":"150"`, `"x-ratelimit-remaining-requests":"149"`, `"retry-after":"12"`} {
		if !bytes.Contains(line, []byte(want)) {
			t.Errorf("line lacks %s: %s", want, line)
		}
	}
	if bytes.Contains(line, []byte("sk-secret")) || bytes.Contains(line, []byte("content-type")) {
		t.Errorf("a header that is not a rate-limit header reached the line: %s", line)
	}
	const maxHeaderValue = 256 // accesslog's cut
	if bytes.Contains(line, []byte(strings.Repeat("9", maxHeaderValue+1))) {
		t.Errorf("header value not cut at %d bytes", maxHeaderValue)
	}

	e := newEnv(t, "")
	tl := e.tailer(tailCfg(config.FormatHeadroom, "h.log"))
	tl.Line(bytes.TrimSuffix(line, []byte("\n")))
	e.expect(1, "headroom_tail_lines_total", "file=h.log", "result=ok")
	e.expect(149, "headroom_ratelimit_remaining", "provider=heroku-us", "model=claude-4-sonnet", "key=k-0123456789ab", "resource=requests", "window=1m")
}
