package fakeprovider

import (
	"encoding/json"
	"fmt"

	"github.com/headroomhq/headroom/catalog"
)

// The predictions API of seed 002: 60 requests per minute per API key in
// X-RateLimit-Limit/Remaining/Reset (reset as a Unix timestamp, fixed
// minute windows), Retry-After on 429, and 5 concurrent predictions per key,
// visible only in the JSON body of the concurrency 429, which is written in
// the documented shape (indented, fields in the documented order).
var _ = register(&dialect{
	name: "predictions",
	kind: fixedWindow,
	headers: []limitHeader{
		{resource: "requests", window: "1m", limit: "X-RateLimit-Limit", remaining: "X-RateLimit-Remaining", reset: "X-RateLimit-Reset", format: epochSeconds},
	},
	retryAfter: "Retry-After",
	// The seed's "Default Limits" (the catalog lists them as key-level
	// limits, so these apply only when no catalog provider is used).
	defaults: []catalog.Limit{
		{Resource: "requests", Window: "1m", Value: 60},
		{Resource: "concurrency", Window: "none", Value: 5},
	},
	rateLimited: func(*throttle) []byte {
		return []byte(`{"error":{"type":"rate_limit_error","message":"Rate limit exceeded","code":"RATE_LIMIT_EXCEEDED"}}`)
	},
	concurrencyLimited: predictionsConcurrencyBody,
	errorBody: func(status int, kind, message string) []byte {
		return mustJSON(map[string]any{"error": map[string]any{"type": kind, "message": message}})
	},
})

type predictionsConcurrencyError struct {
	Error struct {
		Type    string `json:"type"`
		Message string `json:"message"`
		Code    string `json:"code"`
		Details struct {
			Limit  int64 `json:"limit"`
			Active int64 `json:"active"`
		} `json:"details"`
	} `json:"error"`
}

func predictionsConcurrencyBody(t *throttle) []byte {
	var e predictionsConcurrencyError
	e.Error.Type = "rate_limit_error"
	e.Error.Message = fmt.Sprintf("Concurrent prediction limit exceeded. %d/%d predictions running.", int64(t.Used), int64(t.Limit))
	e.Error.Code = "CONCURRENT_LIMIT_EXCEEDED"
	e.Error.Details.Limit = int64(t.Limit)
	e.Error.Details.Active = int64(t.Used)
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}
