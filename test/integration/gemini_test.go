package integration

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/headroomhq/headroom/catalog"
	"github.com/headroomhq/headroom/fakeprovider"
	"github.com/headroomhq/headroom/keyid"
)

// Gemini reports limits only in 429 bodies. Through the proxy, on the
// native route (an object body) and the OpenAI-compatible one (an array):
// the violated quota's resource and window from its id, the limit from its
// value, remaining 0, the retry delay as Retry-After, the 429 under the
// quota's resource; 200s carry nothing.
func TestGemini429Bodies(t *testing.T) {
	clk := frozen()
	serve := func(limits ...catalog.Limit) string {
		srv := httptest.NewServer(fakeprovider.New(fakeprovider.Options{Provider: "gemini", Now: clk, Limits: limits}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	native := serve(catalog.Limit{Resource: "requests", Window: "1m", Value: 2})
	compat := serve(catalog.Limit{Resource: "requests", Window: "1d", Value: 1})
	h := startAgent(t, fmt.Sprintf("providers:\n  - {name: gemini, upstream: %q}\n  - {name: gemini-oai, catalog: gemini, upstream: %q}\n", native, compat), nil)
	const secret = "gemini-SECRET"
	key := "key=" + keyid.Fingerprint(secret)

	// Native: the model is in the path (…/models/<model>:generateContent),
	// where the proxy reads it.
	gen := `{"contents":[{"parts":[{"text":"Hello!"}]}],"generationConfig":{"maxOutputTokens":20}}`
	var last response
	for i, want := range []int{200, 200, 429} {
		last = h.call("gemini", "POST", "/v1beta/models/gemini-2.0-flash:generateContent", gen, "x-goog-api-key", secret)
		if last.status != want {
			t.Fatalf("native call %d: %d %s", i, last.status, last.body)
		}
	}
	if !strings.Contains(last.body, "GenerateRequestsPerMinutePerProjectPerModel-FreeTier") || !strings.HasPrefix(last.body, "{") {
		t.Fatalf("native 429 body: %s", last.body)
	}
	nk := []string{"provider=gemini", "model=gemini-2.0-flash", key, "resource=requests", "window=1m"}
	h.expect(2, "headroom_ratelimit_limit", nk...)
	h.expect(0, "headroom_ratelimit_remaining", nk...)
	h.expectAbsent("headroom_ratelimit_reset_timestamp_seconds", nk...)
	h.expect(1, "headroom_ratelimited_total", "provider=gemini", "model=gemini-2.0-flash", key, "resource=requests")
	h.expect(2, "headroom_requests_total", "provider=gemini", "model=gemini-2.0-flash", key, "code=200")
	wait := float64(60 - clk().Second())
	mf := h.scrape()["headroom_retry_after_seconds"]
	if mf == nil || len(mf.GetMetric()) != 1 || mf.GetMetric()[0].GetHistogram().GetSampleCount() != 1 ||
		mf.GetMetric()[0].GetHistogram().GetSampleSum() != wait {
		t.Errorf("retry-after %v, want one of %vs (the body's retryDelay)", mf, wait)
	}

	// The OpenAI-compatible endpoint names the model in the body.
	for i, want := range []int{200, 429} {
		last = h.call("gemini-oai", "POST", "/v1beta/openai/chat/completions", chat("gemini-2.0-flash"), "Authorization", "Bearer "+secret)
		if last.status != want {
			t.Fatalf("compat call %d: %d %s", i, last.status, last.body)
		}
	}
	if !strings.HasPrefix(last.body, "[") {
		t.Fatalf("compat 429 body is not an array: %s", last.body)
	}
	ck := []string{"provider=gemini-oai", "model=gemini-2.0-flash", key}
	h.expect(1, "headroom_ratelimit_limit", append(ck, "resource=requests", "window=1d")...)
	h.expect(0, "headroom_ratelimit_remaining", append(ck, "resource=requests", "window=1d")...)
	h.expect(1, "headroom_ratelimited_total", append(ck, "resource=requests")...)
	// The catalog's documented limits are there to compare with.
	h.expect(15, "headroom_ratelimit_documented_limit", "provider=gemini-oai", "model=gemini-2.0-flash", "resource=requests", "window=1m")
	h.expect(1500, "headroom_ratelimit_documented_limit", "provider=gemini", "model=gemini-2.0-flash", "resource=requests", "window=1d")
	for _, p := range []string{"gemini", "gemini-oai"} {
		h.expect(1, "headroom_provider_info", "provider="+p, "dialect=gemini")
		h.expectAbsent("headroom_parse_errors_total", "provider="+p, "header=body")
	}
}
