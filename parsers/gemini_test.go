package parsers

import (
	"net/http"
	"testing"
	"time"
)

func TestGeminiQuotaNames(t *testing.T) {
	for _, tc := range []struct {
		id, metric, resource, window string
	}{
		{"GenerateRequestsPerMinutePerProjectPerModel-FreeTier", "", Requests, "1m"},
		{"GenerateRequestsPerDayPerProjectPerModel-FreeTier", "", Requests, "1d"},
		{"GenerateContentInputTokensPerModelPerMinute-FreeTier", "", InputTokens, "1m"},
		{"GenerateContentPaidTierInputTokensPerModelPerMinute", "", InputTokens, "1m"},
		{"GenerateContentOutputTokensPerModelPerDay", "", OutputTokens, "1d"},
		{"GenerateContentRequestsPerMinutePerProjectPerRegion", "", Requests, "1m"},
		{"GenerateContentTokensPerHour", "", Tokens, "1h"},
		{"", "aiplatform.googleapis.com/generate_content_requests_per_minute_per_project_per_base_model", Requests, "1m"},
		{"", "aiplatform.googleapis.com/generate_content_input_tokens_per_minute_per_base_model", InputTokens, "1m"},
		{"", "generativelanguage.googleapis.com/generate_content_free_tier_input_token_count", InputTokens, ""},
		{"GenerateContentInputTokensPerModel-FreeTier", "", InputTokens, ""},
		{"SomethingElse", "", "", ""},
	} {
		res, win := geminiQuota(tc.id)
		if tc.id == "" {
			res, win = geminiMetric(tc.metric)
		}
		if res != tc.resource || win != tc.window {
			t.Errorf("%q %q: %q %q, want %q %q", tc.id, tc.metric, res, win, tc.resource, tc.window)
		}
	}
}

func TestGeminiBody(t *testing.T) {
	violation := func(location, value string) string {
		return `{"quotaId":"GenerateRequestsPerMinutePerProjectPerModel","quotaDimensions":{"location":"` + location + `"},"quotaValue":` + value + `}`
	}
	body := func(violations, retry string) string {
		return `{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[` +
			violations + `]},{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"` + retry + `"}]}}`
	}
	// Two locations of one quota are one series; a number is read as well
	// as the string proto JSON sends; a fractional delay.
	r := dlParse(t, Gemini, dlInput(http.StatusTooManyRequests, body(violation("us-east1", `"60"`)+","+violation("europe-west4", `60`), "0.5s")))
	if len(r.Observations) != 1 || r.Observations[0].Limit != 60 || !r.Observations[0].HasRemaining || r.Observations[0].Remaining != 0 {
		t.Errorf("observations %+v", r.Observations)
	}
	if r.RetryAfter != 500*time.Millisecond || r.ThrottledResource != Requests || len(r.Errors) != 0 {
		t.Errorf("retry %v, throttled %q, errors %v", r.RetryAfter, r.ThrottledResource, r.Errors)
	}
	// A Retry-After header wins over the body's delay.
	r = dlParse(t, Gemini, dlInput(http.StatusTooManyRequests, body(violation("global", `"5"`), "31s"), "Retry-After", "7"))
	if r.RetryAfter != 7*time.Second {
		t.Errorf("retry-after %v, want the header's 7s", r.RetryAfter)
	}
	for _, bad := range []string{"-1s", "31", "99999999999s"} {
		r = dlParse(t, Gemini, dlInput(http.StatusTooManyRequests, body(violation("global", `"5"`), bad)))
		if r.HasRetryAfter || len(r.Errors) != 1 {
			t.Errorf("retryDelay %q: %v, errors %v", bad, r.RetryAfter, r.Errors)
		}
	}
	// Bodies are read only on 429s.
	if Gemini.WantsBody(http.StatusOK) || Gemini.WantsBody(http.StatusServiceUnavailable) || !Gemini.WantsBody(http.StatusTooManyRequests) {
		t.Error("WantsBody")
	}
}
