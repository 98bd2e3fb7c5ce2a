package fakeprovider

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/headroomhq/headroom/catalog"
	"github.com/headroomhq/headroom/parsers"
)

// windowKind is how a dialect's provider counts a window.
type windowKind uint8

const (
	// fixedWindow counts in windows aligned to the UTC minute/hour/day.
	fixedWindow windowKind = iota
	// slidingWindow keeps a log of entries over the last window.
	slidingWindow
	// tokenBucket refills continuously at limit per window.
	tokenBucket
	// anchoredWindow is a fixed window that starts with the first request
	// after the previous one ended (GitHub's hour).
	anchoredWindow
)

func (k windowKind) String() string {
	switch k {
	case slidingWindow:
		return "sliding"
	case tokenBucket:
		return "bucket"
	case anchoredWindow:
		return "anchored"
	}
	return "fixed"
}

// resetFormat is how a reset value is written.
type resetFormat uint8

const (
	// durationSeconds is a Go duration rounded up to whole seconds: "51s", "1m0s".
	durationSeconds resetFormat = iota
	// durationMillis is a Go duration rounded up to milliseconds: "12ms", "8.64s", "6m0s".
	durationMillis
	// epochSeconds is the Unix time in whole seconds (rounded up).
	epochSeconds
	// epochMillis is the Unix time in milliseconds (rounded up).
	epochMillis
	// secondsFromNow is whole seconds from now (rounded up).
	secondsFromNow
	// secondsFromNowFrac is seconds from now with up to three decimals: "7.66".
	secondsFromNowFrac
	// rfc3339 is an absolute RFC 3339 time in UTC, whole seconds rounded up.
	rfc3339
)

// limitHeader names the headers a provider sends for one (resource, window).
// Names are written exactly as given (casing included). Empty names are not
// sent.
type limitHeader struct {
	resource, window        string
	limit, remaining, reset string
	format                  resetFormat
	// round rounds remaining to the nearest multiple (Anthropic reports
	// token counts to the thousand); 0 sends it exact (floored).
	round float64
}

// throttle describes the limit a rejected request hit, for 429 bodies.
type throttle struct {
	Model       string
	Resource    string
	Window      string
	Limit       float64
	Used        float64 // what the window already holds (active requests for concurrency)
	Requested   float64 // the request's cost
	RetryAfter  time.Duration
	Concurrency bool
	// Reset is when the exhausted limit's capacity returns (zero for
	// concurrency).
	Reset time.Time
	// APIVersion is the request's api-version query parameter (Azure).
	APIVersion string
	// Path is the request's path (Gemini answers its OpenAI-compatible
	// route in another shape).
	Path string
}

// dialect is one provider family's behaviour: a table of headers over the
// common accounting state, plus its error bodies.
type dialect struct {
	name string
	kind windowKind
	// headers lists the rate-limit headers in the order they are written.
	headers []limitHeader
	// retryAfter is the Retry-After header name as the provider writes it;
	// retryAfterMillis an additional millisecond variant (Azure).
	retryAfter       string
	retryAfterMillis string
	// defaults are the limits of a model the catalog does not know, for a
	// provider without key-level limits.
	defaults []catalog.Limit
	// modelDefaults, when set, replaces defaults with limits that depend on
	// the model.
	modelDefaults func(model string) []catalog.Limit
	// rateLimited renders the body of a 429; nil sends no body.
	rateLimited func(t *throttle) []byte
	// concurrencyLimited renders the body of a concurrency 429; nil uses
	// rateLimited.
	concurrencyLimited func(t *throttle) []byte
	// errorBody renders 4xx bodies other than 429 (kind is e.g.
	// "authentication_error"); nil uses openAIError.
	errorBody func(status int, kind, message string) []byte
	// extra writes headers the table cannot express (e.g. structured
	// fields); called after the table headers.
	extra func(h http.Header, e *emission)
	// only, when set, keeps just the limits it accepts (from the catalog,
	// the defaults and the overrides): the others belong to endpoints the
	// fake does not serve.
	only func(resource, window string) bool
	// errorContentType is the Content-Type of error bodies (default
	// application/json).
	errorContentType string
	// on429 writes headers sent only on 429s, after the table headers.
	on429 func(h http.Header, t *throttle, st []LimitState, now time.Time)
	// parser is the Headroom dialect that reads this one's headers when it
	// is not the one of the same name (the generic spellings: auto).
	parser parsers.Dialect
	// versionHeader is a request header the provider refuses requests
	// without on its own endpoints (Anthropic's anthropic-version): 400,
	// nothing charged. Its OpenAI-compatible chat endpoint serves OpenAI's
	// clients, which do not send it.
	versionHeader string
}

var dialects = map[string]*dialect{}

func register(d *dialect) *dialect {
	if _, dup := dialects[d.name]; dup {
		panic("fakeprovider: dialect registered twice: " + d.name)
	}
	dialects[d.name] = d
	return d
}

// Parser returns the Headroom dialect that reads what the fake's dialect
// name sends: the one of the same name, or auto (with the windows the
// spelling needs) for the generic spellings.
func Parser(name string) (parsers.Dialect, bool) {
	if d, ok := dialects[name]; ok && d.parser != nil {
		return d.parser, true
	}
	return parsers.Lookup(name)
}

// Dialects lists the dialects the fake can speak, sorted.
func Dialects() []string {
	out := make([]string, 0, len(dialects))
	for n := range dialects {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// DefaultLimits returns the limits a dialect gives a model that its catalog
// provider does not list (when the provider has no key-level limits).
// Some dialects' defaults depend on the model (OpenRouter limits only its
// ":free" variants).
func DefaultLimits(dialectName, model string) []catalog.Limit {
	d, ok := dialects[dialectName]
	if !ok {
		return nil
	}
	return append([]catalog.Limit(nil), d.limitsFor(model)...)
}

// thousands writes n with comma separators: 40000 → "40,000".
func thousands(n float64) string {
	s := strconv.FormatFloat(math.Ceil(n), 'f', -1, 64)
	var b []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, s[i])
	}
	return string(b)
}

// emission is what extra hooks see.
type emission struct {
	states []LimitState
	now    time.Time
	cost   cost // the request's estimated cost
	status int
}

// writeLimitHeaders writes the dialect's rate-limit headers for st.
func (d *dialect) writeLimitHeaders(h http.Header, st []LimitState, now time.Time, c cost, status int) {
	for _, lh := range d.headers {
		s, ok := pickState(st, lh.resource, lh.window)
		if !ok {
			continue
		}
		if lh.limit != "" {
			h[lh.limit] = []string{formatCount(s.Limit)}
		}
		if lh.remaining != "" {
			h[lh.remaining] = []string{formatCount(roundRemaining(s.Remaining, s.Limit, lh.round))}
		}
		if lh.reset != "" {
			h[lh.reset] = []string{formatReset(lh.format, s.Reset, now)}
		}
	}
	if d.extra != nil {
		d.extra(h, &emission{states: st, now: now, cost: c, status: status})
	}
}

// roundRemaining is remaining as a header reports it: whole units, or to the
// nearest multiple of round, never above the limit.
func roundRemaining(remaining, limit, round float64) float64 {
	if round > 0 {
		return math.Min(math.Round(remaining/round)*round, limit)
	}
	return math.Floor(remaining)
}

// limitsFor returns the limits a dialect gives a model the catalog does not
// list.
func (d *dialect) limitsFor(model string) []catalog.Limit {
	if d.modelDefaults != nil {
		return d.modelDefaults(model)
	}
	return d.defaults
}

func (d *dialect) writeRetryAfter(h http.Header, wait time.Duration) {
	if d.retryAfter != "" {
		h[d.retryAfter] = []string{strconv.FormatInt(retryAfterSeconds(wait), 10)}
	}
	if d.retryAfterMillis != "" {
		ms := max(ceilDiv(int64(wait), int64(time.Millisecond)), 1)
		h[d.retryAfterMillis] = []string{strconv.FormatInt(ms, 10)}
	}
}

func (d *dialect) renderError(status int, kind, message string) []byte {
	if d.errorBody != nil {
		return d.errorBody(status, kind, message)
	}
	return openAIError(kind, message, nil)
}

// pickState returns the state for (resource, window); when a model-level and
// a key-level limit share it, the one with less room is what the provider
// would report.
func pickState(st []LimitState, resource, window string) (LimitState, bool) {
	var best LimitState
	found := false
	for _, s := range st {
		if s.Resource != resource || s.Window != window {
			continue
		}
		if !found || s.Remaining < best.Remaining {
			best, found = s, true
		}
	}
	return best, found
}

// retryAfterSeconds is a wait as whole seconds, rounded up, at least 1.
func retryAfterSeconds(d time.Duration) int64 {
	return max(ceilDiv(int64(d), int64(time.Second)), 1)
}

func ceilDiv(a, b int64) int64 {
	if a <= 0 {
		return 0
	}
	return (a + b - 1) / b
}

func ceilDur(d, unit time.Duration) time.Duration {
	return time.Duration(ceilDiv(int64(d), int64(unit))) * unit
}

func formatCount(f float64) string {
	if f < 0 {
		f = 0
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

func formatReset(f resetFormat, reset, now time.Time) string {
	in := reset.Sub(now)
	if in < 0 {
		in = 0
	}
	switch f {
	case durationSeconds:
		return ceilDur(in, time.Second).String()
	case durationMillis:
		return ceilDur(in, time.Millisecond).String()
	case epochSeconds:
		return strconv.FormatInt(ceilUnix(reset, time.Second), 10)
	case epochMillis:
		return strconv.FormatInt(ceilUnix(reset, time.Millisecond), 10)
	case secondsFromNow:
		return strconv.FormatInt(ceilDiv(int64(in), int64(time.Second)), 10)
	case secondsFromNowFrac:
		ms := ceilDiv(int64(in), int64(time.Millisecond))
		return strconv.FormatFloat(float64(ms)/1000, 'f', -1, 64)
	case rfc3339:
		return time.Unix(ceilUnix(reset, time.Second), 0).UTC().Format(time.RFC3339)
	}
	return in.String()
}

// ceilUnix is t in units since the epoch, rounded up.
func ceilUnix(t time.Time, unit time.Duration) int64 {
	ns := t.UnixNano()
	q := ns / int64(unit)
	if ns%int64(unit) > 0 {
		q++
	}
	return q
}

// mustJSON marshals v, which is always marshalable here.
func mustJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// openAIError is the {"error":{"message","type","param","code"}} body used
// by OpenAI and the providers that copied it.
func openAIError(kind, message string, code any) []byte {
	return mustJSON(struct {
		Error struct {
			Message string `json:"message"`
			Type    string `json:"type"`
			Param   any    `json:"param"`
			Code    any    `json:"code"`
		} `json:"error"`
	}{Error: struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Param   any    `json:"param"`
		Code    any    `json:"code"`
	}{Message: message, Type: kind, Code: code}})
}

// windowPhrase is "minute", "hour", "day" or the window as written.
func windowPhrase(w string) string {
	switch w {
	case "1s":
		return "second"
	case "1m":
		return "minute"
	case "1h":
		return "hour"
	case "1d":
		return "day"
	}
	return w
}
