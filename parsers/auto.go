package parsers

import (
	"net/http"
	"strings"
)

// Auto is the generic dialect, for providers outside the catalog (xAI,
// DeepInfra, Nebius, Novita, Hyperbolic, Lambda, Perplexity, Baseten, vLLM
// or TGI behind a gateway): the default of a configured provider that names
// no dialect and no catalog entry. It reads what such providers send:
//
//   - the OpenAI-style family, x-ratelimit-{limit,remaining,reset} with an
//     optional resource and an optional window, in any case:
//     x-ratelimit-limit-requests, x-ratelimit-remaining-tokens-minute,
//     x-ratelimit-reset-requests-1m, x-rate-limit-limit (Okta, Twitter);
//     prefix x-ratelimit- or x-rate-limit-; resource requests (also
//     request, req), tokens (token), input-tokens, output-tokens, or none
//     (a family without a resource counts requests, as every API that
//     sends one documents); window second/sec, minute/min, hour, day, week,
//     "<n>-<unit>" (10-second) or a duration (1s, 10s, 1m, 60s, 1h, 24h,
//     1d);
//   - the IETF RateLimit fields of every draft (parsers/ietf.go);
//   - Retry-After, and retry-after-ms, which wins when both are sent.
//
// Reset values are sniffed as the table dialects do (FormatAuto): a Go
// duration ("6m0s"), seconds from now ("51", "0.5"), epoch seconds or
// milliseconds, an RFC 3339 time, an HTTP-date.
//
// What it cannot read unambiguously it counts and does not export:
//
//   - a family that names no window ("x-ratelimit-limit-requests":
//     OpenAI's is per minute, Groq's per day) is exported only with the
//     window configured for its resource (the provider's `windows:`, see
//     NewAuto); without one each of its limit and remaining headers is a
//     parse error (ErrNoWindow). The one exception is a limit that states
//     its window in the older drafts' policy syntax ("10, 10;w=60"): the
//     window is the policy's whose quota is the limit;
//   - a value that is not a number, a reset in no known format, a header
//     repeated (or spelled two ways) with different values;
//   - a name in the family whose resource or window it cannot place
//     (x-ratelimit-limit-requests-month, x-ratelimit-limit-dynamic) is not
//     read: it is reported as unread (header drift) for someone to look at.
var Auto Dialect = NewAuto(nil)

func init() { Register(Auto) }

// NewAuto returns the generic dialect with windows for the families whose
// headers name none: resource (requests, tokens, input_tokens,
// output_tokens) → window (a Prometheus duration, "1m"). The IETF fields'
// policies without a window take the requests window. It panics on a
// window ParseWindow rejects: validate configuration first (ValidAutoWindow).
func NewAuto(windows map[string]string) Dialect {
	d := &autoDialect{windows: map[string]string{}}
	for res, w := range windows {
		d.windows[res] = canonicalWindow(w)
	}
	d.ietf = &ietfDialect{name: "auto", fallback: d.windows[Requests]}
	return d
}

// AutoWindowResources are the resources NewAuto takes a window for.
var AutoWindowResources = []string{Requests, Tokens, InputTokens, OutputTokens}

// ValidAutoWindow checks one entry of NewAuto's windows.
func ValidAutoWindow(resource, window string) error {
	ok := false
	for _, r := range AutoWindowResources {
		ok = ok || r == resource
	}
	if !ok {
		return ErrSyntax
	}
	d, err := ParseWindow(window)
	if err != nil || d <= 0 || window == WindowNone {
		return ErrSyntax
	}
	return nil
}

type autoDialect struct {
	windows map[string]string
	ietf    *ietfDialect
}

func (*autoDialect) Name() string       { return "auto" }
func (*autoDialect) WantsBody(int) bool { return false }
func (*autoDialect) readsFields()       {}

// Kinds of a header of the family.
const (
	autoLimit = iota
	autoRemaining
	autoReset
)

// autoMaxGroups bounds the (resource, window) pairs read from one
// response; a response with more is not a rate-limit report but garbage.
const autoMaxGroups = 16

// autoValue is one header of a group: the value and the name as sent (for
// errors), and whether the header came twice with different values.
type autoValue struct {
	v, name string
	ok, dup bool
}

// autoGroup is one (resource, window) pair being assembled; window "" when
// the names carry none.
type autoGroup struct {
	resource, window string
	vals             [3]autoValue
}

type autoScan struct {
	groups  [autoMaxGroups]autoGroup
	n       int
	ietf    bool // an IETF field was seen
	retry   autoValue
	retryMs autoValue
}

// add files one field; false when the dialect does not read its name.
func (s *autoScan) add(name, value string) bool {
	if name == "" {
		return false
	}
	switch name[0] | 0x20 {
	case 'r':
		switch {
		case sameName(name, "retry-after"):
			s.retry.set(name, value)
		case sameName(name, "retry-after-ms"):
			s.retryMs.set(name, value)
		case ietfNames.has(name):
			s.ietf = true
		default:
			return false
		}
		return true
	case 'x':
	default:
		return false
	}
	kind, res, win, ok := autoName(name)
	if !ok {
		return false
	}
	i := 0
	for i < s.n && (s.groups[i].resource != res || s.groups[i].window != win) {
		i++
	}
	if i == s.n {
		if s.n == autoMaxGroups {
			return true // read, and dropped: no response has this many
		}
		s.n++
		g := &s.groups[i]
		g.resource, g.window = res, win
	}
	s.groups[i].vals[kind].set(name, value)
	return true
}

// before orders groups: named windows first, then by resource (as
// Resources lists them) and window length.
func (s *autoScan) before(a, b uint8) bool {
	x, y := &s.groups[a], &s.groups[b]
	if (x.window == "") != (y.window == "") {
		return x.window != ""
	}
	if rx, ry := resourceRank(x.resource), resourceRank(y.resource); rx != ry {
		return rx < ry
	}
	wx, _ := ParseWindow(x.window)
	wy, _ := ParseWindow(y.window)
	return wx < wy
}

func resourceRank(r string) int {
	for i, x := range AutoWindowResources {
		if x == r {
			return i
		}
	}
	return len(AutoWindowResources)
}

func (v *autoValue) set(name, value string) {
	value = trimSpace(value)
	switch {
	case !v.ok:
		v.v, v.name, v.ok = value, name, true
	case value != v.v:
		v.dup = true
		// A map hands the spellings over in random order: report the one
		// that sorts first, so that a response is always reported alike.
		if lessFold(name, v.name) {
			v.v, v.name = value, name
		}
	}
}

// lessFold orders names ignoring ASCII case.
func lessFold(a, b string) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		x, y := a[i]|0x20, b[i]|0x20
		if x != y {
			return x < y
		}
	}
	return len(a) < len(b)
}

func (d *autoDialect) Parse(in *Input, r *Result) {
	var s autoScan
	h := headerOf(in)
	// One pass files the family's fields and finds the unread ones.
	if h.m != nil || h.fs == nil {
		for k, vs := range h.m {
			for _, v := range vs {
				if !s.add(k, v) && LooksLikeRateLimit(k) {
					r.addUnread(k)
				}
			}
		}
	} else {
		for i := range h.fs {
			if f := &h.fs[i]; !s.add(f.Name, f.Value) && LooksLikeRateLimit(f.Name) {
				r.addUnread(f.Name)
			}
		}
	}
	c := newClock(in)
	from := len(r.Observations)

	// Groups that name their window first, so that a windowless group
	// whose configured window is the same can be checked against them;
	// in a fixed order (a map's is random).
	var order [autoMaxGroups]uint8
	for i := 0; i < s.n; i++ {
		order[i] = uint8(i)
		for j := i; j > 0 && s.before(order[j], order[j-1]); j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	for _, i := range order[:s.n] {
		d.group(&s.groups[i], &c, r, from)
	}
	unknown := ""
	if s.ietf {
		st := ietfState{c: c, r: r, from: from}
		d.ietf.fields(&st, in.headerMap())
		unknown = st.unknown
	}

	switch {
	case s.retryMs.ok:
		d.retryAfterMillis(&s.retryMs, r)
		if !r.HasRetryAfter && s.retry.ok {
			d.retryAfter(&s.retry, &c, r)
		}
	case s.retry.ok:
		d.retryAfter(&s.retry, &c, r)
	}
	if in.Status == http.StatusTooManyRequests && r.ThrottledResource == "" {
		r.ThrottledResource = throttledByRemaining(r, from)
		if r.ThrottledResource == "" {
			r.ThrottledResource = unknown
		}
	}
}

// group exports one (resource, window) pair.
func (d *autoDialect) group(g *autoGroup, c *clock, r *Result, from int) {
	o := Observation{Resource: g.resource, Window: g.window}
	lim, rem, rst := &g.vals[autoLimit], &g.vals[autoRemaining], &g.vals[autoReset]
	if lim.ok {
		switch {
		case lim.dup:
			r.addError(lowerName(lim.name), lim.v, ErrDuplicated)
		default:
			n, win, err := autoLimitValue(lim.v)
			if err != nil {
				r.addError(lowerName(lim.name), lim.v, err)
			} else {
				o.Limit, o.HasLimit = n, true
				if o.Window == "" {
					o.Window = win
				}
			}
		}
	}
	if rem.ok {
		if rem.dup {
			r.addError(lowerName(rem.name), rem.v, ErrDuplicated)
		} else if n, err := parseCount(rem.v); err != nil {
			r.addError(lowerName(rem.name), rem.v, err)
		} else {
			o.Remaining, o.HasRemaining = n, true
		}
	}
	if !o.HasLimit && !o.HasRemaining {
		return
	}
	if o.Window == "" {
		o.Window = d.windows[o.Resource]
	}
	if o.Window == "" {
		// No series to put it in: counted, never guessed.
		if o.HasLimit {
			r.addError(lowerName(lim.name), lim.v, ErrNoWindow)
		}
		if o.HasRemaining {
			r.addError(lowerName(rem.name), rem.v, ErrNoWindow)
		}
		return
	}
	if rst.ok {
		if rst.dup {
			r.addError(lowerName(rst.name), rst.v, ErrDuplicated)
		} else if t, err := parseReset(rst.v, FormatAuto, c); err != nil {
			r.addError(lowerName(rst.name), rst.v, err)
		} else {
			o.Reset = t
		}
	}
	clampRemaining(&o)
	for i := from; i < len(r.Observations); i++ {
		e := &r.Observations[i]
		if e.Resource != o.Resource || e.Window != o.Window {
			continue
		}
		// A windowless family whose configured window another family
		// names: the same limit twice, or two limits that disagree.
		if e.HasLimit != o.HasLimit || e.Limit != o.Limit || e.HasRemaining != o.HasRemaining || e.Remaining != o.Remaining {
			name := lim.name
			if !lim.ok {
				name = rem.name
			}
			r.addError(lowerName(name), "", ErrDuplicated)
		}
		return
	}
	r.Observations = append(r.Observations, o)
}

// autoLimitValue reads a limit: a count, or the older drafts' policy
// syntax ("10, 10;w=60"), whose first member is the limit and whose policy
// with the same quota gives the window ("" when none does).
func autoLimitValue(v string) (float64, string, error) {
	if n, err := parseCount(v); err == nil || strings.IndexByte(v, ';') < 0 {
		return n, "", err
	}
	var buf [ietfMaxPolicies]sfMember
	members, err := sfParseList([]string{v}, buf[:0])
	if err != nil || len(members) == 0 {
		return 0, "", ErrBadField
	}
	limit, err := sfCount(members[0].Value)
	if err != nil {
		return 0, "", err
	}
	for i := range members {
		var w sfValue
		members[i].Params.get3("", "", "w", nil, nil, &w)
		if w.Kind == sfNone {
			continue
		}
		q, err := sfCount(members[i].Value)
		if err != nil || q != limit {
			continue
		}
		win, err := sfWindow(w)
		if err != nil {
			return 0, "", err
		}
		return limit, win, nil
	}
	return limit, "", nil
}

func (d *autoDialect) retryAfterMillis(v *autoValue, r *Result) {
	if v.dup {
		r.addError("retry-after-ms", v.v, ErrDuplicated)
		return
	}
	ms, err := parseSeconds(v.v)
	if err == nil {
		var dur = ms / 1000
		dd, err2 := secondsToDuration(dur)
		if err2 == nil {
			r.RetryAfter, r.HasRetryAfter = dd, true
			return
		}
		err = err2
	}
	r.addError("retry-after-ms", v.v, err)
}

func (d *autoDialect) retryAfter(v *autoValue, c *clock, r *Result) {
	if v.dup {
		r.addError("retry-after", v.v, ErrDuplicated)
		return
	}
	dur, err := parseRetryAfter(v.v, c)
	if err != nil {
		r.addError("retry-after", v.v, err)
		return
	}
	r.RetryAfter, r.HasRetryAfter = dur, true
}

// autoName places a header of the x-ratelimit family: its kind, resource
// and window ("" when the name carries none). ok is false for any other
// name, and for a name of the family that cannot be placed.
func autoName(name string) (kind int, resource, window string, ok bool) {
	var rest string
	switch {
	case hasPrefixFold(name, "x-ratelimit-"):
		rest = name[len("x-ratelimit-"):]
	case hasPrefixFold(name, "x-rate-limit-"):
		rest = name[len("x-rate-limit-"):]
	default:
		return 0, "", "", false
	}
	switch {
	case autoWord(rest, "limit"):
		kind, rest = autoLimit, rest[len("limit"):]
	case autoWord(rest, "remaining"):
		kind, rest = autoRemaining, rest[len("remaining"):]
	case autoWord(rest, "reset"):
		kind, rest = autoReset, rest[len("reset"):]
	default:
		return 0, "", "", false
	}
	resource = Requests
	if rest == "" {
		return kind, resource, "", true
	}
	rest = rest[1:] // the '-' autoWord saw
	for _, t := range autoResources {
		if autoWord(rest, t.word) {
			resource, rest = t.resource, rest[len(t.word):]
			if rest == "" {
				return kind, resource, "", true
			}
			rest = rest[1:]
			break
		}
	}
	window, ok = autoWindow(rest)
	return kind, resource, window, ok
}

var autoResources = []struct{ word, resource string }{
	// Longer words first: "input-tokens" before nothing else matches it,
	// "requests" before "request".
	{"input-tokens", InputTokens}, {"output-tokens", OutputTokens},
	{"requests", Requests}, {"request", Requests}, {"req", Requests},
	{"tokens", Tokens}, {"token", Tokens},
}

// autoWord reports whether s starts with word (lower case) followed by the
// end or a '-'.
func autoWord(s, word string) bool {
	return hasPrefixFold(s, word) && (len(s) == len(word) || s[len(word)] == '-')
}

// autoWindow reads a window suffix: a unit word, "<n>-<unit word>", or a
// duration ("10s", "1m", "60s", "24h").
func autoWindow(s string) (string, bool) {
	n := int64(1)
	if i := strings.IndexByte(s, '-'); i > 0 {
		c, ok := autoDigits(s[:i])
		if !ok {
			return "", false
		}
		n, s = c, s[i+1:]
	}
	unit := int64(0)
	for _, u := range autoUnits {
		if equalFold(s, u.word) {
			unit = u.seconds
			break
		}
	}
	if unit == 0 {
		if n != 1 {
			return "", false // "10-1m"
		}
		// A duration: digits and one unit.
		j := 0
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		c, ok := autoDigits(s[:j])
		if !ok || j != len(s)-1 {
			return "", false
		}
		switch s[j] | 0x20 {
		case 's':
			unit = 1
		case 'm':
			unit = 60
		case 'h':
			unit = 3600
		case 'd':
			unit = 86400
		default:
			return "", false
		}
		n = c
	}
	if n <= 0 || n > maxWindowSeconds/unit {
		return "", false
	}
	return secondsWindow(n * unit), true
}

var autoUnits = []struct {
	word    string
	seconds int64
}{
	{"second", 1}, {"seconds", 1}, {"sec", 1},
	{"minute", 60}, {"minutes", 60}, {"min", 60},
	{"hour", 3600}, {"hours", 3600},
	{"day", 86400}, {"days", 86400},
	{"week", 7 * 86400}, {"weeks", 7 * 86400},
}

func autoDigits(s string) (int64, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, true
}

// lowerName is a header name as errors are labelled, lower case, in a
// string of its own (the name may share the caller's buffer).
func lowerName(name string) string {
	b := make([]byte, len(name))
	for i := 0; i < len(name); i++ {
		b[i] = lowerByte(name[i])
	}
	return string(b)
}
