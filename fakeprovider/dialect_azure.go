package fakeprovider

import (
	"fmt"
	"net/http"
	"time"

	"github.com/headroomhq/headroom/catalog"
)

// Azure OpenAI: per deployment, requests per 10 seconds (RPM/6) and tokens
// per minute, each a sliding window (capacity returns 10 s, respectively
// 60 s, after use); resets are integer seconds until the oldest use expires.
// A 429 carries retry-after-ms and retry-after and the error that names the
// "call" or "token" rate limit; a token-limit 429 spells its reset
// x-rate-limit-reset-tokens (openai/openai-python#937), not
// x-ratelimit-reset-tokens. The model is the deployment name of the path
// (…/openai/deployments/<name>/chat/completions) when the body names none.
var _ = register(&dialect{
	name: "azure-openai",
	kind: slidingWindow,
	headers: []limitHeader{
		{resource: "requests", window: "10s", limit: "x-ratelimit-limit-requests", remaining: "x-ratelimit-remaining-requests", reset: "x-ratelimit-reset-requests", format: secondsFromNow},
		{resource: "tokens", window: "1m", limit: "x-ratelimit-limit-tokens", remaining: "x-ratelimit-remaining-tokens", reset: "x-ratelimit-reset-tokens", format: secondsFromNow},
	},
	retryAfter:       "retry-after",
	retryAfterMillis: "retry-after-ms",
	on429: func(h http.Header, t *throttle, _ []LimitState, _ time.Time) {
		if t.Resource != "tokens" {
			return
		}
		if v, ok := h["x-ratelimit-reset-tokens"]; ok {
			delete(h, "x-ratelimit-reset-tokens")
			h["x-rate-limit-reset-tokens"] = v
		}
	},
	// A 20K TPM deployment of an older chat model: 120 RPM, i.e. 20 per 10 s.
	defaults: []catalog.Limit{
		{Resource: "requests", Window: "10s", Value: 20},
		{Resource: "tokens", Window: "1m", Value: 20000},
	},
	rateLimited: func(t *throttle) []byte {
		kind := "call"
		if t.Resource != "requests" {
			kind = "token"
		}
		v := t.APIVersion
		if v == "" {
			v = "2024-10-21"
		}
		return azureError("429", fmt.Sprintf("Requests to the ChatCompletions_Create Operation under Azure OpenAI API version %s have exceeded %s rate limit of your current OpenAI S0 pricing tier. Please retry after %d seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit.",
			v, kind, retryAfterSeconds(t.RetryAfter)))
	},
	errorBody: func(status int, _, message string) []byte {
		if status == 401 {
			message = "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource."
		}
		return azureError(fmt.Sprint(status), message)
	},
})

func azureError(code, message string) []byte {
	type inner struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	return mustJSON(struct {
		Error inner `json:"error"`
	}{inner{code, message}})
}
