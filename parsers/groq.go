package parsers

import (
	"encoding/json"
	"net/http"
	"strings"
)

// Groq, as documented at https://console.groq.com/docs/rate-limits
// ("Rate Limit Headers"): the OpenAI header names, but
//
//   - x-ratelimit-{limit,remaining,reset}-requests "always refers to
//     Requests Per Day (RPD)", window 1d;
//   - x-ratelimit-{limit,remaining,reset}-tokens "always refers to Tokens Per
//     Minute (TPM)", window 1m;
//   - resets are Go-style durations ("2m59.56s", "7.66s");
//   - retry-after (seconds) is only set on 429.
//
// Groq also enforces RPM and TPD (and ITPM/OTPM for some organisations),
// which no header carries. A 429 body names the limit that was hit, e.g.
//
//	{"error":{"message":"Rate limit reached for model `llama-3.1-8b-instant` in
//	organization `org_…` service tier `on_demand` on tokens per minute (TPM):
//	Limit 6000, Used 5034, Requested 1443. Please try again in 4.77s. …",
//	"type":"tokens","code":"rate_limit_exceeded"}}
//
// (wording as published in GitHub issues, e.g. elizaOS/eliza#4040,
// continuedev/continue#10920). The body decides ThrottledResource, and a
// limit no header reports (RPM, TPD, ITPM, OTPM) is exported from its
// "Limit N, Used M" figures so that an exhausted daily token budget shows up.
var Groq = registerHeaderDialect(&HeaderDialect{
	DialectName: "groq",
	Limits: []LimitHeaders{
		{Resource: Requests, Window: "1d", Limit: "x-ratelimit-limit-requests", Remaining: "x-ratelimit-remaining-requests", Reset: "x-ratelimit-reset-requests", ResetFormat: FormatDuration},
		{Resource: Tokens, Window: "1m", Limit: "x-ratelimit-limit-tokens", Remaining: "x-ratelimit-remaining-tokens", Reset: "x-ratelimit-reset-tokens", ResetFormat: FormatDuration},
	},
	RetryAfter: "retry-after",
	BodyStatus: func(status int) bool { return status == http.StatusTooManyRequests },
	Body:       groqBody,
})

// groqLimitTags maps the abbreviation in a Groq 429 message to the limit it
// names. Audio-seconds limits (ASH, ASD) have no resource and are not listed.
var groqLimitTags = []struct {
	tag, resource, window string
}{
	{"(RPM)", Requests, "1m"},
	{"(RPD)", Requests, "1d"},
	{"(TPM)", Tokens, "1m"},
	{"(TPD)", Tokens, "1d"},
	{"(ITPM)", InputTokens, "1m"},
	{"(OTPM)", OutputTokens, "1m"},
}

type groqError struct {
	Error struct {
		Message string `json:"message"`
	} `json:"error"`
}

func groqBody(in *Input, _ clock, r *Result) {
	var e groqError
	if err := json.Unmarshal(in.Body, &e); err != nil {
		r.addBodyError(in.Body)
		return
	}
	msg := e.Error.Message
	for _, t := range groqLimitTags {
		i := strings.Index(msg, t.tag)
		if i < 0 {
			continue
		}
		r.ThrottledResource = t.resource
		if _, seen := r.Find(t.resource, t.window); seen {
			return // the headers already reported this limit
		}
		rest := msg[i+len(t.tag):]
		limit, ok := groqFigure(rest, "Limit ")
		if !ok {
			return
		}
		o := Observation{Resource: t.resource, Window: t.window, Limit: limit, HasLimit: true}
		if used, ok := groqFigure(rest, "Used "); ok {
			o.Remaining, o.HasRemaining = max(limit-used, 0), true
		}
		r.Observations = append(r.Observations, o)
		return
	}
}

// groqFigure reads the number after label in the "Limit N, Used M,
// Requested ~K." part of a Groq message (the part before the first '.').
func groqFigure(s, label string) (float64, bool) {
	if end := strings.IndexByte(s, '.'); end >= 0 {
		s = s[:end]
	}
	i := strings.Index(s, label)
	if i < 0 {
		return 0, false
	}
	s = s[i+len(label):]
	j := 0
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	if j == 0 {
		return 0, false
	}
	n, err := ParseCount(s[:j])
	if err != nil {
		return 0, false
	}
	return n, true
}
