package tail

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/headroomhq/headroom/config"
	"github.com/headroomhq/headroom/parsers"
)

// fuzzSchemas are the built-in formats and two mappings: the benchmark's
// flat one and a nested one with single header fields, so that walk's
// prefixes and parents are exercised too.
func fuzzSchemas(t testing.TB) []*Schema {
	nested := &config.Mapping{Time: "req.time", TimeIs: "received", Status: "resp.status", Duration: "resp.t.total",
		DurationUnit: "us", HeaderTime: "resp.t.hdr", Model: "req.model", Key: "req.key", InputTokens: "usage.in",
		OutputTokens: "usage.out", Headers: "resp.headers",
		HeaderFields: map[string]string{"resp.ra": "retry-after", "x-ratelimit-remaining-requests": "X-RateLimit-Remaining-Requests"}}
	flat := &config.Mapping{Time: "start_time", TimeIs: "start", Status: "response_code", Duration: "duration",
		DurationUnit: "ms", HeaderTime: "response_duration", HeaderTimeUnit: "ms", Model: "model", Headers: "headers"}
	var out []*Schema
	for _, c := range []config.Tail{
		{Format: config.FormatNginx, ProviderField: "upstream_host"},
		{Format: config.FormatEnvoy, ProviderField: "upstream_cluster"},
		{Format: config.FormatHeadroom, ProviderField: "provider"},
		{Format: config.FormatMapping, ProviderField: "upstream_cluster", Mapping: flat},
		{Format: config.FormatMapping, ProviderField: "req.provider", Mapping: nested},
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
// line), and reports the first difference a caller could see: the result,
// the missing field of a missing_fields line, and everything of an ok line.
func decodeBoth(s *Schema, warm, line string) string {
	in := interner{m: map[string]string{}}
	rec, ref := newRecord(), newRefRecord()
	var res, rres parsers.Result
	s.decode(warm, rec, &res, &in)
	s.refDecode(warm, ref, &rres, &in)
	rec.reset()
	ref.reset()
	res.Reset()
	rres.Reset()
	got := s.decode(line, rec, &res, &in)
	want := s.refDecode(line, ref, &rres, &in)
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

func fixtureLines(t testing.TB) []string {
	files, _ := filepath.Glob("testdata/*.jsonl")
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.Split(strings.TrimSpace(string(b)), "\n")...)
	}
	return out
}

const warmLine = `{"time":"1795458932.846","status":"200","upstream_host":"127.0.0.1:18081","headers":{"x-ratelimit-limit-requests":"150","X-RateLimit-Limit-Requests":"151","retry-after":"3"}}`

// FuzzDecode: the decoder reads every line as the oracle (the decoder
// before it was optimised) does, in every format.
func FuzzDecode(f *testing.F) {
	for _, l := range fixtureLines(f) {
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
// at every byte, through FuzzDecode's comparison without fuzzing.
func TestDecodeOracleFixtures(t *testing.T) {
	schemas := fuzzSchemas(t)
	for _, l := range fixtureLines(t) {
		for n := 0; n <= len(l); n++ {
			for _, s := range schemas {
				if d := decodeBoth(s, warmLine, l[:n]); d != "" {
					t.Fatalf("%s: %s\nline %q", s.Name, d, l[:n])
				}
			}
		}
	}
}
