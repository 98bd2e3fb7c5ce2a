package tail

import (
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/headroomhq/headroom/config"
	"github.com/headroomhq/headroom/parsers"
)

// fuzzSchemas are the built-in formats and two mappings: the benchmark's
// flat one and a nested one with single header fields, so that walk's
// prefixes and parents are exercised too; and two odd provider settings.
func fuzzSchemas(t testing.TB) []*Schema {
	nested := &config.Mapping{Time: "req.time", TimeIs: "received", Status: "resp.status", Duration: "resp.t.total",
		DurationUnit: "us", HeaderTime: "resp.t.hdr", Model: "req.model", Key: "req.key", InputTokens: "usage.in",
		OutputTokens: "usage.out", Headers: "resp.headers",
		HeaderFields: map[string]string{"resp.ra": "retry-after", "x-ratelimit-remaining-requests": "X-RateLimit-Remaining-Requests"}}
	// Fields that are also parents of fields.
	overlap := &config.Mapping{Time: "t", Status: "s", Model: "t.m", Headers: "h",
		HeaderFields: map[string]string{"h.x": "x-ratelimit-limit-requests"}}
	flat := &config.Mapping{Time: "start_time", TimeIs: "start", Status: "response_code", Duration: "duration",
		DurationUnit: "ms", HeaderTime: "response_duration", HeaderTimeUnit: "ms", Model: "model", Headers: "headers"}
	var out []*Schema
	for _, c := range []config.Tail{
		{Format: config.FormatNginx, ProviderField: "upstream_host"},
		{Format: config.FormatEnvoy, ProviderField: "upstream_cluster"},
		{Format: config.FormatHeadroom, ProviderField: "provider"},
		{Format: config.FormatMapping, ProviderField: "upstream_cluster", Mapping: flat},
		{Format: config.FormatMapping, ProviderField: "req.provider", Mapping: nested},
		// A fixed provider, and a provider field inside a member the
		// format otherwise skips.
		{Format: config.FormatHeadroom, Provider: "heroku-us"},
		{Format: config.FormatNginx, ProviderField: "upstream_addr.host"},
		{Format: config.FormatMapping, Provider: "heroku-us", Mapping: overlap},
	} {
		s, err := SchemaFor(&c)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// decodeView is everything a caller of decode can see.
type decodeView struct {
	Result               string
	Missing              string
	Status               int
	HasStatus, HasTime   bool
	When                 any
	Dur, Hdr             any
	HasDur, HasHdr       bool
	Model, Key, Provider string
	HasProvider          bool
	In, Out              int64
	Header               any
	NormalizedSeen       bool
	Res                  parsers.Result
}

// decodeInto decodes line into rec (reset first) and returns what a caller
// sees: the result, the missing field of a missing_fields line, everything
// of an ok line.
func decodeInto(s *Schema, rec *record, line string, in *interner) decodeView {
	var res parsers.Result
	rec.reset()
	v := decodeView{Result: s.decode(line, rec, &res, in)}
	switch v.Result {
	case ResultMissingFields:
		v.Missing = rec.missing
	case ResultOK:
		v = decodeView{v.Result, "", rec.status, rec.hasStatus, rec.hasTime, rec.when, rec.duration, rec.hdrTime, rec.hasDur,
			rec.hasHdrTime, rec.model, rec.key, rec.provider, rec.hasProvider, rec.input, rec.output,
			maps.Clone(map[string][]string(rec.header)), rec.normalizedSeen, res}
	}
	return v
}

// checkDecode holds decode to encoding/json, the oracle, and to itself:
//   - a line is invalid_json exactly when encoding/json (with this
//     reader's documented leniencies, see jsonOracle) rejects it or it is
//     not an object;
//   - a line encoding/json accepts decodes as its re-encoding by
//     encoding/json does (other whitespace, escapes and number spellings
//     left as they were): what the line says, not how it is written,
//     decides the record;
//   - a record that decoded warm first (records are reused line after
//     line, and remember what they saw) decodes as a fresh one.
//
// It returns the first difference, or "".
func checkDecode(s *Schema, warm, line string) string {
	in := interner{m: map[string]string{}}
	got := decodeInto(s, newRecord(), line, &in)
	o := jsonOracle(line)
	_, isObject := o.tree.(jsonObject)
	if wantInvalid := !o.valid || !isObject; (got.Result == ResultInvalidJSON) != wantInvalid {
		return fmt.Sprintf("result %s, encoding/json: valid %v (%v), object %v", got.Result, o.valid, o.err, isObject)
	}
	rec := newRecord()
	decodeInto(s, rec, warm, &in)
	if w := decodeInto(s, rec, line, &in); !reflect.DeepEqual(w, got) {
		return fmt.Sprintf("after a warm-up line:\n  %+v\nfresh:\n  %+v", w, got)
	}
	if !o.strict || !isObject {
		return ""
	}
	re := o.tree.(jsonObject).encode()
	if r := decodeInto(s, newRecord(), re, &in); !reflect.DeepEqual(r, got) {
		return fmt.Sprintf("re-encoded by encoding/json as %q:\n  %+v\nas written:\n  %+v", re, r, got)
	}
	return ""
}

// fixtureLines returns the fixtures' lines, fixtureFiles them by file.
func fixtureLines(t testing.TB) []string {
	files := fixtureFiles(t)
	var out []string
	for _, f := range slices.Sorted(maps.Keys(files)) {
		out = append(out, files[f]...)
	}
	return out
}

func fixtureFiles(t testing.TB) map[string][]string {
	files, _ := filepath.Glob("testdata/*.jsonl")
	out := map[string][]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = strings.Split(strings.TrimSpace(string(b)), "\n")
	}
	return out
}

const warmLine = `{"time":"1795458932.846","status":"200","upstream_host":"127.0.0.1:18081","headers":{"x-ratelimit-limit-requests":"150","X-RateLimit-Limit-Requests":"151","retry-after":"3"}}`

// trickyLines are seeds for what fixtures lack: keys that spell dotted
// paths, fields that are also parents, members in changing orders.
var trickyLines = []string{
	`{"req.time":"1795458933","resp":{"status":"200","t":{"total":"5"}},"req":{"provider":"heroku-us","time":"1795458934"},"status":"201"}`,
	`{"req":{"time":"1795458933","provider":"heroku-us"},"req.provider":"x","resp":{"t":{"hdr":"2","total":"5"},"status":"200","headers":{"retry-after":"3"}}}`,
	`{"t":"1795458933","s":"200","h":{"x-ratelimit-remaining-requests":"5"},"t.m":"m","h.x":"7"}`,
	`{"s":"200","t":{"m":"x"},"h":"nope"}`,
	`{"status":"200","time":"1795458933","upstream_host":"127.0.0.1:18081","upstream_addr":{"host":"heroku-us"},"headers":{"x-ratelimit-limit-requests":"150"}}`,
	`{"time":"2026-11-23T18:35:32.818Z","key":"k","status":200,"ratelimit":[{"window":"1m","resource":"requests","remaining":3,"limit":5},{"reset":1795458992,"resource":"tokens","window":"1m","limit":1}]}`,
}

// FuzzDecode: every format decodes every line as checkDecode expects.
func FuzzDecode(f *testing.F) {
	for _, l := range fixtureLines(f) {
		f.Add(l)
	}
	for _, l := range trickyLines {
		f.Add(l)
	}
	schemas := fuzzSchemas(f)
	f.Fuzz(func(t *testing.T, line string) {
		for _, s := range schemas {
			if d := checkDecode(s, warmLine, line); d != "" {
				t.Fatalf("%s: %s\nline %q", s.Name, d, line)
			}
		}
	})
}

// TestDecodeOracleFixtures runs the fixtures, and each of them cut short
// at every byte, through FuzzDecode's checks without fuzzing: whole lines
// in every schema, cut ones in the schemas of their format.
func TestDecodeOracleFixtures(t *testing.T) {
	schemas := fuzzSchemas(t)
	format := map[string]string{"nginx.jsonl": config.FormatNginx, "envoy.jsonl": config.FormatEnvoy,
		"headroom.jsonl": config.FormatHeadroom, "nested.jsonl": config.FormatMapping, "garbage.jsonl": config.FormatNginx}
	files := fixtureFiles(t)
	files["garbage.jsonl"] = append(files["garbage.jsonl"], trickyLines...)
	for file, lines := range files {
		for _, l := range lines {
			for n := 0; n <= len(l); n++ {
				for _, s := range schemas {
					if n < len(l) && s.Name != format[file] {
						continue
					}
					if d := checkDecode(s, warmLine, l[:n]); d != "" {
						t.Fatalf("%s: %s\nline %q", s.Name, d, l[:n])
					}
				}
			}
		}
	}
}

// FuzzNumbers: the number and time readers agree with strconv and with
// the oracle's, bit for bit.
func FuzzNumbers(f *testing.F) {
	for _, s := range []string{"0", "0.028", "150", "1795458932.846", "1795458932846", "1795458932846123", "5.", ".5",
		"1e3", "-1", "+7", "0x1p3", "1_000", "0.012, 0.020", "0.3 : 0.4", "999999999999999", "9999999999999999",
		"1795458932.+12", "1.1234567890.5", "2026-11-23T18:35:32.818Z", "23/Nov/2026:18:35:32 +0000", "NaN", "Inf",
		"2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z", "0000-01-01T00:00:00.1234567891Z", "2024-11-22T10:00:00.Z",
		"2024-11-22T24:00:00Z", "2024-11-22T10:00:60Z", "2024-11-22T10:00:00+01:00", "2024-11-22t10:00:00z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		g, gok := parseFloat(s)
		w, err := strconv.ParseFloat(s, 64)
		if gok != (err == nil) || gok && math.Float64bits(g) != math.Float64bits(w) {
			t.Fatalf("parseFloat(%q) = %v, %v; strconv: %v, %v", s, g, gok, w, err)
		}
		for _, u := range []time.Duration{time.Second, time.Millisecond, time.Microsecond} {
			gd, gok := parseDuration(s, u)
			wd, wok := stdParseDuration(s, u)
			if gd != wd || gok != wok {
				t.Fatalf("parseDuration(%q, %v) = %v, %v; strconv: %v, %v", s, u, gd, gok, wd, wok)
			}
		}
		gt, gerr := parseEpoch(s)
		wt, werr := stdParseEpoch(s)
		if !reflect.DeepEqual(gt, wt) || (gerr == nil) != (werr == nil) {
			t.Fatalf("parseEpoch(%q) = %v, %v; strconv: %v, %v", s, gt, gerr, wt, werr)
		}
		gt, gerr = parseTime(s)
		wt, werr = stdParseTime(s)
		if !reflect.DeepEqual(gt, wt) || (gerr == nil) != (werr == nil) {
			t.Fatalf("parseTime(%q) = %v, %v; time.Parse: %v, %v", s, gt, gerr, wt, werr)
		}
	})
}

// The number and time readers as the standard library spells them.

// stdParseDuration reads the last of a list of durations ("0.012, 0.020",
// nginx's upstream retries; "0.3 : 0.4", its internal redirects) in unit u.
func stdParseDuration(s string, u time.Duration) (time.Duration, bool) {
	if i := strings.LastIndexAny(s, ",:"); i >= 0 {
		s = strings.TrimSpace(s[i+1:])
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || math.IsNaN(f) || f > 1e12 {
		return 0, false
	}
	return time.Duration(f * float64(u)), true
}

// stdParseTime reads an epoch, nginx's $time_local or RFC 3339.
func stdParseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errBadTime
	}
	if c := s[0]; c >= '0' && c <= '9' && !strings.ContainsAny(s, "-:/") {
		return stdParseEpoch(s)
	}
	if len(s) >= 20 && s[2] == '/' {
		return time.Parse("02/Jan/2006:15:04:05 -0700", s)
	}
	return time.Parse(time.RFC3339Nano, s)
}

// stdParseEpoch reads seconds, milliseconds, microseconds or nanoseconds
// since the epoch (told apart by size), with an optional fraction
// truncated to nanoseconds.
func stdParseEpoch(s string) (time.Time, error) {
	ip, fp, _ := strings.Cut(s, ".")
	sec, err := strconv.ParseInt(ip, 10, 64)
	if err != nil || sec < 0 {
		return time.Time{}, errBadTime
	}
	var nsec int64
	if fp != "" {
		fp = fp[:min(len(fp), 9)]
		if nsec, err = strconv.ParseInt(fp, 10, 64); err != nil || nsec < 0 {
			return time.Time{}, errBadTime
		}
		for range 9 - len(fp) {
			nsec *= 10
		}
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

// TestDecodeOracleSequence feeds every fixture and tricky line, forwards
// then backwards, through one record per schema: what a record learns
// from a line must not change how it reads the next, however different.
func TestDecodeOracleSequence(t *testing.T) {
	lines := append(fixtureLines(t), trickyLines...)
	for i := len(lines) - 1; i >= 0; i-- {
		lines = append(lines, lines[i])
	}
	for _, s := range fuzzSchemas(t) {
		in := interner{m: map[string]string{}}
		rec := newRecord()
		for _, l := range lines {
			got := decodeInto(s, rec, l, &in)
			if want := decodeInto(s, newRecord(), l, &in); !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: after the lines before it:\n  %+v\nfresh:\n  %+v\nline %q", s.Name, got, want, l)
			}
		}
	}
}
