package faults

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestBadProviderHeaders: whatever rate-limit headers a provider sends, what
// reaches /metrics is a parse error count or a value clamped by the rule in
// docs/metrics.md, never a negative, NaN, infinite or out-of-range number.
func TestBadProviderHeaders(t *testing.T) {
	now := time.Now()
	type tc struct {
		status  int
		headers [][2]string
	}
	rfc := now.Add(30 * time.Second).UTC().Format(time.RFC3339)
	epoch := fmt.Sprint(now.Add(60 * time.Second).Unix())
	cases := map[string]tc{
		"negative": {200, [][2]string{{"x-ratelimit-limit-requests", "-5"}, {"x-ratelimit-remaining-requests", "-1"},
			{"x-ratelimit-limit-tokens", "100"}, {"x-ratelimit-remaining-tokens", "-0"}}},
		"overflow": {200, [][2]string{{"x-ratelimit-limit-requests", "1e400"}, {"x-ratelimit-remaining-requests", "99999999999999999999999"},
			{"x-ratelimit-limit-tokens", "1e15"}, {"x-ratelimit-remaining-tokens", "1e15"}}},
		"nan": {200, [][2]string{{"x-ratelimit-limit-requests", "NaN"}, {"x-ratelimit-remaining-requests", "Inf"},
			{"x-ratelimit-limit-tokens", "-Infinity"}, {"x-ratelimit-remaining-tokens", "nan"}}},
		"mixed": {200, [][2]string{{"x-ratelimit-limit-requests", "100"}, {"x-ratelimit-remaining-requests", "50"}, {"x-ratelimit-reset-requests", rfc},
			{"x-ratelimit-limit-tokens", "1000"}, {"x-ratelimit-remaining-tokens", "10.0"}, {"x-ratelimit-reset-tokens", epoch}}},
		"past": {200, [][2]string{{"x-ratelimit-limit-requests", "100"}, {"x-ratelimit-remaining-requests", "50"}, {"x-ratelimit-reset-requests", "2001-01-01T00:00:00Z"},
			{"x-ratelimit-limit-tokens", "1000"}, {"x-ratelimit-remaining-tokens", "10"}, {"x-ratelimit-reset-tokens", "-30s"}}},
		"duplicated": {200, [][2]string{{"x-ratelimit-limit-requests", "100"}, {"x-ratelimit-remaining-requests", "5"}, {"x-ratelimit-remaining-requests", "7"},
			{"x-ratelimit-limit-tokens", "1000"}, {"x-ratelimit-limit-tokens", "1000"}, {"x-ratelimit-remaining-tokens", "900"}}},
		"over": {200, [][2]string{{"x-ratelimit-limit-requests", "10"}, {"x-ratelimit-remaining-requests", "50"},
			{"x-ratelimit-limit-tokens", "0"}, {"x-ratelimit-remaining-tokens", "3"}}},
		"garbage": {200, [][2]string{{"x-ratelimit-limit-requests", "12abc"}, {"x-ratelimit-remaining-requests", " 7 "},
			{"x-ratelimit-limit-tokens", "1,000"}, {"x-ratelimit-remaining-tokens", ""}, {"x-ratelimit-reset-tokens", "soon"}}},
		"retry-negative": {429, [][2]string{{"retry-after", "-5"}}},
		"retry-far-date": {429, [][2]string{{"retry-after", "Fri, 31 Dec 9999 23:59:59 GMT"}}},
		"retry-huge":     {429, [][2]string{{"retry-after", "1e30"}}},
		"retry-ok":       {429, [][2]string{{"retry-after", "7"}}},
	}
	up := newRawUpstream(t, serveHTTP(func(c net.Conn, _ *http.Request, body []byte) bool {
		var req struct{ Model string }
		json.Unmarshal(body, &req)
		k, ok := cases[req.Model]
		if !ok {
			io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
			return true
		}
		var b strings.Builder
		fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: application/json\r\n", k.status, http.StatusText(k.status), time.Now().UTC().Format(http.TimeFormat))
		for _, h := range k.headers {
			fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
		}
		b.WriteString("Content-Length: 2\r\n\r\n{}")
		io.WriteString(c, b.String())
		return true
	}))
	e := startAgent(t, []provider{{"bad", "openai", up.url()}})
	before := time.Now()
	for model := range cases {
		r := e.do("POST", "/bad/v1/chat/completions", []byte(`{"model":"`+model+`"}`))
		if r.status != cases[model].status || string(r.body) != "{}" {
			t.Errorf("%s: client got %d %q: the response must be relayed whatever its headers", model, r.status, r.body)
		}
	}
	after := time.Now()
	raw, mfs := e.scrape()
	assertSaneRateLimits(t, mfs)
	// The text format too: no sample value is NaN, infinite or negative.
	for _, l := range strings.Split(raw, "\n") {
		if !strings.HasPrefix(l, "headroom_") {
			continue
		}
		f := strings.Fields(l[strings.LastIndexByte(l, '}')+1:])
		if len(f) > 0 && (strings.Contains(f[0], "NaN") || strings.Contains(f[0], "Inf") || strings.HasPrefix(f[0], "-")) {
			t.Errorf("nonsense on /metrics: %s", l)
		}
	}

	get := func(metric, model, resource string) (float64, bool) {
		for _, s := range seriesOf(mfs, metric) {
			if s.labels["provider"] == "bad" && s.labels["model"] == model && s.labels["resource"] == resource {
				return s.value, true
			}
		}
		return 0, false
	}
	expect := func(metric, model, resource string, want float64) {
		t.Helper()
		if got, ok := get(metric, model, resource); !ok || got != want {
			t.Errorf("%s{model=%s,resource=%s} = %v (present %v), want %v", metric, model, resource, got, ok, want)
		}
	}
	absent := func(metric, model, resource string) {
		t.Helper()
		if got, ok := get(metric, model, resource); ok {
			t.Errorf("%s{model=%s,resource=%s} = %v exported, want absent", metric, model, resource, got)
		}
	}
	const lim, rem, rst = "headroom_ratelimit_limit", "headroom_ratelimit_remaining", "headroom_ratelimit_reset_timestamp_seconds"

	absent(lim, "negative", "requests")
	absent(rem, "negative", "requests")
	expect(lim, "negative", "tokens", 100)
	expect(rem, "negative", "tokens", 0)
	if strings.Contains(raw, `model="negative",resource="tokens",window="1m"} -0`) {
		t.Errorf("remaining exported as -0")
	}

	absent(lim, "overflow", "requests")
	absent(rem, "overflow", "requests")
	expect(lim, "overflow", "tokens", 1e15) // the documented maximum is accepted
	expect(rem, "overflow", "tokens", 1e15)

	for _, res := range []string{"requests", "tokens"} {
		absent(lim, "nan", res)
		absent(rem, "nan", res)
	}

	// Mixed formats: an RFC 3339 time and epoch seconds where a duration
	// is documented are still understood (sniffed).
	expect(rem, "mixed", "tokens", 10)
	if v, ok := get(rst, "mixed", "requests"); !ok || math.Abs(v-float64(now.Add(30*time.Second).Unix())) > 2 {
		t.Errorf("mixed: RFC 3339 reset exported as %v (present %v), want ≈ now+30s", v, ok)
	}
	if v, ok := get(rst, "mixed", "tokens"); !ok || math.Abs(v-float64(now.Add(60*time.Second).Unix())) > 2 {
		t.Errorf("mixed: epoch reset exported as %v (present %v), want ≈ now+60s", v, ok)
	}
	// A reset in the past is clamped to the response's Date, never before.
	if v, ok := get(rst, "past", "requests"); !ok || v < float64(before.Unix())-1 || v > float64(after.Unix())+1 {
		t.Errorf("past: reset %v (present %v), want clamped to the response time [%d, %d]", v, ok, before.Unix(), after.Unix())
	}
	absent(rst, "past", "tokens") // "-30s" is an error, the counts stay
	expect(rem, "past", "tokens", 10)

	// Duplicated with different values: ambiguous, not guessed.
	absent(rem, "duplicated", "requests")
	expect(lim, "duplicated", "requests", 100)
	expect(lim, "duplicated", "tokens", 1000) // repeated identically: fine

	// Remaining above the limit is clamped to the limit (docs/metrics.md).
	expect(rem, "over", "requests", 10)
	expect(lim, "over", "requests", 10)
	expect(rem, "over", "tokens", 0)

	absent(lim, "garbage", "requests")
	expect(rem, "garbage", "requests", 7)
	absent(lim, "garbage", "tokens")
	absent(rem, "garbage", "tokens")

	wantErrs := map[string]float64{
		"x-ratelimit-limit-requests":     4, // negative, overflow, nan, garbage
		"x-ratelimit-remaining-requests": 4, // negative, overflow, nan, duplicated
		"x-ratelimit-limit-tokens":       2, // nan, garbage
		"x-ratelimit-remaining-tokens":   2, // nan, garbage ("")
		"x-ratelimit-reset-tokens":       1, // past ("-30s"); garbage has no counts to attach "soon" to
		"retry-after":                    3, // negative, far date, huge
	}
	for h, want := range wantErrs {
		if got := sum(mfs, "headroom_parse_errors_total", "provider=bad", "header="+h); got != want {
			t.Errorf("parse_errors_total{header=%s} = %v, want %v", h, got, want)
		}
	}
	for _, s := range seriesOf(mfs, "headroom_parse_errors_total") {
		if _, ok := wantErrs[s.labels["header"]]; !ok && s.labels["provider"] == "bad" {
			t.Errorf("unexpected parse error series %v = %v", s.labels, s.value)
		}
	}

	// Retry-After: only the sane value is observed.
	for _, m := range mfs["headroom_retry_after_seconds"].GetMetric() {
		h := m.GetHistogram()
		if h.GetSampleCount() != 1 || h.GetSampleSum() != 7 {
			t.Errorf("retry_after_seconds: count %d sum %v, want the one valid 7s", h.GetSampleCount(), h.GetSampleSum())
		}
	}
	if !strings.Contains(e.logs.String(), "unparseable rate-limit value") {
		t.Errorf("parse errors not logged")
	}
	e.checkLeaks(up)
}
