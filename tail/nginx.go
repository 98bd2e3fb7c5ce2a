package tail

// The nginx format: lines written by the log_format shipped in
// docs/snippets/nginx-log-format.conf (docs/tail.md), for example
//
//	{"time":"1732270000.123","status":"200","request_time":"0.412",
//	 "upstream_header_time":"0.398","upstream_host":"us.inference.heroku.com",
//	 "upstream_addr":"52.1.2.3:443","model":"claude-4-sonnet",
//	 "headers":{"date":"Fri, 22 Nov 2024 10:00:00 GMT",
//	            "x-ratelimit-limit-requests":"150", …}}
//
// time is $msec (when nginx logged the line, i.e. the response ended), so the
// moment the response headers arrived is time − request_time +
// upstream_header_time. Every member of headers is a response header
// ($upstream_http_<name>); nginx logs "" for a header the response did not
// have, which counts as absent. provider ($headroom_provider, set per
// location) names the provider where the upstream's host cannot (two
// providers on one host: provider_field: provider), and key
// ($headroom_key) is the line's key label; both are "" where not set.
var nginxSpec = schemaSpec{
	name:       "nginx",
	time:       "time",
	timeIs:     "end",
	status:     "status",
	duration:   "request_time",
	headerTime: "upstream_header_time",
	model:      "model",
	key:        "key",
	headers:    "headers",
	skip:       []string{"upstream_host", "upstream_addr", "provider"},
}
