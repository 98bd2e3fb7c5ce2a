package fakeprovider

import (
	"net/http"
	"strconv"

	"github.com/headroomhq/headroom/catalog"
)

// Mistral AI (La Plateforme): x-ratelimit-{limit,remaining}-{req,tokens}-<window>
// with the window in the name (minute, month, 10-second, …), no reset
// headers, and x-ratelimit-tokens-query-cost, the tokens the request
// counted. A 429 carries Retry-After and {"object":"error","message":"Rate
// limit exceeded","type":"rate_limited",…,"code":"1300"}. Limits are set per
// organisation; the defaults are those of the published 429 capture (60
// requests and 500,000 tokens a minute, 4M tokens a month). Fixed windows;
// the month is 30 days.
var _ = register(&dialect{
	name:       "mistral",
	kind:       fixedWindow,
	headers:    mistralHeaders(),
	retryAfter: "Retry-After",
	defaults: []catalog.Limit{
		{Resource: "requests", Window: "1m", Value: 60},
		{Resource: "tokens", Window: "1m", Value: 500000},
		{Resource: "tokens", Window: "30d", Value: 4000000},
	},
	extra: func(h http.Header, e *emission) {
		h["x-ratelimit-tokens-query-cost"] = []string{strconv.FormatFloat(e.cost.of("tokens"), 'f', -1, 64)}
	},
	rateLimited: func(*throttle) []byte {
		return []byte(`{"object":"error","message":"Rate limit exceeded","type":"rate_limited","param":null,"code":"1300","raw_status_code":429}`)
	},
	errorBody: func(status int, kind, message string) []byte {
		return mustJSON(struct {
			Object  string  `json:"object"`
			Message string  `json:"message"`
			Type    string  `json:"type"`
			Param   *string `json:"param"`
			Code    *string `json:"code"`
		}{Object: "error", Message: message, Type: kind})
	},
})

// mistralHeaders is the header table for every window Mistral names.
func mistralHeaders() []limitHeader {
	windows := []struct{ window, name string }{
		{"1s", "second"}, {"10s", "10-second"}, {"1m", "minute"}, {"1h", "hour"}, {"1d", "day"}, {"7d", "week"}, {"30d", "month"},
	}
	var out []limitHeader
	for _, res := range []struct{ resource, name string }{{"requests", "req"}, {"tokens", "tokens"}} {
		for _, w := range windows {
			out = append(out, limitHeader{
				resource: res.resource, window: w.window,
				limit:     "x-ratelimit-limit-" + res.name + "-" + w.name,
				remaining: "x-ratelimit-remaining-" + res.name + "-" + w.name,
			})
		}
	}
	return out
}
