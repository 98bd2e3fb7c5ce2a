package tail

import (
	"math"
	"strconv"
	"time"

	"github.com/headroomhq/headroom/parsers"
)

// The headroom format: Headroom's own access log (HEADROOM_ACCESS_LOG, see
// accesslog.go), one line per proxied call, so one Headroom can feed
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

// LogLine is one call in the headroom format.
type LogLine struct {
	// Time is when the response headers arrived, or when the call ended if
	// there was no response.
	Time          time.Time
	Provider      string
	Model         string
	Key           string
	Method        string
	Path          string
	Upstream      string
	Status        int
	Duration      time.Duration
	InputTokens   int64
	OutputTokens  int64
	Streamed      bool
	UpstreamError string
	Observations  []parsers.Observation
	RetryAfter    time.Duration
	HasRetryAfter bool
	Throttled     string
}

// AppendLine appends l as one JSON line (with its newline) to b.
func AppendLine(b []byte, l *LogLine) []byte {
	b = append(b, `{"time":"`...)
	b = l.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	b = appendStr(b, "provider", l.Provider)
	b = appendStr(b, "model", l.Model)
	b = appendStr(b, "key", l.Key)
	b = appendStr(b, "method", l.Method)
	b = appendStr(b, "path", l.Path)
	b = appendStr(b, "upstream", l.Upstream)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(l.Status), 10)
	b = append(b, `,"duration_seconds":`...)
	b = appendSeconds(b, l.Duration)
	if l.InputTokens > 0 {
		b = append(b, `,"input_tokens":`...)
		b = strconv.AppendInt(b, l.InputTokens, 10)
	}
	if l.OutputTokens > 0 {
		b = append(b, `,"output_tokens":`...)
		b = strconv.AppendInt(b, l.OutputTokens, 10)
	}
	b = append(b, `,"streamed":`...)
	b = strconv.AppendBool(b, l.Streamed)
	if l.UpstreamError != "" {
		b = appendStr(b, "upstream_error", l.UpstreamError)
	}
	if len(l.Observations) > 0 {
		b = append(b, `,"ratelimit":[`...)
		for i, o := range l.Observations {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"resource":`...)
			b = appendJSONString(b, o.Resource)
			b = appendStr(b, "window", o.Window)
			if o.HasLimit {
				b = append(b, `,"limit":`...)
				b = strconv.AppendFloat(b, o.Limit, 'f', -1, 64)
			}
			if o.HasRemaining {
				b = append(b, `,"remaining":`...)
				b = strconv.AppendFloat(b, o.Remaining, 'f', -1, 64)
			}
			if !o.Reset.IsZero() {
				b = append(b, `,"reset":`...)
				b = appendUnix(b, o.Reset)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if l.HasRetryAfter {
		b = append(b, `,"retry_after_seconds":`...)
		b = appendSeconds(b, l.RetryAfter)
	}
	if l.Throttled != "" {
		b = appendStr(b, "throttled", l.Throttled)
	}
	return append(b, '}', '\n')
}

// appendStr appends ,"name":"value" with JSON escaping.
func appendStr(b []byte, name, v string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendJSONString(b, v)
}

// appendJSONString appends v quoted and escaped for JSON. Bytes ≥ 0x80 pass
// through unchanged (UTF-8, as nginx's escape=json does).
func appendJSONString(b []byte, v string) []byte {
	b = append(b, '"')
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, `\u00`...)
			b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

func appendSeconds(b []byte, d time.Duration) []byte {
	return strconv.AppendFloat(b, d.Seconds(), 'f', -1, 64)
}

// appendUnix writes t as Unix seconds with an exact decimal fraction.
func appendUnix(b []byte, t time.Time) []byte {
	sec, nsec := t.Unix(), int64(t.Nanosecond())
	if sec < 0 {
		return append(b, '0')
	}
	b = strconv.AppendInt(b, sec, 10)
	if nsec == 0 {
		return b
	}
	var frac [10]byte
	frac[0] = '.'
	for i := 9; i >= 1; i-- {
		frac[i] = byte('0' + nsec%10)
		nsec /= 10
	}
	n := 10
	for n > 1 && frac[n-1] == '0' {
		n--
	}
	return append(b, frac[:n]...)
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
