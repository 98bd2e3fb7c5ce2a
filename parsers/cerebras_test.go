package parsers

import (
	"net/http"
	"testing"
	"time"
)

func TestCerebras429Body(t *testing.T) {
	for _, tc := range []struct {
		name, body, throttled string
		errors                int
	}{
		{"requests per minute", `{"message":"Requests per minute limit exceeded - too many requests sent.","type":"too_many_requests_error","param":"quota","code":"request_quota_exceeded"}`, Requests, 0},
		{"tokens per minute", `{"message":"Tokens per minute limit exceeded - too many tokens processed.","type":"too_many_requests_error","param":"quota","code":"token_quota_exceeded"}`, Tokens, 0},
		{"tokens per day, code only", `{"message":"Daily quota reached.","type":"too_many_requests_error","param":"quota","code":"token_quota_exceeded"}`, Tokens, 0},
		{"requests per hour, message only", `{"message":"Requests per hour limit exceeded - too many requests sent.","type":"too_many_requests_error"}`, Requests, 0},
		{"unknown 429", `{"message":"Rate limit exceeded","type":"rate_limit_error","param":null,"code":"rate_limit_error"}`, "", 0},
		{"not JSON", `Too Many Requests`, "", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := hdParse(t, "cerebras", http.StatusTooManyRequests, nil, tc.body, time.Now())
			if r.ThrottledResource != tc.throttled {
				t.Errorf("throttled = %q, want %q", r.ThrottledResource, tc.throttled)
			}
			if len(r.Errors) != tc.errors {
				t.Errorf("errors = %v, want %d", r.Errors, tc.errors)
			}
		})
	}
}

// Only the six documented headers are read; the resets are fractional
// seconds from now, and a genuine zero remaining is exported.
func TestCerebrasHeaders(t *testing.T) {
	now := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	r := hdParse(t, "cerebras", http.StatusOK, map[string]string{
		"x-ratelimit-limit-requests-day":      "14400",
		"x-ratelimit-remaining-requests-day":  "0",
		"x-ratelimit-reset-requests-day":      "0.25",
		"x-ratelimit-limit-tokens-minute":     "60000",
		"x-ratelimit-remaining-tokens-minute": "59000",
		"x-ratelimit-reset-tokens-minute":     "1.5",
		"x-ratelimit-limit-requests":          "30", // OpenAI-style names are not Cerebras'
	}, "", now)
	if len(r.Observations) != 2 || len(r.Errors) != 0 {
		t.Fatalf("observations %+v, errors %v; want exactly the two documented limits", r.Observations, r.Errors)
	}
	req, _ := r.Find(Requests, "1d")
	tok, _ := r.Find(Tokens, "1m")
	if !req.HasRemaining || req.Remaining != 0 || !req.Reset.Equal(now.Add(250*time.Millisecond)) {
		t.Errorf("requests = %+v", req)
	}
	if tok.Remaining != 59000 || !tok.Reset.Equal(now.Add(1500*time.Millisecond)) {
		t.Errorf("tokens = %+v", tok)
	}
}

func TestCerebrasHeaderPathAllocs(t *testing.T) { hdAllocs(t, "cerebras") }
