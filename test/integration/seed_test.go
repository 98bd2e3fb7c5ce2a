package integration

import (
	"encoding/json"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/headroomhq/headroom/catalog"
	"github.com/headroomhq/headroom/fakeprovider"
	"github.com/headroomhq/headroom/keyid"
)

// One test per seed provider (../shared/seeds/): client → Headroom → fakeprovider,
// with exact values asserted on /metrics.

func chat(model string) string {
	return `{"model":"` + model + `","messages":[{"role":"user","content":"Hello!"}],"max_tokens":20}`
}

type usageBody struct {
	Usage struct {
		PromptTokens     float64 `json:"prompt_tokens"`
		CompletionTokens float64 `json:"completion_tokens"`
	} `json:"usage"`
}

func epochHeader(t *testing.T, r response, name string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(r.header.Get(name), 64)
	if err != nil {
		t.Fatalf("%s: %q: %v", name, r.header.Get(name), err)
	}
	return v
}

// Seed 000: Heroku, requests and tokens per minute, sliding window, reset as
// a duration ("51s").
func TestSeedHeroku(t *testing.T) {
	h := start(t, map[string]fakeprovider.Options{"heroku-us": {Now: frozen()}, "heroku-eu": {Now: frozen()}})
	const secret = "inf-heroku-SECRET-1"
	key := "key=" + keyid.Fingerprint(secret)
	auth := []string{"Authorization", "Bearer " + secret}
	var in, out float64
	var last response
	var before, after time.Time
	for i := 0; i < 3; i++ {
		before = time.Now()
		last = h.call("heroku-us", "POST", "/v1/chat/completions", chat("claude-4-sonnet"), auth...)
		after = time.Now()
		if last.status != 200 {
			t.Fatalf("status %d: %s", last.status, last.body)
		}
		var u usageBody
		json.Unmarshal([]byte(last.body), &u)
		in += u.Usage.PromptTokens
		out += u.Usage.CompletionTokens
	}
	base := []string{"provider=heroku-us", "model=claude-4-sonnet", key}
	// Seed 000's table: Claude 4 Sonnet, 150 requests/min, 800,000 tokens/min.
	h.expect(150, "headroom_ratelimit_limit", append(base, "resource=requests", "window=1m")...)
	h.expect(147, "headroom_ratelimit_remaining", append(base, "resource=requests", "window=1m")...)
	h.expect(800000, "headroom_ratelimit_limit", append(base, "resource=tokens", "window=1m")...)
	remTok, _ := strconv.ParseFloat(last.header.Get("X-Ratelimit-Remaining-Tokens"), 64)
	h.expect(remTok, "headroom_ratelimit_remaining", append(base, "resource=tokens", "window=1m")...)
	if remTok != 800000-in-out {
		t.Errorf("tokens remaining %v, want 800000 − %v charged", remTok, in+out)
	}
	// The reset is "<n>s" from the response: received + n.
	d, err := time.ParseDuration(last.header.Get("X-Ratelimit-Reset-Requests"))
	if err != nil {
		t.Fatal(err)
	}
	reset, _ := h.value("headroom_ratelimit_reset_timestamp_seconds", append(base, "resource=requests", "window=1m")...)
	lo, hi := float64(before.Add(d).UnixNano())/1e9, float64(after.Add(d).UnixNano())/1e9
	if reset < lo || reset > hi {
		t.Errorf("reset %v outside [%v, %v]", reset, lo, hi)
	}
	h.expect(in, "headroom_tokens_total", append(base, "type=input")...)
	h.expect(out, "headroom_tokens_total", append(base, "type=output")...)
	h.expect(3, "headroom_requests_total", append(base, "code=200")...)
	h.expect(150, "headroom_ratelimit_documented_limit", "provider=heroku-eu", "model=claude-4-sonnet", "resource=requests", "window=1m")
	// US and EU are separate instances with separate limits: nothing went to EU.
	h.expectAbsent("headroom_ratelimit_remaining", "provider=heroku-eu", "model=claude-4-sonnet", key, "resource=requests", "window=1m")
}

func TestSeedHeroku429(t *testing.T) {
	h := start(t, map[string]fakeprovider.Options{"heroku-us": {Now: frozen(),
		Limits: []catalog.Limit{{Resource: "requests", Window: "1m", Value: 2}}}})
	auth := []string{"Authorization", "Bearer inf-heroku-SECRET-2"}
	codes := map[int]int{}
	for i := 0; i < 5; i++ {
		r := h.call("heroku-us", "POST", "/v1/chat/completions", chat("claude-3-haiku"), auth...)
		codes[r.status]++
	}
	if codes[200] != 2 || codes[429] != 3 {
		t.Fatalf("statuses %v", codes)
	}
	base := []string{"provider=heroku-us", "model=claude-3-haiku", "key=" + keyid.Fingerprint("inf-heroku-SECRET-2")}
	h.expect(0, "headroom_ratelimit_remaining", append(base, "resource=requests", "window=1m")...)
	h.expect(3, "headroom_ratelimited_total", append(base, "resource=requests")...)
	h.expect(3, "headroom_requests_total", append(base, "code=429")...)
	h.expect(2, "headroom_requests_total", append(base, "code=200")...)
	mf := h.scrape()["headroom_retry_after_seconds"]
	if mf == nil || mf.GetMetric()[0].GetHistogram().GetSampleCount() != 3 {
		t.Errorf("retry-after not observed 3 times: %v", mf)
	}
}

// Seed 001: Infercom, per-minute and per-day requests, epoch resets.
func TestSeedInfercom(t *testing.T) {
	h := start(t, map[string]fakeprovider.Options{"infercom": {Now: frozen()}})
	auth := []string{"Authorization", "Bearer infercom-SECRET"}
	var last response
	for i := 0; i < 2; i++ {
		last = h.call("infercom", "POST", "/v1/chat/completions", chat("DeepSeek-V3.1"), auth...)
		if last.status != 200 {
			t.Fatalf("status %d: %s", last.status, last.body)
		}
	}
	base := []string{"provider=infercom", "model=DeepSeek-V3.1", "key=" + keyid.Fingerprint("infercom-SECRET")}
	// Seed 001: DeepSeek-V3.1 (EU) 30 RPM, 15,000 RPD.
	h.expect(30, "headroom_ratelimit_limit", append(base, "resource=requests", "window=1m")...)
	h.expect(28, "headroom_ratelimit_remaining", append(base, "resource=requests", "window=1m")...)
	h.expect(15000, "headroom_ratelimit_limit", append(base, "resource=requests", "window=1d")...)
	h.expect(14998, "headroom_ratelimit_remaining", append(base, "resource=requests", "window=1d")...)
	h.expect(epochHeader(t, last, "X-Ratelimit-Reset-Requests"), "headroom_ratelimit_reset_timestamp_seconds", append(base, "resource=requests", "window=1m")...)
	h.expect(epochHeader(t, last, "X-Ratelimit-Reset-Requests-Day"), "headroom_ratelimit_reset_timestamp_seconds", append(base, "resource=requests", "window=1d")...)
}

// Seed 003: SambaNova, per-minute, -hour and -day requests, epoch resets.
func TestSeedSambaNova(t *testing.T) {
	h := start(t, map[string]fakeprovider.Options{"sambanova": {Now: frozen(),
		Limits: []catalog.Limit{{Model: "Meta-Llama-3.3-70B-Instruct", Resource: "requests", Window: "1h", Value: 3}}}})
	auth := []string{"Authorization", "Bearer sambanova-SECRET"}
	var last response
	codes := map[int]int{}
	for i := 0; i < 4; i++ {
		r := h.call("sambanova", "POST", "/v1/chat/completions", chat("Meta-Llama-3.3-70B-Instruct"), auth...)
		codes[r.status]++
		if r.status == 200 {
			last = r
		}
	}
	if codes[200] != 3 || codes[429] != 1 {
		t.Fatalf("statuses %v", codes)
	}
	base := []string{"provider=sambanova", "model=Meta-Llama-3.3-70B-Instruct", "key=" + keyid.Fingerprint("sambanova-SECRET")}
	// Seed 003: 80 RPM / (400 RPH, lowered to 3 here) / 4800 RPD.
	h.expect(80, "headroom_ratelimit_limit", append(base, "resource=requests", "window=1m")...)
	h.expect(77, "headroom_ratelimit_remaining", append(base, "resource=requests", "window=1m")...)
	h.expect(3, "headroom_ratelimit_limit", append(base, "resource=requests", "window=1h")...)
	h.expect(0, "headroom_ratelimit_remaining", append(base, "resource=requests", "window=1h")...)
	h.expect(4800, "headroom_ratelimit_limit", append(base, "resource=requests", "window=1d")...)
	h.expect(4797, "headroom_ratelimit_remaining", append(base, "resource=requests", "window=1d")...)
	for _, w := range []struct{ window, header string }{{"1m", "X-Ratelimit-Reset-Requests"}, {"1h", "X-Ratelimit-Reset-Requests-Hour"}, {"1d", "X-Ratelimit-Reset-Requests-Day"}} {
		h.expect(epochHeader(t, last, w.header), "headroom_ratelimit_reset_timestamp_seconds", append(base, "resource=requests", "window="+w.window)...)
	}
	h.expect(1, "headroom_ratelimited_total", append(base, "resource=requests")...)
	h.expect(400, "headroom_ratelimit_documented_limit", "provider=sambanova", "model=Meta-Llama-3.3-70B-Instruct", "resource=requests", "window=1h")
}

// Seed 002: the predictions API, 60 requests/min per key, 5 concurrent
// predictions, the concurrency 429 body, Retry-After.
func TestSeedPredictionsConcurrency(t *testing.T) {
	h := start(t, map[string]fakeprovider.Options{"predictions": {Now: live()}})
	const secret = "r8-SECRET"
	key := "key=" + keyid.Fingerprint(secret)
	auth := []string{"Authorization", "Bearer " + secret}
	body := `{"version":"v1","input":{"prompt":"a cat"}}`
	var wg sync.WaitGroup
	statuses := make(chan int, 7)
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses <- h.call("predictions", "POST", "/v1/predictions", body, append(auth, "X-Fake-Delay", "3s")...).status
		}()
	}
	// The five are held by the provider (3 s: long enough for the two
	// calls below to find them still running on a loaded machine):
	// Headroom sees them in flight.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if v, _ := h.value("headroom_inflight_requests", "provider=predictions", key); v == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("in-flight never reached 5")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Two more exceed the concurrency limit of 5.
	for i := 0; i < 2; i++ {
		r := h.call("predictions", "POST", "/v1/predictions", body, auth...)
		if r.status != 429 || r.header.Get("Retry-After") == "" {
			t.Errorf("6th/7th prediction: status %d Retry-After %q body %s", r.status, r.header.Get("Retry-After"), r.body)
		}
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != 201 && s != 200 {
			t.Errorf("held prediction got %d", s)
		}
	}
	h.expect(0, "headroom_inflight_requests", "provider=predictions", key)
	h.expect(2, "headroom_ratelimited_total", "provider=predictions", key, "resource=concurrency")
	// Limits are per key: gauges carry model="".
	h.expect(5, "headroom_ratelimit_limit", "provider=predictions", "model=", key, "resource=concurrency", "window=none")
	h.expect(0, "headroom_ratelimit_remaining", "provider=predictions", "model=", key, "resource=concurrency", "window=none")
	// Rejected requests are not charged: 5 admitted, one more now → 54.
	last := h.call("predictions", "POST", "/v1/predictions", body, auth...)
	h.expect(60, "headroom_ratelimit_limit", "provider=predictions", "model=", key, "resource=requests", "window=1m")
	h.expect(54, "headroom_ratelimit_remaining", "provider=predictions", "model=", key, "resource=requests", "window=1m")
	h.expect(epochHeader(t, last, "X-Ratelimit-Reset"), "headroom_ratelimit_reset_timestamp_seconds", "provider=predictions", "model=", key, "resource=requests", "window=1m")
	h.expect(5, "headroom_ratelimit_documented_limit", "provider=predictions", "model=", "resource=concurrency", "window=none")
}

func TestSeedPredictionsMinuteLimit(t *testing.T) {
	h := start(t, map[string]fakeprovider.Options{"predictions": {Now: frozen(),
		Limits: []catalog.Limit{{Resource: "requests", Window: "1m", Value: 3}}}})
	auth := []string{"Authorization", "Bearer r8-SECRET-2"}
	key := "key=" + keyid.Fingerprint("r8-SECRET-2")
	var r429 response
	for i := 0; i < 4; i++ {
		r := h.call("predictions", "POST", "/v1/predictions", `{"input":{}}`, auth...)
		if r.status == 429 {
			r429 = r
		}
	}
	if r429.status != 429 {
		t.Fatal("no 429 at the 4th request")
	}
	h.expect(1, "headroom_ratelimited_total", "provider=predictions", key, "resource=requests")
	h.expect(0, "headroom_ratelimit_remaining", "provider=predictions", "model=", key, "resource=requests", "window=1m")
	ra, _ := strconv.ParseFloat(r429.header.Get("Retry-After"), 64)
	mf := h.scrape()["headroom_retry_after_seconds"]
	if mf == nil || mf.GetMetric()[0].GetHistogram().GetSampleSum() != ra {
		t.Errorf("retry-after sum %v want %v", mf, ra)
	}
}
