package parsers

// Infercom Inference Service (seed 001): requests per minute in the default
// headers and requests per day in "-day" variants; resets are epoch seconds.
var Infercom = registerHeaderDialect(&HeaderDialect{
	DialectName: "infercom",
	Limits: []LimitHeaders{
		{Resource: Requests, Window: "1m", Limit: "x-ratelimit-limit-requests", Remaining: "x-ratelimit-remaining-requests", Reset: "x-ratelimit-reset-requests", ResetFormat: FormatEpochSeconds},
		{Resource: Requests, Window: "1d", Limit: "x-ratelimit-limit-requests-day", Remaining: "x-ratelimit-remaining-requests-day", Reset: "x-ratelimit-reset-requests-day", ResetFormat: FormatEpochSeconds},
	},
	RetryAfter: "Retry-After",
})
