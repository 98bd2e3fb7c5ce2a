package parsers

import (
	"net/http"
	"testing"
)

func TestFireworksResources(t *testing.T) {
	r := dlParse(t, Fireworks, dlInput(200, "",
		"x-ratelimit-limit-requests", "60", "x-ratelimit-remaining-requests", "59",
		"x-ratelimit-limit-tokens-prompt", "3600000", "x-ratelimit-remaining-tokens-prompt", "3599000",
		"x-ratelimit-limit-tokens-cache-adjusted-prompt", "900000", "x-ratelimit-remaining-tokens-cache-adjusted-prompt", "899000",
		"x-ratelimit-limit-tokens-generated", "36000", "x-ratelimit-remaining-tokens-generated", "35000",
		"x-ratelimit-over-limit", "yes",
	))
	if len(r.Observations) != 3 || len(r.Errors) != 0 {
		t.Fatalf("%+v %v", r.Observations, r.Errors)
	}
	// The cache-adjusted budget does not overwrite the total prompt one.
	if o := dlFind(t, r, InputTokens, "1m"); o.Limit != 3600000 || o.Remaining != 3599000 {
		t.Errorf("%+v", o)
	}
	dlFind(t, r, OutputTokens, "1m")
	dlFind(t, r, Requests, "1m")
}

func TestFireworksUncachedAttribution(t *testing.T) {
	exhausted := []string{
		"x-ratelimit-limit-tokens-prompt", "3600000", "x-ratelimit-remaining-tokens-prompt", "2000000",
		"x-ratelimit-limit-tokens-cache-adjusted-prompt", "900000", "x-ratelimit-remaining-tokens-cache-adjusted-prompt", "0",
	}
	if r := dlParse(t, Fireworks, dlInput(http.StatusTooManyRequests, "", exhausted...)); r.ThrottledResource != InputTokens {
		t.Errorf("429: throttled %q", r.ThrottledResource)
	}
	if r := dlParse(t, Fireworks, dlInput(http.StatusOK, "", exhausted...)); r.ThrottledResource != "" {
		t.Errorf("200: throttled %q", r.ThrottledResource)
	}
	// A zero on an exported budget is blamed first.
	both := append([]string{"x-ratelimit-limit-tokens-generated", "36000", "x-ratelimit-remaining-tokens-generated", "0"}, exhausted...)
	if r := dlParse(t, Fireworks, dlInput(http.StatusTooManyRequests, "", both...)); r.ThrottledResource != OutputTokens {
		t.Errorf("throttled %q", r.ThrottledResource)
	}
	// Neither: unknown.
	if r := dlParse(t, Fireworks, dlInput(http.StatusTooManyRequests, "", "x-ratelimit-remaining-tokens-cache-adjusted-prompt", "5")); r.ThrottledResource != "" {
		t.Errorf("throttled %q", r.ThrottledResource)
	}
}

func TestFireworksUncachedErrors(t *testing.T) {
	r := dlParse(t, Fireworks, dlInput(http.StatusTooManyRequests, "",
		"x-ratelimit-limit-tokens-cache-adjusted-prompt", "-1",
		"x-ratelimit-remaining-tokens-cache-adjusted-prompt", "zero"))
	if len(r.Errors) != 2 || r.ThrottledResource != "" || len(r.Observations) != 0 {
		t.Errorf("%v %q %+v", r.Errors, r.ThrottledResource, r.Observations)
	}
}

func TestFireworksRetryAfter(t *testing.T) {
	r := dlParse(t, Fireworks, dlInput(http.StatusTooManyRequests, "", "Retry-After", "7"))
	if !r.HasRetryAfter || r.RetryAfter.Seconds() != 7 {
		t.Errorf("%v", r.RetryAfter)
	}
	if Fireworks.WantsBody(http.StatusTooManyRequests) {
		t.Error("WantsBody")
	}
}

func TestFireworksRandomHeaders(t *testing.T) {
	dlFuzzHeaders(t, Fireworks, []string{"x-ratelimit-limit-requests", "x-ratelimit-remaining-requests",
		"x-ratelimit-limit-tokens-prompt", "x-ratelimit-remaining-tokens-prompt",
		"x-ratelimit-limit-tokens-cache-adjusted-prompt", "x-ratelimit-remaining-tokens-cache-adjusted-prompt",
		"x-ratelimit-limit-tokens-generated", "x-ratelimit-remaining-tokens-generated", "x-ratelimit-over-limit"})
}

var fireworksBench = dlInput(http.StatusOK, "",
	"Date", "Wed, 05 Aug 2026 12:00:00 GMT",
	"Content-Type", "application/json",
	"x-ratelimit-limit-tokens-cache-adjusted-prompt", "5400000",
	"x-ratelimit-limit-tokens-generated", "216000",
	"x-ratelimit-limit-tokens-prompt", "11250000",
	"x-ratelimit-over-limit", "no",
	"x-ratelimit-remaining-tokens-cache-adjusted-prompt", "5398911",
	"x-ratelimit-remaining-tokens-generated", "208898",
	"x-ratelimit-remaining-tokens-prompt", "11247531",
)

func TestFireworksAllocs(t *testing.T) {
	if a := dlAllocs(Fireworks, fireworksBench); a > 2 {
		t.Errorf("%v allocations per parse, want ≤ 2", a)
	}
}

func BenchmarkFireworks(b *testing.B) {
	var r Result
	b.ReportAllocs()
	for b.Loop() {
		r.Reset()
		Fireworks.Parse(fireworksBench, &r)
	}
}
