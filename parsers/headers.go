package parsers

import (
	"net/http"
	"strings"
	"time"
)

// LimitHeaders names the headers that describe one limit (a resource over a
// window). Empty names are headers the provider does not send.
type LimitHeaders struct {
	Resource    string
	Window      string
	Limit       string
	Remaining   string
	Reset       string
	ResetFormat ResetFormat
	// ResetAlt is another name of the reset header, read when Reset is
	// absent (Azure spells its 429's token reset x-rate-limit-reset-tokens).
	ResetAlt string
	// Utilization names a header carrying the used share of the limit (a
	// fraction, 0 to 1) instead of counts: the observation gets limit 1 and
	// remaining 1 − the share (0 once the share passes 1).
	Utilization string
	// PerKey: the limit applies to the key whatever the model
	// (Observation.PerKey).
	PerKey bool
	// Conditional: the provider sends these headers only for some requests
	// (a service tier, a subscription plan), so a response without them is
	// not a family that stopped arriving (Result.Families).
	Conditional bool
}

// HeaderDialect is a dialect described by tables: most providers send one
// triple of limit/remaining/reset headers per (resource, window), so a new
// provider is usually a table, not code. Hooks cover the rest.
type HeaderDialect struct {
	DialectName string
	Limits      []LimitHeaders

	// RetryAfter headers, read on every response (some providers send them
	// on 503 too). RetryAfterMillis is Azure's millisecond variant and wins
	// when both are present, being more precise.
	RetryAfter       string
	RetryAfterMillis string

	// Placeholder reports values the provider documents as "no data" (Azure
	// sends -1). They are skipped, neither exported nor counted as errors.
	Placeholder func(header, value string) bool

	// Body parses a response body when BodyStatus says it carries limits.
	// The clock is passed by value: a pointer would escape through the
	// call and put it on the heap.
	Body       func(in *Input, c clock, r *Result)
	BodyStatus func(status int) bool

	// Throttled names the resource of a 429 when the dialect can tell
	// (typically: the observation with zero remaining). Defaults to
	// throttledByRemaining.
	Throttled func(in *Input, r *Result, from int) string

	// Known are further rate-limit-looking headers the dialect knows and
	// leaves out on purpose (lower case; a trailing '*' makes a prefix),
	// so that they are not reported as unread (Result.UnreadHeader).
	Known []string

	// canonical keys and lower-case names, filled by compile.
	compiled             []compiledLimit
	retryKey, retryName  string
	retryMs, retryMsName string
	retryIdx, retryMsIdx int8
	names                fieldNames // every name above, for a field list
	known                knownNames
	families             []string // Result.FamilyNames
}

type compiledLimit struct {
	LimitHeaders
	limitKey, remainingKey, resetKey    string
	limitName, remainingName, resetName string
	limitIdx, remainingIdx, resetIdx    int8 // in names (fieldNames.index)
	altKey, altName, utilKey, utilName  string
	altIdx, utilIdx                     int8
	family                              int8 // bit in Result.Families; -1: none
}

// compile canonicalises header names once so Parse can index the header map
// directly instead of canonicalising on every call.
func (d *HeaderDialect) compile() *HeaderDialect {
	d.compiled = make([]compiledLimit, len(d.Limits))
	d.families = nil
	for i, l := range d.Limits {
		d.compiled[i] = compiledLimit{
			LimitHeaders:  l,
			limitKey:      canon(l.Limit),
			remainingKey:  canon(l.Remaining),
			resetKey:      canon(l.Reset),
			limitName:     strings.ToLower(l.Limit),
			remainingName: strings.ToLower(l.Remaining),
			resetName:     strings.ToLower(l.Reset),
			altKey:        canon(l.ResetAlt),
			altName:       strings.ToLower(l.ResetAlt),
			utilKey:       canon(l.Utilization),
			utilName:      strings.ToLower(l.Utilization),
			family:        -1,
		}
		if !l.Conditional && len(d.families) < 64 {
			d.compiled[i].family = int8(len(d.families))
			d.families = append(d.families, familyName(l.Limit, l.Remaining, l.Reset, l.Utilization))
		}
	}
	d.retryKey, d.retryName = canon(d.RetryAfter), strings.ToLower(d.RetryAfter)
	d.retryMs, d.retryMsName = canon(d.RetryAfterMillis), strings.ToLower(d.RetryAfterMillis)
	d.names = fieldNames{}
	for i := range d.compiled {
		l := &d.compiled[i]
		l.limitIdx, l.remainingIdx, l.resetIdx = d.names.index(l.limitName), d.names.index(l.remainingName), d.names.index(l.resetName)
		l.altIdx, l.utilIdx = d.names.index(l.altName), d.names.index(l.utilName)
	}
	d.retryIdx, d.retryMsIdx = d.names.index(d.retryName), d.names.index(d.retryMsName)
	d.known = lowerAll(d.Known...)
	return d
}

// readsName reports whether the dialect reads (or knowingly leaves out)
// the header name, in any case.
func (d *HeaderDialect) readsName(name string) bool {
	if len(name) < len(d.names.byLen) {
		for _, j := range d.names.byLen[len(name)] {
			if sameName(name, d.names.names[j]) {
				return true
			}
		}
	}
	if len(d.names.names) == maxNames {
		// Names past maxNames have no number: look among all of them.
		for i := range d.compiled {
			l := &d.compiled[i]
			for _, n := range [...]string{l.limitName, l.remainingName, l.resetName, l.altName, l.utilName} {
				if n != "" && sameName(name, n) {
					return true
				}
			}
		}
	}
	return d.known.has(name)
}

func canon(s string) string {
	if s == "" {
		return ""
	}
	return http.CanonicalHeaderKey(s)
}

// NewHeaderDialect compiles and registers a table dialect.
func registerHeaderDialect(d *HeaderDialect) *HeaderDialect {
	d.compile()
	Register(d)
	return d
}

func (d *HeaderDialect) Name() string { return d.DialectName }

func (*HeaderDialect) readsFields() {}

func (d *HeaderDialect) WantsBody(status int) bool {
	return d.Body != nil && d.BodyStatus != nil && d.BodyStatus(status)
}

func (d *HeaderDialect) Parse(in *Input, r *Result) {
	var sl slots
	h := headerOf(in).sorted(&d.names, &sl)
	d.parse(in, &h, r)
}

func (d *HeaderDialect) parse(in *Input, h *header, r *Result) {
	c := newClock(in)
	last := resetMemo{obs: -1}
	from := len(r.Observations)
	for i := range d.compiled {
		d.parseLimit(h, &d.compiled[i], &c, &last, r)
	}
	d.parseRetryAfter(h, &c, r)
	if d.Body != nil && len(in.Body) > 0 && d.WantsBody(in.Status) {
		d.Body(in, c, r)
	}
	if in.Status == http.StatusTooManyRequests && r.ThrottledResource == "" {
		if d.Throttled != nil {
			r.ThrottledResource = d.Throttled(in, r, from)
		} else {
			r.ThrottledResource = throttledByRemaining(r, from)
		}
	}
	d.noteDrift(h, r)
}

// noteDrift reports the families that arrived and the headers not read.
func (d *HeaderDialect) noteDrift(h *header, r *Result) {
	if r.Families != 0 {
		r.FamilyNames = d.families
	}
	r.noteUnread(h, d)
}

// value is the value of the field with canonical key; name is its name in
// lower case, which labels its errors. A field that is present, whatever
// its value, sets the family bit of l (when l is not nil).
func (d *HeaderDialect) value(h *header, key, name string, idx int8, r *Result) (string, bool) {
	return d.valueOf(h, nil, key, name, idx, r)
}

func (d *HeaderDialect) valueOf(h *header, l *compiledLimit, key, name string, idx int8, r *Result) (string, bool) {
	if key == "" {
		return "", false
	}
	v, ok, dup := h.get(&d.names, key, name, idx)
	if !ok {
		return "", false
	}
	if l != nil && l.family >= 0 {
		r.Families |= 1 << uint(l.family)
	}
	if dup {
		r.addError(name, v, ErrDuplicated)
		return "", false
	}
	if d.Placeholder != nil && d.Placeholder(name, v) {
		return "", false
	}
	return v, true
}

func (d *HeaderDialect) parseLimit(h *header, l *compiledLimit, c *clock, last *resetMemo, r *Result) {
	var limit, remaining float64
	var hasLimit, hasRemaining bool
	if v, ok := d.valueOf(h, l, l.limitKey, l.limitName, l.limitIdx, r); ok {
		if n, err := parseCount(v); err != nil {
			r.addError(l.limitName, v, err)
		} else {
			limit, hasLimit = n, true
		}
	}
	if v, ok := d.valueOf(h, l, l.remainingKey, l.remainingName, l.remainingIdx, r); ok {
		if n, err := parseCount(v); err != nil {
			r.addError(l.remainingName, v, err)
		} else {
			remaining, hasRemaining = n, true
		}
	}
	if v, ok := d.valueOf(h, l, l.utilKey, l.utilName, l.utilIdx, r); ok {
		if u, err := parseCount(v); err != nil {
			r.addError(l.utilName, v, err)
		} else {
			limit, hasLimit = 1, true
			remaining, hasRemaining = max(0, 1-u), true
		}
	}
	if !hasLimit && !hasRemaining {
		// A reset alone has no series to go to; its presence still
		// counts for the family.
		if l.family >= 0 && l.resetKey != "" {
			if _, ok, _ := h.get(&d.names, l.resetKey, l.resetName, l.resetIdx); ok {
				r.Families |= 1 << uint(l.family)
			}
		}
		return
	}
	var reset time.Time
	rv, rname, ok := "", l.resetName, false
	if rv, ok = d.valueOf(h, l, l.resetKey, l.resetName, l.resetIdx, r); !ok {
		rv, ok = d.valueOf(h, l, l.altKey, l.altName, l.altIdx, r)
		rname = l.altName
	}
	if ok {
		if last.obs >= 0 && rv == last.s && l.ResetFormat == last.f {
			reset = r.Observations[last.obs].Reset
		} else if t, err := parseReset(rv, l.ResetFormat, c); err != nil {
			r.addError(rname, rv, err)
		} else {
			reset = t
			last.s, last.f, last.obs = rv, l.ResetFormat, len(r.Observations)
		}
	}
	// Filled in place, field by field: an Observation built aside and
	// appended would be copied, and that copy stalls (see
	// sfScanner.bareItem).
	r.Observations = append(r.Observations, Observation{})
	o := &r.Observations[len(r.Observations)-1]
	o.Resource, o.Window = l.Resource, l.Window
	o.Limit, o.HasLimit = limit, hasLimit
	o.Remaining, o.HasRemaining = remaining, hasRemaining
	o.Reset = reset
	o.PerKey = l.PerKey
	clampRemaining(o)
}

// resetMemo is the last reset a response's limits parsed: they often share
// one, sent as the same text (Anthropic's buckets, whenever they are full),
// which is then parsed once. It costs a comparison when they do not.
type resetMemo struct {
	s   string      // the value, as parsed
	f   ResetFormat // the format it was parsed in
	obs int         // the observation holding the result; -1: none yet
}

// clampRemaining applies the documented rule for remaining > limit: it is
// clamped to the limit. Providers briefly report this while a limit is being
// lowered; exporting it would show utilisation below zero.
func clampRemaining(o *Observation) {
	if o.HasLimit && o.HasRemaining && o.Remaining > o.Limit {
		o.Remaining = o.Limit
	}
}

func (d *HeaderDialect) parseRetryAfter(h *header, c *clock, r *Result) {
	if d.retryMs != "" {
		if v, ok := d.value(h, d.retryMs, d.retryMsName, d.retryMsIdx, r); ok {
			ms, err := parseSeconds(v)
			if err == nil {
				var dur = ms / 1000
				if dd, err2 := secondsToDuration(dur); err2 == nil {
					r.RetryAfter, r.HasRetryAfter = dd, true
					return
				} else {
					err = err2
				}
			}
			r.addError(d.retryMsName, v, err)
		}
	}
	if d.retryKey == "" {
		return
	}
	if v, ok := d.value(h, d.retryKey, d.retryName, d.retryIdx, r); ok {
		dur, err := parseRetryAfter(v, c)
		if err != nil {
			r.addError(d.retryName, v, err)
			return
		}
		r.RetryAfter, r.HasRetryAfter = dur, true
	}
}

// throttledByRemaining blames the 429 on the limit that is exhausted. When
// several are, the longest window wins: that is the one the caller must wait
// for, and the one an operator has to raise.
func throttledByRemaining(r *Result, from int) string {
	best := ""
	var bestWin int64 = -1
	for _, o := range r.Observations[from:] {
		if o.HasRemaining && o.Remaining == 0 {
			w, err := ParseWindow(o.Window)
			if err != nil {
				w = 0
			}
			if int64(w) > bestWin {
				best, bestWin = o.Resource, int64(w)
			}
		}
	}
	return best
}
