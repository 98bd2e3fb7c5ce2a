package tail

// The Envoy format: lines written by the json_format access log shipped in
// docs/snippets/envoy-access-log.yaml (docs/tail.md), for example
//
//	{"start_time":"2024-11-22T10:00:00.123Z","response_code":"429",
//	 "duration":"412","response_duration":"398","upstream_cluster":"heroku-us",
//	 "model":"claude-4-sonnet",
//	 "headers":{"x-ratelimit-limit-requests":"150","retry-after":"12", …}}
//
// start_time is %START_TIME% (the request arrived), response_duration
// %RESPONSE_DURATION% (milliseconds until the first upstream byte), so the
// response headers arrived at start_time + response_duration. Values may be
// strings (json_format) or numbers (typed_json_format); Envoy logs "-" (or
// null when typed) for a header the response did not have.
var envoySpec = schemaSpec{
	name:           "envoy",
	time:           "start_time",
	timeIs:         "start",
	status:         "response_code",
	duration:       "duration",
	durationUnit:   "ms",
	headerTime:     "response_duration",
	headerTimeUnit: "ms",
	model:          "model",
	key:            "key",
	headers:        "headers",
	skip:           []string{"upstream_cluster", "upstream_host"},
}
