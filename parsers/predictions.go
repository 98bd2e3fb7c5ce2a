package parsers

import (
	"encoding/json"
	"net/http"
)

// Predictions is the predictions API of seed 002: 60 requests per minute per
// key in X-RateLimit-Limit/Remaining/Reset (reset as a Unix timestamp),
// Retry-After on 429, and a concurrency limit (5 running predictions) that is
// only visible in the JSON body of its 429:
//
//	{"error":{"type":"rate_limit_error","code":"CONCURRENT_LIMIT_EXCEEDED",
//	          "details":{"limit":5,"active":5}}}
var Predictions = registerHeaderDialect(&HeaderDialect{
	DialectName: "predictions",
	Limits: []LimitHeaders{
		{Resource: Requests, Window: "1m", Limit: "X-RateLimit-Limit", Remaining: "X-RateLimit-Remaining", Reset: "X-RateLimit-Reset", ResetFormat: FormatEpochSeconds},
	},
	RetryAfter: "Retry-After",
	BodyStatus: func(status int) bool { return status == http.StatusTooManyRequests },
	Body:       predictionsBody,
})

type predictionsError struct {
	Error struct {
		Type    string `json:"type"`
		Code    string `json:"code"`
		Details struct {
			Limit  *json.Number `json:"limit"`
			Active *json.Number `json:"active"`
		} `json:"details"`
	} `json:"error"`
}

func predictionsBody(in *Input, _ clock, r *Result) {
	var e predictionsError
	if err := json.Unmarshal(in.Body, &e); err != nil {
		r.addBodyError(in.Body)
		return
	}
	if e.Error.Code != "CONCURRENT_LIMIT_EXCEEDED" {
		// A plain per-minute 429: the headers already tell which limit.
		return
	}
	r.ThrottledResource = Concurrency
	o := Observation{Resource: Concurrency, Window: WindowNone}
	if e.Error.Details.Limit != nil {
		n, err := ParseCount(e.Error.Details.Limit.String())
		if err != nil {
			r.addError("body.error.details.limit", e.Error.Details.Limit.String(), err)
		} else {
			o.Limit, o.HasLimit = n, true
		}
	}
	if e.Error.Details.Active != nil && o.HasLimit {
		active, err := ParseCount(e.Error.Details.Active.String())
		if err != nil {
			r.addError("body.error.details.active", e.Error.Details.Active.String(), err)
		} else {
			o.Remaining, o.HasRemaining = max(o.Limit-active, 0), true
		}
	}
	if o.HasLimit {
		r.Observations = append(r.Observations, o)
	}
}
