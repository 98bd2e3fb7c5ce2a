package tail

// The decoder as it was before the issue #7 optimisations (json.go,
// mapping.go and headroom.go at 4ef9408, identifiers prefixed with ref),
// kept as the oracle of FuzzDecode: the fast decoder must agree with it on
// every line, valid or not.

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/headroomhq/headroom/parsers"
)

type refVal struct {
	kind jsonKind
	esc  bool
	raw  string
}

func (v refVal) str() (string, bool) {
	switch v.kind {
	case jString:
		if !v.esc {
			return v.raw, true
		}
		return unescape(v.raw)
	case jNumber:
		return v.raw, true
	}
	return "", false
}

func refSkipWS(s string, i int) int {
	for i < len(s) {
		switch s[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

func refScanString(s string, i int) (end int, esc bool, ok bool) {
	j := i + 1
	q := strings.IndexByte(s[j:], '"')
	if q < 0 {
		return 0, false, false
	}
	if strings.IndexByte(s[j:j+q], '\\') < 0 {
		return j + q + 1, false, true
	}
	for ; j < len(s); j++ {
		switch s[j] {
		case '"':
			return j + 1, esc, true
		case '\\':
			esc = true
			if j+1 >= len(s) {
				return 0, false, false
			}
			switch s[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j++
			case 'u':
				if j+6 > len(s) || !isHex4(s[j+2:j+6]) {
					return 0, false, false
				}
				j += 5
			default:
				return 0, false, false
			}
		}
	}
	return 0, false, false
}

func refParseValue(s string, i, depth int) (refVal, int, bool) {
	if i >= len(s) {
		return refVal{}, i, false
	}
	switch c := s[i]; {
	case c == '"':
		end, esc, ok := refScanString(s, i)
		if !ok {
			return refVal{}, i, false
		}
		return refVal{kind: jString, esc: esc, raw: s[i+1 : end-1]}, end, true
	case c == '{':
		if depth >= maxDepth {
			return refVal{}, i, false
		}
		it := refObjIter{s: s, i: i + 1, depth: depth + 1}
		for {
			if _, _, ok := it.next(); !ok {
				break
			}
		}
		if it.bad {
			return refVal{}, i, false
		}
		return refVal{kind: jObject, raw: s[i:it.i]}, it.i, true
	case c == '[':
		if depth >= maxDepth {
			return refVal{}, i, false
		}
		it := refArrIter{s: s, i: i + 1, depth: depth + 1}
		for {
			if _, ok := it.next(); !ok {
				break
			}
		}
		if it.bad {
			return refVal{}, i, false
		}
		return refVal{kind: jArray, raw: s[i:it.i]}, it.i, true
	case c == 't':
		if strings.HasPrefix(s[i:], "true") {
			return refVal{kind: jTrue, raw: "true"}, i + 4, true
		}
	case c == 'f':
		if strings.HasPrefix(s[i:], "false") {
			return refVal{kind: jFalse, raw: "false"}, i + 5, true
		}
	case c == 'n':
		if strings.HasPrefix(s[i:], "null") {
			return refVal{kind: jNull, raw: "null"}, i + 4, true
		}
	case c == '-' || ('0' <= c && c <= '9'):
		j := i + 1
		for j < len(s) {
			c := s[j]
			if ('0' <= c && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-' {
				j++
				continue
			}
			break
		}
		return refVal{kind: jNumber, raw: s[i:j]}, j, true
	}
	return refVal{}, i, false
}

type refObjIter struct {
	s      string
	i      int
	depth  int
	n      int
	done   bool
	bad    bool
	keyEsc bool
}

func (it *refObjIter) next() (key string, val refVal, ok bool) {
	if key, ok = it.nextKey(); !ok {
		return "", refVal{}, false
	}
	if val, ok = it.value(); !ok {
		return "", refVal{}, false
	}
	return key, val, true
}

func (it *refObjIter) nextKey() (string, bool) {
	if it.done {
		return "", false
	}
	s := it.s
	i := refSkipWS(s, it.i)
	if i >= len(s) {
		return it.failKey()
	}
	if it.n == 0 {
		if s[i] == '}' {
			it.i, it.done = i+1, true
			return "", false
		}
	} else {
		switch s[i] {
		case '}':
			it.i, it.done = i+1, true
			return "", false
		case ',':
			i = refSkipWS(s, i+1)
		default:
			return it.failKey()
		}
	}
	if i >= len(s) || s[i] != '"' {
		return it.failKey()
	}
	end, esc, ok := refScanString(s, i)
	if !ok {
		return it.failKey()
	}
	key := s[i+1 : end-1]
	it.keyEsc = esc
	if esc {
		if key, ok = unescape(key); !ok {
			return it.failKey()
		}
	}
	i = refSkipWS(s, end)
	if i >= len(s) || s[i] != ':' {
		return it.failKey()
	}
	it.i = refSkipWS(s, i+1)
	it.n++
	return key, true
}

func (it *refObjIter) value() (refVal, bool) {
	v, i, ok := refParseValue(it.s, it.i, it.depth)
	if !ok {
		it.done, it.bad = true, true
		return refVal{}, false
	}
	it.i = i
	return v, true
}

func (it *refObjIter) enter() (refObjIter, bool) {
	if it.i >= len(it.s) || it.s[it.i] != '{' || it.depth >= maxDepth {
		return refObjIter{}, false
	}
	return refObjIter{s: it.s, i: it.i + 1, depth: it.depth + 1}, true
}

func (it *refObjIter) leave(sub *refObjIter) bool {
	for !sub.done {
		sub.next()
	}
	if sub.bad {
		it.done, it.bad = true, true
		return false
	}
	it.i = sub.i
	return true
}

func (it *refObjIter) failKey() (string, bool) {
	it.done, it.bad = true, true
	return "", false
}

func (it *refObjIter) fail() (string, refVal, bool) {
	it.done, it.bad = true, true
	return "", refVal{}, false
}

type refArrIter struct {
	s     string
	i     int
	depth int
	n     int
	done  bool
	bad   bool
}

func (it *refArrIter) next() (refVal, bool) {
	if it.done {
		return refVal{}, false
	}
	s := it.s
	i := refSkipWS(s, it.i)
	if i >= len(s) {
		it.done, it.bad = true, true
		return refVal{}, false
	}
	if it.n == 0 {
		if s[i] == ']' {
			it.i, it.done = i+1, true
			return refVal{}, false
		}
	} else {
		switch s[i] {
		case ']':
			it.i, it.done = i+1, true
			return refVal{}, false
		case ',':
			i = refSkipWS(s, i+1)
		default:
			it.done, it.bad = true, true
			return refVal{}, false
		}
	}
	v, i, ok := refParseValue(s, i, it.depth)
	if !ok {
		it.done, it.bad = true, true
		return refVal{}, false
	}
	it.i = i
	it.n++
	return v, true
}

func refObjectOf(v refVal, depth int) refObjIter {
	return refObjIter{s: v.raw, i: 1, depth: depth}
}

func refArrayOf(v refVal, depth int) refArrIter {
	return refArrIter{s: v.raw, i: 1, depth: depth}
}

type refRecord struct {
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
	canon              map[string]string
}

func newRefRecord() *refRecord {
	return &refRecord{header: http.Header{}, vals: make([]string, 0, 64), canon: map[string]string{}}
}

func (r *refRecord) reset() {
	*r = refRecord{header: r.header, vals: r.vals[:0], canon: r.canon}
	clear(r.header)
}

func (r *refRecord) addHeader(name, value string) {
	if value == "" || value == "-" {
		return
	}
	key, ok := r.canon[name]
	if !ok {
		key = http.CanonicalHeaderKey(name)
		if len(r.canon) < maxCanonCache {
			r.canon[strings.Clone(name)] = key
		}
	}
	if cap(r.vals) == len(r.vals) {
		r.vals = make([]string, 0, 2*cap(r.vals)+8)
	}
	r.vals = append(r.vals, value)
	n := len(r.vals)
	if old := r.header[key]; len(old) > 0 {
		r.header[key] = append(old[:len(old):len(old)], value)
		return
	}
	r.header[key] = r.vals[n-1 : n : n]
}

func (s *Schema) refDecode(line string, rec *refRecord, res *parsers.Result, in *interner) string {
	i := refSkipWS(line, 0)
	if i >= len(line) || line[i] != '{' {
		return ResultInvalidJSON
	}
	it := refObjIter{s: line, i: i + 1, depth: 1}
	if !s.refWalk(&it, "", rec, res, in) {
		return ResultInvalidJSON
	}
	if refSkipWS(line, it.i) != len(line) {
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

func (s *Schema) refWalk(it *refObjIter, prefix string, rec *refRecord, res *parsers.Result, in *interner) bool {
	var pathBuf [128]byte
	for {
		k, ok := it.nextKey()
		if !ok {
			return !it.bad
		}
		path := k
		if prefix != "" {
			p := append(append(append(pathBuf[:0], prefix...), '.'), k...)
			path = string(p)
		}
		f, mapped := s.fields[path]
		if mapped && f.role == roleHeaders {
			if hsub, ok := it.enter(); ok {
				s.refHeaders(&hsub, rec)
				if !it.leave(&hsub) {
					return false
				}
				continue
			}
		}
		if _, parent := s.parents[path]; !mapped && parent {
			if sub, ok := it.enter(); ok {
				if !s.refWalk(&sub, path, rec, res, in) || !it.leave(&sub) {
					return false
				}
				continue
			}
		}
		v, ok := it.value()
		if !ok {
			return false
		}
		if mapped {
			s.refApply(f, path, v, it.depth, rec, res, in)
		}
	}
}

func (s *Schema) refHeaders(it *refObjIter, rec *refRecord) {
	for {
		k, v, ok := it.next()
		if !ok {
			return
		}
		if v.kind == jString && !v.esc {
			rec.addHeader(k, v.raw)
		} else if str, ok := v.str(); ok {
			rec.addHeader(k, str)
		}
	}
}

func (s *Schema) refApply(f field, path string, v refVal, depth int, rec *refRecord, res *parsers.Result, in *interner) {
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
			n = 499
		}
		rec.status, rec.hasStatus = n, true
	case roleTime:
		str, ok := v.str()
		t, err := refParseTime(str)
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
		d, ok := refParseDuration(str, u)
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
		n, err := strconv.ParseFloat(str, 64)
		if err != nil || n < 0 || math.IsInf(n, 0) || math.IsNaN(n) {
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

		bad()
	case roleHeader:
		if str, ok := v.str(); ok {
			rec.addHeader(f.header, str)
		}
	case roleRateLimit, roleRetryAfter, roleThrottled:
		s.refApplyNormalized(f.role, v, depth, rec, res, in)
	}
}

func refParseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errBadTime
	}
	if c := s[0]; c >= '0' && c <= '9' && !strings.ContainsAny(s, "-:/") {
		return refParseEpoch(s)
	}
	if len(s) >= 20 && s[2] == '/' {
		return time.Parse("02/Jan/2006:15:04:05 -0700", s)
	}
	return time.Parse(time.RFC3339Nano, s)
}

func refParseEpoch(s string) (time.Time, error) {
	ip, fp, _ := strings.Cut(s, ".")
	sec, err := strconv.ParseInt(ip, 10, 64)
	if err != nil || sec < 0 {
		return time.Time{}, errBadTime
	}
	var nsec int64
	if fp != "" {
		if len(fp) > 9 {
			fp = fp[:9]
		}
		f, err := strconv.ParseInt(fp, 10, 64)
		if err != nil || f < 0 {
			return time.Time{}, errBadTime
		}
		for i := len(fp); i < 9; i++ {
			f *= 10
		}
		nsec = f
	}
	switch {
	case sec >= 1e17:
		return time.Unix(0, sec), nil
	case sec >= 1e14:
		return time.Unix(0, sec*1e3+nsec/1e6), nil
	case sec >= 1e11:
		return time.Unix(0, sec*1e6+nsec/1e3), nil
	}
	return time.Unix(sec, nsec), nil
}

func refParseDuration(s string, u time.Duration) (time.Duration, bool) {
	if i := strings.LastIndexAny(s, ",:"); i >= 0 {
		s = strings.TrimSpace(s[i+1:])
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || math.IsNaN(f) || f > 1e12 {
		return 0, false
	}
	return time.Duration(f * float64(u)), true
}

func (s *Schema) refApplyNormalized(r role, v refVal, depth int, rec *refRecord, res *parsers.Result, in *interner) {
	rec.normalizedSeen = true
	switch r {
	case roleRetryAfter:
		d, ok := refParseDuration(v.raw, time.Second)
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
		if v.kind != jArray {
			res.Errors = append(res.Errors, parsers.FieldError{Header: "ratelimit", Value: "not an array", Err: parsers.ErrBadBody})
			return
		}
		arr := refArrayOf(v, depth+1)
		for {
			e, ok := arr.next()
			if !ok {
				break
			}
			o, err := refObservation(e, depth+2, in)
			if err != "" {
				res.Errors = append(res.Errors, parsers.FieldError{Header: "ratelimit", Value: err, Err: parsers.ErrBadBody})
				continue
			}
			res.Observations = append(res.Observations, o)
		}
	}
}

func refObservation(e refVal, depth int, in *interner) (parsers.Observation, string) {
	var o parsers.Observation
	if e.kind != jObject {
		return o, "entry is not an object"
	}
	it := refObjectOf(e, depth)
	for {
		k, v, ok := it.next()
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
			f, err := strconv.ParseFloat(v.raw, 64)
			if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
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
			t, err := refParseEpoch(v.raw)
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
