package fakeprovider

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/headroomhq/headroom/catalog"
	"github.com/headroomhq/headroom/parsers"
)

// TestDialectsDrain sends a few requests per dialect and parses every
// response with Headroom's own dialect: exact limits, remaining dropping by
// one request (and by the request's tokens) each time, exact resets.
var (
	anthropicBody = `{"model":"claude-haiku-4-5","max_tokens":10,"messages":[{"role":"user","content":"Hello!"}]}`
	azureBody     = `{"messages":[{"role":"user","content":"Hello!"}]}`
)

func TestDialectsDrain(t *testing.T) {
	heroku := chatCost("claude-4-sonnet")
	openai := chatCost("gpt-4o-mini")
	cases := []struct {
		name  string
		opts  Options
		start string
		step  time.Duration
		do    req
		want  func(i int) []obs
	}{
		{
			name: "heroku", opts: Options{Provider: "heroku-us"}, start: "2025-06-02T10:00:00Z", step: time.Second,
			do: req{body: chatBody("claude-4-sonnet")},
			// Sliding window: the reset is when the oldest entry (10:00:00) expires.
			want: func(i int) []obs {
				return []obs{
					{"requests", "1m", 150, float64(150 - i), "2025-06-02T10:01:00Z"},
					{"tokens", "1m", 800000, 800000 - float64(i)*heroku, "2025-06-02T10:01:00Z"},
				}
			},
		},
		{
			name: "heroku stable-image-ultra has no token limit", opts: Options{Provider: "heroku-eu"}, start: "2025-06-02T10:00:00Z", step: 0,
			do: req{body: chatBody("stable-image-ultra")},
			want: func(i int) []obs {
				return []obs{{"requests", "1m", 20, float64(20 - i), "2025-06-02T10:01:00Z"}}
			},
		},
		{
			name: "infercom", opts: Options{Provider: "infercom"}, start: "2025-06-02T10:00:20Z", step: time.Second,
			do: req{body: chatBody("DeepSeek-V3.1")},
			want: func(i int) []obs {
				return []obs{
					{"requests", "1m", 30, float64(30 - i), "2025-06-02T10:01:00Z"},
					{"requests", "1d", 15000, float64(15000 - i), "2025-06-03T00:00:00Z"},
				}
			},
		},
		{
			name: "sambanova", opts: Options{Provider: "sambanova"}, start: "2025-06-02T10:00:20Z", step: time.Second,
			do: req{body: chatBody("Meta-Llama-3.3-70B-Instruct")},
			want: func(i int) []obs {
				return []obs{
					{"requests", "1m", 80, float64(80 - i), "2025-06-02T10:01:00Z"},
					{"requests", "1h", 400, float64(400 - i), "2025-06-02T11:00:00Z"},
					{"requests", "1d", 4800, float64(4800 - i), "2025-06-03T00:00:00Z"},
				}
			},
		},
		{
			name: "predictions", opts: Options{Provider: "predictions"}, start: "2024-01-15T09:59:30Z", step: time.Second,
			do: req{path: "/v1/predictions", body: `{"version":"5c7d5dc6","input":{"prompt":"a cat"}}`},
			want: func(i int) []obs {
				return []obs{{"requests", "1m", 60, float64(60 - i), "2024-01-15T10:00:00Z"}}
			},
		},
		{
			// Token bucket: the reset is the time until the bucket is full,
			// i requests of 60s/500 = 120ms each, i*cost tokens of 2ms each.
			name: "openai", opts: Options{Provider: "openai"}, start: "2025-06-02T10:00:00Z", step: 0,
			do: req{body: chatBody("gpt-4o-mini")},
			want: func(i int) []obs {
				base := mustTime("2025-06-02T10:00:00Z")
				return []obs{
					{"requests", "1m", 500, float64(500 - i), base.Add(time.Duration(i) * 120 * time.Millisecond).Format(time.RFC3339Nano)},
					{"tokens", "1m", 30000, 30000 - float64(i)*openai, base.Add(time.Duration(float64(i)*openai) * 2 * time.Millisecond).Format(time.RFC3339Nano)},
				}
			},
		},
		{
			// Token buckets with RFC 3339 resets rounded up to the second and
			// token counts rounded to the thousand: i requests of 1.2s each.
			name: "anthropic", opts: Options{Provider: "anthropic"}, start: "2025-06-02T10:00:00Z", step: 0,
			do: req{path: "/v1/messages", body: anthropicBody},
			want: func(i int) []obs {
				p := float64(len(anthropicBody)+3) / 4
				p = float64(int(p))
				at := func(d time.Duration) string {
					return mustTime("2025-06-02T10:00:00Z").Add(ceilDur(d, time.Second)).Format(time.RFC3339)
				}
				return []obs{
					{"requests", "1m", 50, float64(50 - i), at(time.Duration(i) * 1200 * time.Millisecond)},
					{"tokens", "1m", 60000, 60000, at(time.Duration(float64(i)*p*60/50000*1e9) + 1)},
					{"input_tokens", "1m", 50000, 50000, at(time.Duration(float64(i)*p*60/50000*1e9) + 1)},
					{"output_tokens", "1m", 10000, 10000, at(time.Duration(i) * 60 * time.Millisecond)},
				}
			},
		},
		{
			// Sliding windows of 10 s (requests) and 1 m (tokens); resets in
			// seconds until the oldest use expires; the deployment names the model.
			name: "azure-openai", opts: Options{Provider: "azure-openai"}, start: "2024-06-05T10:00:00Z", step: time.Second,
			do: req{path: "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21", body: azureBody},
			want: func(i int) []obs {
				c := float64((len(azureBody)+3)/4 + 16)
				return []obs{
					{"requests", "10s", 20, float64(20 - i), "2024-06-05T10:00:10Z"},
					{"tokens", "1m", 20000, 20000 - float64(i)*c, "2024-06-05T10:01:00Z"},
				}
			},
		},
		{
			// Buckets: a day's request drains in 86.4s, a minute's token in 5ms.
			name: "groq", opts: Options{Provider: "groq"}, start: "2025-06-02T10:00:00Z", step: 0,
			do: req{body: chatBody("llama-3.3-70b-versatile")},
			want: func(i int) []obs {
				c := chatCost("llama-3.3-70b-versatile")
				base := mustTime("2025-06-02T10:00:00Z")
				return []obs{
					{"requests", "1d", 1000, float64(1000 - i), base.Add(time.Duration(i) * 86400 * time.Millisecond).Format(time.RFC3339Nano)},
					{"tokens", "1m", 12000, 12000 - float64(i)*c, base.Add(time.Duration(float64(i)*c) * 5 * time.Millisecond).Format(time.RFC3339Nano)},
				}
			},
		},
		{
			name: "cerebras", opts: Options{Provider: "cerebras"}, start: "2025-06-02T10:00:20.5Z", step: time.Second,
			do: req{body: chatBody("llama3.1-8b")},
			want: func(i int) []obs {
				c := chatCost("llama3.1-8b")
				return []obs{
					{"requests", "1m", 30, float64(30 - i), "2025-06-02T10:01:00Z"},
					{"requests", "1h", 900, float64(900 - i), "2025-06-02T11:00:00Z"},
					{"requests", "1d", 14400, float64(14400 - i), "2025-06-03T00:00:00Z"},
					{"tokens", "1m", 60000, 60000 - float64(i)*c, "2025-06-02T10:01:00Z"},
					{"tokens", "1h", 1000000, 1000000 - float64(i)*c, "2025-06-02T11:00:00Z"},
					{"tokens", "1d", 1000000, 1000000 - float64(i)*c, "2025-06-03T00:00:00Z"},
				}
			},
		},
		{
			// OpenRouter reports limits only on 429s.
			name: "openrouter", opts: Options{Provider: "openrouter"}, start: "2025-06-02T10:00:00Z", step: time.Second,
			do:   req{path: "/api/v1/chat/completions", body: chatBody("qwen/qwen3-coder:free")},
			want: func(int) []obs { return nil },
		},
		{
			// No reset headers; requests from the catalog's account-wide key limit.
			name: "fireworks", opts: Options{Provider: "fireworks"}, start: "2026-08-05T12:00:00Z", step: time.Second,
			do: req{body: chatBody("accounts/fireworks/models/kimi-k2p6")},
			want: func(i int) []obs {
				p := chatCost("accounts/fireworks/models/kimi-k2p6") - 10
				return []obs{
					{"requests", "1m", 6000, float64(6000 - i), ""},
					{"input_tokens", "1m", 3600000, 3600000 - float64(i)*p, ""},
					{"output_tokens", "1m", 36000, float64(36000 - 10*i), ""},
				}
			},
		},
		{
			// The hour starts with the first request.
			name: "github", opts: Options{Provider: "github"}, start: "2013-07-01T17:27:06Z", step: time.Second,
			do: req{body: chatBody("gpt-4o")},
			want: func(i int) []obs {
				return []obs{{"requests", "1h", 5000, float64(5000 - i), "2013-07-01T18:27:06Z"}}
			},
		},
		{
			name: "mistral", opts: Options{Provider: "mistral"}, start: "2026-02-12T10:00:00Z", step: time.Second,
			do: req{body: chatBody("mistral-small-latest")},
			want: func(i int) []obs {
				c := chatCost("mistral-small-latest")
				return []obs{
					{"requests", "1m", 60, float64(60 - i), ""},
					{"tokens", "1m", 500000, 500000 - float64(i)*c, ""},
					{"tokens", "30d", 4000000, 4000000 - float64(i)*c, ""},
				}
			},
		},
		{
			name: "together", opts: Options{Provider: "together"}, start: "2026-02-02T12:00:00.25Z", step: 0,
			do: req{body: chatBody("meta-llama/Llama-3.3-70B-Instruct-Turbo")},
			want: func(i int) []obs {
				c := chatCost("meta-llama/Llama-3.3-70B-Instruct-Turbo")
				return []obs{
					{"requests", "1s", 10, float64(10 - i), "2026-02-02T12:00:01Z"},
					{"tokens", "1s", 3000, 3000 - float64(i)*c, ""},
					{"dynamic_requests", "1s", 10, float64(10 - i), "2026-02-02T12:00:01Z"},
					{"dynamic_tokens", "1s", 3000, 3000 - float64(i)*c, ""},
				}
			},
		},
		{
			// Limits show only in 429 bodies.
			name: "gemini", opts: Options{Provider: "gemini"}, start: "2026-02-01T12:00:00Z", step: time.Second,
			do:   req{path: "/v1beta/models/gemini-2.0-flash:generateContent", body: `{"contents":[{"parts":[{"text":"Hello!"}]}]}`},
			want: func(int) []obs { return nil },
		},
		{
			name: "generic-windowed", opts: Options{Dialect: "generic-windowed"}, start: "2026-03-01T10:00:20.5Z", step: time.Second,
			do: req{body: chatBody("m")},
			want: func(i int) []obs {
				c := chatCost("m")
				return []obs{
					{"requests", "1m", 60, float64(60 - i), "2026-03-01T10:01:00Z"},
					{"tokens", "1m", 100000, 100000 - float64(i)*c, "2026-03-01T10:01:00Z"},
					{"requests", "1d", 10000, float64(10000 - i), "2026-03-02T00:00:00Z"},
				}
			},
		},
		{
			// Sliding windows: the reset is when the first request leaves them.
			name: "generic-hyphenated", opts: Options{Dialect: "generic-hyphenated"}, start: "2026-03-01T10:00:20Z", step: time.Second,
			do: req{body: chatBody("m")},
			want: func(i int) []obs {
				c := chatCost("m")
				return []obs{
					{"requests", "1m", 30, float64(30 - i), "2026-03-01T10:01:20Z"},
					{"tokens", "1m", 50000, 50000 - float64(i)*c, "2026-03-01T10:01:20Z"},
				}
			},
		},
		{
			// The request itself is in flight when its headers are written.
			name: "ietf", opts: Options{Provider: "ietf-example", Limits: []catalog.Limit{{Resource: "concurrency", Window: "none", Value: 5}}}, start: "2026-05-23T12:00:10Z", step: time.Second,
			do: req{body: chatBody("m")},
			want: func(i int) []obs {
				return []obs{
					{"requests", "1m", 100, float64(100 - i), "2026-05-23T12:01:00Z"},
					{"concurrency", "none", 5, 4, ""},
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.opts, tc.start)
			for i := 1; i <= 4; i++ {
				r := tc.do
				r.key = "key-a"
				got := h.do(r)
				wantStatus := http.StatusOK
				if r.path == "/v1/predictions" {
					wantStatus = http.StatusCreated
				}
				if got.status != wantStatus {
					t.Fatalf("request %d: status %d, body %s", i, got.status, got.body)
				}
				if d := got.header.Get("Date"); d != h.clk.Now().UTC().Format(http.TimeFormat) {
					t.Errorf("request %d: Date %q, want the fake clock's %v", i, d, h.clk.Now())
				}
				checkObs(t, fmt.Sprintf("request %d", i), &got.res, tc.want(i))
				h.clk.Advance(tc.step)
			}
			// Another key has its own budget.
			r := tc.do
			r.key = "key-b"
			got := h.do(r)
			if tc.step == 0 {
				checkObs(t, "other key", &got.res, tc.want(1))
			} else {
				// Later on the clock: compare budgets, not resets.
				for _, w := range tc.want(1) {
					if o, ok := got.res.Find(w.resource, w.window); !ok || o.Limit != w.limit || o.Remaining != w.remaining {
						t.Errorf("other key: %s/%s = %+v, want limit %v remaining %v", w.resource, w.window, o, w.limit, w.remaining)
					}
				}
			}
		})
	}
}

// TestExhaustion drives each dialect into a limit: the 429 carries the
// provider's body, Retry-After and only the provider's headers, written with
// the provider's casing.
func TestExhaustion(t *testing.T) {
	herokuTok := chatCost("claude-4-sonnet")
	openaiTok := chatCost("gpt-4o-mini")
	lim := func(s ...string) []catalog.Limit {
		var out []catalog.Limit
		for _, x := range s {
			l, err := ParseLimit(x)
			if err != nil {
				panic(err)
			}
			out = append(out, l)
		}
		return out
	}
	cases := []struct {
		name      string
		opts      Options
		path      string
		body      string
		ok        []string // times of the admitted requests
		at        string   // time of the rejected one
		want      []obs
		retry     time.Duration
		throttled string
		wantBody  string
		headers   []string // exact header names of the 429
	}{
		{
			name: "heroku requests", opts: Options{Provider: "heroku-us", Limits: lim("requests/1m=3")},
			body: chatBody("claude-4-sonnet"),
			ok:   []string{"2025-06-02T10:00:00Z", "2025-06-02T10:00:10Z", "2025-06-02T10:00:20Z"}, at: "2025-06-02T10:00:30Z",
			want: []obs{
				{"requests", "1m", 3, 0, "2025-06-02T10:01:00Z"},
				{"tokens", "1m", 800000, 800000 - 3*herokuTok, "2025-06-02T10:01:00Z"},
			},
			retry: 30 * time.Second, throttled: "requests",
			wantBody: `{"error":{"message":"rate limit exceeded"}}`,
			headers: []string{"Content-Type", "Date", "Retry-After",
				"x-ratelimit-limit-requests", "x-ratelimit-limit-tokens", "x-ratelimit-remaining-requests",
				"x-ratelimit-remaining-tokens", "x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"},
		},
		{
			// Two requests fit, the third does not: Retry-After is when the
			// first entry leaves the window and frees enough tokens.
			name: "heroku tokens", opts: Options{Provider: "heroku-us", Limits: []catalog.Limit{{Resource: "tokens", Window: "1m", Value: 2*herokuTok + 10}}},
			body: chatBody("claude-4-sonnet"),
			ok:   []string{"2025-06-02T10:00:00Z", "2025-06-02T10:00:05Z"}, at: "2025-06-02T10:00:20Z",
			want: []obs{
				{"requests", "1m", 150, 148, "2025-06-02T10:01:00Z"},
				{"tokens", "1m", 2*herokuTok + 10, 10, "2025-06-02T10:01:00Z"},
			},
			retry: 40 * time.Second, throttled: "",
			wantBody: `{"error":{"message":"rate limit exceeded"}}`,
			headers: []string{"Content-Type", "Date", "Retry-After",
				"x-ratelimit-limit-requests", "x-ratelimit-limit-tokens", "x-ratelimit-remaining-requests",
				"x-ratelimit-remaining-tokens", "x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"},
		},
		{
			name: "infercom minute", opts: Options{Provider: "infercom", Limits: lim("Qwen3-32B:requests/1m=3")},
			body: chatBody("Qwen3-32B"),
			ok:   []string{"2025-06-02T10:00:40Z", "2025-06-02T10:00:41Z", "2025-06-02T10:00:42Z"}, at: "2025-06-02T10:00:45Z",
			want: []obs{
				{"requests", "1m", 3, 0, "2025-06-02T10:01:00Z"},
				{"requests", "1d", 6000, 5997, "2025-06-03T00:00:00Z"},
			},
			retry: 15 * time.Second, throttled: "requests",
			wantBody: `{"error":{"message":"Rate limit exceeded","type":"rate_limit_exceeded"}}`,
			headers: []string{"Content-Type", "Date", "Retry-After",
				"x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests",
				"x-ratelimit-limit-requests-day", "x-ratelimit-remaining-requests-day", "x-ratelimit-reset-requests-day"},
		},
		{
			name: "sambanova hour", opts: Options{Provider: "sambanova", Limits: lim("requests/1h=2")},
			body: chatBody("DeepSeek-V3-0324"),
			ok:   []string{"2025-06-02T10:29:00Z", "2025-06-02T10:29:30Z"}, at: "2025-06-02T10:30:00Z",
			want: []obs{
				{"requests", "1m", 10, 10, "2025-06-02T10:31:00Z"},
				{"requests", "1h", 2, 0, "2025-06-02T11:00:00Z"},
				{"requests", "1d", 600, 598, "2025-06-03T00:00:00Z"},
			},
			retry: 30 * time.Minute, throttled: "requests",
			wantBody: `{"error":{"message":"Rate limit exceeded: requests per hour","type":"rate_limit_exceeded","param":null,"code":"rate_limit_exceeded"}}`,
			headers: []string{"Content-Type", "Date", "Retry-After",
				"x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests",
				"x-ratelimit-limit-requests-hour", "x-ratelimit-remaining-requests-hour", "x-ratelimit-reset-requests-hour",
				"x-ratelimit-limit-requests-day", "x-ratelimit-remaining-requests-day", "x-ratelimit-reset-requests-day"},
		},
		{
			name: "predictions minute", opts: Options{Provider: "predictions", Limits: lim("requests/1m=3")},
			path: "/v1/predictions", body: `{"version":"5c7d5dc6","input":{"prompt":"a cat"}}`,
			ok: []string{"2024-01-15T09:59:20Z", "2024-01-15T09:59:21Z", "2024-01-15T09:59:22Z"}, at: "2024-01-15T09:59:30Z",
			want:  []obs{{"requests", "1m", 3, 0, "2024-01-15T10:00:00Z"}},
			retry: 30 * time.Second, throttled: "requests",
			wantBody: `{"error":{"type":"rate_limit_error","message":"Rate limit exceeded","code":"RATE_LIMIT_EXCEEDED"}}`,
			headers:  []string{"Content-Type", "Date", "Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"},
		},
		{
			// Three requests fill a 3/min bucket; one request drains in 20s.
			name: "openai requests", opts: Options{Provider: "openai", Limits: lim("requests/1m=3")},
			body: chatBody("gpt-4o-mini"),
			ok:   []string{"2025-06-02T10:00:00Z", "2025-06-02T10:00:00Z", "2025-06-02T10:00:00Z"}, at: "2025-06-02T10:00:00Z",
			want: []obs{
				{"requests", "1m", 3, 0, "2025-06-02T10:01:00Z"},
				{"tokens", "1m", 30000, 30000 - 3*openaiTok, mustTime("2025-06-02T10:00:00Z").Add(time.Duration(3*openaiTok) * 2 * time.Millisecond).Format(time.RFC3339Nano)},
			},
			retry: 20 * time.Second, throttled: "requests",
			wantBody: `{"error":{"message":"Rate limit reached for gpt-4o-mini in organization org-fakeprovider on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s. Visit https://platform.openai.com/account/rate-limits to learn more.","type":"requests","param":null,"code":"rate_limit_exceeded"}}`,
			headers: []string{"Content-Type", "Date", "retry-after",
				"x-ratelimit-limit-requests", "x-ratelimit-limit-tokens", "x-ratelimit-remaining-requests",
				"x-ratelimit-remaining-tokens", "x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"},
		},
		{
			name: "openai tokens", opts: Options{Provider: "openai", Limits: []catalog.Limit{{Resource: "tokens", Window: "1m", Value: 2 * openaiTok}}},
			body: chatBody("gpt-4o-mini"),
			ok:   []string{"2025-06-02T10:00:00Z", "2025-06-02T10:00:00Z"}, at: "2025-06-02T10:00:00Z",
			want: []obs{
				{"requests", "1m", 500, 498, "2025-06-02T10:00:00.24Z"},
				{"tokens", "1m", 2 * openaiTok, 0, "2025-06-02T10:01:00Z"},
			},
			// One request's tokens drain from a full bucket in 30s.
			retry: 30 * time.Second, throttled: "tokens",
			wantBody: fmt.Sprintf(`{"error":{"message":"Rate limit reached for gpt-4o-mini in organization org-fakeprovider on tokens per min (TPM): Limit %[1]v, Used %[1]v, Requested %[2]v. Please try again in 30s. Visit https://platform.openai.com/account/rate-limits to learn more.","type":"tokens","param":null,"code":"rate_limit_exceeded"}}`, 2*openaiTok, openaiTok),
			headers: []string{"Content-Type", "Date", "retry-after",
				"x-ratelimit-limit-requests", "x-ratelimit-limit-tokens", "x-ratelimit-remaining-requests",
				"x-ratelimit-remaining-tokens", "x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"},
		},
		{
			// Three requests fill a 3/min bucket; one drains in 20s.
			name: "anthropic requests", opts: Options{Provider: "anthropic", Limits: lim("requests/1m=3")},
			path: "/v1/messages", body: anthropicBody,
			ok: []string{"2025-06-02T10:00:00Z", "2025-06-02T10:00:00Z", "2025-06-02T10:00:00Z"}, at: "2025-06-02T10:00:00Z",
			want: []obs{
				{"requests", "1m", 3, 0, "2025-06-02T10:01:00Z"},
				{"tokens", "1m", 60000, 60000, "2025-06-02T10:00:01Z"},
				{"input_tokens", "1m", 50000, 50000, "2025-06-02T10:00:01Z"},
				{"output_tokens", "1m", 10000, 10000, "2025-06-02T10:00:01Z"},
			},
			retry: 20 * time.Second, throttled: "requests",
			wantBody: `{"type":"error","error":{"type":"rate_limit_error","message":"This request would exceed the rate limit for your organization (00000000-0000-4000-8000-fakeprovider) of 3 requests per minute. For details, refer to: https://docs.anthropic.com/en/api/rate-limits. You can see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later. You may also contact sales at https://www.anthropic.com/contact-sales to discuss your options for a rate limit increase."}}`,
			headers:  append([]string{"Content-Type", "Date", "retry-after", "x-should-retry"}, anthropicHeaders...),
		},
		{
			// 800 input tokens a request against 2,000 per minute: the third
			// does not fit; remaining 400 is reported rounded to 0.
			name: "anthropic input tokens", opts: Options{Provider: "anthropic", Limits: lim("input_tokens/1m=2000")},
			path: "/v1/messages", body: padded(`{"model":"claude-haiku-4-5","max_tokens":10,"messages":[{"role":"user","content":"`, `"}]}`, 3200),
			ok: []string{"2025-06-02T10:00:00Z", "2025-06-02T10:00:00Z"}, at: "2025-06-02T10:00:00Z",
			want: []obs{
				{"requests", "1m", 50, 48, "2025-06-02T10:00:03Z"},
				{"tokens", "1m", 12000, 10000, "2025-06-02T10:00:48Z"},
				{"input_tokens", "1m", 2000, 0, "2025-06-02T10:00:48Z"},
				{"output_tokens", "1m", 10000, 10000, "2025-06-02T10:00:01Z"},
			},
			retry: 12 * time.Second, throttled: "input_tokens",
			wantBody: `{"type":"error","error":{"type":"rate_limit_error","message":"This request would exceed the rate limit for your organization (00000000-0000-4000-8000-fakeprovider) of 2,000 input tokens per minute. For details, refer to: https://docs.anthropic.com/en/api/rate-limits. You can see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later. You may also contact sales at https://www.anthropic.com/contact-sales to discuss your options for a rate limit increase."}}`,
			headers:  append([]string{"Content-Type", "Date", "retry-after", "x-should-retry"}, anthropicHeaders...),
		},
		{
			name: "azure-openai calls", opts: Options{Provider: "azure-openai", Limits: lim("requests/10s=2")},
			path: "/openai/deployments/gpt-4o/chat/completions?api-version=2024-02-15-preview", body: azureBody,
			ok: []string{"2024-06-05T10:00:00Z", "2024-06-05T10:00:04Z"}, at: "2024-06-05T10:00:06Z",
			want: []obs{
				{"requests", "10s", 2, 0, "2024-06-05T10:00:10Z"},
				{"tokens", "1m", 20000, 20000 - 2*float64((len(azureBody)+3)/4+16), "2024-06-05T10:01:00Z"},
			},
			retry: 4 * time.Second, throttled: "requests",
			wantBody: `{"error":{"code":"429","message":"Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-02-15-preview have exceeded call rate limit of your current OpenAI S0 pricing tier. Please retry after 4 seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit."}}`,
			headers: []string{"Content-Type", "Date", "retry-after", "retry-after-ms",
				"x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests",
				"x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"},
		},
		{
			name: "groq tokens per minute", opts: Options{Provider: "groq", Limits: []catalog.Limit{{Resource: "tokens", Window: "1m", Value: 2 * chatCost("llama-3.3-70b-versatile")}}},
			body: chatBody("llama-3.3-70b-versatile"),
			ok:   []string{"2025-06-02T10:00:00Z", "2025-06-02T10:00:00Z"}, at: "2025-06-02T10:00:00Z",
			want: []obs{
				{"requests", "1d", 1000, 998, "2025-06-02T10:02:52.8Z"},
				{"tokens", "1m", 2 * chatCost("llama-3.3-70b-versatile"), 0, "2025-06-02T10:01:00Z"},
			},
			retry: 30 * time.Second, throttled: "tokens",
			wantBody: fmt.Sprintf("{\"error\":{\"message\":\"Rate limit reached for model `llama-3.3-70b-versatile` in organization `org_fakeprovider` service tier `on_demand` on tokens per minute (TPM): Limit %[1]v, Used %[1]v, Requested %[2]v. Please try again in 30s. Visit https://console.groq.com/docs/rate-limits for more information.\",\"type\":\"tokens\",\"code\":\"rate_limit_exceeded\"}}", 2*chatCost("llama-3.3-70b-versatile"), chatCost("llama-3.3-70b-versatile")),
			headers:  groqHeaders,
		},
		{
			// RPM has no header: Headroom learns it from the body.
			name: "groq requests per minute", opts: Options{Provider: "groq", Limits: lim("requests/1m=2")},
			body: chatBody("llama-3.3-70b-versatile"),
			ok:   []string{"2025-06-02T10:00:00Z", "2025-06-02T10:00:00Z"}, at: "2025-06-02T10:00:00Z",
			want: []obs{
				{"requests", "1d", 1000, 998, "2025-06-02T10:02:52.8Z"},
				{"tokens", "1m", 12000, 12000 - 2*chatCost("llama-3.3-70b-versatile"), mustTime("2025-06-02T10:00:00Z").Add(time.Duration(2*chatCost("llama-3.3-70b-versatile")) * 5 * time.Millisecond).Format(time.RFC3339Nano)},
				{"requests", "1m", 2, 0, ""},
			},
			retry: 30 * time.Second, throttled: "requests",
			wantBody: "{\"error\":{\"message\":\"Rate limit reached for model `llama-3.3-70b-versatile` in organization `org_fakeprovider` service tier `on_demand` on requests per minute (RPM): Limit 2, Used 2, Requested 1. Please try again in 30s. Visit https://console.groq.com/docs/rate-limits for more information.\",\"type\":\"requests\",\"code\":\"rate_limit_exceeded\"}}",
			headers:  groqHeaders,
		},
		{
			name: "cerebras tokens per minute", opts: Options{Provider: "cerebras", Limits: []catalog.Limit{{Resource: "tokens", Window: "1m", Value: 2 * chatCost("llama3.1-8b")}}},
			body: chatBody("llama3.1-8b"),
			ok:   []string{"2026-01-22T09:30:10Z", "2026-01-22T09:30:11Z"}, at: "2026-01-22T09:30:18.75Z",
			want: []obs{
				{"requests", "1m", 30, 28, "2026-01-22T09:31:00Z"},
				{"requests", "1h", 900, 898, "2026-01-22T10:00:00Z"},
				{"requests", "1d", 14400, 14398, "2026-01-23T00:00:00Z"},
				{"tokens", "1m", 2 * chatCost("llama3.1-8b"), 0, "2026-01-22T09:31:00Z"},
				{"tokens", "1h", 1000000, 1000000 - 2*chatCost("llama3.1-8b"), "2026-01-22T10:00:00Z"},
				{"tokens", "1d", 1000000, 1000000 - 2*chatCost("llama3.1-8b"), "2026-01-23T00:00:00Z"},
			},
			retry: 42 * time.Second, throttled: "tokens",
			wantBody: `{"message":"Tokens per minute limit exceeded - too many tokens processed.","type":"too_many_requests_error","param":"quota","code":"token_quota_exceeded"}`,
			headers:  append([]string{"Content-Type", "Date", "retry-after"}, cerebrasGrid...),
		},
		{
			name: "cerebras requests per minute", opts: Options{Provider: "cerebras", Limits: lim("requests/1m=1")},
			body: chatBody("llama3.1-8b"),
			ok:   []string{"2026-01-22T09:30:10Z"}, at: "2026-01-22T09:30:30Z",
			want: []obs{
				{"requests", "1m", 1, 0, "2026-01-22T09:31:00Z"},
				{"requests", "1h", 900, 899, "2026-01-22T10:00:00Z"},
				{"requests", "1d", 14400, 14399, "2026-01-23T00:00:00Z"},
				{"tokens", "1m", 60000, 60000 - chatCost("llama3.1-8b"), "2026-01-22T09:31:00Z"},
				{"tokens", "1h", 1000000, 1000000 - chatCost("llama3.1-8b"), "2026-01-22T10:00:00Z"},
				{"tokens", "1d", 1000000, 1000000 - chatCost("llama3.1-8b"), "2026-01-23T00:00:00Z"},
			},
			retry: 30 * time.Second, throttled: "requests",
			wantBody: `{"message":"Requests per minute limit exceeded - too many requests sent.","type":"too_many_requests_error","param":"quota","code":"request_quota_exceeded"}`,
			headers:  append([]string{"Content-Type", "Date", "retry-after"}, cerebrasGrid...),
		},
		{
			name: "openrouter free models per day", opts: Options{Provider: "openrouter", Limits: lim("requests/1d=3")},
			path: "/api/v1/chat/completions", body: chatBody("qwen/qwen3-coder:free"),
			ok: []string{"2025-10-27T08:00:00Z", "2025-10-27T08:05:00Z", "2025-10-27T08:10:00Z"}, at: "2025-10-27T08:16:00Z",
			want:  []obs{{"requests", "1d", 3, 0, "2025-10-28T00:00:00Z"}},
			retry: 15*time.Hour + 44*time.Minute, throttled: "requests",
			wantBody: `{"error":{"message":"Rate limit exceeded: free-models-per-day. Add 10 credits to unlock 1000 free model requests per day","code":429,"metadata":{"headers":{"X-RateLimit-Limit":"3","X-RateLimit-Remaining":"0","X-RateLimit-Reset":"1761609600000"},"provider_name":null}},"user_id":"user_fakeprovider"}`,
			headers:  []string{"Content-Type", "Date", "Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"},
		},
		{
			name: "openrouter free models per minute", opts: Options{Provider: "openrouter", Limits: lim("requests/1m=2")},
			path: "/api/v1/chat/completions", body: chatBody("qwen/qwen3-coder:free"),
			ok: []string{"2026-07-08T14:02:01Z", "2026-07-08T14:02:02Z"}, at: "2026-07-08T14:02:31.5Z",
			want:  []obs{{"requests", "1m", 2, 0, "2026-07-08T14:03:00Z"}},
			retry: 29 * time.Second, throttled: "requests",
			wantBody: `{"error":{"message":"Rate limit exceeded: free-models-per-min.","code":429,"metadata":{"headers":{"X-RateLimit-Limit":"2","X-RateLimit-Remaining":"0","X-RateLimit-Reset":"1783519380000"},"provider_name":null}},"user_id":"user_fakeprovider"}`,
			headers:  []string{"Content-Type", "Date", "Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"},
		},
		{
			// Fireworks sends no Retry-After.
			name: "fireworks generated tokens", opts: Options{Provider: "fireworks", Limits: lim("output_tokens/1m=20")},
			body: chatBody("accounts/fireworks/models/kimi-k2p6"),
			ok:   []string{"2026-08-05T12:00:00Z", "2026-08-05T12:00:01Z"}, at: "2026-08-05T12:00:02Z",
			want: []obs{
				{"requests", "1m", 6000, 5998, ""},
				{"input_tokens", "1m", 3600000, 3600000 - 2*(chatCost("accounts/fireworks/models/kimi-k2p6")-10), ""},
				{"output_tokens", "1m", 20, 0, ""},
			},
			throttled: "output_tokens",
			wantBody:  `{"object":"error","type":"invalid_request_error","code":"invalid_request_error","message":"rate limit exceeded, please try again later"}`,
			headers: []string{"Content-Type", "Date", "x-ratelimit-over-limit",
				"x-ratelimit-limit-requests", "x-ratelimit-remaining-requests",
				"x-ratelimit-limit-tokens-prompt", "x-ratelimit-remaining-tokens-prompt",
				"x-ratelimit-limit-tokens-cache-adjusted-prompt", "x-ratelimit-remaining-tokens-cache-adjusted-prompt",
				"x-ratelimit-limit-tokens-generated", "x-ratelimit-remaining-tokens-generated"},
		},
		{
			// GitHub's primary limit: no Retry-After, X-RateLimit-Reset says when.
			name: "github core", opts: Options{Provider: "github", Limits: lim("requests/1h=2")},
			body: chatBody("gpt-4o"),
			ok:   []string{"2013-07-01T17:27:06Z", "2013-07-01T17:40:00Z"}, at: "2013-07-01T18:00:00Z",
			want:      []obs{{"requests", "1h", 2, 0, "2013-07-01T18:27:06Z"}},
			throttled: "requests",
			wantBody:  `{"message":"API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the request ID.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}`,
			headers:   []string{"Content-Type", "Date", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "X-RateLimit-Used", "X-RateLimit-Resource"},
		},
		{
			name: "mistral monthly tokens", opts: Options{Provider: "mistral", Limits: []catalog.Limit{{Resource: "tokens", Window: "30d", Value: 2 * chatCost("mistral-small-latest")}}},
			body: chatBody("mistral-small-latest"),
			ok:   []string{"2026-01-28T10:24:00Z", "2026-01-28T10:24:10Z"}, at: "2026-01-28T10:24:24Z",
			want: []obs{
				{"requests", "1m", 60, 58, ""},
				{"tokens", "1m", 500000, 500000 - 2*chatCost("mistral-small-latest"), ""},
				{"tokens", "30d", 2 * chatCost("mistral-small-latest"), 0, ""},
			},
			retry:     mustTime("2026-01-28T10:24:24Z").Truncate(30 * 24 * time.Hour).Add(30 * 24 * time.Hour).Sub(mustTime("2026-01-28T10:24:24Z")),
			throttled: "tokens",
			wantBody:  `{"object":"error","message":"Rate limit exceeded","type":"rate_limited","param":null,"code":"1300","raw_status_code":429}`,
			headers: []string{"Content-Type", "Date", "Retry-After", "x-ratelimit-tokens-query-cost",
				"x-ratelimit-limit-req-minute", "x-ratelimit-remaining-req-minute",
				"x-ratelimit-limit-tokens-minute", "x-ratelimit-remaining-tokens-minute",
				"x-ratelimit-limit-tokens-month", "x-ratelimit-remaining-tokens-month"},
		},
		{
			// Above the dynamic rate: the 429 names the dynamic bucket.
			name: "together dynamic requests", opts: Options{Provider: "together", Limits: lim("dynamic_requests/1s=2")},
			body: chatBody("m"),
			ok:   []string{"2026-02-02T12:00:00.1Z", "2026-02-02T12:00:00.2Z"}, at: "2026-02-02T12:00:00.5Z",
			want: []obs{
				{"requests", "1s", 10, 8, "2026-02-02T12:00:01Z"},
				{"tokens", "1s", 3000, 3000 - 2*chatCost("m"), ""},
				{"dynamic_requests", "1s", 2, 0, "2026-02-02T12:00:01Z"},
				{"dynamic_tokens", "1s", 3000, 3000 - 2*chatCost("m"), ""},
			},
			retry: time.Second, throttled: "dynamic_requests",
			wantBody: `{"error":{"message":"Request rate exceeds your dynamic rate for this model","type":"dynamic_request_limited","param":null,"code":null}}`,
			headers:  togetherHeaders,
		},
		{
			// The static limit: the contract's requests per second.
			name: "together static requests", opts: Options{Provider: "together", Limits: lim("requests/1s=2")},
			body: chatBody("m"),
			ok:   []string{"2026-02-02T12:00:00.1Z", "2026-02-02T12:00:00.2Z"}, at: "2026-02-02T12:00:00.5Z",
			want: []obs{
				{"requests", "1s", 2, 0, "2026-02-02T12:00:01Z"},
				{"tokens", "1s", 3000, 3000 - 2*chatCost("m"), ""},
				{"dynamic_requests", "1s", 10, 8, "2026-02-02T12:00:01Z"},
				{"dynamic_tokens", "1s", 3000, 3000 - 2*chatCost("m"), ""},
			},
			retry: time.Second, throttled: "requests",
			wantBody: `{"error":{"message":"Rate limit exceeded for requests per second","type":"rate_limit_exceeded","param":null,"code":"rate_limit_exceeded"}}`,
			headers:  togetherHeaders,
		},
		{
			// Azure's token 429 spells its reset x-rate-limit-reset-tokens.
			name: "azure-openai tokens", opts: Options{Provider: "azure-openai", Limits: []catalog.Limit{{Resource: "tokens", Window: "1m", Value: 2 * float64((len(azureBody)+3)/4+16)}}},
			path: "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21", body: azureBody,
			ok: []string{"2024-06-05T10:00:00Z", "2024-06-05T10:00:05Z"}, at: "2024-06-05T10:00:20Z",
			want: []obs{
				{"requests", "10s", 20, 20, "2024-06-05T10:00:20Z"},
				{"tokens", "1m", 2 * float64((len(azureBody)+3)/4+16), 0, "2024-06-05T10:01:00Z"},
			},
			retry: 40 * time.Second, throttled: "tokens",
			wantBody: `{"error":{"code":"429","message":"Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after 40 seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit."}}`,
			headers: []string{"Content-Type", "Date", "retry-after", "retry-after-ms",
				"x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests",
				"x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-rate-limit-reset-tokens"},
		},
		{
			// No headers: the body names the quota, its value and the delay.
			name: "gemini requests per minute", opts: Options{Provider: "gemini", Limits: lim("requests/1m=2")},
			path: "/v1beta/models/gemini-2.0-flash:generateContent", body: `{"contents":[{"parts":[{"text":"Hello!"}]}]}`,
			ok: []string{"2026-02-01T12:00:10Z", "2026-02-01T12:00:20Z"}, at: "2026-02-01T12:00:29Z",
			want:  []obs{{"requests", "1m", 2, 0, ""}},
			retry: 31 * time.Second, throttled: "requests",
			wantBody: `{"error":{"code":429,"details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaMetric":"generativelanguage.googleapis.com/generate_content_free_tier_requests","quotaId":"GenerateRequestsPerMinutePerProjectPerModel-FreeTier","quotaDimensions":{"location":"global","model":"gemini-2.0-flash"},"quotaValue":"2"}]},{"@type":"type.googleapis.com/google.rpc.Help","links":[{"description":"Learn more about Gemini API quotas","url":"https://ai.google.dev/gemini-api/docs/rate-limits"}]},{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"31s"}],"message":"You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.","status":"RESOURCE_EXHAUSTED"}}`,
			headers:  []string{"Content-Type", "Date"},
		},
		{
			// The OpenAI-compatible endpoint wraps the same object in an
			// array. The prompt is larger than the minute's whole budget:
			// it never fits, the wait is a window.
			name: "gemini openai-compatible input tokens", opts: Options{Provider: "gemini", Limits: []catalog.Limit{{Resource: "input_tokens", Window: "1m", Value: 20}}},
			path: "/v1beta/openai/chat/completions", body: chatBody("gemini-2.0-flash"),
			ok: nil, at: "2026-02-01T12:00:29Z",
			want:  []obs{{"input_tokens", "1m", 20, 0, ""}},
			retry: time.Minute, throttled: "input_tokens",
			wantBody: `[{"error":{"code":429,"details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaMetric":"generativelanguage.googleapis.com/generate_content_free_tier_input_token_count","quotaId":"GenerateContentInputTokensPerModelPerMinute-FreeTier","quotaDimensions":{"location":"global","model":"gemini-2.0-flash"},"quotaValue":"20"}]},{"@type":"type.googleapis.com/google.rpc.Help","links":[{"description":"Learn more about Gemini API quotas","url":"https://ai.google.dev/gemini-api/docs/rate-limits"}]},{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"60s"}],"message":"You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.","status":"RESOURCE_EXHAUSTED"}}]`,
			headers:  []string{"Content-Type", "Date"},
		},
		{
			name: "generic-windowed requests per minute", opts: Options{Dialect: "generic-windowed", Limits: lim("requests/1m=2")},
			body: chatBody("m"),
			ok:   []string{"2026-03-01T10:00:10Z", "2026-03-01T10:00:20Z"}, at: "2026-03-01T10:00:45Z",
			want: []obs{
				{"requests", "1m", 2, 0, "2026-03-01T10:01:00Z"},
				{"tokens", "1m", 100000, 100000 - 2*chatCost("m"), "2026-03-01T10:01:00Z"},
				{"requests", "1d", 10000, 9998, "2026-03-02T00:00:00Z"},
			},
			retry: 15 * time.Second, throttled: "requests",
			wantBody: `{"error":{"message":"Rate limit exceeded: requests per minute","type":"rate_limit_exceeded","param":null,"code":"rate_limit_exceeded"}}`,
			headers: []string{"Content-Type", "Date", "Retry-After",
				"X-RateLimit-Limit-Requests-Minute", "X-RateLimit-Remaining-Requests-Minute", "X-RateLimit-Reset-Requests-Minute",
				"X-RateLimit-Limit-Tokens-Minute", "X-RateLimit-Remaining-Tokens-Minute", "X-RateLimit-Reset-Tokens-Minute",
				"X-RateLimit-Limit-Requests-Day", "X-RateLimit-Remaining-Requests-Day", "X-RateLimit-Reset-Requests-Day"},
		},
		{
			// Only retry-after-ms; sliding: room returns when the first request leaves.
			name: "generic-hyphenated requests per minute", opts: Options{Dialect: "generic-hyphenated", Limits: lim("requests/1m=2")},
			body: chatBody("m"),
			ok:   []string{"2026-03-01T10:00:10Z", "2026-03-01T10:00:20Z"}, at: "2026-03-01T10:00:45Z",
			want: []obs{
				{"requests", "1m", 2, 0, "2026-03-01T10:01:10Z"},
				{"tokens", "1m", 50000, 50000 - 2*chatCost("m"), "2026-03-01T10:01:10Z"},
			},
			retry: 25 * time.Second, throttled: "requests",
			wantBody: `{"error":{"message":"Too many requests; slow down","type":"rate_limit_error","param":null,"code":null}}`,
			headers: []string{"Content-Type", "Date", "retry-after-ms",
				"x-rate-limit-limit-requests-1m", "x-rate-limit-remaining-requests-1m", "x-rate-limit-reset-requests-1m",
				"x-rate-limit-limit-tokens-60s", "x-rate-limit-remaining-tokens-60s", "x-rate-limit-reset-tokens-60s"},
		},
		{
			name: "ietf requests", opts: Options{Provider: "ietf-example", Limits: lim("requests/1m=2")},
			body: chatBody("m"),
			ok:   []string{"2026-05-23T12:00:10Z", "2026-05-23T12:00:20Z"}, at: "2026-05-23T12:00:45Z",
			want:  []obs{{"requests", "1m", 2, 0, "2026-05-23T12:01:00Z"}},
			retry: 15 * time.Second, throttled: "requests",
			wantBody: `{"type":"https://iana.org/assignments/http-problem-types#quota-exceeded","title":"Too Many Requests","status":429,"violated-policies":["requests-1m"]}`,
			headers:  []string{"Content-Type", "Date", "Retry-After", "RateLimit", "RateLimit-Policy"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := tc.at
			if len(tc.ok) > 0 {
				start = tc.ok[0]
			}
			h := newHarness(t, tc.opts, start)
			for _, at := range tc.ok {
				h.clk.Set(at)
				if r := h.do(req{key: "k", path: tc.path, body: tc.body}); r.status >= 300 {
					t.Fatalf("at %s: status %d %s", at, r.status, r.body)
				}
			}
			h.clk.Set(tc.at)
			// Through a recorder, to see header names exactly as written.
			got := record(t, h, req{key: "k", path: tc.path, body: tc.body})
			if got.status != http.StatusTooManyRequests {
				t.Fatalf("status %d, want 429; body %s", got.status, got.body)
			}
			if got.body != tc.wantBody {
				t.Errorf("body\n got %s\nwant %s", got.body, tc.wantBody)
			}
			checkObs(t, "429", &got.res, tc.want)
			if tc.retry == 0 {
				if got.res.HasRetryAfter {
					t.Errorf("Retry-After %v sent; the provider sends none", got.res.RetryAfter)
				}
			} else if !got.res.HasRetryAfter || got.res.RetryAfter != tc.retry {
				t.Errorf("Retry-After = %v (has %v), want %v", got.res.RetryAfter, got.res.HasRetryAfter, tc.retry)
			}
			if got.res.ThrottledResource != tc.throttled {
				t.Errorf("throttled = %q, want %q", got.res.ThrottledResource, tc.throttled)
			}
			names := make([]string, 0, len(got.raw))
			for k := range got.raw {
				names = append(names, k)
			}
			sort.Strings(names)
			want := append([]string(nil), tc.headers...)
			sort.Strings(want)
			if strings.Join(names, ",") != strings.Join(want, ",") {
				t.Errorf("429 headers\n got %v\nwant %v", names, want)
			}
			// The rejected request was not charged: the same request is
			// still rejected, and the state is unchanged.
			again := record(t, h, req{key: "k", path: tc.path, body: tc.body})
			if again.status != http.StatusTooManyRequests {
				t.Errorf("repeat: status %d", again.status)
			}
			checkObs(t, "repeat 429", &again.res, tc.want)
		})
	}
}

var (
	cerebrasGrid = func() (out []string) {
		for _, kind := range []string{"limit", "remaining", "reset"} {
			for _, res := range []string{"requests", "tokens"} {
				for _, w := range []string{"minute", "hour", "day"} {
					out = append(out, "x-ratelimit-"+kind+"-"+res+"-"+w)
				}
			}
		}
		return out
	}()
	togetherHeaders = []string{"Content-Type", "Date", "retry-after", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset",
		"x-tokenlimit-limit", "x-tokenlimit-remaining", "x-ratelimit-limit-dynamic", "x-ratelimit-remaining-dynamic",
		"x-tokenlimit-limit-dynamic", "x-tokenlimit-remaining-dynamic"}
	anthropicHeaders = []string{
		"anthropic-ratelimit-requests-limit", "anthropic-ratelimit-requests-remaining", "anthropic-ratelimit-requests-reset",
		"anthropic-ratelimit-tokens-limit", "anthropic-ratelimit-tokens-remaining", "anthropic-ratelimit-tokens-reset",
		"anthropic-ratelimit-input-tokens-limit", "anthropic-ratelimit-input-tokens-remaining", "anthropic-ratelimit-input-tokens-reset",
		"anthropic-ratelimit-output-tokens-limit", "anthropic-ratelimit-output-tokens-remaining", "anthropic-ratelimit-output-tokens-reset",
	}
	groqHeaders = []string{"Content-Type", "Date", "retry-after",
		"x-ratelimit-limit-requests", "x-ratelimit-limit-tokens", "x-ratelimit-remaining-requests",
		"x-ratelimit-remaining-tokens", "x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"}
)

// padded is prefix + x… + suffix, n bytes long.
func padded(prefix, suffix string, n int) string {
	return prefix + strings.Repeat("x", n-len(prefix)-len(suffix)) + suffix
}

type recorded struct {
	response
	raw http.Header // keys as the server wrote them
}

// record serves r through an httptest.ResponseRecorder, which keeps header
// names as written, and parses the result with canonicalised names as a
// client would see them.
func record(t *testing.T, h *harness, r req) *recorded {
	t.Helper()
	if r.path == "" {
		r.path = "/v1/chat/completions"
	}
	hr := httptest.NewRequest(http.MethodPost, r.path, strings.NewReader(r.body))
	if r.key != "" {
		hr.Header.Set("Authorization", "Bearer "+r.key)
	}
	clientHeaders(hr.Header, r.header)
	rec := httptest.NewRecorder()
	h.s.ServeHTTP(rec, hr)
	out := &recorded{raw: rec.Header().Clone()}
	out.status = rec.Code
	out.body = rec.Body.String()
	out.header = http.Header{}
	for k, vs := range out.raw {
		for _, v := range vs {
			out.header.Add(k, v)
		}
	}
	in := parsers.Input{Status: rec.Code, Header: out.header, Received: h.clk.Now()}
	if h.d.WantsBody(rec.Code) {
		in.Body = rec.Body.Bytes()
	}
	h.d.Parse(&in, &out.res)
	if len(out.res.Errors) > 0 {
		t.Errorf("Headroom's %s dialect reported errors: %v", h.d.Name(), out.res.Errors)
	}
	return out
}

// Anthropic's optional buckets: Priority Tier and a subscription's unified
// allowances are sent when configured, read into their own series, and a
// request the 5-hour allowance refuses is a 429 blamed on usage.
func TestAnthropicPriorityAndUnified(t *testing.T) {
	c := float64((len(anthropicBody) + 3) / 4) // prompt tokens
	total := c + 10                            // with max_tokens
	h := newHarness(t, Options{Provider: "anthropic", Limits: []catalog.Limit{
		{Resource: "priority_input_tokens", Window: "1m", Value: 20000},
		{Resource: "priority_output_tokens", Window: "1m", Value: 4000},
		{Resource: "usage", Window: "5h", Value: 3 * total},
		{Resource: "usage", Window: "7d", Value: 100 * total},
	}}, "2025-06-02T10:00:00Z")
	got := h.do(req{key: "k", path: "/v1/messages", body: anthropicBody})
	if got.status != http.StatusOK {
		t.Fatalf("status %d %s", got.status, got.body)
	}
	for _, name := range []string{"anthropic-priority-input-tokens-limit", "anthropic-ratelimit-unified-5h-utilization",
		"anthropic-ratelimit-unified-status", "anthropic-ratelimit-unified-representative-claim"} {
		if got.header.Get(name) == "" {
			t.Errorf("no %s", name)
		}
	}
	want := map[string][2]float64{
		"priority_input_tokens/1m":  {20000, 20000}, // rounded to the thousand, as Anthropic does
		"priority_output_tokens/1m": {4000, 4000},
		"usage/5h":                  {1, 0.67}, // one of three requests' worth used
		"usage/7d":                  {1, 0.99},
	}
	for k, w := range want {
		res, win, _ := strings.Cut(k, "/")
		o, ok := got.res.Find(res, win)
		// 1 − 0.33 is 0.6699999999999999 in floating point.
		if !ok || o.Limit != w[0] || math.Abs(o.Remaining-w[1]) > 1e-9 {
			t.Errorf("%s = %+v, want %v", k, o, w)
		}
	}
	if o, _ := got.res.Find("usage", "5h"); !o.PerKey {
		t.Error("usage/5h is not per key")
	}
	h.do(req{key: "k", path: "/v1/messages", body: anthropicBody})
	h.do(req{key: "k", path: "/v1/messages", body: anthropicBody})
	rej := record(t, h, req{key: "k", path: "/v1/messages", body: anthropicBody})
	if rej.status != http.StatusTooManyRequests || rej.res.ThrottledResource != "usage" {
		t.Fatalf("status %d, throttled %q; want 429 on usage", rej.status, rej.res.ThrottledResource)
	}
	if rej.header.Get("anthropic-ratelimit-unified-status") != "rejected" || rej.header.Get("anthropic-ratelimit-unified-5h-status") != "rejected" {
		t.Errorf("statuses %q %q", rej.header.Get("anthropic-ratelimit-unified-status"), rej.header.Get("anthropic-ratelimit-unified-5h-status"))
	}
	if o, _ := rej.res.Find("usage", "5h"); o.Remaining != 0 {
		t.Errorf("usage/5h remaining %v, want 0", o.Remaining)
	}
}
