package fakeprovider

import (
	"github.com/headroomhq/headroom/catalog"
)

// Together AI serverless, https://docs.together.ai/docs/rate-limits: limits
// are measured per second (requests and tokens), reported as
// x-ratelimit-limit/-remaining/-reset (reset in seconds, fractional) and
// x-tokenlimit-limit/-remaining (no token reset), and the dynamic limits as
// x-ratelimit-{limit,remaining}-dynamic and x-tokenlimit-{limit,remaining}-dynamic;
// fixed one-second windows here. The fake counts the dynamic limits as
// limits of their own (resources dynamic_requests and dynamic_tokens; by
// default the static ones' values, as a new account's dynamic rate starts at
// its base rate) and sends every header on every response, as the header
// table documents. A 429 carries retry-after and, for a dynamic limit, the
// error the docs name ("dynamic_request_limited" / "dynamic_token_limited");
// a static limit's 429 body is not documented and the fake sends a plain
// rate_limit_exceeded error.
var _ = register(&dialect{
	name: "together",
	kind: fixedWindow,
	headers: []limitHeader{
		{resource: "requests", window: "1s", limit: "x-ratelimit-limit", remaining: "x-ratelimit-remaining", reset: "x-ratelimit-reset", format: secondsFromNowFrac},
		{resource: "tokens", window: "1s", limit: "x-tokenlimit-limit", remaining: "x-tokenlimit-remaining"},
		{resource: "dynamic_requests", window: "1s", limit: "x-ratelimit-limit-dynamic", remaining: "x-ratelimit-remaining-dynamic"},
		{resource: "dynamic_tokens", window: "1s", limit: "x-tokenlimit-limit-dynamic", remaining: "x-tokenlimit-remaining-dynamic"},
	},
	retryAfter: "retry-after",
	defaults: []catalog.Limit{
		{Resource: "requests", Window: "1s", Value: 10},
		{Resource: "tokens", Window: "1s", Value: 3000},
		{Resource: "dynamic_requests", Window: "1s", Value: 10},
		{Resource: "dynamic_tokens", Window: "1s", Value: 3000},
	},
	rateLimited: func(t *throttle) []byte {
		switch t.Resource {
		case "dynamic_requests":
			return []byte(`{"error":{"message":"Request rate exceeds your dynamic rate for this model","type":"dynamic_request_limited","param":null,"code":null}}`)
		case "dynamic_tokens":
			return []byte(`{"error":{"message":"Token rate exceeds your dynamic rate for this model","type":"dynamic_token_limited","param":null,"code":null}}`)
		}
		return openAIError("rate_limit_exceeded", "Rate limit exceeded for "+t.Resource+" per second", "rate_limit_exceeded")
	},
})
