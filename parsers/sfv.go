package parsers

// A parser for HTTP Structured Field Values, RFC 9651 (which obsoletes RFC
// 8941 and adds Dates and Display Strings), covering what the IETF RateLimit
// fields need: Lists, Dictionaries, Inner Lists, Parameters and every Bare
// Item type.
//
// It is written for the proxy's hot path: parsing never allocates (members
// land in a caller-provided slice, usually backed by a stack array), strings,
// tokens and byte sequences are returned as sub-strings of the input in their
// wire form, and Parameters and Inner Lists are validated once and kept as
// raw text that is re-scanned on demand, which cannot fail (get3 reads the
// few parameters a caller wants in one pass, skipping the others' values).
//
// Per RFC 9651 §4.2 any syntax error fails the whole field: the functions
// return ErrBadField and no members.
//
// Why not a library: github.com/dunglas/httpsfv v1.1.2 parses the same
// (both pass the HTTP WG's structured-field-tests suite, TestHTTPWG), but
// on the IETF dialect's fields it took 5 to 25 times as long and 9 to 73
// allocations per response where this parser makes none
// (BenchmarkSFSwap, docs/benchmarks.md): the hot path may get at most 1.2
// times slower, and every dialect is held to 2 allocations per parse
// (TestDialectAllocBudget).

import (
	"strconv"
	"unicode/utf8"
)

// sfKind is the type of a Bare Item (RFC 9651 §3.3), or an Inner List.
type sfKind uint8

const (
	sfNone sfKind = iota
	sfInteger
	sfDecimal
	sfString
	sfToken
	sfByteSeq
	sfBoolean
	sfDate
	sfDisplayString
	sfInnerList
)

func (k sfKind) String() string {
	switch k {
	case sfInteger:
		return "integer"
	case sfDecimal:
		return "decimal"
	case sfString:
		return "string"
	case sfToken:
		return "token"
	case sfByteSeq:
		return "byte sequence"
	case sfBoolean:
		return "boolean"
	case sfDate:
		return "date"
	case sfDisplayString:
		return "display string"
	case sfInnerList:
		return "inner list"
	}
	return "none"
}

// Limits from RFC 9651 §3.3.1 and §3.3.2.
const (
	sfMaxIntegerDigits = 15
	sfMaxDecimalInt    = 12
	sfMaxDecimalFrac   = 3
)

// sfValue is a Bare Item.
//
// Str holds the item's wire text without its delimiters: for a String the
// characters between the quotes with escapes left in place (RFC 9651 allows
// only \" and \\, so the escaped form is canonical and two Strings are equal
// exactly when their Str are equal); for a Byte Sequence the base64 text; for
// a Display String the percent-encoded text; for a Token the token.
type sfValue struct {
	Kind sfKind
	Int  int64   // Integer, Date
	Dec  float64 // Decimal
	Bool bool    // Boolean
	Str  string
}

// Unquoted returns a String's value with escapes removed. It allocates only
// when the String contains escapes.
func (v sfValue) Unquoted() string {
	s := v.Str
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			b := make([]byte, 0, len(s)-1)
			for j := 0; j < len(s); j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				b = append(b, s[j])
			}
			return string(b)
		}
	}
	return s
}

// IsString reports whether v is the String s (s given unescaped, without
// backslashes or quotes in it).
func (v sfValue) IsString(s string) bool { return v.Kind == sfString && v.Str == s }

// sfParams is a validated Parameters section (";a=1;b"), kept as raw text.
type sfParams string

// Get returns the value of the last parameter named key (RFC 9651 §4.2.3.2:
// a later parameter overrides an earlier one).
func (p sfParams) Get(key string) (sfValue, bool) {
	var out sfValue
	found := false
	p.each(func(k string, v sfValue) bool {
		if k == key {
			out, found = v, true
		}
		return true
	})
	return out, found
}

// each calls fn for each parameter in order until fn returns false. The text
// was validated when it was captured, so errors cannot occur here.
func (p sfParams) each(fn func(key string, v sfValue) bool) {
	s := &sfScanner{s: string(p)}
	for s.i < len(s.s) && s.s[s.i] == ';' {
		s.i++
		s.skipSP()
		key := s.key()
		var v sfValue
		if s.i < len(s.s) && s.s[s.i] == '=' {
			s.i++
			s.bareItem(&v)
		} else {
			v.Kind, v.Bool = sfBoolean, true
		}
		if s.err || !fn(key, v) {
			return
		}
	}
}

// get3 sets *v1, *v2 and *v3 to the values of the parameters k1, k2 and
// k3 (Kind sfNone when absent; an empty key is not looked up and its
// pointer may be nil) in one pass. Values of other parameters are skipped
// without being decoded: the text was validated when it was captured, so
// their extent is all that matters. This is what callers on the hot path
// use. The values are filled in place rather than returned for the reason
// given at sfScanner.bareItem.
func (p sfParams) get3(k1, k2, k3 string, v1, v2, v3 *sfValue) {
	for _, v := range [...]*sfValue{v1, v2, v3} {
		if v != nil {
			*v = sfValue{}
		}
	}
	str := string(p)
	i := 0
	for i < len(str) && str[i] == ';' {
		i++
		for i < len(str) && str[i] == ' ' {
			i++
		}
		start := i
		for i < len(str) && str[i] != '=' && str[i] != ';' && str[i] != ' ' {
			i++
		}
		key := str[start:i]
		var dst *sfValue
		switch key {
		case k1:
			dst = v1
		case k2:
			dst = v2
		case k3:
			dst = v3
		}
		if i >= len(str) || str[i] != '=' {
			if dst == nil {
				continue
			}
			*dst = sfValue{}
			dst.Kind, dst.Bool = sfBoolean, true // Boolean true shorthand
		} else {
			i++ // '='
			if dst == nil {
				i = sfSkipBare(str, i)
				continue
			}
			*dst = sfValue{} // a repeated key: the last one wins whole
			sc := sfScanner{s: str, i: i}
			sc.bareItem(dst)
			i = sc.i
		}
		if key == k2 && dst != v2 { // a key asked for twice
			*v2 = *dst
		}
		if key == k3 && dst != v3 {
			*v3 = *dst
		}
	}
}

// sfSkipBare returns the end of the validated bare item starting at i.
func sfSkipBare(str string, i int) int {
	if i >= len(str) {
		return i
	}
	switch str[i] {
	case '"':
		for i++; i < len(str); i++ {
			if str[i] == '\\' {
				i++
			} else if str[i] == '"' {
				return i + 1
			}
		}
		return i
	case '%': // %"..."; no unescaped quote inside
		i += 2
		for i < len(str) && str[i] != '"' {
			i++
		}
		return i + 1
	case ':':
		for i++; i < len(str) && str[i] != ':'; i++ {
		}
		return i + 1
	}
	// Integer, Decimal, Token, Boolean, Date: none contains ';' or ' '.
	for i < len(str) && str[i] != ';' && str[i] != ' ' && str[i] != ')' {
		i++
	}
	return i
}

// Len counts the parameters, duplicates included.
func (p sfParams) Len() int {
	n := 0
	p.each(func(string, sfValue) bool { n++; return true })
	return n
}

// sfMember is a List member or a Dictionary member: an Item (Value with
// Params) or an Inner List (Value.Kind == sfInnerList, Inner holding the
// items, Params the list's parameters).
type sfMember struct {
	Key    string // Dictionary key; empty in Lists
	Value  sfValue
	Params sfParams
	Inner  sfInner
}

// sfInner is a validated Inner List body ("1 2;a=3"), kept as raw text.
type sfInner string

// each calls fn for every item of the inner list until fn returns false.
func (in sfInner) each(fn func(v sfValue, p sfParams) bool) {
	s := &sfScanner{s: string(in)}
	for {
		s.skipSP()
		if s.i >= len(s.s) {
			return
		}
		var v sfValue
		s.bareItem(&v)
		p := s.params()
		if s.err || !fn(v, p) {
			return
		}
	}
}

// Len counts the items of the inner list.
func (in sfInner) Len() int {
	n := 0
	in.each(func(sfValue, sfParams) bool { n++; return true })
	return n
}

// sfParseList parses a List field (RFC 9651 §4.2.1) and appends its members
// to dst. The field's lines are parsed as if joined with ", " (RFC 9110
// §5.3), without building the joined string.
func sfParseList(lines []string, dst []sfMember) ([]sfMember, error) {
	return sfParseLines(lines, dst, false)
}

// sfParseDictionary parses a Dictionary field (RFC 9651 §4.2.2) and appends
// its members to dst in order of appearance. A key that appears twice is
// kept twice; use sfDictGet, which returns the last, as the RFC prescribes.
func sfParseDictionary(lines []string, dst []sfMember) ([]sfMember, error) {
	return sfParseLines(lines, dst, true)
}

func sfParseLines(lines []string, dst []sfMember, dict bool) ([]sfMember, error) {
	start := len(dst)
	for _, line := range lines {
		line = trimSP(line)
		if line == "" {
			if len(lines) > 1 {
				// Joined with ", " this would leave an empty member.
				return dst[:start], ErrBadField
			}
			continue
		}
		s := sfScanner{s: line}
		var ok bool
		dst, ok = s.container(dst, dict)
		if !ok {
			return dst[:start], ErrBadField
		}
	}
	return dst, nil
}

// sfParseItem parses an Item field (RFC 9651 §4.2.3).
func sfParseItem(line string) (sfValue, sfParams, error) {
	s := sfScanner{s: trimSP(line)}
	var v sfValue
	s.bareItem(&v)
	p := s.params()
	if s.err || s.i != len(s.s) {
		return sfValue{}, "", ErrBadField
	}
	return v, p, nil
}

// sfDictGet returns the last member with key.
func sfDictGet(members []sfMember, key string) (sfMember, bool) {
	for i := len(members) - 1; i >= 0; i-- {
		if members[i].Key == key {
			return members[i], true
		}
	}
	return sfMember{}, false
}

func trimSP(s string) string {
	for len(s) > 0 && s[0] == ' ' {
		s = s[1:]
	}
	for len(s) > 0 && s[len(s)-1] == ' ' {
		s = s[:len(s)-1]
	}
	return s
}

// sfScanner holds the parse position. err is sticky: once set every method
// returns zero values (or leaves what it was to fill unspecified), so the
// grammar code reads straight through and checks once.
type sfScanner struct {
	s   string
	i   int
	err bool
}

func (s *sfScanner) fail() { s.err = true; s.i = len(s.s) }

// The scanning loops copy the input and position into locals: with the
// scanner behind a pointer the compiler would otherwise reload both and
// bounds-check on every byte.

func (s *sfScanner) skipSP() {
	str, i := s.s, s.i
	for i < len(str) && str[i] == ' ' {
		i++
	}
	s.i = i
}

func (s *sfScanner) skipOWS() {
	str, i := s.s, s.i
	for i < len(str) && (str[i] == ' ' || str[i] == '\t') {
		i++
	}
	s.i = i
}

// container parses one line of a List or Dictionary (§4.2.1, §4.2.2).
func (s *sfScanner) container(dst []sfMember, dict bool) ([]sfMember, bool) {
	for s.i < len(s.s) {
		// Parsed in place in dst (see sfScanner.bareItem).
		dst = append(dst, sfMember{})
		m := &dst[len(dst)-1]
		if dict {
			m.Key = s.key()
			if s.i < len(s.s) && s.s[s.i] == '=' {
				s.i++
				s.itemOrInnerList(m)
			} else {
				m.Value.Kind, m.Value.Bool = sfBoolean, true
				m.Params = s.params()
			}
		} else {
			s.itemOrInnerList(m)
		}
		if s.err {
			return dst[:len(dst)-1], false
		}
		s.skipOWS()
		if s.i >= len(s.s) {
			return dst, true
		}
		if s.s[s.i] != ',' {
			return dst, false
		}
		s.i++
		s.skipOWS()
		if s.i >= len(s.s) {
			return dst, false // trailing comma
		}
	}
	return dst, true
}

func (s *sfScanner) itemOrInnerList(m *sfMember) {
	if s.i < len(s.s) && s.s[s.i] == '(' {
		s.innerList(m)
		return
	}
	s.bareItem(&m.Value)
	m.Params = s.params()
}

// innerList parses "(" *SP [ item *( 1*SP item ) *SP ] ")" parameters.
func (s *sfScanner) innerList(m *sfMember) {
	s.i++ // '('
	start := s.i
	for !s.err {
		s.skipSP()
		if s.i >= len(s.s) {
			s.fail()
			return
		}
		if s.s[s.i] == ')' {
			m.Value.Kind = sfInnerList
			m.Inner = sfInner(s.s[start:s.i])
			s.i++
			m.Params = s.params()
			return
		}
		var v sfValue
		s.bareItem(&v)
		s.params()
		if s.err {
			return
		}
		if s.i >= len(s.s) || (s.s[s.i] != ' ' && s.s[s.i] != ')') {
			s.fail()
			return
		}
	}
}

// params parses *( ";" *SP parameter ) and returns its text.
func (s *sfScanner) params() sfParams {
	start := s.i
	for !s.err && s.i < len(s.s) && s.s[s.i] == ';' {
		s.i++
		s.skipSP()
		s.key()
		if s.i < len(s.s) && s.s[s.i] == '=' {
			s.i++
			var v sfValue
			s.bareItem(&v)
		}
	}
	if s.err {
		return ""
	}
	return sfParams(s.s[start:s.i])
}

// key parses ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" ).
func (s *sfScanner) key() string {
	str, start := s.s, s.i
	if start >= len(str) || !(isLCAlpha(str[start]) || str[start] == '*') {
		s.fail()
		return ""
	}
	i := start + 1
	for i < len(str) {
		c := str[i]
		if isLCAlpha(c) || isDigit(c) || c == '_' || c == '-' || c == '.' || c == '*' {
			i++
			continue
		}
		break
	}
	s.i = i
	return str[start:i]
}

// bareItem parses a Bare Item into *v, which must be zero.
//
// Values are decoded in place, field by field, into their final home (a
// member of the caller's slice, a result of get3) rather than returned and
// copied: the compiler copies an sfValue with 16-byte moves, and such a load
// right after the narrower stores that built the value cannot be forwarded
// from them and stalls until they retire. On the IETF header path such
// stalls took about a quarter of the time (the same holds for the other
// structs built on the hot path: Observation, ietfPolicy).
func (s *sfScanner) bareItem(v *sfValue) {
	if s.err || s.i >= len(s.s) {
		s.fail()
		return
	}
	switch c := s.s[s.i]; {
	case c == '-' || isDigit(c):
		s.number(v)
	case c == '"':
		s.str(v)
	case c == '*' || isAlpha(c):
		s.token(v)
	case c == ':':
		s.byteSeq(v)
	case c == '?':
		s.boolean(v)
	case c == '@':
		s.i++
		s.number(v)
		if v.Kind != sfInteger {
			s.fail()
			return
		}
		v.Kind = sfDate
	case c == '%':
		s.displayString(v)
	default:
		s.fail()
	}
}

// number parses an Integer or Decimal (§4.2.4).
func (s *sfScanner) number(v *sfValue) {
	str, start := s.s, s.i
	i := start
	neg := false
	if i < len(str) && str[i] == '-' {
		neg = true
		i++
	}
	if i >= len(str) || !isDigit(str[i]) {
		s.fail()
		return
	}
	digits, dot := 0, -1
	var n int64
	for ; i < len(str); i++ {
		c := str[i]
		if isDigit(c) {
			digits++
			if dot < 0 {
				if digits > sfMaxIntegerDigits {
					s.fail()
					return
				}
				n = n*10 + int64(c-'0')
			} else if digits > sfMaxIntegerDigits {
				// A Decimal is at most 16 characters, the dot included.
				s.fail()
				return
			}
		} else if c == '.' && dot < 0 {
			if digits > sfMaxDecimalInt {
				s.fail()
				return
			}
			dot = digits
		} else {
			break
		}
	}
	s.i = i
	if dot < 0 {
		if neg {
			n = -n
		}
		v.Kind, v.Int = sfInteger, n
		return
	}
	frac := digits - dot
	if frac == 0 || frac > sfMaxDecimalFrac {
		s.fail()
		return
	}
	f, err := strconv.ParseFloat(str[start:i], 64)
	if err != nil {
		s.fail()
		return
	}
	v.Kind, v.Dec = sfDecimal, f
}

// str parses a String (§4.2.5): printable ASCII, \" and \\ escapes only.
func (s *sfScanner) str(v *sfValue) {
	str := s.s
	start := s.i + 1 // after '"'
	for i := start; i < len(str); i++ {
		c := str[i]
		switch {
		case c == '\\':
			if i+1 >= len(str) || (str[i+1] != '"' && str[i+1] != '\\') {
				s.fail()
				return
			}
			i++
		case c == '"':
			s.i = i + 1
			v.Kind, v.Str = sfString, str[start:i]
			return
		case c < 0x20 || c > 0x7e:
			s.fail()
			return
		}
	}
	s.fail()
	return
}

// token parses ( ALPHA / "*" ) *( tchar / ":" / "/" ) (§4.2.6).
func (s *sfScanner) token(v *sfValue) {
	str, start := s.s, s.i
	i := start + 1
	for i < len(str) && (isTchar(str[i]) || str[i] == ':' || str[i] == '/') {
		i++
	}
	s.i = i
	v.Kind, v.Str = sfToken, str[start:i]
}

// byteSeq parses ":" base64 ":" (§4.2.7). The base64 text is validated
// (alphabet, padding only at the end, a length that can decode) but not
// decoded: no caller needs the bytes.
func (s *sfScanner) byteSeq(v *sfValue) {
	str := s.s
	start := s.i + 1 // after ':'
	i, pad := start, 0
	for i < len(str) && str[i] != ':' {
		c := str[i]
		switch {
		case c == '=':
			pad++
		case isAlpha(c) || isDigit(c) || c == '+' || c == '/':
			if pad > 0 {
				s.fail() // data after padding
				return
			}
		default:
			s.fail()
			return
		}
		i++
	}
	if i >= len(str) {
		s.fail()
		return
	}
	b64 := str[start:i]
	s.i = i + 1 // past ':'
	data := len(b64) - pad
	if pad > 2 || data%4 == 1 || (pad > 0 && len(b64)%4 != 0) {
		s.fail()
		return
	}
	v.Kind, v.Str = sfByteSeq, b64
}

func (s *sfScanner) boolean(v *sfValue) {
	s.i++ // '?'
	if s.i < len(s.s) {
		switch s.s[s.i] {
		case '1':
			s.i++
			v.Kind, v.Bool = sfBoolean, true
			return
		case '0':
			s.i++
			v.Kind = sfBoolean
			return
		}
	}
	s.fail()
	return
}

// displayString parses %"..." with lowercase %xx escapes decoding to valid
// UTF-8 (§4.2.10). Validation is streamed, so nothing is allocated.
func (s *sfScanner) displayString(v *sfValue) {
	s.i++ // '%'
	if s.i >= len(s.s) || s.s[s.i] != '"' {
		s.fail()
		return
	}
	s.i++
	start := s.i
	var pending [utf8.UTFMax]byte
	n := 0
	for s.i < len(s.s) {
		c := s.s[s.i]
		if c < 0x20 || c > 0x7e {
			s.fail()
			return
		}
		if c == '"' {
			if n != 0 {
				s.fail() // truncated UTF-8 sequence
				return
			}
			v.Kind, v.Str = sfDisplayString, s.s[start:s.i]
			s.i++
			return
		}
		b := c
		if c == '%' {
			if s.i+2 >= len(s.s) {
				s.fail()
				return
			}
			h, okh := lcHex(s.s[s.i+1])
			l, okl := lcHex(s.s[s.i+2])
			if !okh || !okl {
				s.fail()
				return
			}
			b = h<<4 | l
			s.i += 2
		}
		s.i++
		pending[n] = b
		n++
		if utf8.FullRune(pending[:n]) {
			r, size := utf8.DecodeRune(pending[:n])
			if r == utf8.RuneError && size <= 1 {
				s.fail()
				return
			}
			n = 0
		}
	}
	s.fail()
	return
}

func lcHex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

func isDigit(c byte) bool   { return c >= '0' && c <= '9' }
func isLCAlpha(c byte) bool { return c >= 'a' && c <= 'z' }
func isAlpha(c byte) bool   { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// isTchar reports RFC 9110 tchar.
func isTchar(c byte) bool {
	if isAlpha(c) || isDigit(c) {
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}
