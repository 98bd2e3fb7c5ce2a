package parsers

import (
	"math/rand"
	"strconv"
	"strings"
	"testing"
)

// sfSerialize renders parsed members in RFC 9651 canonical form (§4.1), with
// RFC semantics for repeated keys (the last value wins, at the position of
// the first), so tests compare against the RFC's expected serialisations.
func sfSerialize(ms []sfMember, dict bool) string {
	if dict {
		var keys []string
		last := map[string]sfMember{}
		for _, m := range ms {
			if _, seen := last[m.Key]; !seen {
				keys = append(keys, m.Key)
			}
			last[m.Key] = m
		}
		ms = ms[:0:0]
		for _, k := range keys {
			ms = append(ms, last[k])
		}
	}
	var b strings.Builder
	for i, m := range ms {
		if i > 0 {
			b.WriteString(", ")
		}
		if dict {
			b.WriteString(m.Key)
			if m.Value.Kind == sfBoolean && m.Value.Bool {
				b.WriteString(sfSerializeParams(m.Params))
				continue
			}
			b.WriteByte('=')
		}
		if m.Value.Kind == sfInnerList {
			b.WriteByte('(')
			first := true
			m.Inner.each(func(v sfValue, p sfParams) bool {
				if !first {
					b.WriteByte(' ')
				}
				first = false
				b.WriteString(sfSerializeBare(v))
				b.WriteString(sfSerializeParams(p))
				return true
			})
			b.WriteByte(')')
		} else {
			b.WriteString(sfSerializeBare(m.Value))
		}
		b.WriteString(sfSerializeParams(m.Params))
	}
	return b.String()
}

func sfSerializeParams(p sfParams) string {
	var keys []string
	last := map[string]sfValue{}
	p.each(func(k string, v sfValue) bool {
		if _, seen := last[k]; !seen {
			keys = append(keys, k)
		}
		last[k] = v
		return true
	})
	var b strings.Builder
	for _, k := range keys {
		b.WriteByte(';')
		b.WriteString(k)
		if v := last[k]; !(v.Kind == sfBoolean && v.Bool) {
			b.WriteByte('=')
			b.WriteString(sfSerializeBare(v))
		}
	}
	return b.String()
}

func sfSerializeBare(v sfValue) string {
	switch v.Kind {
	case sfInteger:
		return strconv.FormatInt(v.Int, 10)
	case sfDecimal:
		s := strconv.FormatFloat(v.Dec, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	case sfString:
		return `"` + v.Str + `"`
	case sfToken:
		return v.Str
	case sfByteSeq:
		return ":" + v.Str + ":"
	case sfBoolean:
		if v.Bool {
			return "?1"
		}
		return "?0"
	case sfDate:
		return "@" + strconv.FormatInt(v.Int, 10)
	case sfDisplayString:
		return `%"` + v.Str + `"`
	}
	return "<" + v.Kind.String() + ">"
}

func TestSFList(t *testing.T) {
	cases := []struct {
		name  string
		lines []string
		want  string // canonical serialisation; "FAIL" for a parse error
	}{
		// RFC 9651 §3.1 and §3.1.1 examples.
		{"tokens", []string{"sugar, tea, rum"}, "sugar, tea, rum"},
		{"no spaces", []string{"sugar,tea,rum"}, "sugar, tea, rum"},
		{"OWS around commas", []string{"sugar ,\ttea ,  rum"}, "sugar, tea, rum"},
		{"split over lines", []string{"sugar, tea", "rum"}, "sugar, tea, rum"},
		{"inner lists", []string{`("foo" "bar"), ("baz"), ("bat" "one"), ()`}, `("foo" "bar"), ("baz"), ("bat" "one"), ()`},
		{"inner list parameters", []string{`("foo"; a=1;b=2);lvl=5, ("bar" "baz");lvl=1`}, `("foo";a=1;b=2);lvl=5, ("bar" "baz");lvl=1`},
		{"item parameters", []string{`abc;a=1;b=2; cde_456, (ghi;jk=4 l);q="9";r=w`}, `abc;a=1;b=2;cde_456, (ghi;jk=4 l);q="9";r=w`},
		{"strings", []string{`"foo", "bar", "It was the best of times."`}, `"foo", "bar", "It was the best of times."`},
		{"empty field", []string{""}, ""},
		{"spaces only", []string{"   "}, ""},
		{"inner list extra spaces", []string{`(  1   2  )`}, `(1 2)`},
		{"repeated parameter: last wins", []string{`a;x=1;y=2;x=3`}, `a;x=3;y=2`},
		// draft-ietf-httpapi-ratelimit-headers-11 examples.
		{"policy", []string{`"default";q=100;w=10`}, `"default";q=100;w=10`},
		{"policies", []string{`"permin";q=50;w=60,"perhr";q=1000;w=3600`}, `"permin";q=50;w=60, "perhr";q=1000;w=3600`},
		{"partition key", []string{`"peruser";q=65535;qu="content-bytes";w=10;pk=:sdfjLJUOUH==:`}, `"peruser";q=65535;qu="content-bytes";w=10;pk=:sdfjLJUOUH==:`},
		{"service limit", []string{`"default";r=999;pk=:dHJpYWwxMjEzMjM=:`}, `"default";r=999;pk=:dHJpYWwxMjEzMjM=:`},
		{"older draft policy list", []string{`10;w=1, 50;w=60, 1000;w=3600, 5000;w=86400`}, `10;w=1, 50;w=60, 1000;w=3600, 5000;w=86400`},
		{"policy comments", []string{`100;w=60;comment="fixed window"`}, `100;w=60;comment="fixed window"`},

		{"trailing comma", []string{"a, b,"}, "FAIL"},
		{"leading comma", []string{",a"}, "FAIL"},
		{"empty member", []string{"a,,b"}, "FAIL"},
		{"missing comma", []string{"a b"}, "FAIL"},
		{"empty line among lines", []string{"a", ""}, "FAIL"},
		{"leading tab", []string{"\ta"}, "FAIL"},
		{"unclosed inner list", []string{"(1 2"}, "FAIL"},
		{"comma in inner list", []string{"(1,2)"}, "FAIL"},
		{"inner list without separator", []string{`("a""b")`}, "FAIL"},
		{"uppercase parameter key", []string{"a;A=1"}, "FAIL"},
		{"parameter without key", []string{"a;=1"}, "FAIL"},
		{"dictionary syntax", []string{"limit=100, remaining=50"}, "FAIL"},
		{"bad item on a later line", []string{"a", "b c"}, "FAIL"},
		{"non-ASCII", []string{"a, \u00e9"}, "FAIL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf [4]sfMember
			ms, err := sfParseList(tc.lines, buf[:0])
			got := sfSerialize(ms, false)
			if err != nil {
				got = "FAIL"
				if len(ms) != 0 {
					t.Errorf("failed parse returned %d members", len(ms))
				}
			}
			if got != tc.want {
				t.Errorf("%q: got %s, want %s", tc.lines, got, tc.want)
			}
		})
	}
}

func TestSFDictionary(t *testing.T) {
	cases := []struct {
		name  string
		lines []string
		want  string
	}{
		// RFC 9651 §3.2 examples.
		{"strings and bytes", []string{`en="Applepie", da=:w4ZibGV0w6ZydGU=:`}, `en="Applepie", da=:w4ZibGV0w6ZydGU=:`},
		{"boolean shorthand", []string{`a=?0, b, c; foo=bar`}, `a=?0, b, c;foo=bar`},
		{"inner list value", []string{`rating=1.5, feelings=(joy sadness)`}, `rating=1.5, feelings=(joy sadness)`},
		{"mixed", []string{`a=(1 2), b=3, c=4;aa=bb, d=(5 6);valid`}, `a=(1 2), b=3, c=4;aa=bb, d=(5 6);valid`},
		{"split over lines", []string{`a=1`, `b=2`}, `a=1, b=2`},
		{"duplicate key: last value, first position", []string{`a=1,b=2,a=3`}, `a=3, b=2`},
		{"key characters", []string{`a_b-c.d*=1, *x=2`}, `a_b-c.d*=1, *x=2`},
		{"explicit true", []string{`a=?1`}, `a`},
		// draft-ietf-httpapi-ratelimit-headers-07.
		{"draft-07 RateLimit", []string{`limit=100, remaining=50, reset=30`}, `limit=100, remaining=50, reset=30`},
		{"empty", []string{""}, ""},

		{"uppercase key", []string{`A=1`}, "FAIL"},
		{"key starting with digit", []string{`1a=1`}, "FAIL"},
		{"trailing comma", []string{`a=1,`}, "FAIL"},
		{"missing value", []string{`a=`}, "FAIL"},
		{"list syntax", []string{`"default";r=50`}, "FAIL"},
		{"space before equals", []string{`a =1`}, "FAIL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf [4]sfMember
			ms, err := sfParseDictionary(tc.lines, buf[:0])
			got := sfSerialize(ms, true)
			if err != nil {
				got = "FAIL"
			}
			if got != tc.want {
				t.Errorf("%q: got %s, want %s", tc.lines, got, tc.want)
			}
		})
	}
}

func TestSFItem(t *testing.T) {
	cases := []struct {
		in   string
		want string
	}{
		// RFC 9651 §3.3 examples.
		{`5; foo=bar`, `5;foo=bar`},
		{`42`, `42`},
		{`-42`, `-42`},
		{`0`, `0`},
		{`-0`, `0`},
		{`4.5`, `4.5`},
		{`-0.5`, `-0.5`},
		{`1.000`, `1.0`},
		{`999999999999999`, `999999999999999`},
		{`-999999999999999`, `-999999999999999`},
		{`123456789012.345`, `123456789012.345`},
		{`"hello world"`, `"hello world"`},
		{`"with \"quotes\" and \\"`, `"with \"quotes\" and \\"`},
		{`""`, `""`},
		{`foo123/456`, `foo123/456`},
		{`*foo:bar!#$%&'*+-.^_|~`, `*foo:bar!#$%&'*+-.^_|~`},
		{`:cHJldGVuZCB0aGlzIGlzIGJpbmFyeSBjb250ZW50Lg==:`, `:cHJldGVuZCB0aGlzIGlzIGJpbmFyeSBjb250ZW50Lg==:`},
		{`::`, `::`},
		{`:aGVsbG8:`, `:aGVsbG8:`}, // missing padding is tolerated (RFC 9651 §4.2.7)
		{`?1`, `?1`},
		{`?0`, `?0`},
		{`@1659578233`, `@1659578233`},
		{`@-62135596800`, `@-62135596800`},
		{`%"This is intended for display to %c3%bcsers."`, `%"This is intended for display to %c3%bcsers."`},
		{`%""`, `%""`},
		{`%"%ef%bf%bd"`, `%"%ef%bf%bd"`}, // U+FFFD itself is valid
		{`  1  `, `1`},

		{``, "FAIL"},
		{`1234567890123456`, "FAIL"}, // 16-digit integer
		{`1234567890123.4`, "FAIL"},  // 13 integer digits in a decimal
		{`1.2345`, "FAIL"},           // 4 fractional digits
		{`1.`, "FAIL"},               // no fractional digits
		{`.5`, "FAIL"},               // no integer digits
		{`-`, "FAIL"},                // sign only
		{`--1`, "FAIL"},              // double sign
		{`1.2.3`, "FAIL"},            // trailing ".3"
		{`"abc`, "FAIL"},             // unterminated
		{`"a\qb"`, "FAIL"},           // bad escape
		{`"a\`, "FAIL"},              // escape at end
		{"\"tab\there\"", "FAIL"},    // control character
		{"\"\u00e9\"", "FAIL"},       // non-ASCII
		{`?2`, "FAIL"},               // boolean
		{`?`, "FAIL"},                // boolean
		{`@1.5`, "FAIL"},             // date must be an integer
		{`@`, "FAIL"},                // date
		{`:aGVsbG8=`, "FAIL"},        // unterminated byte sequence
		{`:a=GVsbG8=:`, "FAIL"},      // padding in the middle
		{`:=aGVsbG8=:`, "FAIL"},      // padding at the start
		{`:aGVsbG!8=:`, "FAIL"},      // bad character
		{`:_-Ah:`, "FAIL"},           // base64url
		{`:a:`, "FAIL"},              // impossible length
		{`:aGVsbG8===:`, "FAIL"},     // too much padding
		{`%"%C3%BC"`, "FAIL"},        // uppercase hex
		{`%"%c3"`, "FAIL"},           // truncated UTF-8
		{`%"%ff"`, "FAIL"},           // invalid UTF-8
		{`%"%ed%a0%80"`, "FAIL"},     // surrogate
		{`%"%c"`, "FAIL"},            // short escape
		{`%abc`, "FAIL"},             // no quote
		{`%"abc`, "FAIL"},            // unterminated
		{`a b`, "FAIL"},              // trailing garbage
		{`1;A=2`, "FAIL"},            // uppercase parameter
		{`(1 2)`, "FAIL"},            // inner list is not an Item
		{`Ω`, "FAIL"},                // non-ASCII token
		{`1, 2`, "FAIL"},             // a list, not an item
	}
	for _, tc := range cases {
		v, p, err := sfParseItem(tc.in)
		got := sfSerializeBare(v) + sfSerializeParams(p)
		if err != nil {
			got = "FAIL"
		}
		if got != tc.want {
			t.Errorf("%q: got %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestSFValueHelpers(t *testing.T) {
	v, _, err := sfParseItem(`"a \"quoted\" \\ b"`)
	if err != nil {
		t.Fatal(err)
	}
	if got := v.Unquoted(); got != `a "quoted" \ b` {
		t.Errorf("Unquoted = %q", got)
	}
	v, p, err := sfParseItem(`"requests";x=1;y;x=2`)
	if err != nil {
		t.Fatal(err)
	}
	if !v.IsString("requests") || v.IsString("request") {
		t.Error("IsString")
	}
	if x, ok := p.Get("x"); !ok || x.Kind != sfInteger || x.Int != 2 {
		t.Errorf("Get(x) = %+v %v, want the last value 2", x, ok)
	}
	if y, ok := p.Get("y"); !ok || y.Kind != sfBoolean || !y.Bool {
		t.Errorf("Get(y) = %+v %v, want true", y, ok)
	}
	if _, ok := p.Get("z"); ok {
		t.Error("Get(z) found a missing key")
	}
	if p.Len() != 3 {
		t.Errorf("Len = %d", p.Len())
	}
	var buf [2]sfMember
	ms, err := sfParseList([]string{`(1 2 3);a, b`}, buf[:0])
	if err != nil || ms[0].Inner.Len() != 3 {
		t.Errorf("inner list: %v %v", ms, err)
	}
	d, err := sfParseDictionary([]string{"a=1, b=2, a=3"}, buf[:0])
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := sfDictGet(d, "a"); !ok || m.Value.Int != 3 {
		t.Errorf("sfDictGet(a) = %+v", m)
	}
	if _, ok := sfDictGet(d, "c"); ok {
		t.Error("sfDictGet(c) found a missing key")
	}
}

// TestSFNeverPanics feeds mutated and random inputs through every entry
// point: parsing may fail, never panic, and a failure yields no members.
func TestSFNeverPanics(t *testing.T) {
	seeds := []string{
		`"default";q=100;w=60, "day";q=5000;w=86400;pk=:cGs=:`,
		`limit=100, remaining=50, reset=30`,
		`("a" "b";x=?1);y=@12, %"%c3%bc", :YWJj:, 1.5, -2, tok/en`,
		`a=(1 2), b=3, c=4;aa=bb, d=(5 6);valid`,
	}
	alphabet := []byte(`"();=,: ?@%\*-.0123456789abcAZ_/` + "\t\x00\xff")
	rng := rand.New(rand.NewSource(1))
	var buf [4]sfMember
	check := func(s string) {
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("panic on %q: %v", s, p)
			}
		}()
		for _, dict := range []bool{false, true} {
			ms, err := sfParseLines([]string{s}, buf[:0], dict)
			if err != nil && len(ms) != 0 {
				t.Fatalf("%q: error with %d members", s, len(ms))
			}
			for i := range ms {
				ms[i].Params.Len()
				ms[i].Inner.Len()
				ms[i].Value.Unquoted()
				sfCheckGet3(t, ms[i].Params)
				ms[i].Inner.each(func(_ sfValue, p sfParams) bool { sfCheckGet3(t, p); return true })
			}
		}
		if v, p, err := sfParseItem(s); err == nil {
			p.Len()
			v.Unquoted()
		}
	}
	for _, s := range seeds {
		for i := 0; i <= len(s); i++ {
			check(s[:i])
		}
		for n := 0; n < 2000; n++ {
			b := []byte(s)
			for k := rng.Intn(4) + 1; k > 0; k-- {
				i := rng.Intn(len(b))
				switch rng.Intn(3) {
				case 0:
					b[i] = alphabet[rng.Intn(len(alphabet))]
				case 1:
					b = append(b[:i], b[i+1:]...)
				default:
					b = append(b[:i], append([]byte{alphabet[rng.Intn(len(alphabet))]}, b[i:]...)...)
				}
				if len(b) == 0 {
					break
				}
			}
			check(string(b))
		}
	}
}

// sfCheckGet3 checks the one-pass lookup against the plain one.
func sfCheckGet3(t *testing.T, p sfParams) {
	t.Helper()
	keys := []string{"a", "x", "y", "q", "w", "pk", "aa", "valid"}
	p.each(func(k string, _ sfValue) bool { keys = append(keys, k); return true })
	for i := 0; i+2 < len(keys); i++ {
		got := [3]sfValue{}
		p.get3(keys[i], keys[i+1], keys[i+2], &got[0], &got[1], &got[2])
		for j := 0; j < 3; j++ {
			want, _ := p.Get(keys[i+j])
			if got[j] != want {
				t.Fatalf("%q: get3(%q) = %+v, Get = %+v", string(p), keys[i+j], got[j], want)
			}
		}
	}
}

func TestSFGet3(t *testing.T) {
	for _, s := range []string{
		`a;q=100;w=60;pk=:cHsdsRa894==:`,
		`a;x="semi;colon \" quote";y=%"d%c3%a9j%c3%a0 ; vu";q=-1.5;w;pk=:YWJj:;q=2`,
		`(b;x=1 c;y=tok/en:x);w=?0;a=@123`,
		`a;valid;x=*t;aa=?1`,
	} {
		var buf [2]sfMember
		ms, err := sfParseList([]string{s}, buf[:0])
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		for _, m := range ms {
			sfCheckGet3(t, m.Params)
			m.Inner.each(func(_ sfValue, p sfParams) bool { sfCheckGet3(t, p); return true })
		}
	}
}

// FuzzSFList: lists and dictionaries (RFC 9651) never panic, an error
// comes with no members, and the one-pass parameter lookup (get3) reads
// what the plain one does.
func FuzzSFList(f *testing.F) {
	f.Add(`"default";q=100;w=60`)
	f.Add(`limit=100, remaining=50, reset=30`)
	f.Add(`("a" 1.5);x=:YWJj:, %"%c3%bc", ?0, @1`)
	f.Fuzz(func(t *testing.T, s string) {
		var buf [4]sfMember
		for _, dict := range []bool{false, true} {
			ms, err := sfParseLines([]string{s}, buf[:0], dict)
			if err != nil && len(ms) != 0 {
				t.Fatalf("error with members")
			}
			for i := range ms {
				ms[i].Params.Len()
				ms[i].Inner.Len()
				sfCheckGet3(t, ms[i].Params)
				ms[i].Inner.each(func(_ sfValue, p sfParams) bool { sfCheckGet3(t, p); return true })
			}
		}
		sfParseItem(s)
	})
}

func BenchmarkSFList(b *testing.B) {
	lines := []string{`"burst";q=100;w=60;pk=:cHsdsRa894==:, "daily";q=1000;w=86400`}
	b.ReportAllocs()
	for b.Loop() {
		var buf [8]sfMember
		ms, err := sfParseList(lines, buf[:0])
		if err != nil || len(ms) != 2 {
			b.Fatal(err)
		}
		if q, ok := ms[1].Params.Get("q"); !ok || q.Int != 1000 {
			b.Fatal(q)
		}
	}
}
