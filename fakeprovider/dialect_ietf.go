package fakeprovider

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/headroomhq/headroom/catalog"
	"github.com/headroomhq/headroom/parsers"
)

// The IETF RateLimit header fields, draft-ietf-httpapi-ratelimit-headers-11:
//
//	RateLimit-Policy: "requests-1m";q=100;w=60, "concurrency";q=5;qu="concurrent-requests"
//	RateLimit: "requests-1m";r=99;t=50, "concurrency";r=4
//
// one policy per requests or concurrency limit (other resources have no
// registered quota unit and are enforced without a field), t the seconds
// until the window ends. Fixed windows; a 429 carries Retry-After and a
// problem+json quota-exceeded body naming the violated policy (the draft's
// appendix example). Default: the draft's 100 requests per 60 s.
var _ = register(&dialect{
	name:       "ietf",
	kind:       fixedWindow,
	retryAfter: "Retry-After",
	defaults:   []catalog.Limit{{Resource: "requests", Window: "1m", Value: 100}},
	extra:      ietfFields,
	rateLimited: func(t *throttle) []byte {
		return ietfProblem(http.StatusTooManyRequests, "Too Many Requests", ietfPolicyName(t.Resource, t.Window))
	},
	errorBody: func(status int, _, message string) []byte {
		return mustJSON(struct {
			Type   string `json:"type"`
			Title  string `json:"title"`
			Status int    `json:"status"`
			Detail string `json:"detail"`
		}{"about:blank", http.StatusText(status), status, message})
	},
	errorContentType: "application/problem+json",
})

func ietfPolicyName(resource, window string) string {
	if resource == "concurrency" {
		return "concurrency"
	}
	return resource + "-" + window
}

func ietfFields(h http.Header, e *emission) {
	var policy, state []string
	for _, s := range e.states {
		name := strconv.Quote(ietfPolicyName(s.Resource, s.Window))
		rem := strconv.FormatFloat(roundRemaining(s.Remaining, s.Limit, 0), 'f', -1, 64)
		switch s.Resource {
		case "concurrency":
			policy = append(policy, name+";q="+formatCount(s.Limit)+`;qu="concurrent-requests"`)
			state = append(state, name+";r="+rem)
		case "requests":
			w, _ := windowSeconds(s.Window)
			policy = append(policy, name+";q="+formatCount(s.Limit)+";w="+strconv.FormatInt(w, 10))
			state = append(state, name+";r="+rem+";t="+formatReset(secondsFromNow, s.Reset, e.now))
		}
	}
	if len(policy) > 0 {
		h["RateLimit-Policy"] = []string{strings.Join(policy, ", ")}
		h["RateLimit"] = []string{strings.Join(state, ", ")}
	}
}

func windowSeconds(w string) (int64, bool) {
	d, err := parsers.ParseWindow(w)
	if err != nil {
		return 0, false
	}
	return int64(d / time.Second), true
}

func ietfProblem(status int, title, policy string) []byte {
	return mustJSON(struct {
		Type             string   `json:"type"`
		Title            string   `json:"title"`
		Status           int      `json:"status"`
		ViolatedPolicies []string `json:"violated-policies"`
	}{"https://iana.org/assignments/http-problem-types#quota-exceeded", title, status, []string{policy}})
}
