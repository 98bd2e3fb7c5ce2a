package parsers

import (
	"net/http"
	"strconv"
	"strings"
)

// Mistral AI (La Plateforme, api.mistral.ai). Limits are set per
// organisation by usage tier (https://docs.mistral.ai/deployment/laplateforme/tier/:
// requests per second, tokens per minute, tokens per month) and reported in
// headers whose names carry the window:
//
//	x-ratelimit-limit-req-minute / x-ratelimit-remaining-req-minute
//	x-ratelimit-limit-tokens-minute / x-ratelimit-remaining-tokens-minute
//	x-ratelimit-limit-tokens-month / x-ratelimit-remaining-tokens-month
//	x-ratelimit-tokens-query-cost (tokens the request counted; not a limit)
//
// as captured in https://github.com/mistralai/client-ts/issues/169 (2026).
// The request window has changed over time: recorded responses show
// x-ratelimit-limit-req-10-second (2025) and -req-60-second (December 2025,
// https://github.com/maruel/genai providers/mistral/testdata). So the
// dialect reads every x-ratelimit-{limit,remaining}-{req,tokens}-<window>
// pair, <window> being second, minute, hour, day, week, month or
// "<n>-<unit>", rather than a fixed list. "month" is exported as 30d.
//
// Mistral sends no reset headers (none in any capture; maruel/genai notes
// "there's no reset header"), so observations carry none; a 429 carries
// Retry-After (https://docs.mistral.ai/resources/error-glossary) and the body
// {"object":"error","message":"Rate limit exceeded","type":"rate_limited",
// "code":"1300"}, which does not say which limit was hit: the exhausted
// limit is blamed, as for every header dialect.
var Mistral Dialect = &mistralDialect{}

func init() { Register(Mistral) }

type mistralDialect struct{}

func (*mistralDialect) Name() string       { return "mistral" }
func (*mistralDialect) WantsBody(int) bool { return false }

const (
	mistralPrefix    = "X-Ratelimit-"
	mistralLimit     = "Limit-"     // after mistralPrefix
	mistralRemaining = "Remaining-" // after mistralPrefix
	mistralMaxLimits = 8
)

// mistralLimitHeaders is one (resource, window) pair being assembled.
type mistralLimitHeaders struct {
	suffix       string // "Req-Minute": pairs limit and remaining headers
	resource     string
	window       string
	seconds      int64
	limitKey     string
	remainingKey string
	limitVals    []string // the header's values, taken while scanning
	remainingVal []string
}

func (*mistralDialect) Parse(in *Input, r *Result) {
	h := in.headerMap()
	from := len(r.Observations)

	// Collect the pairs. Header order in a map is random, so they are sorted
	// (requests before tokens, shorter windows first) before exporting.
	var pairs [mistralMaxLimits]mistralLimitHeaders
	n := 0
	for key, vals := range h {
		// The common prefix first: it rules out most of a response's
		// headers with one short comparison.
		if len(key) <= len(mistralPrefix) || key[:len(mistralPrefix)] != mistralPrefix {
			if key != "Retry-After" && LooksLikeRateLimit(key) {
				r.addUnread(key)
			}
			continue
		}
		if key == "X-Ratelimit-Tokens-Query-Cost" {
			continue // a count of the request, not a limit
		}
		rest := key[len(mistralPrefix):]
		limit := false
		switch {
		case strings.HasPrefix(rest, mistralLimit):
			rest, limit = rest[len(mistralLimit):], true
		case strings.HasPrefix(rest, mistralRemaining):
			rest = rest[len(mistralRemaining):]
		default:
			r.addUnread(key)
			continue
		}
		i := 0
		// Pair by the exact suffix: "Req-Minute" and "Req-60-Second" are
		// the same window but separate headers, not one limit's halves.
		for i < n && pairs[i].suffix != rest {
			i++
		}
		if i == n {
			// A new suffix; one already paired was read when it was new.
			resource, spec, ok := mistralResource(rest)
			if !ok {
				r.addUnread(key)
				continue
			}
			secs, win, ok := mistralWindow(spec)
			if !ok {
				r.addUnread(key)
				continue
			}
			if n == mistralMaxLimits {
				continue
			}
			// Field by field: a struct literal would be built aside and
			// copied in (see sfScanner.bareItem for why that is slow).
			p := &pairs[n]
			p.suffix, p.resource, p.window, p.seconds = rest, resource, win, secs
			n++
		}
		if limit {
			pairs[i].limitKey, pairs[i].limitVals = key, vals
		} else {
			pairs[i].remainingKey, pairs[i].remainingVal = key, vals
		}
	}
	// Insertion sort of indices: n is tiny, and moving the pairs themselves
	// would copy them.
	var order [mistralMaxLimits]uint8
	for i := 0; i < n; i++ {
		order[i] = uint8(i)
		for j := i; j > 0 && mistralBefore(&pairs[order[j]], &pairs[order[j-1]]); j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}

	for _, k := range order[:n] {
		p := &pairs[k]
		o := Observation{Resource: p.resource, Window: p.window}
		if v, ok := mistralCount(p.limitKey, p.limitVals, r); ok {
			o.Limit, o.HasLimit = v, true
		}
		if v, ok := mistralCount(p.remainingKey, p.remainingVal, r); ok {
			o.Remaining, o.HasRemaining = v, true
		}
		if o.HasLimit || o.HasRemaining {
			// -req-minute and -req-60-second would both be requests/1m.
			mergeObservation(r, from, o)
		}
	}

	if v, ok, dup := lookup(h, "Retry-After"); ok {
		c := newClock(in)
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
}

func mistralBefore(a, b *mistralLimitHeaders) bool {
	if a.resource != b.resource {
		return a.resource == Requests
	}
	if a.seconds != b.seconds {
		return a.seconds < b.seconds
	}
	return a.suffix < b.suffix // same window under two names: still a fixed order
}

// mistralResource splits "Req-Minute" / "Tokens-10-Second" (canonical
// header case) into resource and window spec.
func mistralResource(rest string) (resource, spec string, ok bool) {
	switch {
	case strings.HasPrefix(rest, "Req-"):
		return Requests, rest[len("Req-"):], true
	case strings.HasPrefix(rest, "Tokens-"):
		return Tokens, rest[len("Tokens-"):], true
	}
	return "", "", false
}

// mistralWindow reads "Minute", "Month", "10-Second", "60-Second"... into
// seconds and a window label.
func mistralWindow(spec string) (int64, string, bool) {
	count := int64(1)
	if i := strings.IndexByte(spec, '-'); i > 0 {
		n, err := strconv.ParseInt(spec[:i], 10, 64)
		if err != nil || n <= 0 || n > 1_000_000 {
			return 0, "", false
		}
		count, spec = n, spec[i+1:]
	}
	var unit int64
	switch spec {
	case "Second":
		unit = 1
	case "Minute":
		unit = 60
	case "Hour":
		unit = 3600
	case "Day":
		unit = 86400
	case "Week":
		unit = 7 * 86400
	case "Month":
		unit = 30 * 86400
	default:
		return 0, "", false
	}
	secs := count * unit
	if secs > maxWindowSeconds {
		return 0, "", false
	}
	return secs, secondsWindow(secs), true
}

func mistralCount(key string, vals []string, r *Result) (float64, bool) {
	if len(vals) == 0 {
		return 0, false
	}
	v := trimSpace(vals[0])
	for _, o := range vals[1:] {
		if trimSpace(o) != v {
			r.addError(lowerHeader(key), v, ErrDuplicated)
			return 0, false
		}
	}
	n, err := parseCount(v)
	if err != nil {
		r.addError(lowerHeader(key), v, err)
		return 0, false
	}
	return n, true
}
