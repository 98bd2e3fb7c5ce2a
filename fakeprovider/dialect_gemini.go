package fakeprovider

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/headroomhq/headroom/catalog"
)

// Gemini API, https://ai.google.dev/gemini-api/docs/rate-limits: requests
// per minute, input tokens per minute and requests per day per model; no
// rate-limit headers at all. A 429 carries google.rpc.Status with a
// QuotaFailure naming the violated quota (quotaId, quotaMetric,
// quotaDimensions {location, model}, quotaValue) and a RetryInfo
// retryDelay ("31s"), and no Retry-After header; the OpenAI-compatible
// endpoint (…/v1beta/openai/chat/completions) wraps the same object in a
// JSON array. The native route is …/models/<model>:generateContent. Fixed
// windows here (the day aligned to UTC, not to Pacific midnight as Google's).
// Defaults: the free tier of Gemini 2.0 Flash as the rate-limits page last
// published it (15 RPM, 1,000,000 input TPM, 1,500 RPD).
var _ = register(&dialect{
	name: "gemini",
	kind: fixedWindow,
	defaults: []catalog.Limit{
		{Resource: "requests", Window: "1m", Value: 15},
		{Resource: "input_tokens", Window: "1m", Value: 1000000},
		{Resource: "requests", Window: "1d", Value: 1500},
	},
	rateLimited: geminiRateLimited,
	errorBody: func(status int, _, message string) []byte {
		return mustJSON(map[string]any{"error": map[string]any{
			"code": status, "message": message, "status": googleStatusName(status)}})
	},
})

func googleStatusName(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusRequestEntityTooLarge:
		return "INVALID_ARGUMENT"
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED"
	}
	return "UNKNOWN"
}

// geminiQuota names the quota of a limit as the API does.
func geminiQuota(resource, window string) (id, metric string) {
	per := map[string]string{"1s": "Second", "1m": "Minute", "1h": "Hour", "1d": "Day"}[window]
	if per == "" {
		per = window
	}
	switch resource {
	case "input_tokens":
		return "GenerateContentInputTokensPerModelPer" + per + "-FreeTier",
			"generativelanguage.googleapis.com/generate_content_free_tier_input_token_count"
	case "output_tokens":
		return "GenerateContentOutputTokensPerModelPer" + per + "-FreeTier",
			"generativelanguage.googleapis.com/generate_content_free_tier_output_token_count"
	}
	return "GenerateRequestsPer" + per + "PerProjectPerModel-FreeTier",
		"generativelanguage.googleapis.com/generate_content_free_tier_requests"
}

func geminiRateLimited(t *throttle) []byte {
	id, metric := geminiQuota(t.Resource, t.Window)
	type violation struct {
		QuotaMetric     string            `json:"quotaMetric"`
		QuotaID         string            `json:"quotaId"`
		QuotaDimensions map[string]string `json:"quotaDimensions"`
		QuotaValue      string            `json:"quotaValue"`
	}
	status := map[string]any{"error": map[string]any{
		"code":    http.StatusTooManyRequests,
		"message": "You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",
		"status":  "RESOURCE_EXHAUSTED",
		"details": []any{
			map[string]any{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []violation{{
				QuotaMetric: metric, QuotaID: id,
				QuotaDimensions: map[string]string{"location": "global", "model": t.Model},
				QuotaValue:      formatCount(t.Limit),
			}}},
			map[string]any{"@type": "type.googleapis.com/google.rpc.Help", "links": []map[string]string{{
				"description": "Learn more about Gemini API quotas", "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}}},
			map[string]any{"@type": "type.googleapis.com/google.rpc.RetryInfo",
				"retryDelay": strconv.FormatInt(retryAfterSeconds(t.RetryAfter), 10) + "s"},
		},
	}}
	if strings.HasSuffix(strings.TrimSuffix(t.Path, "/"), "/chat/completions") {
		return mustJSON([]any{status})
	}
	return mustJSON(status)
}

// geminiPathModel finds the model of a native route,
// …/models/<model>:generateContent.
func geminiPathModel(path string) string {
	i := strings.LastIndex(path, "/models/")
	if i < 0 {
		return ""
	}
	m, _, ok := strings.Cut(path[i+len("/models/"):], ":")
	if !ok {
		return ""
	}
	return m
}
