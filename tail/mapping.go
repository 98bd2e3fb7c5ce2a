package tail

import (
	"errors"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/headroomhq/headroom/config"
	"github.com/headroomhq/headroom/parsers"
)

// A Schema says where a log format keeps what Headroom needs. The built-in
// formats (nginx.go, envoy.go, headroom.go) are Schemas with fixed field
// names; format: mapping builds one from the config (MappingSchema). One
// decoder (decode, below) serves them all.
type Schema struct {
	Name string
	// fields maps a dotted field path to what it holds; parents are the
	// paths of objects that contain fields, by id in list, which holds
	// both.
	fields  map[string]field
	parents map[string]int32
	list    []field
	timeIs  timeIs
	durUnit time.Duration
	hdrUnit time.Duration
	// normalized lines carry parsed observations (headroom format) instead
	// of raw headers.
	normalized bool
	// needTime: the time field is configured, so a line without it is
	// missing fields; otherwise the read time is used.
	needTime bool
	// providerField is the field naming the provider ("" when the tail
	// entry assigns one provider to the whole file).
	providerField string
}

type role uint8

const (
	roleNone role = iota
	roleTime
	roleStatus
	roleDuration
	roleHeaderTime
	roleModel
	roleKey
	roleInput
	roleOutput
	roleProvider
	roleHeaders    // an object of header name → value
	roleHeader     // one field holding one header
	roleRateLimit  // headroom: normalized observations
	roleRetryAfter // headroom: retry-after seconds
	roleThrottled  // headroom: throttled resource
	roleParent     // an object containing fields (Schema.parents)
)

type field struct {
	role   role
	header string // canonical header name for roleHeader
	path   string
	// key is the path's last part, parent the list index of the object
	// holding it (-1: the top), id the field's own.
	key        string
	parent, id int32
	// plain: no quotes or backslashes, which a line writes escaped, so
	// objIter.member cannot find them.
	plain bool
}

type timeIs uint8

const (
	timeIsEnd timeIs = iota
	timeIsStart
	timeIsReceived
)

// schemaSpec is the readable form of a Schema.
type schemaSpec struct {
	name                                  string
	time, timeIs, status                  string
	duration, durationUnit                string
	headerTime, headerTimeUnit            string
	model, key, inputTokens, outputTokens string
	headers                               string
	headerFields                          map[string]string
	normalized                            bool
	rateLimit, retryAfter, throttled      string
	// skip are members the format's writer emits that Headroom does not
	// read. Listed, walk expects them in sequence like the fields it
	// reads, instead of searching and looking up each one (nothing else
	// changes: they are read as unmapped members are).
	skip []string
}

func compileSchema(sp schemaSpec, providerField string) (*Schema, error) {
	s := &Schema{Name: sp.name, fields: map[string]field{}, parents: map[string]int32{}, normalized: sp.normalized}
	add := func(path string, f field) error {
		if path == "" {
			return nil
		}
		if old, dup := s.fields[path]; dup {
			if old.role != f.role || old.header != f.header {
				return errors.New("field " + strconv.Quote(path) + " is mapped twice")
			}
			return nil
		}
		f.path = path
		s.fields[path] = f
		for i := strings.LastIndexByte(path, '.'); i > 0; i = strings.LastIndexByte(path[:i], '.') {
			s.parents[path[:i]] = -1
		}
		return nil
	}
	for _, m := range []struct {
		path string
		r    role
	}{
		{sp.time, roleTime}, {sp.status, roleStatus}, {sp.duration, roleDuration}, {sp.headerTime, roleHeaderTime},
		{sp.model, roleModel}, {sp.key, roleKey}, {sp.inputTokens, roleInput}, {sp.outputTokens, roleOutput},
		{providerField, roleProvider}, {sp.headers, roleHeaders},
		{sp.rateLimit, roleRateLimit}, {sp.retryAfter, roleRetryAfter}, {sp.throttled, roleThrottled},
	} {
		if err := add(m.path, field{role: m.r}); err != nil {
			return nil, err
		}
	}
	for f, h := range sp.headerFields {
		if err := add(f, field{role: roleHeader, header: http.CanonicalHeaderKey(h)}); err != nil {
			return nil, err
		}
	}
	for _, path := range sp.skip {
		_, taken := s.fields[path]
		if _, parent := s.parents[path]; !taken && !parent {
			add(path, field{role: roleNone})
		}
	}
	s.number()
	s.needTime = sp.time != ""
	s.providerField = providerField
	switch sp.timeIs {
	case "", "end":
		s.timeIs = timeIsEnd
	case "start":
		s.timeIs = timeIsStart
	case "received":
		s.timeIs = timeIsReceived
	}
	var err error
	if s.durUnit, err = unit(sp.durationUnit); err != nil {
		return nil, err
	}
	if s.hdrUnit, err = unit(sp.headerTimeUnit); err != nil {
		return nil, err
	}
	return s, nil
}

// number lists the fields and parents (in a fixed order, sorted), each
// with its id, key and parent.
func (s *Schema) number() {
	for _, path := range slices.Sorted(maps.Keys(s.fields)) {
		s.list = append(s.list, s.fields[path])
	}
	for _, path := range slices.Sorted(maps.Keys(s.parents)) {
		s.parents[path] = int32(len(s.list))
		s.list = append(s.list, field{role: roleParent, path: path})
	}
	for i := range s.list {
		f := &s.list[i]
		f.id = int32(i)
		f.parent, f.key = -1, f.path
		if j := strings.LastIndexByte(f.path, '.'); j > 0 {
			f.parent, f.key = s.parents[f.path[:j]], f.path[j+1:]
		}
		f.plain = !strings.ContainsAny(f.path, `"\`)
		if f.role != roleParent {
			s.fields[f.path] = *f
		}
	}
}

func unit(u string) (time.Duration, error) {
	switch u {
	case "", "s":
		return time.Second, nil
	case "ms":
		return time.Millisecond, nil
	case "us":
		return time.Microsecond, nil
	}
	return 0, errors.New("unit " + strconv.Quote(u) + " must be s, ms or us")
}

// MappingSchema builds the schema of a format: mapping log.
func MappingSchema(m *config.Mapping, providerField string) (*Schema, error) {
	return compileSchema(schemaSpec{
		name: config.FormatMapping, time: m.Time, timeIs: m.TimeIs, status: m.Status,
		duration: m.Duration, durationUnit: m.DurationUnit, headerTime: m.HeaderTime, headerTimeUnit: m.HeaderTimeUnit,
		model: m.Model, key: m.Key, inputTokens: m.InputTokens, outputTokens: m.OutputTokens,
		headers: m.Headers, headerFields: m.HeaderFields,
	}, providerField)
}

// SchemaFor returns the schema of a resolved tail entry.
func SchemaFor(t *config.Tail) (*Schema, error) {
	pf := t.ProviderField
	if t.Provider != "" {
		pf = ""
	}
	switch t.Format {
	case config.FormatNginx:
		return compileSchema(nginxSpec, pf)
	case config.FormatEnvoy:
		return compileSchema(envoySpec, pf)
	case config.FormatHeadroom:
		return compileSchema(headroomSpec, pf)
	case config.FormatMapping:
		if t.Mapping == nil {
			return nil, errors.New("format mapping without a mapping")
		}
		return MappingSchema(t.Mapping, pf)
	}
	return nil, errors.New("unknown format " + strconv.Quote(t.Format))
}

// Line results, the values of headroom_tail_lines_total's result label.
const (
	ResultOK              = "ok"
	ResultInvalidJSON     = "invalid_json"
	ResultMissingFields   = "missing_fields"
	ResultTooLong         = "too_long"
	ResultUnknownProvider = "unknown_provider"
)

// record is one decoded line. It is reused: decode resets it.
type record struct {
	status             int
	hasStatus          bool
	when               time.Time
	hasTime            bool
	duration, hdrTime  time.Duration
	hasDur, hasHdrTime bool
	model, key         string
	provider           string
	hasProvider        bool
	input, output      int64
	header             http.Header
	vals               []string
	missing            string // first missing or malformed required field
	normalizedSeen     bool
	// names caches logged header names, slots their canonical forms; gen
	// numbers the lines. firstName is the name that opened the headers
	// object on the last line.
	names     map[string]*hname
	slots     map[string]*hslot
	gen       uint64
	firstName *hname
	// after[i] is 1 + the list entry (field or parent) that followed
	// entry i on the last line, first[i+1] the one that opened entry i
	// (-1: the line); 0 when unknown.
	first, after []int32
	// path and iters serve walk.
	path  []byte
	iters *[maxDepth]objIter
}

// hname is a header name as logged (a copy of it, not the line); next is
// the name that followed it on the last line.
type hname struct {
	name string
	slot *hslot
	next *hname
}

// hslot is a canonical header name. gen is the line it was last added to
// header in: a header's first value on a line is then stored without
// looking for an earlier one.
type hslot struct {
	key string
	gen uint64
}

func newRecord() *record {
	return &record{header: http.Header{}, vals: make([]string, 0, 64), names: map[string]*hname{},
		slots: map[string]*hslot{}, gen: 1, iters: new([maxDepth]objIter)}
}

func (r *record) reset() {
	*r = record{header: r.header, vals: r.vals[:0], names: r.names, slots: r.slots, gen: r.gen + 1,
		firstName: r.firstName, first: r.first, after: r.after, path: r.path[:0], iters: r.iters}
	clear(r.header)
}

const maxCanonCache = 4096

// addHeader records a response header; empty values and "-" (what nginx
// and Envoy log for a header the response did not have) are absent.
func (r *record) addHeader(name, value string) {
	if value == "" || value == "-" {
		return
	}
	r.add(r.name(name), name, value)
}

// name returns name's cache entry; nil once the cache is full (a log with
// endless distinct names), when add canonicalises every time.
func (r *record) name(name string) *hname {
	if e := r.names[name]; e != nil {
		return e
	}
	if len(r.names) >= maxCanonCache {
		return nil
	}
	// Cloned: a name already in canonical form comes back as itself, a
	// slice of this line's buffer, which the follower overwrites with the
	// next lines.
	key := strings.Clone(http.CanonicalHeaderKey(name))
	sl := r.slots[key]
	if sl == nil {
		sl = &hslot{key: key}
		r.slots[key] = sl
	}
	e := &hname{name: strings.Clone(name), slot: sl}
	r.names[e.name] = e
	return e
}

// add stores a non-empty value; e is name's entry, if cached.
func (r *record) add(e *hname, name, value string) {
	if cap(r.vals) == len(r.vals) {
		// Grow without invalidating the slices already in the map: they
		// keep the old backing array.
		r.vals = make([]string, 0, 2*cap(r.vals)+8)
	}
	r.vals = append(r.vals, value)
	n := len(r.vals)
	var key string
	if e != nil {
		key = e.slot.key
		if e.slot.gen != r.gen {
			e.slot.gen = r.gen
			r.header[key] = r.vals[n-1 : n : n]
			return
		}
	} else {
		key = http.CanonicalHeaderKey(name)
	}
	if old := r.header[key]; len(old) > 0 {
		// A repeated header: keep both so dialects see the repetition.
		r.header[key] = append(old[:len(old):len(old)], value)
		return
	}
	r.header[key] = r.vals[n-1 : n : n]
}

// decode reads one line into rec (and, for normalized formats, res). It
// returns a result label other than ok when the line cannot be used.
func (s *Schema) decode(line string, rec *record, res *parsers.Result, in *interner) string {
	i := skipWS(line, 0)
	if i >= len(line) || line[i] != '{' {
		return ResultInvalidJSON
	}
	it := objIter{s: line, i: i + 1, depth: 1}
	if !s.walk(&it, -1, 0, rec, res, in) {
		return ResultInvalidJSON
	}
	if skipWS(line, it.i) != len(line) {
		return ResultInvalidJSON
	}
	if rec.missing != "" {
		return ResultMissingFields
	}
	if !rec.hasStatus {
		rec.missing = "status"
		return ResultMissingFields
	}
	if s.needTime && !rec.hasTime {
		rec.missing = "time"
		return ResultMissingFields
	}
	if s.providerField != "" && !rec.hasProvider {
		rec.missing = s.providerField
		return ResultMissingFields
	}
	return ResultOK
}

// walk visits the members of an object, the list entry parent (-1 at the
// top) whose dotted path is rec.path[:prefix]. It returns false on a
// syntax error.
//
// Nested objects are walked with iterators and paths kept in rec: on
// walk's own stack they would escape through the recursion, costing
// allocations per line.
func (s *Schema) walk(it *objIter, parent int32, prefix int, rec *record, res *parsers.Result, in *interner) bool {
	if len(rec.after) != len(s.list) {
		rec.first = make([]int32, len(s.list)+1)
		rec.after = make([]int32, len(s.list))
	}
	prev := int32(-1) // the last field or parent met in this object
	for {
		var f field
		known := false
		// The member that followed prev (or opened this object) on the
		// last line: when it is here again, it needs neither a search for
		// its end nor a lookup.
		next := rec.first[parent+1]
		if prev >= 0 {
			next = rec.after[prev]
		}
		if next > 0 && it.member(s.list[next-1].key) {
			f, known = s.list[next-1], true
		} else {
			k, ok := it.nextKey()
			if !ok {
				return !it.bad
			}
			path := k
			if parent >= 0 {
				// Valid until a sibling's path overwrites it.
				rec.path = append(append(rec.path[:prefix], '.'), k...)
				path = unsafe.String(unsafe.SliceData(rec.path), len(rec.path))
			}
			if f, known = s.fields[path]; !known {
				var id int32
				if id, known = s.parents[path]; known {
					f = s.list[id]
				}
			}
			// (A key that merely spells a nested path, "a.b" at the top,
			// is read as that field, as ever, but never expected.)
			if known && f.plain && f.parent == parent && !it.keyEsc {
				if prev < 0 {
					rec.first[parent+1] = f.id + 1
				} else {
					rec.after[prev] = f.id + 1
				}
			}
		}
		if known && f.parent == parent {
			prev = f.id
		}
		switch f.role {
		case roleParent:
			if sub, ok := it.enter(); ok {
				rec.path = append(rec.path[:0], f.path...)
				p := &rec.iters[it.depth]
				*p = sub
				if !s.walk(p, f.id, len(f.path), rec, res, in) || !it.leave(p) {
					return false
				}
				continue
			}
		case roleHeaders:
			if hsub, ok := it.enter(); ok {
				s.headers(&hsub, rec)
				if !it.leave(&hsub) {
					return false
				}
				continue
			}
		case roleRateLimit:
			if arr, ok := it.enterArray(); ok {
				if !s.rateLimits(it, &arr, rec, res, in) {
					return false
				}
				continue
			}
		}
		v, ok := it.value()
		if !ok {
			return false
		}
		if f.role != roleNone && f.role != roleParent {
			s.apply(f, f.path, v, rec, res, in)
		}
	}
}

// headers reads an object of response headers.
func (s *Schema) headers(it *objIter, rec *record) {
	str := it.s
	// prev is the entry of the last name read; a log's lines name the
	// same headers in the same order, so its successor on the last line
	// is probably next.
	var prev *hname
	for !it.done {
		// Most of an nginx or Envoy line is members like
		// ,"x-ratelimit-limit-requests":"150" (no spaces, no escapes):
		// those are read here, as next would read them, without its
		// layers of calls. Anything else, from the same position, by next.
		i := it.i
		if it.n > 0 && i < len(str) && str[i] == ',' {
			i++
		}
		if (it.n == 0 || i > it.i) && i < len(str) && str[i] == '"' {
			e := rec.firstName
			if it.n > 0 {
				e = nil
				if prev != nil {
					e = prev.next
				}
			}
			// The expected name, when it is there, needs neither a search
			// for its end nor a lookup.
			j := -1
			if e != nil && len(str)-(i+1) > len(e.name) && str[i+1:i+1+len(e.name)] == e.name && str[i+1+len(e.name)] == '"' {
				j = i + 1 + len(e.name)
			} else {
				e = nil
				j = quoteOrBackslash(str, i+1)
			}
			if j+2 < len(str) && str[j] == '"' && str[j+1] == ':' && str[j+2] == '"' {
				k := j + 3
				if k < len(str) && str[k] != '"' {
					// (Most logged values are empty: no search for those.)
					k = quoteOrBackslash(str, k)
				}
				if k < len(str) && str[k] == '"' {
					name, v := str[i+1:j], str[j+3:k]
					if e == nil {
						if e = rec.name(name); e != nil {
							if it.n == 0 {
								rec.firstName = e
							} else if prev != nil {
								prev.next = e
							}
						}
					}
					if v != "" && v != "-" {
						rec.add(e, name, v)
					}
					prev = e
					it.i = k + 1
					it.n++
					continue
				}
			}
		}
		prev = nil
		k, v, ok := it.next()
		if !ok {
			return
		}
		if v.kind == jString && !v.esc {
			rec.addHeader(k, v.raw)
		} else if sv, ok := v.str(); ok {
			rec.addHeader(k, sv)
		}
	}
}

// apply stores one mapped value. A value of the wrong kind marks the
// field missing rather than failing silently.
func (s *Schema) apply(f field, path string, v jval, rec *record, res *parsers.Result, in *interner) {
	if v.kind == jNull {
		return
	}
	bad := func() {
		if rec.missing == "" {
			rec.missing = in.intern(path)
		}
	}
	switch f.role {
	case roleStatus:
		str, ok := v.str()
		n, err := strconv.Atoi(str)
		if !ok || err != nil || n < 0 || n > 999 {
			bad()
			return
		}
		if n == 0 {
			// Envoy logs 0 when the client went away before any response:
			// nginx's 499, as the proxy counts it.
			n = 499
		}
		rec.status, rec.hasStatus = n, true
	case roleTime:
		str, ok := v.str()
		t, err := parseTime(str)
		if !ok || err != nil {
			bad()
			return
		}
		rec.when, rec.hasTime = t, true
	case roleDuration, roleHeaderTime:
		str, ok := v.str()
		if !ok || str == "-" || str == "" {
			return
		}
		u := s.durUnit
		if f.role == roleHeaderTime {
			u = s.hdrUnit
		}
		d, ok := parseDuration(str, u)
		if !ok {
			bad()
			return
		}
		if f.role == roleDuration {
			rec.duration, rec.hasDur = d, true
		} else {
			rec.hdrTime, rec.hasHdrTime = d, true
		}
	case roleModel:
		if str, ok := v.str(); ok && str != "-" {
			rec.model = in.intern(str)
		}
	case roleKey:
		if str, ok := v.str(); ok && str != "-" && str != "" {
			rec.key = in.intern(str)
		}
	case roleInput, roleOutput:
		str, ok := v.str()
		if !ok || str == "-" || str == "" {
			return
		}
		n, ok := parseFloat(str)
		if !ok || n < 0 || math.IsInf(n, 0) || math.IsNaN(n) {
			bad()
			return
		}
		if f.role == roleInput {
			rec.input = int64(n)
		} else {
			rec.output = int64(n)
		}
	case roleProvider:
		if str, ok := v.str(); ok && str != "-" && str != "" {
			rec.provider, rec.hasProvider = str, true
		}
	case roleHeaders:
		// Objects are read by walk; anything else is malformed.
		bad()
	case roleHeader:
		if str, ok := v.str(); ok {
			rec.addHeader(f.header, str)
		}
	case roleRateLimit, roleRetryAfter, roleThrottled:
		s.applyNormalized(f.role, v, rec, res, in)
	}
}

// parseTime reads RFC 3339, Unix seconds, milliseconds, microseconds or
// nanoseconds (chosen by magnitude), and nginx's $time_local.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errBadTime
	}
	if c := s[0]; c >= '0' && c <= '9' && !hasDateSep(s) {
		return parseEpoch(s)
	}
	if len(s) >= 20 && s[2] == '/' {
		return time.Parse("02/Jan/2006:15:04:05 -0700", s)
	}
	return parsers.ParseRFC3339(s)
}

// hasDateSep is strings.ContainsAny(s, "-:/") without building a set on
// every line.
func hasDateSep(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '-' || c == ':' || c == '/' {
			return true
		}
	}
	return false
}

var errBadTime = errors.New("bad time")

// parseEpoch reads "1732270000", "1732270000.123" or larger units, exactly
// (no float rounding of the fraction).
func parseEpoch(s string) (time.Time, error) {
	ip, fp, _ := strings.Cut(s, ".")
	if len(fp) > 9 {
		fp = fp[:9]
	}
	sec, ok := digits(ip)
	f, fok := digits(fp)
	if ip == "" || !ok || !fok {
		// Signs, overflow, junk: as strconv says.
		var err error
		sec, err = strconv.ParseInt(ip, 10, 64)
		if err != nil || sec < 0 {
			return time.Time{}, errBadTime
		}
		f = 0
		if fp != "" {
			if f, err = strconv.ParseInt(fp, 10, 64); err != nil || f < 0 {
				return time.Time{}, errBadTime
			}
		}
	}
	for i := len(fp); i < 9; i++ {
		f *= 10
	}
	nsec := f
	switch {
	case sec >= 1e17: // nanoseconds
		return time.Unix(0, sec), nil
	case sec >= 1e14: // microseconds
		return time.Unix(0, sec*1e3+nsec/1e6), nil
	case sec >= 1e11: // milliseconds
		return time.Unix(0, sec*1e6+nsec/1e3), nil
	}
	return time.Unix(sec, nsec), nil
}

// digits reads a string of at most 18 decimal digits (so no overflow);
// "" is 0. It is the common case of strconv.ParseInt, without its
// generality.
func digits(s string) (int64, bool) {
	if len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i] - '0'
		if c > 9 {
			return 0, false
		}
		n = n*10 + int64(c)
	}
	return n, true
}

// parseDuration reads a number in unit u. nginx's $upstream_header_time
// lists one value per upstream tried ("0.012, 0.020", " : " across internal
// redirects): the last one is the response that was logged.
func parseDuration(s string, u time.Duration) (time.Duration, bool) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ',' || s[i] == ':' {
			s = strings.TrimSpace(s[i+1:])
			break
		}
	}
	f, ok := parseFloat(s)
	if !ok || f < 0 || math.IsNaN(f) || f > 1e12 {
		return 0, false
	}
	return time.Duration(f * float64(u)), true
}

// parseFloat is strconv.ParseFloat(s, 64) without the error value. Logged
// numbers are nearly always plain decimals of a few digits ("0.028",
// "150"); those it converts itself: with at most 15 digits the digits are
// exactly a float64, so is 10^k for k ≤ 22, and one IEEE division rounds
// the quotient correctly, which is what strconv returns too.
func parseFloat(s string) (float64, bool) {
	var m uint64
	nd, frac, dot := 0, 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9':
			m = m*10 + uint64(c-'0')
			nd++
			if dot {
				frac++
			}
		case c == '.' && !dot && i > 0:
			dot = true
		default:
			return strconvFloat(s)
		}
	}
	if nd == 0 || nd > 15 {
		return strconvFloat(s)
	}
	return float64(m) / pow10[frac], true
}

func strconvFloat(s string) (float64, bool) {
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// received works out when the response headers arrived, start of the
// request and total duration from what the line says.
func (s *Schema) received(rec *record, now time.Time) (received time.Time, dur time.Duration) {
	if !rec.hasTime {
		return now, rec.duration
	}
	t := rec.when
	switch s.timeIs {
	case timeIsReceived:
		return t, rec.duration
	case timeIsStart:
		if rec.hasHdrTime {
			return t.Add(rec.hdrTime), rec.duration
		}
		return t.Add(rec.duration), rec.duration
	default: // end
		if rec.hasHdrTime && rec.hasDur && rec.hdrTime <= rec.duration {
			return t.Add(-rec.duration).Add(rec.hdrTime), rec.duration
		}
		return t, rec.duration
	}
}

// span returns a line's call as a span's start and end: the log's time is
// the request's start, its end or when headers arrived (per format), and
// the duration, when logged, gives the other end.
func (s *Schema) span(rec *record, received time.Time, dur time.Duration) (start, end time.Time) {
	if !rec.hasTime {
		return received.Add(-dur), received
	}
	t := rec.when
	switch s.timeIs {
	case timeIsStart:
		return t, t.Add(dur)
	case timeIsReceived:
		if rec.hasHdrTime {
			start = t.Add(-rec.hdrTime)
			return start, start.Add(dur)
		}
		return t, t.Add(dur)
	default: // end
		return t.Add(-dur), t
	}
}

// interner keeps one copy of label values (models, keys) that the
// collector retains, so they do not pin whole log lines in memory.
type interner struct {
	m map[string]string
}

const maxInterned = 4096

func (in *interner) intern(s string) string {
	if v, ok := in.m[s]; ok {
		return v
	}
	c := strings.Clone(s)
	if len(in.m) < maxInterned {
		in.m[c] = c
	}
	return c
}
