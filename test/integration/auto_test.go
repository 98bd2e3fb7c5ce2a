package integration

import (
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/headroomhq/headroom/catalog"
	"github.com/headroomhq/headroom/fakeprovider"
	"github.com/headroomhq/headroom/keyid"
)

// Providers outside the catalog, configured without a dialect: the generic
// dialect auto reads three spellings of the OpenAI-style family through
// the proxy — windows in mixed-case names (-Minute, -Day), "rate-limit"
// hyphenated with duration windows (-1m, -60s) and epoch resets, and
// OpenAI's own names, which state no window (read with the provider's
// windows, and counted as parse errors without them). A provider read with
// the wrong dialect shows its unread headers as header drift.
func TestAutoDialectSpellings(t *testing.T) {
	clk := frozen()
	serve := func(o fakeprovider.Options) string {
		o.Now = clk
		srv := httptest.NewServer(fakeprovider.New(o))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	windowed := serve(fakeprovider.Options{Dialect: "generic-windowed"})
	hyphen := serve(fakeprovider.Options{Dialect: "generic-hyphenated", Limits: []catalog.Limit{{Resource: "requests", Window: "1m", Value: 2}}})
	openaiStyle := serve(fakeprovider.Options{Dialect: "openai"})
	h := startAgent(t, fmt.Sprintf(`providers:
  - {name: acme-windowed, upstream: %q}
  - {name: acme-hyphen, upstream: %q}
  - {name: acme-openai, upstream: %q, windows: {requests: 1m, tokens: 60s}}
  - {name: acme-bare, upstream: %q}
  - {name: acme-misread, dialect: heroku, upstream: %q}
`, windowed, hyphen, openaiStyle, openaiStyle, windowed), nil)

	auth := []string{"Authorization", "Bearer auto-SECRET"}
	body := chat("m")
	cost := float64((len(body)+3)/4 + 20) // the fake's estimate: prompt bytes / 4, max_tokens
	calls := func(provider string, statuses ...int) {
		t.Helper()
		for i, want := range statuses {
			if r := h.call(provider, "POST", "/v1/chat/completions", body, auth...); r.status != want {
				t.Fatalf("%s call %d: status %d, want %d: %s", provider, i, r.status, want, r.body)
			}
		}
	}
	calls("acme-windowed", 200, 200, 200)
	calls("acme-hyphen", 200, 200, 429)
	calls("acme-openai", 200, 200)
	calls("acme-bare", 200)
	calls("acme-misread", 200)

	for _, p := range []string{"acme-windowed", "acme-hyphen", "acme-openai", "acme-bare"} {
		h.expect(1, "headroom_provider_info", "provider="+p, "dialect=auto")
	}
	key := "key=" + keyid.Fingerprint("auto-SECRET")
	gauge := func(want float64, name, provider, resource, window string) {
		t.Helper()
		h.expect(want, name, "provider="+provider, "model=m", key, "resource="+resource, "window="+window)
	}
	// Windows in the names.
	gauge(60, "headroom_ratelimit_limit", "acme-windowed", "requests", "1m")
	gauge(57, "headroom_ratelimit_remaining", "acme-windowed", "requests", "1m")
	gauge(10000, "headroom_ratelimit_limit", "acme-windowed", "requests", "1d")
	gauge(9997, "headroom_ratelimit_remaining", "acme-windowed", "requests", "1d")
	gauge(100000, "headroom_ratelimit_limit", "acme-windowed", "tokens", "1m")
	gauge(100000-3*cost, "headroom_ratelimit_remaining", "acme-windowed", "tokens", "1m")
	// Hyphenated, duration windows, epoch resets (exported as sent: the
	// fake's clock is Headroom's within the skew tolerance), retry-after-ms.
	gauge(2, "headroom_ratelimit_limit", "acme-hyphen", "requests", "1m")
	gauge(0, "headroom_ratelimit_remaining", "acme-hyphen", "requests", "1m")
	gauge(float64(clk().Unix()+60), "headroom_ratelimit_reset_timestamp_seconds", "acme-hyphen", "requests", "1m")
	gauge(50000, "headroom_ratelimit_limit", "acme-hyphen", "tokens", "1m")
	gauge(50000-2*cost, "headroom_ratelimit_remaining", "acme-hyphen", "tokens", "1m")
	h.expect(1, "headroom_ratelimited_total", "provider=acme-hyphen", "model=m", key, "resource=requests")
	h.expect(1, "headroom_requests_total", "provider=acme-hyphen", "model=m", key, "code=429")
	if mf := h.scrape()["headroom_retry_after_seconds"]; mf == nil || len(mf.GetMetric()) != 1 ||
		mf.GetMetric()[0].GetHistogram().GetSampleCount() != 1 || mf.GetMetric()[0].GetHistogram().GetSampleSum() != 60 {
		t.Errorf("retry-after from retry-after-ms: %v", mf)
	}
	// No window in the names: the provider's windows place them.
	gauge(500, "headroom_ratelimit_limit", "acme-openai", "requests", "1m")
	gauge(498, "headroom_ratelimit_remaining", "acme-openai", "requests", "1m")
	gauge(30000, "headroom_ratelimit_limit", "acme-openai", "tokens", "1m")
	gauge(30000-2*cost, "headroom_ratelimit_remaining", "acme-openai", "tokens", "1m")
	// Without windows: counted, never guessed.
	h.expectAbsent("headroom_ratelimit_limit", "provider=acme-bare", "model=m", key, "resource=requests", "window=1m")
	for _, name := range []string{"x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens"} {
		h.expect(1, "headroom_parse_errors_total", "provider=acme-bare", "header="+name)
	}
	// The wrong dialect: heroku reads none of these names.
	for _, w := range []string{"minute", "day"} {
		for _, kind := range []string{"limit", "remaining", "reset"} {
			h.expect(1, "headroom_header_drift_unread_total", "provider=acme-misread", "header=x-ratelimit-"+kind+"-requests-"+w)
		}
	}
	h.expectAbsent("headroom_header_drift_unread_total", "provider=acme-windowed", "header=x-ratelimit-limit-requests-minute")
}
