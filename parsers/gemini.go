package parsers

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// Gemini is Google's Gemini API (generativelanguage.googleapis.com, its
// native generateContent routes and its OpenAI-compatible endpoint
// /v1beta/openai/) and Vertex AI (aiplatform.googleapis.com). Neither sends
// rate-limit headers: limits show only in 429 bodies, the google.rpc error
// model (https://ai.google.dev/gemini-api/docs/troubleshooting,
// https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429):
//
//	{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","message":"You exceeded your current quota…",
//	 "details":[
//	  {"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[
//	    {"quotaMetric":"generativelanguage.googleapis.com/generate_content_free_tier_requests",
//	     "quotaId":"GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
//	     "quotaDimensions":{"location":"global","model":"gemini-2.0-flash"},"quotaValue":"15"}]},
//	  {"@type":"type.googleapis.com/google.rpc.Help","links":[…]},
//	  {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"31s"}]}}
//
// (captures: googleapis/python-genai#2044, RooCodeInc/Roo-Code#3883). The
// same object comes wrapped in a JSON array from the OpenAI-compatible
// endpoint and from Vertex AI ([{"error":{…}}], google-gemini/gemini-cli
// #14811); older quota errors carry a google.rpc.ErrorInfo whose metadata
// names quota_limit (the quota id), quota_limit_value and quota_metric
// (google/generative-ai-docs#236); Vertex AI's standard quotas name the
// metric in the message ("Quota exceeded for
// aiplatform.googleapis.com/generate_content_requests_per_minute_per_project_per_base_model
// with base model: gemini-pro").
//
// Decisions (docs/metrics.md):
//
//   - Each violation is one observation: the resource and window from the
//     quota id (GenerateRequestsPerMinute… → requests/1m, …InputTokens…PerMinute
//     → input_tokens/1m, …PerDay → 1d), else from the quota metric
//     (…_requests_per_minute_… → requests/1m); the limit from quotaValue
//     when it is sent; remaining 0, since the quota refused the request
//     (Google does not say what is left). A violation whose window cannot be
//     told is counted (ErrNoWindow on body.error.details.quotaId) and not
//     exported; its resource still names the 429.
//   - RetryInfo.retryDelay ("31s", "0.5s": a protobuf Duration) is the
//     Retry-After when no Retry-After header came.
//   - The 429 is blamed on the violation with the longest window (the one
//     the caller must wait for); a 429 that names no quota (Vertex AI's
//     dynamic shared quota: "Resource exhausted. Please try again later.")
//     is left unknown.
//   - quotaDimensions (model, location) are not labels: the model label is
//     the request's, and locations of one quota are one series (the more
//     constrained reading is kept).
//
// Only 429 bodies are read (BodyStatus); they are decoded with
// encoding/json, a cold path.
var Gemini = registerHeaderDialect(&HeaderDialect{
	DialectName: "gemini",
	RetryAfter:  "Retry-After",
	BodyStatus:  func(status int) bool { return status == http.StatusTooManyRequests },
	Body:        geminiBody,
})

// googleStatus is the google.rpc.Status error envelope, as far as read.
type googleStatus struct {
	Error struct {
		Message string         `json:"message"`
		Status  string         `json:"status"`
		Details []googleDetail `json:"details"`
	} `json:"error"`
}

type googleDetail struct {
	Type       string            `json:"@type"`
	Violations []googleViolation `json:"violations"` // QuotaFailure
	RetryDelay string            `json:"retryDelay"` // RetryInfo
	Reason     string            `json:"reason"`     // ErrorInfo
	Metadata   map[string]string `json:"metadata"`   // ErrorInfo
}

type googleViolation struct {
	QuotaMetric string     `json:"quotaMetric"`
	QuotaID     string     `json:"quotaId"`
	QuotaValue  jsonScalar `json:"quotaValue"` // an int64 in proto JSON: a string
}

func geminiBody(in *Input, _ clock, r *Result) {
	var st googleStatus
	body := bytes.TrimSpace(in.Body)
	var err error
	if len(body) > 0 && body[0] == '[' {
		var list []googleStatus
		if err = json.Unmarshal(body, &list); err == nil && len(list) > 0 {
			st = list[0]
		}
	} else {
		err = json.Unmarshal(body, &st)
	}
	if err != nil {
		r.addBodyError(in.Body)
		return
	}
	from := len(r.Observations)
	throttled := ""
	var longest time.Duration = -1
	blame := func(resource, window string) {
		w, _ := ParseWindow(window)
		if resource != "" && (throttled == "" || w > longest) {
			throttled, longest = resource, w
		}
	}
	quota := func(id, metric, value string) {
		res, win := geminiQuota(id)
		if res == "" || win == "" {
			mres, mwin := geminiMetric(metric)
			if res == "" {
				res = mres
			}
			if win == "" {
				win = mwin
			}
		}
		if res == "" {
			return // not a quota Headroom has a resource for
		}
		if win == "" {
			if throttled == "" {
				throttled = res
			}
			name := id
			if name == "" {
				name = metric
			}
			r.addError("body.error.details.quotaId", name, ErrNoWindow)
			return
		}
		blame(res, win)
		o := Observation{Resource: res, Window: win, HasRemaining: true}
		if v := strings.TrimSpace(value); v != "" {
			if n, err := ParseCount(v); err != nil {
				r.addError("body.error.details.quotaValue", v, err)
			} else {
				o.Limit, o.HasLimit = n, true
			}
		}
		mergeObservation(r, from, o)
	}
	retry := ""
	for _, d := range st.Error.Details {
		switch {
		case strings.HasSuffix(d.Type, "google.rpc.QuotaFailure"):
			for _, v := range d.Violations {
				quota(v.QuotaID, v.QuotaMetric, string(v.QuotaValue))
			}
		case strings.HasSuffix(d.Type, "google.rpc.RetryInfo"):
			retry = d.RetryDelay
		case strings.HasSuffix(d.Type, "google.rpc.ErrorInfo") && d.Metadata["quota_limit"] != "":
			quota(d.Metadata["quota_limit"], d.Metadata["quota_metric"], d.Metadata["quota_limit_value"])
		}
	}
	if len(r.Observations) == from && throttled == "" {
		// Vertex AI's standard quotas name their metric in the message.
		if i := strings.Index(st.Error.Message, "aiplatform.googleapis.com/"); i >= 0 {
			metric := st.Error.Message[i:]
			if j := strings.IndexAny(metric, " ,'\""); j >= 0 {
				metric = metric[:j]
			}
			quota("", metric, "")
		}
	}
	r.ThrottledResource = throttled
	if retry != "" && !r.HasRetryAfter {
		d, err := parseDuration(retry)
		switch {
		case err != nil || !strings.HasSuffix(retry, "s"):
			r.addError("body.error.details.retryDelay", retry, ErrSyntax)
		case d < 0:
			r.addError("body.error.details.retryDelay", retry, ErrNegative)
		case d > maxRelative:
			r.addError("body.error.details.retryDelay", retry, ErrOverflow)
		default:
			r.RetryAfter, r.HasRetryAfter = d, true
		}
	}
}

// geminiQuota reads a quota id: GenerateRequestsPerMinutePerProjectPerModel-FreeTier,
// GenerateContentInputTokensPerModelPerMinute-FreeTier,
// GenerateContentPaidTierInputTokensPerModelPerMinute,
// GenerateContentRequestsPerMinutePerProjectPerRegion. Either part is ""
// when the id does not tell.
func geminiQuota(id string) (resource, window string) { return quotaIDWords.read(id) }

// geminiMetric reads a quota metric:
// generativelanguage.googleapis.com/generate_content_free_tier_input_token_count,
// aiplatform.googleapis.com/generate_content_requests_per_minute_per_project_per_base_model.
func geminiMetric(metric string) (resource, window string) {
	if i := strings.LastIndexByte(metric, '/'); i >= 0 {
		metric = metric[i+1:]
	}
	return quotaMetricWords.read(metric)
}

// quotaWords are the words a quota's name spells its resource and window
// with, in the order they are tried (input tokens before tokens).
type quotaWords struct {
	resources [4]struct{ word, resource string }
	windows   [4]struct{ word, window string }
}

var (
	quotaIDWords = quotaWords{
		resources: [4]struct{ word, resource string }{{"InputToken", InputTokens}, {"OutputToken", OutputTokens}, {"Token", Tokens}, {"Request", Requests}},
		windows:   [4]struct{ word, window string }{{"PerSecond", "1s"}, {"PerMinute", "1m"}, {"PerHour", "1h"}, {"PerDay", "1d"}},
	}
	quotaMetricWords = quotaWords{
		resources: [4]struct{ word, resource string }{{"input_token", InputTokens}, {"output_token", OutputTokens}, {"token", Tokens}, {"request", Requests}},
		windows:   [4]struct{ word, window string }{{"per_second", "1s"}, {"per_minute", "1m"}, {"per_hour", "1h"}, {"per_day", "1d"}},
	}
)

func (w *quotaWords) read(name string) (resource, window string) {
	for _, r := range w.resources {
		if strings.Contains(name, r.word) {
			resource = r.resource
			break
		}
	}
	for _, x := range w.windows {
		if strings.Contains(name, x.word) {
			window = x.window
			break
		}
	}
	return resource, window
}
