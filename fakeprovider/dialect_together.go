package fakeprovider

import (
	"github.com/headroomhq/headroom/catalog"
)

// Together AI serverless, https://docs.together.ai/docs/rate-limits: limits
// are measured per second (requests and tokens), reported as
// x-ratelimit-limit/-remaining/-reset (reset in seconds, fractional) and
// x-tokenlimit-limit/-remaining (no token reset); fixed one-second windows
// here. A 429 carries retry-after and the error of the dynamic limits
// ("dynamic_request_limited" / "dynamic_token_limited"). The fake models the
// static per-second limits (defaults: Build Tier 1, 600 RPM and 180,000 TPM,
// i.e. 10 requests and 3,000 tokens a second) and sends the headers on every
// response, as the header table documents; dynamic limits are not modelled.
var _ = register(&dialect{
	name: "together",
	kind: fixedWindow,
	headers: []limitHeader{
		{resource: "requests", window: "1s", limit: "x-ratelimit-limit", remaining: "x-ratelimit-remaining", reset: "x-ratelimit-reset", format: secondsFromNowFrac},
		{resource: "tokens", window: "1s", limit: "x-tokenlimit-limit", remaining: "x-tokenlimit-remaining"},
	},
	retryAfter: "retry-after",
	defaults: []catalog.Limit{
		{Resource: "requests", Window: "1s", Value: 10},
		{Resource: "tokens", Window: "1s", Value: 3000},
	},
	rateLimited: func(t *throttle) []byte {
		if t.Resource == "requests" {
			return []byte(`{"error":{"message":"Request rate exceeds your dynamic rate for this model","type":"dynamic_request_limited","param":null,"code":null}}`)
		}
		return []byte(`{"error":{"message":"Token rate exceeds your dynamic rate for this model","type":"dynamic_token_limited","param":null,"code":null}}`)
	},
})
