package parsers

import (
	"net/http"
	"strings"
)

// GitHub is the GitHub REST API, and the template for the generic
// "GitHub style" that many APIs copied:
// https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
//
//	x-ratelimit-limit      the maximum number of requests per hour
//	x-ratelimit-remaining  the requests remaining in the current window
//	x-ratelimit-used       the requests made in the current window
//	x-ratelimit-reset      when the window resets, in UTC epoch seconds
//	x-ratelimit-resource   the rate limit resource the request counted against
//
// plus retry-after on secondary rate limits (403 or 429). Remaining is
// Limit − Used when only Used is sent.
//
// The headers do not say the window. For the generic style it is a property
// of the dialect (NewGitHubStyle); the registered "github" dialect uses
// GitHub's documented windows per x-ratelimit-resource: "core" (and a
// response without the header) is per hour, "search" per minute. GitHub's
// other buckets are left out because the metric labels cannot tell them
// apart from those two: "graphql" counts points, not requests, per hour,
// "code_search" is a second per-minute bucket (10/min beside search's 30),
// and integration_manifest, code_scanning_upload and the like are further
// per-hour buckets. Exporting any of them would overwrite the core or search
// series with another bucket's numbers.
var GitHub = newGitHubStyle("github", "1h", map[string]string{
	"core":   "1h",
	"search": "1m",
})

func init() { Register(GitHub) }

// NewGitHubStyle returns a dialect for the generic X-RateLimit-Limit /
// -Remaining / -Reset (epoch seconds) / -Used headers whose limit applies to
// window, a Prometheus duration ("1h", "15m"). X-RateLimit-Resource is not
// interpreted. It panics on a window ParseWindow rejects: validate
// configuration first.
func NewGitHubStyle(name, window string) Dialect {
	return newGitHubStyle(name, window, nil)
}

func newGitHubStyle(name, window string, resources map[string]string) *gitHubStyle {
	w := canonicalWindow(window)
	if w == "" {
		panic("parsers: NewGitHubStyle needs a window")
	}
	return &gitHubStyle{name: name, window: w, resources: resources}
}

type gitHubStyle struct {
	name   string
	window string
	// resources maps X-RateLimit-Resource values to windows; nil accepts any
	// resource with the dialect's window. With a map, resources not in it
	// are not exported.
	resources map[string]string
}

func (d *gitHubStyle) Name() string       { return d.name }
func (d *gitHubStyle) WantsBody(int) bool { return false }

func (d *gitHubStyle) Parse(in *Input, r *Result) {
	c := newClock(in)
	h := in.headerMap()
	from := len(r.Observations)
	win := d.window
	if d.resources != nil {
		if res, ok, _ := lookup(h, "X-Ratelimit-Resource"); ok {
			win = d.resources[res]
		}
	}

	o := Observation{Resource: Requests, Window: win}
	if n, ok := ghCount(h, "X-Ratelimit-Limit", "x-ratelimit-limit", r); ok {
		o.Limit, o.HasLimit = n, true
	}
	if n, ok := ghCount(h, "X-Ratelimit-Remaining", "x-ratelimit-remaining", r); ok {
		o.Remaining, o.HasRemaining = n, true
	}
	// Used stands in for a missing Remaining, not for one that was sent
	// but could not be read: that response is suspect.
	if used, ok := ghCount(h, "X-Ratelimit-Used", "x-ratelimit-used", r); ok && o.HasLimit && len(h["X-Ratelimit-Remaining"]) == 0 {
		o.Remaining, o.HasRemaining = max(o.Limit-used, 0), true
	}
	if (o.HasLimit || o.HasRemaining) && win != "" {
		if v, ok, dup := lookup(h, "X-Ratelimit-Reset"); ok {
			if dup {
				r.addError("x-ratelimit-reset", v, ErrDuplicated)
			} else if t, err := parseReset(v, FormatEpochSeconds, &c); err != nil {
				r.addError("x-ratelimit-reset", v, err)
			} else {
				o.Reset = t
			}
		}
		clampRemaining(&o)
		r.Observations = append(r.Observations, o)
	}

	if v, ok, dup := lookup(h, "Retry-After"); ok {
		if dup {
			r.addError("retry-after", v, ErrDuplicated)
		} else if dur, err := parseRetryAfter(v, &c); err != nil {
			r.addError("retry-after", v, err)
		} else {
			r.RetryAfter, r.HasRetryAfter = dur, true
		}
	}
	if in.Status == http.StatusTooManyRequests && r.ThrottledResource == "" {
		r.ThrottledResource = throttledByRemaining(r, from)
	}
	hh := header{m: h}
	r.noteUnread(&hh, &gitHubNames)
}

// gitHubNames are the headers the GitHub style reads.
var gitHubNames = lowerAll("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-used",
	"x-ratelimit-reset", "x-ratelimit-resource", "retry-after")

// ghCount reads one count header, recording an error for a bad or
// ambiguous value.
func ghCount(h http.Header, key, name string, r *Result) (float64, bool) {
	v, ok, dup := lookup(h, key)
	if !ok {
		return 0, false
	}
	if dup {
		r.addError(name, v, ErrDuplicated)
		return 0, false
	}
	n, err := parseCount(v)
	if err != nil {
		r.addError(name, v, err)
		return 0, false
	}
	return n, true
}

// lowerHeader is the lower-case header name used in error entries; it
// allocates, so it is only called on error paths.
func lowerHeader(key string) string { return strings.ToLower(key) }
