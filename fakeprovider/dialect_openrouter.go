package fakeprovider

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/headroomhq/headroom/catalog"
)

// OpenRouter, https://openrouter.ai/docs/api-reference/limits: only the free
// model variants (ids ending in ":free") are limited, to 20 requests per
// minute and 50 per day (fixed UTC windows), and the limits show only on
// the 429: X-RateLimit-Limit/Remaining/Reset (reset in epoch milliseconds)
// for the limit that was hit, repeated in the body's error.metadata.headers,
// whose message names the limit (free-models-per-min, free-models-per-day).
// Paid models have no limits in the fake.
var _ = register(&dialect{
	name:       "openrouter",
	kind:       fixedWindow,
	retryAfter: "Retry-After",
	modelDefaults: func(model string) []catalog.Limit {
		if !strings.HasSuffix(model, ":free") {
			return nil
		}
		return []catalog.Limit{
			{Resource: "requests", Window: "1m", Value: 20},
			{Resource: "requests", Window: "1d", Value: 50},
		}
	},
	on429: func(h http.Header, t *throttle, _ []LimitState, _ time.Time) {
		for k, v := range openRouterHeaders(t) {
			h[k] = []string{v}
		}
	},
	rateLimited: openRouterRateLimited,
	errorBody: func(status int, _, message string) []byte {
		return mustJSON(map[string]any{"error": map[string]any{"message": message, "code": status}})
	},
})

func openRouterHeaders(t *throttle) map[string]string {
	return map[string]string{
		"X-RateLimit-Limit":     formatCount(t.Limit),
		"X-RateLimit-Remaining": formatCount(max(0, t.Limit-t.Used)),
		"X-RateLimit-Reset":     strconv.FormatInt(ceilUnix(t.Reset, time.Millisecond), 10),
	}
}

func openRouterRateLimited(t *throttle) []byte {
	msg := "Rate limit exceeded: free-models-per-min."
	switch t.Window {
	case "1d":
		msg = "Rate limit exceeded: free-models-per-day. Add 10 credits to unlock 1000 free model requests per day"
	case "1m":
	default:
		msg = "Rate limit exceeded: limit_" + t.Resource + "/" + t.Window + "/" + t.Model
	}
	type metadata struct {
		Headers      map[string]string `json:"headers"`
		ProviderName *string           `json:"provider_name"`
	}
	type inner struct {
		Message  string   `json:"message"`
		Code     int      `json:"code"`
		Metadata metadata `json:"metadata"`
	}
	return mustJSON(struct {
		Error  inner  `json:"error"`
		UserID string `json:"user_id"`
	}{inner{msg, http.StatusTooManyRequests, metadata{Headers: openRouterHeaders(t)}}, "user_fakeprovider"})
}
