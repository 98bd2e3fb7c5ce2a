package parsers

// Heroku Managed Inference (seed 000): requests and tokens per minute over a
// one-minute sliding window; the reset is a duration such as "51s", the time
// until the oldest entry leaves the window. The header names are OpenAI's.
var Heroku = registerHeaderDialect(&HeaderDialect{
	DialectName: "heroku",
	Limits:      openAIStyleLimits(FormatDuration),
	RetryAfter:  "Retry-After",
})

// openAIStyleLimits is the x-ratelimit-{limit,remaining,reset}-{requests,tokens}
// family shared by OpenAI and the providers that copied its headers, all
// per-minute.
func openAIStyleLimits(reset ResetFormat) []LimitHeaders {
	return []LimitHeaders{
		{Resource: Requests, Window: "1m", Limit: "x-ratelimit-limit-requests", Remaining: "x-ratelimit-remaining-requests", Reset: "x-ratelimit-reset-requests", ResetFormat: reset},
		{Resource: Tokens, Window: "1m", Limit: "x-ratelimit-limit-tokens", Remaining: "x-ratelimit-remaining-tokens", Reset: "x-ratelimit-reset-tokens", ResetFormat: reset},
	}
}
