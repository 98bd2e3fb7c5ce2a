package fakeprovider

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/headroomhq/headroom/catalog"
)

// Heroku's one-minute sliding window refills entry by entry; the reset is
// always when the oldest entry expires.
func TestHerokuSlidingRefill(t *testing.T) {
	h := newHarness(t, Options{Provider: "heroku-us", Limits: []catalog.Limit{{Resource: "requests", Window: "1m", Value: 3}}}, "2025-06-02T10:00:00Z")
	m := "claude-3-haiku"
	steps := []struct {
		at        string
		status    int
		remaining float64
		reset     string
		retry     time.Duration
	}{
		{"2025-06-02T10:00:00Z", 200, 2, "2025-06-02T10:01:00Z", 0},
		{"2025-06-02T10:00:10Z", 200, 1, "2025-06-02T10:01:00Z", 0},
		{"2025-06-02T10:00:20Z", 200, 0, "2025-06-02T10:01:00Z", 0},
		{"2025-06-02T10:00:59Z", 429, 0, "2025-06-02T10:01:00Z", time.Second},
		// 10:00:00 expired: one slot back, taken; the oldest is now 10:00:10.
		{"2025-06-02T10:01:00Z", 200, 0, "2025-06-02T10:01:10Z", 0},
		{"2025-06-02T10:01:05Z", 429, 0, "2025-06-02T10:01:10Z", 5 * time.Second},
		// 10:00:10 and 10:00:20 expired: two slots back, one taken.
		{"2025-06-02T10:01:25Z", 200, 1, "2025-06-02T10:02:00Z", 0},
		// Everything expired.
		{"2025-06-02T10:03:00Z", 200, 2, "2025-06-02T10:04:00Z", 0},
	}
	for _, s := range steps {
		h.clk.Set(s.at)
		got := h.chat("k", m)
		if got.status != s.status {
			t.Fatalf("%s: status %d, want %d (%s)", s.at, got.status, s.status, got.body)
		}
		o, _ := got.res.Find("requests", "1m")
		if o.Remaining != s.remaining || !o.Reset.Equal(mustTime(s.reset)) {
			t.Errorf("%s: requests remaining %v reset %v, want %v %v", s.at, o.Remaining, o.Reset, s.remaining, s.reset)
		}
		if got.res.RetryAfter != s.retry {
			t.Errorf("%s: Retry-After %v, want %v", s.at, got.res.RetryAfter, s.retry)
		}
		// The tokens window slides the same way.
		if tok, ok := got.res.Find("tokens", "1m"); ok && !tok.Reset.Equal(mustTime(s.reset)) && got.status == 200 {
			t.Errorf("%s: tokens reset %v, want %v", s.at, tok.Reset, s.reset)
		}
	}
	if got := h.chat("k", m).header.Get("x-ratelimit-reset-requests"); got != "1m0s" {
		t.Errorf("reset header %q, want 1m0s", got)
	}
}

// Fixed windows roll over at the UTC minute, hour and day.
func TestFixedWindowRollover(t *testing.T) {
	cases := []struct {
		name     string
		opts     Options
		model    string
		steps    []string // request times
		statuses []int
		want     [][]obs
	}{
		{
			name: "infercom minute and day", opts: Options{Provider: "infercom", Limits: []catalog.Limit{{Resource: "requests", Window: "1m", Value: 2}, {Resource: "requests", Window: "1d", Value: 4}}},
			model:    "gpt-oss-120b",
			steps:    []string{"2025-06-02T23:58:50Z", "2025-06-02T23:58:59Z", "2025-06-02T23:58:59.999Z", "2025-06-02T23:59:00Z", "2025-06-02T23:59:30Z", "2025-06-02T23:59:59Z", "2025-06-03T00:00:00Z"},
			statuses: []int{200, 200, 429, 200, 200, 429, 200},
			want: [][]obs{
				{{"requests", "1m", 2, 1, "2025-06-02T23:59:00Z"}, {"requests", "1d", 4, 3, "2025-06-03T00:00:00Z"}},
				{{"requests", "1m", 2, 0, "2025-06-02T23:59:00Z"}, {"requests", "1d", 4, 2, "2025-06-03T00:00:00Z"}},
				{{"requests", "1m", 2, 0, "2025-06-02T23:59:00Z"}, {"requests", "1d", 4, 2, "2025-06-03T00:00:00Z"}},
				{{"requests", "1m", 2, 1, "2025-06-03T00:00:00Z"}, {"requests", "1d", 4, 1, "2025-06-03T00:00:00Z"}},
				{{"requests", "1m", 2, 0, "2025-06-03T00:00:00Z"}, {"requests", "1d", 4, 0, "2025-06-03T00:00:00Z"}},
				{{"requests", "1m", 2, 0, "2025-06-03T00:00:00Z"}, {"requests", "1d", 4, 0, "2025-06-03T00:00:00Z"}},
				{{"requests", "1m", 2, 1, "2025-06-03T00:01:00Z"}, {"requests", "1d", 4, 3, "2025-06-04T00:00:00Z"}},
			},
		},
		{
			name: "sambanova hour", opts: Options{Provider: "sambanova", Limits: []catalog.Limit{{Resource: "requests", Window: "1h", Value: 1}}},
			model:    "Meta-Llama-3.1-8B-Instruct",
			steps:    []string{"2025-06-02T10:59:00Z", "2025-06-02T10:59:30Z", "2025-06-02T11:00:00Z"},
			statuses: []int{200, 429, 200},
			want: [][]obs{
				{{"requests", "1m", 480, 479, "2025-06-02T11:00:00Z"}, {"requests", "1h", 1, 0, "2025-06-02T11:00:00Z"}, {"requests", "1d", 28800, 28799, "2025-06-03T00:00:00Z"}},
				{{"requests", "1m", 480, 479, "2025-06-02T11:00:00Z"}, {"requests", "1h", 1, 0, "2025-06-02T11:00:00Z"}, {"requests", "1d", 28800, 28799, "2025-06-03T00:00:00Z"}},
				{{"requests", "1m", 480, 479, "2025-06-02T11:01:00Z"}, {"requests", "1h", 1, 0, "2025-06-02T12:00:00Z"}, {"requests", "1d", 28800, 28798, "2025-06-03T00:00:00Z"}},
			},
		},
		{
			// GitHub's hour starts with the first request after the last one ended.
			name: "github anchored hour", opts: Options{Provider: "github", Limits: []catalog.Limit{{Resource: "requests", Window: "1h", Value: 2}}},
			model:    "gpt-4o",
			steps:    []string{"2013-07-01T17:27:06Z", "2013-07-01T18:27:05Z", "2013-07-01T18:27:05.5Z", "2013-07-01T18:30:00Z"},
			statuses: []int{200, 200, 429, 200},
			want: [][]obs{
				{{"requests", "1h", 2, 1, "2013-07-01T18:27:06Z"}},
				{{"requests", "1h", 2, 0, "2013-07-01T18:27:06Z"}},
				{{"requests", "1h", 2, 0, "2013-07-01T18:27:06Z"}},
				{{"requests", "1h", 2, 1, "2013-07-01T19:30:00Z"}},
			},
		},
		{
			name: "predictions minute", opts: Options{Provider: "predictions", Limits: []catalog.Limit{{Resource: "requests", Window: "1m", Value: 1}}},
			steps:    []string{"2024-01-15T09:59:59Z", "2024-01-15T09:59:59.5Z", "2024-01-15T10:00:00Z"},
			statuses: []int{201, 429, 201},
			want: [][]obs{
				{{"requests", "1m", 1, 0, "2024-01-15T10:00:00Z"}},
				{{"requests", "1m", 1, 0, "2024-01-15T10:00:00Z"}},
				{{"requests", "1m", 1, 0, "2024-01-15T10:01:00Z"}},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.opts, tc.steps[0])
			for i, at := range tc.steps {
				h.clk.Set(at)
				r := req{key: "k", body: chatBody(tc.model)}
				if tc.model == "" {
					r = req{key: "k", path: "/v1/predictions", body: `{"input":{}}`}
				}
				got := h.do(r)
				if got.status != tc.statuses[i] {
					t.Fatalf("%s: status %d, want %d", at, got.status, tc.statuses[i])
				}
				checkObs(t, at, &got.res, tc.want[i])
			}
		})
	}
}

// The OpenAI bucket refills continuously.
func TestOpenAIBucketRefill(t *testing.T) {
	h := newHarness(t, Options{Provider: "openai", Limits: []catalog.Limit{{Resource: "requests", Window: "1m", Value: 60}}}, "2025-06-02T10:00:00Z")
	for range 3 {
		h.chat("k", "gpt-4o")
	}
	got := h.chat("k", "gpt-4o")
	if v := got.header.Get("x-ratelimit-reset-requests"); v != "4s" || got.header.Get("x-ratelimit-remaining-requests") != "56" {
		t.Errorf("after 4 requests: reset %q remaining %q, want 4s and 56", v, got.header.Get("x-ratelimit-remaining-requests"))
	}
	h.clk.Advance(2500 * time.Millisecond) // 2.5 requests drained: 1.5 left + 1
	got = h.chat("k", "gpt-4o")
	if v := got.header.Get("x-ratelimit-reset-requests"); v != "2.5s" || got.header.Get("x-ratelimit-remaining-requests") != "57" {
		t.Errorf("after refill: reset %q remaining %q, want 2.5s and 57", v, got.header.Get("x-ratelimit-remaining-requests"))
	}
	if v := got.header.Get("x-ratelimit-reset-tokens"); !strings.HasSuffix(v, "ms") && !strings.HasSuffix(v, "s") {
		t.Errorf("tokens reset %q is not a duration", v)
	}
}

// Concurrency limits count requests in flight per key: the predictions
// API's 5 running predictions (its documented 429 body), and an IETF
// "concurrent-requests" policy.
func TestConcurrencyLimit(t *testing.T) {
	cases := []struct {
		name, path, body, model string
		opts                    Options
		limit                   int
		wantBody                string
		want                    []obs
	}{
		{
			name: "predictions", path: "/v1/predictions", body: `{"input":{}}`, opts: Options{Provider: "predictions"}, limit: 5,
			wantBody: `{
  "error": {
    "type": "rate_limit_error",
    "message": "Concurrent prediction limit exceeded. 5/5 predictions running.",
    "code": "CONCURRENT_LIMIT_EXCEEDED",
    "details": {
      "limit": 5,
      "active": 5
    }
  }
}
`,
			// The held requests were admitted (5 of 60 spent); the rejected
			// one is not charged.
			want: []obs{{"requests", "1m", 60, 55, "2024-01-15T10:00:00Z"}, {"concurrency", "none", 5, 0, ""}},
		},
		{
			name: "ietf", path: "/v1/chat/completions", body: chatBody("m"), model: "m",
			opts: Options{Provider: "ietf-example", Limits: []catalog.Limit{{Resource: "concurrency", Window: "none", Value: 2}}}, limit: 2,
			wantBody: `{"type":"https://iana.org/assignments/http-problem-types#quota-exceeded","title":"Too Many Requests","status":429,"violated-policies":["concurrency"]}`,
			want:     []obs{{"requests", "1m", 100, 98, "2024-01-15T10:00:00Z"}, {"concurrency", "none", 2, 0, ""}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.opts, "2024-01-15T09:59:30Z")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var wg sync.WaitGroup
			for range tc.limit {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r, err := http.NewRequestWithContext(ctx, http.MethodPost, h.srv.URL+tc.path, strings.NewReader(tc.body))
					if err != nil {
						t.Error(err)
						return
					}
					r.Header.Set("Authorization", "Bearer busy")
					r.Header.Set("X-Fake-Delay", "30s")
					if resp, err := http.DefaultClient.Do(r); err == nil {
						resp.Body.Close()
					}
				}()
			}
			waitFor(t, func() bool { return concurrencyRemaining(h.s, "busy", tc.model) == 0 })

			got := h.do(req{key: "busy", path: tc.path, body: tc.body})
			if got.status != http.StatusTooManyRequests {
				t.Fatalf("concurrent request %d: status %d", tc.limit+1, got.status)
			}
			if got.body != tc.wantBody {
				t.Errorf("body\n%s\nwant\n%s", got.body, tc.wantBody)
			}
			if got.res.ThrottledResource != "concurrency" {
				t.Errorf("throttled %q, want concurrency", got.res.ThrottledResource)
			}
			checkObs(t, "concurrency 429", &got.res, tc.want)
			if !got.res.HasRetryAfter || got.res.RetryAfter < time.Second || got.res.RetryAfter > 30*time.Second {
				t.Errorf("Retry-After %v, want 1s..30s (the earliest running request's end)", got.res.RetryAfter)
			}
			// Another key is not affected.
			if r := h.do(req{key: "idle", path: tc.path, body: tc.body}); r.status >= 300 {
				t.Errorf("other key: status %d", r.status)
			}
			cancel()
			wg.Wait()
			waitFor(t, func() bool { return concurrencyRemaining(h.s, "busy", tc.model) == float64(tc.limit) })
			if r := h.do(req{key: "busy", path: tc.path, body: tc.body}); r.status >= 300 {
				t.Errorf("after completion: status %d %s", r.status, r.body)
			}
		})
	}
}

// X-Fake-Delay holds the response.
func TestFakeDelay(t *testing.T) {
	h := newHarness(t, Options{Provider: "openai"}, "2025-06-02T10:00:00Z")
	start := time.Now()
	got := h.do(req{key: "k", body: chatBody("gpt-4o"), header: map[string]string{"X-Fake-Delay": "300ms"}})
	if got.status != 200 || time.Since(start) < 300*time.Millisecond {
		t.Errorf("status %d after %v, want 200 after ≥300ms", got.status, time.Since(start))
	}
	if got := h.do(req{key: "k", body: chatBody("gpt-4o"), header: map[string]string{"X-Fake-Delay": "soon"}}); got.status != http.StatusBadRequest {
		t.Errorf("bad delay: status %d", got.status)
	}
}

func concurrencyRemaining(s *Server, key, model string) float64 {
	for _, st := range s.Snapshot(key, model) {
		if st.Resource == "concurrency" {
			return st.Remaining
		}
	}
	return -1
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type sseEvent struct {
	name, data string
	at         time.Time
}

// readSSE reads events as they arrive, stamping each.
func readSSE(t *testing.T, body io.Reader) []sseEvent {
	t.Helper()
	var out []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(body)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.data != "" {
				cur.at = time.Now()
				out = append(out, cur)
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, "event: "):
			cur.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			cur.data = strings.TrimPrefix(line, "data: ")
		default:
			t.Errorf("unexpected SSE line %q", line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestStreaming(t *testing.T) {
	const delay = 40 * time.Millisecond
	cases := []struct {
		name, provider, path, body string
		check                      func(t *testing.T, ev []sseEvent, prompt int64)
	}{
		{
			name: "chat completions", provider: "heroku-us", path: "/v1/chat/completions",
			body: `{"model":"claude-4-sonnet","stream":true,"max_tokens":42,"messages":[{"role":"user","content":"Hello!"}]}`,
			check: func(t *testing.T, ev []sseEvent, prompt int64) {
				// role, 4 content chunks, finish, usage, [DONE]
				if len(ev) != 8 {
					t.Fatalf("%d events, want 8", len(ev))
				}
				if ev[len(ev)-1].data != "[DONE]" {
					t.Errorf("last event %q, want [DONE]", ev[len(ev)-1].data)
				}
				var text strings.Builder
				for i, e := range ev[:len(ev)-1] {
					var c struct {
						Object  string `json:"object"`
						Model   string `json:"model"`
						Choices []struct {
							Delta        struct{ Content string } `json:"delta"`
							FinishReason *string                  `json:"finish_reason"`
						} `json:"choices"`
						Usage *struct {
							Prompt     int64 `json:"prompt_tokens"`
							Completion int64 `json:"completion_tokens"`
							Total      int64 `json:"total_tokens"`
						} `json:"usage"`
					}
					if err := json.Unmarshal([]byte(e.data), &c); err != nil {
						t.Fatalf("event %d: %v", i, err)
					}
					if c.Object != "chat.completion.chunk" || c.Model != "claude-4-sonnet" {
						t.Errorf("event %d: object %q model %q", i, c.Object, c.Model)
					}
					last := i == len(ev)-2
					if (c.Usage != nil) != last {
						t.Errorf("event %d: usage %v; want usage only in the final chunk", i, c.Usage)
					}
					if last {
						if len(c.Choices) != 0 || c.Usage.Prompt != prompt || c.Usage.Completion != 42 || c.Usage.Total != prompt+42 {
							t.Errorf("final chunk: %s; want prompt %d completion 42", e.data, prompt)
						}
					}
					for _, ch := range c.Choices {
						text.WriteString(ch.Delta.Content)
					}
				}
				if text.String() != "Hello from the Headroom" {
					t.Errorf("streamed text %q", text.String())
				}
			},
		},
		{
			name: "messages", provider: "openai", path: "/v1/messages",
			body: `{"model":"claude-sonnet-4","stream":true,"max_tokens":7,"messages":[{"role":"user","content":"Hello!"}]}`,
			check: func(t *testing.T, ev []sseEvent, prompt int64) {
				names := make([]string, len(ev))
				for i, e := range ev {
					names[i] = e.name
					var typ struct{ Type string }
					if err := json.Unmarshal([]byte(e.data), &typ); err != nil || typ.Type != e.name {
						t.Errorf("event %d: type %q (%v), want %q", i, typ.Type, err, e.name)
					}
				}
				want := "message_start content_block_start ping content_block_delta content_block_delta content_block_delta content_block_delta content_block_stop message_delta message_stop"
				if strings.Join(names, " ") != want {
					t.Fatalf("events %v\nwant %s", names, want)
				}
				var start struct {
					Message struct {
						Model string `json:"model"`
						Usage struct {
							Input  int64 `json:"input_tokens"`
							Output int64 `json:"output_tokens"`
						} `json:"usage"`
					} `json:"message"`
				}
				json.Unmarshal([]byte(ev[0].data), &start)
				if start.Message.Usage.Input != prompt || start.Message.Model != "claude-sonnet-4" {
					t.Errorf("message_start %s: want input_tokens %d", ev[0].data, prompt)
				}
				var delta struct {
					Usage struct {
						Output int64 `json:"output_tokens"`
					} `json:"usage"`
				}
				json.Unmarshal([]byte(ev[8].data), &delta)
				if delta.Usage.Output != 7 {
					t.Errorf("message_delta %s: want output_tokens 7", ev[8].data)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{Provider: tc.provider, StreamDelay: delay}, "2025-06-02T10:00:00Z")
			r, _ := http.NewRequest(http.MethodPost, h.srv.URL+tc.path, strings.NewReader(tc.body))
			r.Header.Set("x-api-key", "k")
			r.Header.Set("Authorization", "Bearer k")
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
				t.Fatalf("status %d content-type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if resp.Header.Get("Date") != "Mon, 02 Jun 2025 10:00:00 GMT" {
				t.Errorf("Date %q", resp.Header.Get("Date"))
			}
			if resp.Header.Get("x-ratelimit-remaining-requests") == "" {
				t.Error("stream response without rate-limit headers")
			}
			ev := readSSE(t, resp.Body)
			if len(ev) < 3 {
				t.Fatalf("%d events", len(ev))
			}
			// One by one: the events span the stream's delays, and the
			// first arrived well before the second was written.
			if span := ev[len(ev)-1].at.Sub(ev[0].at); span < time.Duration(len(ev)-1)*delay*8/10 {
				t.Errorf("events spanned %v, want about %v: not flushed one by one", span, time.Duration(len(ev)-1)*delay)
			}
			if gap := ev[1].at.Sub(ev[0].at); gap < delay/2 {
				t.Errorf("second event %v after the first, want ≈%v", gap, delay)
			}
			tc.check(t, ev, int64((len(tc.body)+3)/4))
		})
	}
}

func TestUnauthorized(t *testing.T) {
	h := newHarness(t, Options{Provider: "heroku-us", KeyHeader: "x-api-key", Keys: []string{"good"}}, "2025-06-02T10:00:00Z")
	cases := []struct {
		name, method, path string
		header             map[string]string
		status             int
	}{
		{"chat without key", "POST", "/v1/chat/completions", nil, 401},
		{"messages without key", "POST", "/v1/messages", nil, 401},
		{"predictions without key", "POST", "/v1/predictions", nil, 401},
		{"models without key", "GET", "/v1/models", nil, 401},
		{"empty bearer", "POST", "/v1/chat/completions", map[string]string{"Authorization": "Bearer "}, 401},
		{"basic auth is not a key", "POST", "/v1/chat/completions", map[string]string{"Authorization": "Basic Zm9vOmJhcg=="}, 401},
		{"unknown key", "POST", "/v1/chat/completions", map[string]string{"Authorization": "Bearer bad"}, 401},
		{"bearer", "POST", "/v1/chat/completions", map[string]string{"Authorization": "Bearer good"}, 200},
		{"key header", "POST", "/v1/chat/completions", map[string]string{"X-Api-Key": "good"}, 200},
		{"models with key", "GET", "/v1/models", map[string]string{"Authorization": "Bearer good"}, 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := h.do(req{method: tc.method, path: tc.path, body: chatBody("claude-3-haiku"), header: tc.header})
			if got.status != tc.status {
				t.Fatalf("status %d, want %d: %s", got.status, tc.status, got.body)
			}
			if got.header.Get("Date") == "" {
				t.Error("no Date header")
			}
			if tc.status == 401 {
				var e struct {
					Error struct {
						Message string `json:"message"`
						Type    string `json:"type"`
					} `json:"error"`
				}
				if err := json.Unmarshal([]byte(got.body), &e); err != nil || e.Error.Message == "" || e.Error.Type != "authentication_error" {
					t.Errorf("401 body %q is not a JSON error (%v)", got.body, err)
				}
				if got.header.Get("Content-Type") != "application/json" {
					t.Errorf("Content-Type %q", got.header.Get("Content-Type"))
				}
				if len(got.res.Observations) != 0 {
					t.Errorf("401 carries rate-limit headers: %+v", got.res.Observations)
				}
			}
		})
	}
}

func TestResponses(t *testing.T) {
	h := newHarness(t, Options{Provider: "sambanova", CompletionTokens: 5}, "2025-06-02T10:00:00Z")
	type usage struct {
		Prompt     int64 `json:"prompt_tokens"`
		Completion int64 `json:"completion_tokens"`
		Total      int64 `json:"total_tokens"`
		Input      int64 `json:"input_tokens"`
		Output     int64 `json:"output_tokens"`
	}
	cases := []struct {
		name, path, body  string
		status            int
		model             string
		prompt, completed int64
	}{
		{"chat default completion", "/v1/chat/completions", `{"model":"QwQ-32B","messages":[]}`, 200, "QwQ-32B", 0, 5},
		{"chat max_tokens", "/v1/chat/completions", `{"model":"QwQ-32B","max_tokens":100}`, 200, "QwQ-32B", 0, 100},
		{"chat max_completion_tokens wins", "/v1/chat/completions", `{"model":"QwQ-32B","max_tokens":100,"max_completion_tokens":3}`, 200, "QwQ-32B", 0, 3},
		{"messages", "/v1/messages", `{"model":"QwQ-32B","max_tokens":9}`, 200, "QwQ-32B", 0, 9},
		{"base path prefix", "/sambanova/v1/chat/completions", `{"model":"QwQ-32B"}`, 200, "QwQ-32B", 0, 5},
		{"azure deployment names the model", "/openai/deployments/QwQ-32B/chat/completions", `{}`, 200, "QwQ-32B", 0, 5},
		{"predictions", "/v1/predictions", `{"version":"v1","input":{"max_new_tokens":11}}`, 201, "v1", 0, 11},
		{"not JSON", "/v1/chat/completions", `{`, 400, "", 0, 0},
		{"unknown path", "/v1/embeddings", `{}`, 404, "", 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := h.do(req{key: "k", path: tc.path, body: tc.body})
			if got.status != tc.status {
				t.Fatalf("status %d, want %d: %s", got.status, tc.status, got.body)
			}
			if tc.status >= 300 {
				if !json.Valid([]byte(got.body)) {
					t.Errorf("error body %q is not JSON", got.body)
				}
				return
			}
			var body struct {
				Model   string `json:"model"`
				Usage   usage  `json:"usage"`
				Metrics struct {
					In  int64 `json:"input_token_count"`
					Out int64 `json:"output_token_count"`
				} `json:"metrics"`
			}
			if err := json.Unmarshal([]byte(got.body), &body); err != nil {
				t.Fatal(err)
			}
			prompt := int64((len(tc.body) + 3) / 4)
			u := body.Usage
			switch tc.path {
			case "/v1/messages":
				u.Prompt, u.Completion, u.Total = u.Input, u.Output, u.Input+u.Output
			case "/v1/predictions":
				u.Prompt, u.Completion, u.Total = body.Metrics.In, body.Metrics.Out, body.Metrics.In+body.Metrics.Out
			}
			if body.Model != tc.model || u.Prompt != prompt || u.Completion != tc.completed || u.Total != prompt+tc.completed {
				t.Errorf("model %q usage %+v, want %q prompt %d completion %d", body.Model, u, tc.model, prompt, tc.completed)
			}
		})
	}
	got := h.do(req{method: "GET", key: "k", path: "/v1/models"})
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	json.Unmarshal([]byte(got.body), &list)
	if len(list.Data) != 17 || list.Data[0].ID != "DeepSeek-V3-0324" {
		t.Errorf("models: %s", got.body)
	}
	if got.header.Get("x-ratelimit-limit-requests") != "" {
		t.Error("/v1/models should not be rate limited")
	}
	if got := h.do(req{method: "GET", key: "k", path: "/v1/chat/completions"}); got.status != http.StatusMethodNotAllowed {
		t.Errorf("GET chat: status %d", got.status)
	}
}

func TestLimitResolution(t *testing.T) {
	cases := []struct {
		name  string
		opts  Options
		model string
		want  string
	}{
		{"catalog model", Options{Provider: "infercom"}, "Qwen3-32B", "Qwen3-32B:requests/1d=6000 Qwen3-32B:requests/1m=30"},
		{"model case-insensitive", Options{Provider: "infercom"}, "qwen3-32b", "Qwen3-32B:requests/1d=6000 Qwen3-32B:requests/1m=30"},
		{"unknown model gets the dialect default", Options{Provider: "heroku-us"}, "mystery", "mystery:requests/1m=150 mystery:tokens/1m=800000"},
		{"unknown model gets key-level limits", Options{Provider: "predictions"}, "mystery", ":concurrency/none=5 :requests/1m=60"},
		{"openai has no catalog limits", Options{}, "gpt-4o", "gpt-4o:requests/1m=500 gpt-4o:tokens/1m=30000"},
		{"scale", Options{Provider: "sambanova", Scale: 0.1}, "DeepSeek-V3-0324", "DeepSeek-V3-0324:requests/1d=60 DeepSeek-V3-0324:requests/1h=5 DeepSeek-V3-0324:requests/1m=1"},
		{"override all models", Options{Provider: "heroku-us", Limits: []catalog.Limit{{Resource: "requests", Window: "1m", Value: 5}}}, "nova-pro", "nova-pro:requests/1m=5 nova-pro:tokens/1m=800000"},
		{"override one model", Options{Provider: "heroku-us", Limits: []catalog.Limit{{Model: "nova-lite", Resource: "requests", Window: "1m", Value: 5}}}, "nova-pro", "nova-pro:requests/1m=150 nova-pro:tokens/1m=800000"},
		{"override keeps key scope", Options{Provider: "predictions", Limits: []catalog.Limit{{Resource: "concurrency", Window: "none", Value: 2}}}, "m", ":concurrency/none=2 :requests/1m=60"},
		{"remove and add", Options{Provider: "heroku-us", Limits: []catalog.Limit{{Resource: "tokens", Window: "1m", Value: -1}, {Resource: "requests", Window: "1d", Value: 1000}}}, "nova-pro", "nova-pro:requests/1d=1000 nova-pro:requests/1m=150"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewServer(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			var parts []string
			for _, l := range s.Limits(tc.model) {
				parts = append(parts, fmt.Sprintf("%s:%s/%s=%v", l.Model, l.Resource, l.Window, l.Value))
			}
			sort.Strings(parts)
			if got := strings.Join(parts, " "); got != tc.want {
				t.Errorf("limits\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestParseLimit(t *testing.T) {
	cases := []struct {
		in   string
		want catalog.Limit
		err  bool
	}{
		{in: "requests/1m=5", want: catalog.Limit{Resource: "requests", Window: "1m", Value: 5}},
		{in: "claude-4-sonnet:tokens/1m=1000", want: catalog.Limit{Model: "claude-4-sonnet", Resource: "tokens", Window: "1m", Value: 1000}},
		{in: "meta-llama/llama-3.1-8b-instruct:free:requests/1d=50", want: catalog.Limit{Model: "meta-llama/llama-3.1-8b-instruct:free", Resource: "requests", Window: "1d", Value: 50}},
		{in: "concurrency/none=2", want: catalog.Limit{Resource: "concurrency", Window: "none", Value: 2}},
		{in: "tokens/1m=-1", want: catalog.Limit{Resource: "tokens", Window: "1m", Value: -1}},
		{in: "requests/1m", err: true},
		{in: "bananas/1m=3", err: true},
		{in: "requests/soon=3", err: true},
		{in: "requests/none=3", err: true},
		{in: "concurrency/1m=3", err: true},
		{in: "requests/1m=x", err: true},
	}
	for _, tc := range cases {
		got, err := ParseLimit(tc.in)
		if (err != nil) != tc.err || (!tc.err && got != tc.want) {
			t.Errorf("ParseLimit(%q) = %+v, %v", tc.in, got, err)
		}
	}
}

func TestNewServerErrors(t *testing.T) {
	for _, o := range []Options{
		{Provider: "nope"},
		{Dialect: "nope"},
		{Scale: -1},
		{Limits: []catalog.Limit{{Resource: "requests", Window: "none", Value: 1}}},
	} {
		if _, err := NewServer(o); err == nil {
			t.Errorf("NewServer(%+v): no error", o)
		}
	}
}

// Every dialect answers a request without a key with 401 and a JSON error.
func TestUnauthorizedBodies(t *testing.T) {
	for _, name := range Dialects() {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, Options{Dialect: name}, "2025-06-02T10:00:00Z")
			got := h.do(req{body: chatBody("m")})
			if got.status != http.StatusUnauthorized || !strings.Contains(got.header.Get("Content-Type"), "json") || !json.Valid([]byte(got.body)) {
				t.Errorf("status %d %q %s", got.status, got.header.Get("Content-Type"), got.body)
			}
		})
	}
}

// Every dialect the fake speaks is one Headroom parses.
func TestDialectsHaveParsers(t *testing.T) {
	for _, name := range Dialects() {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, Options{Dialect: name}, "2025-06-02T10:00:00Z")
			got := h.chat("k", "")
			if got.status != 200 || ((len(dialects[name].headers) > 0 || dialects[name].extra != nil) && len(got.res.Observations) == 0) {
				t.Errorf("status %d, %d observations", got.status, len(got.res.Observations))
			}
		})
	}
}

// Concurrent clients on one key never overspend a limit.
func TestConcurrentAccounting(t *testing.T) {
	h := newHarness(t, Options{Provider: "infercom", Limits: []catalog.Limit{{Resource: "requests", Window: "1m", Value: 20}}}, "2025-06-02T10:00:00Z")
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/v1/chat/completions", strings.NewReader(chatBody("Qwen3-235B")))
			r.Header.Set("Authorization", "Bearer k")
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			mu.Lock()
			codes[resp.StatusCode]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[200] != 20 || codes[429] != 30 {
		t.Errorf("codes %v, want 20×200 and 30×429", codes)
	}
}

// Like Anthropic's API, the anthropic dialect refuses its own endpoints
// without an anthropic-version header: 400 with the API's error, nothing
// charged. Its OpenAI-compatible chat endpoint does not need one.
func TestAnthropicVersionRequired(t *testing.T) {
	h := newHarness(t, Options{Provider: "anthropic"}, "2025-06-02T10:00:00Z")
	const msgs = `{"model":"claude-haiku-4-5","max_tokens":1,"messages":[{"role":"user","content":"."}]}`
	cases := []struct {
		name, method, path, key, version string
		status                           int
		body                             string
	}{
		{"messages without version", "POST", "/v1/messages", "k", "", 400,
			`{"type":"error","error":{"type":"invalid_request_error","message":"anthropic-version: header is required"}}`},
		{"models without version", "GET", "/v1/models", "k", "", 400, ""},
		{"not a version", "POST", "/v1/messages", "k", "latest", 400, ""},
		{"the key comes first", "POST", "/v1/messages", "", "", 401, ""},
		{"openai-compatible chat", "POST", "/v1/chat/completions", "k", "", 200, ""},
		{"2023-06-01", "POST", "/v1/messages", "k", "2023-06-01", 200, ""},
		{"a later version", "POST", "/v1/messages", "k", "2026-10-21", 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := h.s.Snapshot("k", "claude-haiku-4-5")
			got := h.do(req{method: tc.method, path: tc.path, key: tc.key, body: msgs, header: map[string]string{"anthropic-version": tc.version}})
			if got.status != tc.status {
				t.Fatalf("status %d, want %d: %s", got.status, tc.status, got.body)
			}
			if tc.body != "" && got.body != tc.body {
				t.Errorf("body %s\nwant %s", got.body, tc.body)
			}
			if tc.status == 400 {
				if !strings.Contains(got.body, `"invalid_request_error"`) {
					t.Errorf("body %s", got.body)
				}
				if after := h.s.Snapshot("k", "claude-haiku-4-5"); !reflect.DeepEqual(before, after) {
					t.Errorf("a refused request was charged: %v → %v", before, after)
				}
			}
		})
	}
}
