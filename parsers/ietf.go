package parsers

import (
	"net/http"
	"time"
)

// IETF is the IETF HTTPAPI working group's RateLimit header fields,
// https://datatracker.ietf.org/doc/draft-ietf-httpapi-ratelimit-headers/
// (latest: draft-ietf-httpapi-ratelimit-headers-11, 23 May 2026), in the
// current structured-field syntax and in the forms of the earlier drafts that
// servers still send:
//
//   - drafts 08–11: RateLimit-Policy and RateLimit are Lists (RFC 9651) of
//     Items whose value is the policy name (a String):
//     RateLimit-Policy: "burst";q=100;w=60,"daily";q=1000;w=86400
//     RateLimit: "burst";r=50;t=30
//     q quota, qu quota unit ("requests" by default, "content-bytes",
//     "concurrent-requests"), w window in seconds, r available quota, t
//     seconds in which the client can use no more than r, pk partition key.
//     A RateLimit item is joined to the policy of the same name.
//   - draft 07: RateLimit is a Dictionary, RateLimit: limit=100,
//     remaining=50, reset=30, and RateLimit-Policy a List of Integers with a
//     window parameter, RateLimit-Policy: 100;w=60.
//   - drafts 00–06: separate RateLimit-Limit, RateLimit-Remaining and
//     RateLimit-Reset fields (reset in delay-seconds); drafts 00–02 append the
//     policies to RateLimit-Limit ("10, 10;w=1, 50;w=60"), drafts 03–06 send
//     them in RateLimit-Policy.
//
// In the older forms the limit carries no window: it is the policy whose
// quota equals the limit (the draft-07 example pairs "RateLimit-Policy:
// 100;w=10" with "limit=100"). Policies the response does not report usage
// for are exported with their limit only.
//
// A limit whose window cannot be learned from the response is not exported
// unless the dialect was built with a fallback window (NewIETF): a made-up
// window would put the number in the wrong series. Quota units other than
// requests and concurrent requests (content-bytes, unregistered units) have
// no resource label and are skipped; "concurrent-requests" is concurrency,
// window "none". Two policies landing on the same resource and window (two
// partition keys, say) yield one observation, the more constrained. On a 429
// an exhausted limit that could not be exported still names the resource.
//
// Malformed fields are ignored as the draft requires (§7: "Malformed
// RateLimit header fields MUST be ignored") and reported as one error entry;
// an item whose parameters are out of range (a negative quota, a missing r)
// is dropped with an error entry while the rest of the field is used.
var IETF = NewIETF("ietf", "")

func init() { Register(IETF) }

// NewIETF returns an IETF RateLimit dialect. fallbackWindow, a Prometheus
// duration such as "1m", is used for limits whose window the response does
// not tell; empty drops them. It panics on a window ParseWindow rejects:
// validate configuration first.
func NewIETF(name, fallbackWindow string) Dialect {
	return &ietfDialect{name: name, fallback: canonicalWindow(fallbackWindow)}
}

type ietfDialect struct {
	name     string
	fallback string
}

func (d *ietfDialect) Name() string       { return d.name }
func (d *ietfDialect) WantsBody(int) bool { return false }

// canonicalWindow normalises a configured window ("60s" → "1m") so the label
// matches what other dialects export for the same window.
func canonicalWindow(w string) string {
	if w == "" {
		return ""
	}
	dur, err := ParseWindow(w)
	if err != nil {
		panic("parsers: invalid window " + w + ": " + err.Error())
	}
	return FormatWindow(dur)
}

const ietfMaxPolicies = 8

// ietfPolicy is a quota policy from any draft, normalised.
type ietfPolicy struct {
	name      string // String value (drafts 08+), raw; "" for the Integer form
	named     bool
	quota     float64
	window    string // "" when the policy has no w
	resource  string // "" for quota units that have no resource label
	skip      bool   // invalid: reported already
	reported  bool   // usage already exported under this policy
	hasWindow bool
}

// ietfState is one Parse call's scratch space, on the stack.
type ietfState struct {
	c        clock
	r        *Result
	from     int
	policies [ietfMaxPolicies]ietfPolicy
	n        int
	// unknown is the resource of an exhausted limit that could not be
	// exported (no window): a 429 can still be attributed to it.
	unknown string
}

func (d *ietfDialect) Parse(in *Input, r *Result) {
	st := ietfState{c: newClock(in), r: r, from: len(r.Observations)}
	h := in.headerMap()
	d.fields(&st, h)

	if v, ok := h["Retry-After"]; ok && len(v) > 0 {
		if dur, err := parseRetryAfter(v[0], &st.c); err != nil {
			r.addError("retry-after", v[0], err)
		} else {
			r.RetryAfter, r.HasRetryAfter = dur, true
		}
	}
	if in.Status == http.StatusTooManyRequests && r.ThrottledResource == "" {
		r.ThrottledResource = throttledByRemaining(r, st.from)
		if r.ThrottledResource == "" {
			r.ThrottledResource = st.unknown
		}
	}
	hh := header{m: h}
	r.noteUnread(&hh, &ietfNames)
}

// ietfNames are the fields the IETF dialect reads, all drafts.
var ietfNames = lowerAll("ratelimit", "ratelimit-policy", "ratelimit-limit", "ratelimit-remaining",
	"ratelimit-reset", "retry-after")

// fields reads the RateLimit fields of every draft into st.r; Retry-After
// and the 429's attribution are the caller's.
func (d *ietfDialect) fields(st *ietfState, h http.Header) {
	r := st.r
	// One member buffer serves the three fields in turn: what is needed
	// from each is copied out (policies into st) before the next parse.
	var buf [ietfMaxPolicies]sfMember
	if lines := h["Ratelimit-Policy"]; len(lines) > 0 {
		members, err := sfParseList(lines, buf[:0])
		if err != nil {
			r.addError("ratelimit-policy", lines[0], ErrBadField)
		}
		for i := range members {
			st.addPolicy(&members[i], "ratelimit-policy", lines[0])
		}
	}
	// Drafts 00–02: "RateLimit-Limit: 10, 10;w=1, 50;w=60" lists the
	// expiring limit, then the policies.
	var expiring sfValue // the drafts 00–06 RateLimit-Limit value
	legacy := false
	if lines := h["Ratelimit-Limit"]; len(lines) > 0 {
		members, err := sfParseList(lines, buf[:0])
		if err != nil {
			r.addError("ratelimit-limit", lines[0], ErrBadField)
		} else {
			legacy = true
			if len(members) > 0 {
				expiring = members[0].Value
			}
			for i := range members {
				// The first member is the expiring limit; a window on it
				// ("RateLimit-Limit: 100;w=60", seen in the wild) makes it
				// its own policy.
				if i == 0 {
					var w sfValue
					members[0].Params.get3("", "", "w", nil, nil, &w)
					if w.Kind == sfNone {
						continue
					}
				}
				st.addPolicy(&members[i], "ratelimit-limit", lines[0])
			}
		}
	}

	if lines := h["Ratelimit"]; len(lines) > 0 {
		d.rateLimitField(st, lines, buf[:0])
	}
	if legacy || len(h["Ratelimit-Remaining"]) > 0 {
		d.separateFields(st, h, expiring)
	}

	// Policies without reported usage: their limits are still known.
	for i := 0; i < st.n; i++ {
		p := &st.policies[i]
		if p.skip || p.reported || p.resource == "" {
			continue
		}
		win := d.window(p)
		if win == "" {
			continue
		}
		mergeObservation(r, st.from, Observation{Resource: p.resource, Window: win, Limit: p.quota, HasLimit: true})
	}
}

// window is the label for a policy: its own w, else the fallback.
func (d *ietfDialect) window(p *ietfPolicy) string {
	if p.resource == Concurrency {
		return WindowNone
	}
	if p.hasWindow {
		return p.window
	}
	return d.fallback
}

// addPolicy normalises a RateLimit-Policy member (or a policy given in a
// drafts 00–02 RateLimit-Limit). An invalid policy is kept, marked skip, so
// that the usage reported under its name is dropped too rather than
// exported under a guessed unit or window.
func (st *ietfState) addPolicy(m *sfMember, header, raw string) {
	if st.n == ietfMaxPolicies {
		return // more policies than any real server sends; ignore the rest
	}
	// Filled in place, not returned and copied: see sfScanner.bareItem.
	p := &st.policies[st.n]
	st.n++
	if err := ietfParsePolicy(m, p); err != nil {
		st.r.addError(header, raw, err)
		p.skip = true
	}
}

// ietfParsePolicy fills *p, which must be zero.
func ietfParsePolicy(m *sfMember, p *ietfPolicy) error {
	p.resource = Requests
	// One pass over the parameters; the last occurrence of a key wins
	// (RFC 9651 §4.2.3.2).
	var q, qu, w sfValue
	m.Params.get3("q", "qu", "w", &q, &qu, &w)
	switch m.Value.Kind {
	case sfString: // drafts 08+: "name";q=100;qu="requests";w=60
		p.name, p.named = m.Value.Str, true
		if q.Kind == sfNone {
			return ErrBadField // q is REQUIRED
		}
		n, err := sfCount(q)
		if err != nil {
			return err
		}
		p.quota = n
		if qu.Kind != sfNone {
			if qu.Kind != sfString {
				return ErrBadField
			}
			p.resource = ietfQuotaUnit(qu.Str)
		}
	case sfInteger, sfDecimal: // drafts 00–07: 100;w=60
		n, err := sfCount(m.Value)
		if err != nil {
			return err
		}
		p.quota = n
	default:
		return ErrBadField
	}
	if w.Kind != sfNone {
		win, err := sfWindow(w)
		if err != nil {
			return err
		}
		p.window, p.hasWindow = win, true
	}
	return nil
}

// ietfQuotaUnit maps a draft-11 quota unit (§3.1.2, §10.3) to a resource.
// The draft's text says "requests", its registry "request": both are taken.
func ietfQuotaUnit(qu string) string {
	switch qu {
	case "requests", "request":
		return Requests
	case "concurrent-requests":
		return Concurrency
	}
	return "" // content-bytes, or unregistered
}

// rateLimitField reads "RateLimit": a List of service limits (drafts 08+) or
// a draft-07 Dictionary.
func (d *ietfDialect) rateLimitField(st *ietfState, lines []string, buf []sfMember) {
	members, err := sfParseList(lines, buf)
	if err == nil && ietfAllStrings(members) {
		for i := range members {
			d.serviceLimit(st, &members[i])
		}
		return
	}
	dict, derr := sfParseDictionary(lines, buf)
	lim, hasLim := sfDictGet(dict, "limit")
	rem, hasRem := sfDictGet(dict, "remaining")
	if derr != nil || (!hasLim && !hasRem) {
		st.r.addError("ratelimit", lines[0], ErrBadField)
		return
	}
	o := Observation{Resource: Requests}
	if hasLim {
		n, err := sfCount(lim.Value)
		if err != nil {
			st.r.addError("ratelimit", lines[0], err)
		} else {
			o.Limit, o.HasLimit = n, true
		}
	}
	if hasRem {
		n, err := sfCount(rem.Value)
		if err != nil {
			st.r.addError("ratelimit", lines[0], err)
		} else {
			o.Remaining, o.HasRemaining = n, true
		}
	}
	if reset, ok := sfDictGet(dict, "reset"); ok {
		t, err := sfDelay(reset.Value, &st.c)
		if err != nil {
			st.r.addError("ratelimit", lines[0], err)
		} else {
			o.Reset = t
		}
	}
	d.emitExpiring(st, o)
}

func ietfAllStrings(ms []sfMember) bool {
	for i := range ms {
		if ms[i].Value.Kind != sfString {
			return false
		}
	}
	return len(ms) > 0
}

// serviceLimit exports one drafts 08+ RateLimit item: "name";r=50;t=30.
func (d *ietfDialect) serviceLimit(st *ietfState, m *sfMember) {
	var rv, tv sfValue
	m.Params.get3("r", "t", "", &rv, &tv, nil)
	if rv.Kind == sfNone {
		st.r.addError("ratelimit", m.Value.Str, ErrBadField) // r is REQUIRED
		return
	}
	remaining, err := sfCount(rv)
	if err != nil {
		st.r.addError("ratelimit", m.Value.Str, err)
		return
	}
	o := Observation{Resource: Requests, Remaining: remaining, HasRemaining: true}
	if tv.Kind != sfNone {
		t, err := sfDelay(tv, &st.c)
		if err != nil {
			st.r.addError("ratelimit", m.Value.Str, err)
			return
		}
		o.Reset = t
	}
	var p *ietfPolicy
	for i := 0; i < st.n; i++ {
		if st.policies[i].named && st.policies[i].name == m.Value.Str {
			p = &st.policies[i]
			break
		}
	}
	win := d.fallback
	if p != nil {
		if p.skip {
			return
		}
		p.reported = true
		o.Resource = p.resource
		o.Limit, o.HasLimit = p.quota, true
		win = d.window(p)
	}
	if o.Resource == "" {
		return // a quota unit without a resource label
	}
	if win == "" {
		if remaining == 0 && st.unknown == "" {
			st.unknown = o.Resource
		}
		return
	}
	o.Window = win
	mergeObservation(st.r, st.from, o)
}

// separateFields reads drafts 00–06: RateLimit-Limit (already parsed),
// RateLimit-Remaining, RateLimit-Reset.
func (d *ietfDialect) separateFields(st *ietfState, h http.Header, limit sfValue) {
	o := Observation{Resource: Requests}
	if limit.Kind != sfNone {
		n, err := sfCount(limit)
		if err != nil {
			st.r.addError("ratelimit-limit", h["Ratelimit-Limit"][0], err)
		} else {
			o.Limit, o.HasLimit = n, true
		}
	}
	if v, ok, dup := lookup(h, "Ratelimit-Remaining"); ok {
		if dup {
			st.r.addError("ratelimit-remaining", v, ErrDuplicated)
		} else if n, err := parseCount(v); err != nil {
			st.r.addError("ratelimit-remaining", v, err)
		} else {
			o.Remaining, o.HasRemaining = n, true
		}
	}
	if !o.HasLimit && !o.HasRemaining {
		return
	}
	if v, ok, dup := lookup(h, "Ratelimit-Reset"); ok {
		if dup {
			st.r.addError("ratelimit-reset", v, ErrDuplicated)
		} else if t, err := parseReset(v, FormatSeconds, &st.c); err != nil {
			st.r.addError("ratelimit-reset", v, err)
		} else {
			o.Reset = t
		}
	}
	d.emitExpiring(st, o)
}

// emitExpiring exports the older drafts' single "expiring limit", whose
// window is that of the unnamed policy with the same quota.
func (d *ietfDialect) emitExpiring(st *ietfState, o Observation) {
	var p *ietfPolicy
	unnamed := 0
	for i := 0; i < st.n; i++ {
		q := &st.policies[i]
		if q.named || q.skip {
			continue
		}
		unnamed++
		if o.HasLimit && q.quota == o.Limit && p == nil {
			p = q
		}
	}
	if p == nil && !o.HasLimit && unnamed == 1 {
		// Remaining without a limit: one policy can only be that one.
		for i := 0; i < st.n; i++ {
			if q := &st.policies[i]; !q.named && !q.skip {
				p = q
			}
		}
	}
	win := d.fallback
	if p != nil {
		p.reported = true
		if p.hasWindow {
			win = p.window
		}
		if !o.HasLimit {
			o.Limit, o.HasLimit = p.quota, true
		}
	}
	if win == "" {
		if o.HasRemaining && o.Remaining == 0 && st.unknown == "" {
			st.unknown = o.Resource
		}
		return
	}
	o.Window = win
	mergeObservation(st.r, st.from, o)
}

// sfCount reads a quota or available quota: a non-negative Integer (Decimals
// are tolerated from the older drafts' 1*DIGIT-era servers).
func sfCount(v sfValue) (float64, error) {
	var f float64
	switch v.Kind {
	case sfInteger:
		f = float64(v.Int)
	case sfDecimal:
		f = v.Dec
	default:
		return 0, ErrBadField
	}
	switch {
	case f < 0:
		return 0, ErrNegative
	case f > maxValue:
		return 0, ErrOverflow
	}
	return f, nil
}

// sfDelay reads a t or reset value: non-negative Integer delay-seconds.
func sfDelay(v sfValue, c *clock) (time.Time, error) {
	if v.Kind != sfInteger {
		return time.Time{}, ErrBadField
	}
	if v.Int < 0 {
		return time.Time{}, ErrNegative
	}
	d, err := secondsToDuration(float64(v.Int))
	if err != nil {
		return time.Time{}, err
	}
	return c.relative(d), nil
}

// sfWindow reads w: a positive Integer number of seconds (§3.1.3).
func sfWindow(v sfValue) (string, error) {
	if v.Kind != sfInteger {
		return "", ErrBadField
	}
	switch {
	case v.Int < 0:
		return "", ErrNegative
	case v.Int == 0:
		return "", ErrBadField
	case v.Int > maxWindowSeconds:
		return "", ErrOverflow
	}
	return secondsWindow(v.Int), nil
}

// maxWindowSeconds bounds windows (ten years): larger ones are garbage and
// would overflow a time.Duration further on.
const maxWindowSeconds = 10 * 366 * 24 * 3600

// secondsWindow renders a window given in seconds, without allocating for
// the common ones.
func secondsWindow(s int64) string {
	switch s {
	case 1:
		return "1s"
	case 10:
		return "10s"
	case 60:
		return "1m"
	case 300:
		return "5m"
	case 900:
		return "15m"
	case 3600:
		return "1h"
	case 86400:
		return "1d"
	case 7 * 86400:
		return "7d"
	case 30 * 86400:
		return "30d"
	}
	return FormatWindow(time.Duration(s) * time.Second)
}

// mergeObservation appends o unless this response already produced the same
// resource and window, in which case the more constrained one is kept: the
// lower remaining, and a reading with remaining over one without.
func mergeObservation(r *Result, from int, o Observation) {
	clampRemaining(&o)
	for i := from; i < len(r.Observations); i++ {
		e := &r.Observations[i]
		if e.Resource != o.Resource || e.Window != o.Window {
			continue
		}
		if o.HasRemaining && (!e.HasRemaining || o.Remaining < e.Remaining) {
			*e = o
		}
		return
	}
	r.Observations = append(r.Observations, o)
}
