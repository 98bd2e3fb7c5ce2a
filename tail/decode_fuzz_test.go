package tail

import (
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

// decodeBoth decodes line with the decoder and with the oracle, each into
// a record that has decoded warm first (records are reused line after
// line, and remember what they saw), then decodes line once more, and
// reports the first difference a caller could see.
func decodeBoth(s *Schema, warm, line string) string {
	in := interner{m: map[string]string{}}
	rec, ref := newRecord(), newRefRecord()
	decodeNext(s, rec, ref, warm, &in)
	if d := decodeNext(s, rec, ref, line, &in); d != "" {
		return d
	}
	return decodeNext(s, rec, ref, line, &in)
}

// decodeNext decodes the next line into rec and, with the oracle, into
// ref, and reports the first difference a caller could see: the result,
// the missing field of a missing_fields line, and everything of an ok
// line.
func decodeNext(s *Schema, rec *record, ref *refRecord, line string, in *interner) string {
	var res, rres parsers.Result
	rec.reset()
	ref.reset()
	got := s.decode(line, rec, &res, in)
	want := s.refDecode(line, ref, &rres, in)
	switch {
	case got != want:
		return "result " + got + ", oracle " + want
	case got == ResultMissingFields && rec.missing != ref.missing:
		return "missing " + rec.missing + ", oracle " + ref.missing
	case got != ResultOK:
		return ""
	}
	type view struct {
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
	a := view{rec.status, rec.hasStatus, rec.hasTime, rec.when, rec.duration, rec.hdrTime, rec.hasDur, rec.hasHdrTime,
		rec.model, rec.key, rec.provider, rec.hasProvider, rec.input, rec.output, map[string][]string(rec.header), rec.normalizedSeen, res}
	b := view{ref.status, ref.hasStatus, ref.hasTime, ref.when, ref.duration, ref.hdrTime, ref.hasDur, ref.hasHdrTime,
		ref.model, ref.key, ref.provider, ref.hasProvider, ref.input, ref.output, map[string][]string(ref.header), ref.normalizedSeen, rres}
	if !reflect.DeepEqual(a, b) {
		return "decoded differently"
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

// FuzzDecode: the decoder reads every line as the oracle (the decoder
// before it was optimised) does, in every format.
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
			if d := decodeBoth(s, warmLine, line); d != "" {
				t.Fatalf("%s: %s\nline %q", s.Name, d, line)
			}
		}
	})
}

// TestDecodeOracleFixtures runs the fixtures, and each of them cut short
// at every byte, through FuzzDecode's comparison without fuzzing: whole
// lines in every schema, cut ones in the schemas of their format.
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
					if d := decodeBoth(s, warmLine, l[:n]); d != "" {
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
			wd, wok := refParseDuration(s, u)
			if gd != wd || gok != wok {
				t.Fatalf("parseDuration(%q, %v) = %v, %v; oracle %v, %v", s, u, gd, gok, wd, wok)
			}
		}
		gt, gerr := parseEpoch(s)
		wt, werr := refParseEpoch(s)
		if !reflect.DeepEqual(gt, wt) || (gerr == nil) != (werr == nil) {
			t.Fatalf("parseEpoch(%q) = %v, %v; oracle %v, %v", s, gt, gerr, wt, werr)
		}
		gt, gerr = parseTime(s)
		wt, werr = refParseTime(s)
		if !reflect.DeepEqual(gt, wt) || (gerr == nil) != (werr == nil) {
			t.Fatalf("parseTime(%q) = %v, %v; oracle %v, %v", s, gt, gerr, wt, werr)
		}
	})
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
		rec, ref := newRecord(), newRefRecord()
		for _, l := range lines {
			if d := decodeNext(s, rec, ref, l, &in); d != "" {
				t.Fatalf("%s: %s\nline %q", s.Name, d, l)
			}
		}
	}
}
