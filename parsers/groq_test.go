package parsers

import (
	"net/http"
	"testing"
	"time"
)

// A Groq 429 body names the limit that was hit; limits no header carries are
// exported from the body's figures, and a limit the headers already reported
// is not duplicated.
func TestGroq429Body(t *testing.T) {
	now := time.Date(2025, 3, 21, 19, 51, 18, 0, time.UTC)
	msg := func(tail string) string {
		return `{"error":{"message":"Rate limit reached for model ` + "`llama-3.1-8b-instant`" + ` in organization ` + "`org_x`" + ` service tier ` + "`on_demand`" + ` on ` + tail + `","type":"tokens","code":"rate_limit_exceeded"}}`
	}
	type obs struct {
		resource, window string
		limit            float64
		hasRemaining     bool
		remaining        float64
	}
	for _, tc := range []struct {
		name      string
		hdr       map[string]string
		body      string
		throttled string
		want      []obs
		errors    int
	}{
		{"RPM (no header) exported from the body", nil,
			msg("requests per minute (RPM): Limit 30, Used 30, Requested 1. Please try again in 2s."),
			Requests, []obs{{Requests, "1m", 30, true, 0}}, 0},
		{"TPD with used over the limit clamps at zero", nil,
			msg("tokens per day (TPD): Limit 100000, Used 100400, Requested 900. Please try again in 1h2m3.4s."),
			Tokens, []obs{{Tokens, "1d", 100000, true, 0}}, 0},
		{"request too large: no Used figure", nil,
			`{"error":{"message":"Request too large for model ` + "`llama-3.1-8b-instant`" + ` in organization ` + "`org_x`" + ` service tier ` + "`on_demand`" + ` on tokens per minute (TPM): Limit 6000, Requested 6294, please reduce your message size and try again.","type":"tokens","code":"rate_limit_exceeded"}}`,
			Tokens, []obs{{Tokens, "1m", 6000, false, 0}}, 0},
		{"approximate request figure", nil,
			msg("tokens per minute (TPM): Limit 7000, Used 0, Requested ~12903. Please try again in 50.597142857s."),
			Tokens, []obs{{Tokens, "1m", 7000, true, 7000}}, 0},
		{"OTPM", nil,
			msg("output tokens per minute (OTPM): Limit 2000, Used 1990, Requested 400. Please try again in 3s."),
			OutputTokens, []obs{{OutputTokens, "1m", 2000, true, 10}}, 0},
		{"TPM already in headers: not duplicated",
			map[string]string{"x-ratelimit-limit-tokens": "6000", "x-ratelimit-remaining-tokens": "966"},
			msg("tokens per minute (TPM): Limit 6000, Used 5034, Requested 1443. Please try again in 4.77s."),
			Tokens, []obs{{Tokens, "1m", 6000, true, 966}}, 0},
		{"audio seconds: no resource", nil,
			msg("audio seconds per hour (ASH): Limit 7200, Used 7200, Requested 30. Please try again in 1m."),
			"", nil, 0},
		{"not JSON", nil, `upstream connect error`, "", nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := hdParse(t, "groq", http.StatusTooManyRequests, tc.hdr, tc.body, now)
			if r.ThrottledResource != tc.throttled {
				t.Errorf("throttled = %q, want %q", r.ThrottledResource, tc.throttled)
			}
			if len(r.Errors) != tc.errors {
				t.Errorf("errors = %v, want %d", r.Errors, tc.errors)
			}
			if len(r.Observations) != len(tc.want) {
				t.Fatalf("observations = %+v, want %+v", r.Observations, tc.want)
			}
			for i, w := range tc.want {
				o := r.Observations[i]
				if o.Resource != w.resource || o.Window != w.window || !o.HasLimit || o.Limit != w.limit ||
					o.HasRemaining != w.hasRemaining || o.Remaining != w.remaining {
					t.Errorf("observation %d = %+v, want %+v", i, o, w)
				}
			}
		})
	}
}

// Groq's "-requests" headers are per day and "-tokens" per minute, whatever
// OpenAI's same-named headers mean.
func TestGroqWindows(t *testing.T) {
	r := hdParse(t, "groq", http.StatusOK, map[string]string{
		"x-ratelimit-limit-requests": "1000", "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1h26m24s",
		"x-ratelimit-limit-tokens": "12000", "x-ratelimit-remaining-tokens": "11000", "x-ratelimit-reset-tokens": "5s",
	}, "", time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC))
	req, ok1 := r.Find(Requests, "1d")
	tok, ok2 := r.Find(Tokens, "1m")
	if !ok1 || !ok2 || !req.HasRemaining || req.Remaining != 0 || tok.Limit != 12000 {
		t.Fatalf("observations = %+v", r.Observations)
	}
	if want := time.Date(2025, 6, 2, 11, 26, 24, 0, time.UTC); !req.Reset.Equal(want) {
		t.Errorf("requests reset = %v, want %v", req.Reset, want)
	}
}

func TestGroqHeaderPathAllocs(t *testing.T) { hdAllocs(t, "groq") }
