package parsers

import (
	"net/http"
	"testing"
	"time"
)

// Azure's -1 means "no data" and must never be exported; any 0 that Azure
// sends next to a real value is genuine.
func TestAzurePlaceholders(t *testing.T) {
	now := time.Date(2025, 11, 17, 20, 19, 19, 0, time.UTC)
	type want struct {
		present                bool
		hasLimit, hasRemaining bool
		limit, remaining       float64
		reset                  time.Time
	}
	for _, tc := range []struct {
		name string
		hdr  map[string]string
		tok  want
	}{
		{"documented no-data triple", map[string]string{
			"x-ratelimit-limit-tokens": "-1", "x-ratelimit-remaining-tokens": "-1", "x-ratelimit-reset-tokens": "0",
		}, want{}},
		{"no-data limit, genuine zero remaining", map[string]string{
			"x-ratelimit-limit-tokens": "-1", "x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "12",
		}, want{present: true, hasRemaining: true, remaining: 0, reset: now.Add(12 * time.Second)}},
		{"genuine zero remaining with limit", map[string]string{
			"x-ratelimit-limit-tokens": "20000", "x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "41",
		}, want{present: true, hasLimit: true, hasRemaining: true, limit: 20000, remaining: 0, reset: now.Add(41 * time.Second)}},
		{"zero reset with real values is now", map[string]string{
			"x-ratelimit-limit-tokens": "20000", "x-ratelimit-remaining-tokens": "20000", "x-ratelimit-reset-tokens": "0",
		}, want{present: true, hasLimit: true, hasRemaining: true, limit: 20000, remaining: 20000, reset: now}},
		{"no-data reset with real values", map[string]string{
			"x-ratelimit-limit-tokens": "20000", "x-ratelimit-remaining-tokens": "19913", "x-ratelimit-reset-tokens": "-1",
		}, want{present: true, hasLimit: true, hasRemaining: true, limit: 20000, remaining: 19913}},
		{"no-data remaining, real limit", map[string]string{
			"x-ratelimit-limit-tokens": "20000", "x-ratelimit-remaining-tokens": "-1",
		}, want{present: true, hasLimit: true, limit: 20000}},
		{"padded placeholder", map[string]string{
			"x-ratelimit-remaining-tokens": " -1 ",
		}, want{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := hdParse(t, "azure-openai", http.StatusOK, tc.hdr, "", now)
			if len(r.Errors) != 0 {
				t.Errorf("errors = %v, want none: a placeholder is not a parse error", r.Errors)
			}
			o, ok := r.Find(Tokens, "1m")
			if ok != tc.tok.present {
				t.Fatalf("tokens observation present = %v (%+v), want %v", ok, o, tc.tok.present)
			}
			if !ok {
				return
			}
			if o.HasLimit != tc.tok.hasLimit || o.Limit != tc.tok.limit ||
				o.HasRemaining != tc.tok.hasRemaining || o.Remaining != tc.tok.remaining || !o.Reset.Equal(tc.tok.reset) {
				t.Errorf("tokens observation = %+v, want %+v", o, tc.tok)
			}
		})
	}
}

// Other negative values are not placeholders: they are errors.
func TestAzureOtherNegativeIsError(t *testing.T) {
	r := hdParse(t, "azure-openai", http.StatusOK, map[string]string{"x-ratelimit-remaining-requests": "-2"}, "", time.Now())
	if len(r.Observations) != 0 || len(r.Errors) != 1 || r.Errors[0].Err != ErrNegative {
		t.Errorf("observations %+v, errors %v; want one ErrNegative and nothing exported", r.Observations, r.Errors)
	}
}

func TestAzureRequestsWindowIsTenSeconds(t *testing.T) {
	r := hdParse(t, "azure-openai", http.StatusOK, map[string]string{
		"x-ratelimit-limit-requests": "20", "x-ratelimit-remaining-requests": "19",
	}, "", time.Now())
	if _, ok := r.Find(Requests, "10s"); !ok {
		t.Errorf("observations = %+v, want requests in window 10s", r.Observations)
	}
	if w, err := ParseWindow("10s"); err != nil || w != 10*time.Second || FormatWindow(w) != "10s" {
		t.Errorf("window 10s does not round-trip: %v, %v", w, err)
	}
}

func TestAzure429Body(t *testing.T) {
	now := time.Date(2025, 12, 8, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		hdr       map[string]string
		body      string
		throttled string
		retry     time.Duration
		hasRetry  bool
	}{
		{"token limit, retry only in the message",
			map[string]string{"x-ratelimit-remaining-tokens": "120"},
			`{"error":{"code":"429","message":"Your requests to gpt-4.1-nano for gpt-4.1-nano in Sweden Central have exceeded the token rate limit for your current AIServices S0 pricing tier. This request was for ChatCompletions_Create under Azure OpenAI API version 2023-05-15. Please retry after 45 seconds."}}`,
			Tokens, 45 * time.Second, true},
		{"call limit, header wins over message",
			map[string]string{"retry-after": "2"},
			`{"error":{"code":"429","message":"Requests to the Embeddings_Create Operation under Azure OpenAI API version 2023-05-15 have exceeded call rate limit of your current OpenAI S0 pricing tier. Please retry after 3 seconds."}}`,
			Requests, 2 * time.Second, true},
		{"capacity, not a limit",
			nil,
			`{"error":{"code":"429","message":"The system is currently experiencing high demand and cannot process your request. Please retry after 6 seconds."}}`,
			"", 6 * time.Second, true},
		{"retry-after-ms beats retry-after",
			map[string]string{"retry-after-ms": "1500", "retry-after": "2"},
			`{"error":{"code":"429","message":"Rate limit is exceeded. Try again in 2 seconds."}}`,
			"", 1500 * time.Millisecond, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := hdParse(t, "azure-openai", http.StatusTooManyRequests, tc.hdr, tc.body, now)
			if r.ThrottledResource != tc.throttled {
				t.Errorf("throttled = %q, want %q", r.ThrottledResource, tc.throttled)
			}
			if r.HasRetryAfter != tc.hasRetry || r.RetryAfter != tc.retry {
				t.Errorf("retry after = %v (%v), want %v", r.RetryAfter, r.HasRetryAfter, tc.retry)
			}
			if len(r.Errors) != 0 {
				t.Errorf("errors = %v", r.Errors)
			}
		})
	}
}

func TestRetryAfterInMessage(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		want time.Duration
		ok   bool
	}{
		{"Please retry after 33 seconds. Please go here", 33 * time.Second, true},
		{"Please retry after 1 second.", time.Second, true},
		{"Please retry after 86400 seconds.", 86400 * time.Second, true},
		{"Please retry after some time.", 0, false},
		{"Please retry after 5 minutes.", 0, false},
		{"Please retry after 99999999999 seconds.", 0, false},
		{"Try again in 50 seconds.", 0, false},
	} {
		got, ok := retryAfterInMessage(tc.msg)
		if got != tc.want || ok != tc.ok {
			t.Errorf("retryAfterInMessage(%q) = %v, %v; want %v, %v", tc.msg, got, ok, tc.want, tc.ok)
		}
	}
}

func TestAzureHeaderPathAllocs(t *testing.T) { hdAllocs(t, "azure-openai") }
