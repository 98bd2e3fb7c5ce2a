package parsers

// OpenAI: per-minute requests and tokens; resets are Go-style durations
// ("6m0s", "12ms", "1s"). https://platform.openai.com/docs/guides/rate-limits
var OpenAI = registerHeaderDialect(&HeaderDialect{
	DialectName: "openai",
	Limits:      openAIStyleLimits(FormatDuration),
	RetryAfter:  "Retry-After",
})
