package tail

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// The oracle of json.go is encoding/json. A JSON text is turned into a
// tree that keeps what either reader reports: members in order with
// duplicates, numbers as written.
type (
	jsonObject []jsonMember
	jsonMember struct {
		Key   string
		Value any
	}
	jsonArray  []any
	jsonNumber string
)

// encode writes the tree compactly, strings as encoding/json escapes them.
func (o jsonObject) encode() string {
	var b strings.Builder
	encodeNode(&b, o)
	return b.String()
}

func encodeNode(b *strings.Builder, v any) {
	switch v := v.(type) {
	case jsonObject:
		b.WriteByte('{')
		for i, m := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			encodeNode(b, m.Key)
			b.WriteByte(':')
			encodeNode(b, m.Value)
		}
		b.WriteByte('}')
	case jsonArray:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			encodeNode(b, e)
		}
		b.WriteByte(']')
	case jsonNumber:
		b.WriteString(string(v))
	default: // string, bool, nil
		j, _ := json.Marshal(v)
		b.Write(j)
	}
}

// oracleResult is encoding/json's reading of a line.
type oracleResult struct {
	valid bool
	err   error
	tree  any
	// strict: encoding/json read the line as written, without the
	// leniencies below, and every string is valid UTF-8 (encoding/json
	// replaces invalid bytes, this package keeps them).
	strict bool
}

// jsonOracle reads line with encoding/json, allowing what json.go allows
// on purpose: control characters inside strings (some log writers emit
// them raw) and any run of number characters as a number (the field's
// reader then parses it, and says no to what is not a number). Both are
// rewritten to their strict form first; a lenient number's text is put
// back in the tree. Nesting deeper than json.go's maxDepth is invalid.
func jsonOracle(line string) oracleResult {
	strictText, numbers, lenient := strictJSON(line)
	if !json.Valid([]byte(strictText)) {
		return oracleResult{err: errors.New("encoding/json: not valid")}
	}
	dec := json.NewDecoder(strings.NewReader(strictText))
	dec.UseNumber()
	tree, depth, err := oracleNode(dec, &numbers)
	if err != nil {
		return oracleResult{err: err}
	}
	if depth > maxDepth {
		return oracleResult{err: fmt.Errorf("nesting %d, over %d", depth, maxDepth)}
	}
	return oracleResult{valid: true, tree: tree, strict: !lenient && utf8.ValidString(line)}
}

// strictJSON escapes control characters inside strings and replaces
// number runs that are not JSON numbers by 0, returning the texts of all
// number runs in order.
func strictJSON(s string) (out string, numbers []string, lenient bool) {
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"':
			b.WriteByte(c)
			for i++; i < len(s); i++ {
				c := s[i]
				if c < 0x20 {
					fmt.Fprintf(&b, `\u%04x`, c)
					lenient = true
					continue
				}
				b.WriteByte(c)
				if c == '\\' && i+1 < len(s) {
					i++
					b.WriteByte(s[i])
				} else if c == '"' {
					break
				}
			}
			i++
		case c == '-' || '0' <= c && c <= '9':
			j := i + 1
			for j < len(s) && strings.IndexByte("0123456789.eE+-", s[j]) >= 0 {
				j++
			}
			n := s[i:j]
			numbers = append(numbers, n)
			if !isJSONNumber(n) {
				n, lenient = "0", true
			}
			b.WriteString(n)
			i = j
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), numbers, lenient
}

func isJSONNumber(n string) bool {
	var v json.Number
	return json.Unmarshal([]byte(n), &v) == nil && v.String() == n
}

// oracleNode reads one value from dec and returns it with its nesting.
func oracleNode(dec *json.Decoder, numbers *[]string) (any, int, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, 0, err
	}
	switch tok := tok.(type) {
	case json.Delim:
		depth := 0
		if tok == '{' {
			obj := jsonObject{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return nil, 0, err
				}
				v, d, err := oracleNode(dec, numbers)
				if err != nil {
					return nil, 0, err
				}
				obj, depth = append(obj, jsonMember{k.(string), v}), max(depth, d)
			}
			_, err = dec.Token()
			return obj, depth + 1, err
		}
		arr := jsonArray{}
		for dec.More() {
			v, d, err := oracleNode(dec, numbers)
			if err != nil {
				return nil, 0, err
			}
			arr, depth = append(arr, v), max(depth, d)
		}
		_, err = dec.Token()
		return arr, depth + 1, err
	case json.Number:
		n := (*numbers)[0]
		*numbers = (*numbers)[1:]
		return jsonNumber(n), 0, nil
	}
	return tok, 0, nil // string, bool, nil
}

// readerTree reads line with json.go's reader into the same tree, strings
// with encoding/json's treatment of invalid UTF-8 (each bad byte becomes
// U+FFFD) so the two compare.
func readerTree(line string) (any, bool) {
	i := skipWS(line, 0)
	v, end, ok := parseValue(line, i, 0)
	if !ok || skipWS(line, end) != len(line) {
		return nil, false
	}
	return readerNode(v, 0)
}

func readerNode(v jval, depth int) (any, bool) {
	switch v.kind {
	case jObject:
		obj := jsonObject{}
		it := objIter{s: v.raw, i: 1, depth: depth + 1}
		for {
			k, e, ok := it.next()
			if !ok {
				break
			}
			n, ok := readerNode(e, depth+1)
			if !ok {
				return nil, false
			}
			obj = append(obj, jsonMember{replaceBadUTF8(k), n})
		}
		return obj, !it.bad
	case jArray:
		arr := jsonArray{}
		it := arrIter{s: v.raw, i: 1, depth: depth + 1}
		for {
			e, ok := it.next()
			if !ok {
				break
			}
			n, ok := readerNode(e, depth+1)
			if !ok {
				return nil, false
			}
			arr = append(arr, n)
		}
		return arr, !it.bad
	case jString:
		s, ok := v.str()
		return replaceBadUTF8(s), ok
	case jNumber:
		return jsonNumber(v.raw), true
	case jTrue:
		return true, true
	case jFalse:
		return false, true
	case jNull:
		return nil, true
	}
	return nil, false
}

func replaceBadUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(r) // RuneError for a bad byte, as encoding/json does
		i += n
	}
	return b.String()
}

// checkJSON compares the two readers on line and returns the difference.
func checkJSON(line string) string {
	o := jsonOracle(line)
	got, ok := readerTree(line)
	switch {
	case ok != o.valid:
		return fmt.Sprintf("json.go valid %v, encoding/json %v (%v)", ok, o.valid, o.err)
	case ok && !reflect.DeepEqual(got, o.tree):
		return fmt.Sprintf("json.go read\n  %#v\nencoding/json\n  %#v", got, o.tree)
	}
	return ""
}

var jsonSeeds = []string{
	`{"a":"b","c":1.5e3,"d":[true,false,null,{"e":[]}],"f":{}}`,
	`{"esc":"\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00\ud800x\udc00","k\u0065y":-0}`,
	` [ 1 , "x" ] `, `"s"`, `12`, `{"a":1-2}`, `{"a":01}`, `{"a":"raw` + "\t" + `tab"}`,
	`{"a":"` + "\xff\xfe" + `"}`, `{"a":1,"a":2}`, `{"a":}`, `{"a":1,}`, `[1,]`, `{"a" 1}`, `{'a':1}`,
	strings.Repeat("[", 32) + strings.Repeat("]", 32), strings.Repeat("[", 33) + strings.Repeat("]", 33),
	`{"a":tru}`, `{"a":nul}`, `{"a":"\u12"}`, `{"a":"\x"}`, `{} {}`, ``, `   `,
}

// FuzzJSON: json.go's reader accepts what encoding/json accepts (with its
// two documented leniencies, see jsonOracle) and reads the same values:
// members in order, duplicates kept, strings unescaped, numbers as
// written.
func FuzzJSON(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add(s)
	}
	for _, l := range fixtureLines(f) {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if d := checkJSON(line); d != "" {
			t.Fatalf("%s\nline %q", d, line)
		}
	})
}

// TestJSONOracle runs the seeds and fixtures through FuzzJSON's check and
// makes sure the oracle itself says no where it must.
func TestJSONOracle(t *testing.T) {
	for _, l := range append(jsonSeeds, fixtureLines(t)...) {
		if d := checkJSON(l); d != "" {
			t.Errorf("%s\nline %q", d, l)
		}
	}
	for _, bad := range []string{`{"a":}`, `{"a":1,}`, `{"a":tru}`, `{} {}`, ``, strings.Repeat("[", 33) + strings.Repeat("]", 33)} {
		if o := jsonOracle(bad); o.valid {
			t.Errorf("oracle accepts %q", bad)
		}
	}
	o := jsonOracle(`{"a":1-2,"b":"x` + "\t" + `"}`)
	if !o.valid || o.strict || !reflect.DeepEqual(o.tree, jsonObject{{"a", jsonNumber("1-2")}, {"b", "x\t"}}) {
		t.Errorf("leniencies: %+v", o)
	}
	if re := (jsonObject{{"a<", jsonNumber("1")}}).encode(); re != `{"a\u003c":1}` {
		t.Errorf("encode: %s", re)
	}
}
