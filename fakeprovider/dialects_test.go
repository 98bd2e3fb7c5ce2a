package fakeprovider

import (
	"fmt"
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
			} else if o, ok := got.res.Find("requests", "1m"); !ok || o.Remaining != o.Limit-1 {
				t.Errorf("other key: requests/1m %+v, want limit-1 remaining", o)
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
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.opts, tc.ok[0])
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
			if !got.res.HasRetryAfter || got.res.RetryAfter != tc.retry {
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
