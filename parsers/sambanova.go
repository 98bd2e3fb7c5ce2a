package parsers

// SambaNova Cloud (seed 003): requests per minute in the default headers,
// "-hour" and "-day" variants; resets are epoch seconds.
var SambaNova = registerHeaderDialect(&HeaderDialect{
	DialectName: "sambanova",
	Limits: []LimitHeaders{
		{Resource: Requests, Window: "1m", Limit: "x-ratelimit-limit-requests", Remaining: "x-ratelimit-remaining-requests", Reset: "x-ratelimit-reset-requests", ResetFormat: FormatEpochSeconds},
		{Resource: Requests, Window: "1h", Limit: "x-ratelimit-limit-requests-hour", Remaining: "x-ratelimit-remaining-requests-hour", Reset: "x-ratelimit-reset-requests-hour", ResetFormat: FormatEpochSeconds},
		{Resource: Requests, Window: "1d", Limit: "x-ratelimit-limit-requests-day", Remaining: "x-ratelimit-remaining-requests-day", Reset: "x-ratelimit-reset-requests-day", ResetFormat: FormatEpochSeconds},
	},
	RetryAfter: "Retry-After",
})
