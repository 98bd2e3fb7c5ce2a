package parsers

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// AzureOpenAI is Azure OpenAI (Microsoft Foundry) deployments. Sources:
//   - quota and rate limits: https://learn.microsoft.com/en-us/azure/ai-services/openai/how-to/quota
//     (TPM assigned per deployment, RPM derived from it, 6 RPM per 1000 TPM
//     for the older chat models; RPM evaluated over 1 or 10 second periods);
//   - retry-after-ms and retry-after on 429:
//     https://learn.microsoft.com/en-us/azure/ai-services/openai/concepts/provisioned-throughput
//   - header semantics measured by C. Siebler,
//     https://clemenssiebler.com/posts/understanding-azure-openai-x-ratelimit-remaining-tokens-x-ratelimit-remaining-requests-headers/
//     and confirmed in Microsoft Q&A 2156987 and 2265464: remaining requests
//     refill 10 s after a request was accepted and start at RPM/6 (120 RPM
//     shows 20), remaining tokens refill 60 s after use and start at the TPM;
//   - the -1/0 placeholders: Microsoft Q&A 5625878 and openai/openai-dotnet#838
//     (Responses API, Nov 2025: limit-tokens -1, remaining-tokens -1,
//     reset-tokens 0, no retry-after);
//   - a token-limit 429 spells its reset x-rate-limit-reset-tokens
//     (hyphenated "rate-limit", seconds), with no Retry-After:
//     openai/openai-python#937 (December 2023 capture: x-rate-limit-reset-tokens:
//     55, policy-id: DeploymentRatelimit-Token).
//
// Decisions:
//
//   - Requests are exported with window "10s", not "1m": the numbers Azure
//     puts in x-ratelimit-{limit,remaining}-requests are per 10-second
//     window (RPM/6). Exporting them as 1m would show a 120 RPM deployment as
//     a 20 RPM one. Tokens use "1m" (the header counts the TPM).
//   - -1 is Azure's "no data" value (sent when the API in question, e.g. the
//     Responses API, does not report the limit) and is never exported, for
//     any of the headers. The 0 reset that comes with it is never read,
//     because an observation with neither limit nor remaining is dropped
//     before its reset is parsed. Any other 0 is genuine: remaining 0 is an
//     exhausted window and is exported; reset 0 means "now".
//   - Resets are integer seconds from now (FormatSeconds).
//   - x-rate-limit-reset-tokens is the tokens reset when
//     x-ratelimit-reset-tokens is absent. Like every reset it is exported
//     only beside a limit or a remaining count of the same window; it is
//     not taken for a Retry-After (it says when the window refills, not
//     what the provider asks the client to wait).
//   - On a 429 the body says which limit was hit ("exceeded token rate
//     limit" / "exceeded call rate limit") and, when no Retry-After header
//     came (the Responses API omits it), "Please retry after N seconds".
var AzureOpenAI = registerHeaderDialect(&HeaderDialect{
	DialectName: "azure-openai",
	Limits: []LimitHeaders{
		{Resource: Requests, Window: "10s", Limit: "x-ratelimit-limit-requests", Remaining: "x-ratelimit-remaining-requests", Reset: "x-ratelimit-reset-requests", ResetFormat: FormatSeconds},
		{Resource: Tokens, Window: "1m", Limit: "x-ratelimit-limit-tokens", Remaining: "x-ratelimit-remaining-tokens", Reset: "x-ratelimit-reset-tokens", ResetAlt: "x-rate-limit-reset-tokens", ResetFormat: FormatSeconds},
	},
	RetryAfter:       "Retry-After",
	RetryAfterMillis: "retry-after-ms",
	Placeholder:      azurePlaceholder,
	BodyStatus:       func(status int) bool { return status == http.StatusTooManyRequests },
	Body:             azureBody,
})

// azurePlaceholder reports Azure's "no data" value. Values reach it trimmed.
func azurePlaceholder(_, value string) bool { return value == "-1" }

type azureError struct {
	Error struct {
		Message string `json:"message"`
	} `json:"error"`
}

func azureBody(in *Input, _ clock, r *Result) {
	var e azureError
	if err := json.Unmarshal(in.Body, &e); err != nil {
		r.addBodyError(in.Body)
		return
	}
	msg := e.Error.Message
	switch {
	case strings.Contains(msg, "token rate limit"):
		r.ThrottledResource = Tokens
	case strings.Contains(msg, "call rate limit"):
		r.ThrottledResource = Requests
	}
	if !r.HasRetryAfter {
		if d, ok := retryAfterInMessage(msg); ok {
			r.RetryAfter, r.HasRetryAfter = d, true
		}
	}
}

// retryAfterInMessage finds "retry after N second(s)" (Azure's wording) in an
// error message.
func retryAfterInMessage(msg string) (time.Duration, bool) {
	const marker = "retry after "
	i := strings.Index(msg, marker)
	if i < 0 {
		return 0, false
	}
	rest := msg[i+len(marker):]
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	if j == 0 || !strings.HasPrefix(rest[j:], " second") {
		return 0, false
	}
	n, err := strconv.ParseFloat(rest[:j], 64)
	if err != nil {
		return 0, false
	}
	d, err := secondsToDuration(n)
	if err != nil {
		return 0, false
	}
	return d, true
}
