package integration

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/headroomhq/headroom/config"
	"github.com/headroomhq/headroom/fakeprovider"
	"github.com/headroomhq/headroom/keyid"
)

// One Headroom feeds another: the first proxies and writes its access log
// (HEADROOM_ACCESS_LOG, headroom format); the second tails it and exports
// the same values, keys and tokens.
func TestHeadroomFeedsHeadroom(t *testing.T) {
	ups := fakes(t, map[string]fakeprovider.Options{"heroku-us": {Now: frozen()}})
	logPath := filepath.Join(t.TempDir(), "headroom-access.log")
	front := startAgent(t, providersYAML(ups, nil), func(s *config.Settings) { s.AccessLog = logPath })
	back := startAgent(t, providersYAML(ups, nil)+fmt.Sprintf("tail:\n  - path: %s\n    format: headroom\n    poll_interval: 10ms\n", logPath), nil)

	const secret = "chain-SECRET"
	auth := []string{"Authorization", "Bearer " + secret}
	for i := 0; i < 3; i++ {
		if r := front.call("heroku-us", "POST", "/v1/chat/completions", chat("claude-4-sonnet"), auth...); r.status != 200 {
			t.Fatalf("status %d", r.status)
		}
	}
	back.waitFor(3, "headroom_tail_lines_total", "file="+logPath, "result=ok")
	b := []string{"provider=heroku-us", "model=claude-4-sonnet", "key=" + keyid.Fingerprint(secret)}
	for _, m := range []struct {
		name   string
		labels []string
	}{
		{"headroom_ratelimit_limit", append(b, "resource=requests", "window=1m")},
		{"headroom_ratelimit_remaining", append(b, "resource=requests", "window=1m")},
		{"headroom_ratelimit_remaining", append(b, "resource=tokens", "window=1m")},
		{"headroom_ratelimit_reset_timestamp_seconds", append(b, "resource=tokens", "window=1m")},
		{"headroom_ratelimit_observed_timestamp_seconds", append(b, "resource=requests", "window=1m")},
		{"headroom_requests_total", append(b, "code=200")},
		{"headroom_tokens_total", append(b, "type=input")},
		{"headroom_tokens_total", append(b, "type=output")},
	} {
		want, ok := front.value(m.name, m.labels...)
		if !ok {
			t.Fatalf("front lacks %s%v", m.name, m.labels)
		}
		back.expect(want, m.name, m.labels...)
	}
	back.expect(147, "headroom_ratelimit_remaining", append(b, "resource=requests", "window=1m")...)
}
