package tail

import (
	"math"
	"time"

	"github.com/headroomhq/headroom/parsers"
)

// The headroom format: Headroom's own access log (HEADROOM_ACCESS_LOG, written
// by package accesslog), one line per proxied call, so one Headroom can feed
// another. Rate limits are logged already normalised — the writer's
// dialect has parsed them — so the reader needs no dialect and no raw
// headers, and credentials never reach the log:
//
//	{"time":"2024-11-22T10:00:00.398Z","provider":"heroku-us",
//	 "model":"claude-4-sonnet","key":"k-3f9a1c0b27de","method":"POST",
//	 "path":"/v1/chat/completions","upstream":"us.inference.heroku.com",
//	 "status":200,"duration_seconds":0.412,"input_tokens":12,
//	 "output_tokens":16,"streamed":false,
//	 "ratelimit":[{"resource":"requests","window":"1m","limit":150,
//	               "remaining":147,"reset":1732269651.398}],
//	 "retry_after_seconds":12,"throttled":"requests"}
//
// time is when the response headers arrived (when the call ended for calls
// the upstream never answered); reset is Unix seconds.
var headroomSpec = schemaSpec{
	name:         "headroom",
	time:         "time",
	timeIs:       "received",
	status:       "status",
	duration:     "duration_seconds",
	model:        "model",
	key:          "key",
	inputTokens:  "input_tokens",
	outputTokens: "output_tokens",
	normalized:   true,
	rateLimit:    "ratelimit",
	retryAfter:   "retry_after_seconds",
	throttled:    "throttled",
	skip:         []string{"provider", "method", "path", "upstream", "streamed", "upstream_error", "headers"},
}

var resources = map[string]string{
	parsers.Requests: parsers.Requests, parsers.Tokens: parsers.Tokens,
	parsers.InputTokens: parsers.InputTokens, parsers.OutputTokens: parsers.OutputTokens,
	parsers.Images: parsers.Images, parsers.Concurrency: parsers.Concurrency,
}

// applyNormalized reads the headroom format's parsed fields into res. A
// malformed entry becomes a parse error (headroom_parse_errors_total with
// header="ratelimit"), like any unparseable rate-limit value.
func (s *Schema) applyNormalized(r role, v jval, rec *record, res *parsers.Result, in *interner) {
	rec.normalizedSeen = true
	switch r {
	case roleRetryAfter:
		d, ok := parseDuration(v.raw, time.Second)
		if v.kind != jNumber || !ok {
			res.Errors = append(res.Errors, parsers.FieldError{Header: "retry_after_seconds", Value: in.intern(clip(v.raw)), Err: parsers.ErrSyntax})
			return
		}
		res.RetryAfter, res.HasRetryAfter = d, true
	case roleThrottled:
		str, _ := v.str()
		if c, ok := resources[str]; ok {
			res.ThrottledResource = c
		}
	case roleRateLimit:
		// walk hands arrays to rateLimits: what comes here is malformed.
		res.Errors = append(res.Errors, parsers.FieldError{Header: "ratelimit", Value: "not an array", Err: parsers.ErrBadBody})
	}
}

// rateLimits reads the ratelimit array (the current member of it) in one
// pass: each entry is checked as JSON as it is read, not first as part of
// the array's value and then again as an entry. It returns false on a
// syntax error.
func (s *Schema) rateLimits(it *objIter, arr *arrIter, rec *record, res *parsers.Result, in *interner) bool {
	rec.normalizedSeen = true
	for {
		i, ok := arr.start()
		if !ok {
			break
		}
		var o parsers.Observation
		var bad string
		if arr.s[i] == '{' && arr.depth < maxDepth {
			e := objIter{s: arr.s, i: i + 1, depth: arr.depth + 1}
			o, bad = observation(&e, in)
			for !e.done {
				e.next()
			}
			if e.bad {
				arr.bad = true
				break
			}
			arr.end(e.i)
		} else {
			_, j, ok := parseValue(arr.s, i, arr.depth)
			if !ok {
				arr.bad = true
				break
			}
			arr.end(j)
			bad = "entry is not an object"
		}
		if bad != "" {
			res.Errors = append(res.Errors, parsers.FieldError{Header: "ratelimit", Value: bad, Err: parsers.ErrBadBody})
			continue
		}
		res.Observations = append(res.Observations, o)
	}
	if arr.bad {
		it.done, it.bad = true, true
		return false
	}
	it.i = arr.i
	return true
}

var entryKeys = [...]string{"resource", "window", "limit", "remaining", "reset"}

// observation reads one ratelimit entry; it stops at the first problem,
// leaving the rest of the entry to the caller.
func observation(it *objIter, in *interner) (parsers.Observation, string) {
	var o parsers.Observation
	expect := 0
	for {
		// AppendLine writes an entry's members in entryKeys order: the
		// next one is looked for in place first.
		var k string
		for ; expect < len(entryKeys); expect++ {
			if it.member(entryKeys[expect]) {
				k = entryKeys[expect]
				expect++
				break
			}
		}
		if k == "" {
			var ok bool
			if k, ok = it.nextKey(); !ok {
				break
			}
		}
		v, ok := it.value()
		if !ok {
			break
		}
		switch k {
		case "resource":
			str, _ := v.str()
			c, ok := resources[str]
			if !ok {
				return o, "unknown resource " + clip(str)
			}
			o.Resource = c
		case "window":
			str, _ := v.str()
			if str != parsers.WindowNone {
				if d, err := parsers.ParseWindow(str); err != nil || d <= 0 {
					return o, "bad window " + clip(str)
				}
			}
			o.Window = in.intern(str)
		case "limit", "remaining":
			if v.kind != jNumber {
				return o, k + " is not a number"
			}
			f, ok := parseFloat(v.raw)
			if !ok || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
				return o, "bad " + k + " " + clip(v.raw)
			}
			if k == "limit" {
				o.Limit, o.HasLimit = f, true
			} else {
				o.Remaining, o.HasRemaining = f, true
			}
		case "reset":
			if v.kind != jNumber {
				return o, "reset is not a number"
			}
			t, err := parseEpoch(v.raw)
			if err != nil {
				return o, "bad reset " + clip(v.raw)
			}
			o.Reset = t
		}
	}
	if it.bad {
		return o, "malformed entry"
	}
	if o.Resource == "" || o.Window == "" {
		return o, "entry without resource or window"
	}
	if (o.Resource == parsers.Concurrency) != (o.Window == parsers.WindowNone) {
		return o, "concurrency limits, and only they, have window none"
	}
	if !o.HasLimit && !o.HasRemaining {
		return o, "entry without limit or remaining"
	}
	return o, ""
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
