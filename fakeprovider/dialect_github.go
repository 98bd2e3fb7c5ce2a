package fakeprovider

import (
	"net/http"
	"strconv"

	"github.com/headroomhq/headroom/catalog"
)

// GitHub REST API style,
// https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api:
// X-RateLimit-Limit/-Remaining/-Used/-Reset (epoch seconds)/-Resource, the
// "core" bucket of 5,000 requests an hour per key, whose hour starts with the
// first request after the previous hour ended. The per-minute "search"
// bucket belongs to the search endpoints, which the fake does not serve, so
// only hourly limits are kept. An exhausted primary limit is answered (429
// here; GitHub also uses 403) with the documented message and no
// Retry-After: X-RateLimit-Reset says when to come back.
var _ = register(&dialect{
	name: "github",
	kind: anchoredWindow,
	headers: []limitHeader{
		{resource: "requests", window: "1h", limit: "X-RateLimit-Limit", remaining: "X-RateLimit-Remaining", reset: "X-RateLimit-Reset", format: epochSeconds},
	},
	defaults: []catalog.Limit{{Resource: "requests", Window: "1h", Value: 5000}},
	only:     func(_, window string) bool { return window == "1h" },
	extra: func(h http.Header, e *emission) {
		if s, ok := pickState(e.states, "requests", "1h"); ok {
			h["X-RateLimit-Used"] = []string{strconv.FormatFloat(s.Limit-roundRemaining(s.Remaining, s.Limit, 0), 'f', -1, 64)}
			h["X-RateLimit-Resource"] = []string{"core"}
		}
	},
	rateLimited: func(*throttle) []byte {
		return gitHubError("API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the request ID.", "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api")
	},
	errorBody: func(status int, _, message string) []byte {
		if status == http.StatusUnauthorized {
			message = "Requires authentication"
		}
		return gitHubError(message, "https://docs.github.com/rest")
	},
	errorContentType: "application/json; charset=utf-8",
})

func gitHubError(message, doc string) []byte {
	return mustJSON(struct {
		Message          string `json:"message"`
		DocumentationURL string `json:"documentation_url"`
	}{message, doc})
}
