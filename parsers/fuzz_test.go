package parsers

// Fuzz tests. `go test` runs the seed corpora in testdata/fuzz/<FuzzName>/
// (built from the golden captures; regenerate with
// `go test ./parsers -run TestWriteFuzzSeeds -args -fuzzseeds`) as regression
// cases; `go test -run XXX -fuzz FuzzDialects -fuzztime 3m ./parsers` runs
// the engine. Crashers the engine finds are written to the same directory
// and must be kept there.

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

var writeFuzzSeeds = flag.Bool("fuzzseeds", false, "rewrite testdata/fuzz seed corpora from the golden captures")

// Receive times are kept within 2000–2100: a clock outside that range is not
// a condition Headroom runs in, and time arithmetic near the int64 limits is
// not what these tests are about.
var (
	fuzzMinRecv = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	fuzzMaxRecv = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
)

func fuzzReceived(ns int64) time.Time {
	if ns < fuzzMinRecv || ns >= fuzzMaxRecv {
		span := fuzzMaxRecv - fuzzMinRecv
		m := ns % span
		if m < 0 {
			m += span
		}
		ns = fuzzMinRecv + m
	}
	return time.Unix(0, ns).UTC()
}

// fuzzHeader decodes "Name: value" lines. Names are canonicalised as
// net/http does for a response; repeated names add values. Lines without a
// colon are ignored.
func fuzzHeader(s string) http.Header {
	h := http.Header{}
	for _, line := range strings.Split(s, "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok || name == "" {
			continue
		}
		k := http.CanonicalHeaderKey(name)
		h[k] = append(h[k], strings.TrimLeft(value, " "))
	}
	return h
}

func encodeHeader(h http.Header) string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, v := range h[k] {
			b.WriteString(k)
			b.WriteString(": ")
			b.WriteString(v)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func fuzzDialect(name string) Dialect {
	if d, ok := Lookup(name); ok {
		return d
	}
	names := Names()
	return registry[names[len(name)%len(names)]]
}

var (
	allowedResources = func() map[string]bool {
		m := map[string]bool{}
		for _, r := range Resources() {
			m[r] = true
		}
		return m
	}()
	allowedErrs = []error{ErrSyntax, ErrNegative, ErrNotFinite, ErrOverflow, ErrBadReset, ErrBadBody, ErrBadField, ErrDuplicated, ErrNoWindow}
)

// validWindow: "none", or a positive Prometheus duration in the canonical
// form FormatWindow produces (so one window has one label value).
func validWindow(w string) bool {
	if w == WindowNone {
		return true
	}
	d, err := ParseWindow(w)
	return err == nil && d > 0 && FormatWindow(d) == w
}

func finiteNonNeg(f float64) bool {
	return !math.IsNaN(f) && !math.IsInf(f, 0) && f >= 0 && f <= maxValue
}

// resetFloor is the earliest reset the values.go rule allows: absolute
// resets are never before the Date header (on the local clock), relative
// ones never before the receive time.
func resetFloor(in *Input) time.Time {
	c := newClock(in)
	if c.readDate(); c.date.Before(c.received) {
		return c.date
	}
	return c.received
}

func checkResult(t *testing.T, in *Input, r *Result) {
	t.Helper()
	floor := resetFloor(in)
	for i, o := range r.Observations {
		if !allowedResources[o.Resource] {
			t.Errorf("obs %d: resource %q not in the closed set", i, o.Resource)
		}
		if !validWindow(o.Window) {
			t.Errorf("obs %d: window %q is not none or a canonical duration", i, o.Window)
		}
		if o.HasLimit && !finiteNonNeg(o.Limit) {
			t.Errorf("obs %d: limit %v", i, o.Limit)
		}
		if o.HasRemaining && !finiteNonNeg(o.Remaining) {
			t.Errorf("obs %d: remaining %v", i, o.Remaining)
		}
		if !o.HasLimit && !o.HasRemaining {
			t.Errorf("obs %d: neither limit nor remaining: %+v", i, o)
		}
		if o.HasLimit && o.HasRemaining && o.Remaining > o.Limit {
			t.Errorf("obs %d: remaining %v > limit %v", i, o.Remaining, o.Limit)
		}
		if !o.Reset.IsZero() {
			if o.Reset.Before(floor) {
				t.Errorf("obs %d: reset %v before %v (Date/receive rule)", i, o.Reset, floor)
			}
			if s := float64(o.Reset.UnixNano()) / 1e9; math.IsNaN(s) || math.IsInf(s, 0) {
				t.Errorf("obs %d: reset %v not exportable", i, o.Reset)
			}
		}
	}
	if r.HasRetryAfter && (r.RetryAfter < 0 || r.RetryAfter > maxRelative) {
		t.Errorf("retry-after %v outside [0, %v]", r.RetryAfter, maxRelative)
	}
	if r.ThrottledResource != "" && !allowedResources[r.ThrottledResource] && r.ThrottledResource != Unknown {
		t.Errorf("throttled resource %q not in the closed set", r.ThrottledResource)
	}
	for _, e := range r.Errors {
		if e.Err == nil {
			t.Errorf("error entry %+v without an error", e)
			continue
		}
		known := false
		for _, s := range allowedErrs {
			known = known || errors.Is(e.Err, s)
		}
		if !known {
			t.Errorf("error entry %q: %v is not one of the sentinels", e.Header, e.Err)
		}
		if len(e.Value) > 64+len("…") {
			t.Errorf("error entry %q: value of %d bytes is not truncated", e.Header, len(e.Value))
		}
		if e.Header == "" {
			t.Errorf("error entry without a header name: %+v", e)
		}
	}
}

// FuzzDialects: every registered dialect on arbitrary responses.
func FuzzDialects(f *testing.F) {
	for _, s := range goldenSeeds(f) {
		f.Add(s.dialect, s.status, s.header, s.body, s.recv)
	}
	f.Fuzz(func(t *testing.T, dialect string, status int, header string, body []byte, recv int64) {
		d := fuzzDialect(dialect)
		h := fuzzHeader(header)
		orig := h.Clone()
		in := &Input{Status: status, Header: h, Body: body, Received: fuzzReceived(recv)}
		if !d.WantsBody(status) {
			in.Body = nil // as the proxy does
		}
		var r Result
		d.Parse(in, &r)
		checkResult(t, in, &r)
		sameFromFields(t, d, in, &r)
		if !reflect.DeepEqual(h, orig) {
			t.Errorf("%s: Parse modified the response header (it is relayed to the client)", d.Name())
		}
		// Pure: the same input parses the same, into a reused Result.
		first := toGolden(&r)
		r.Reset()
		d.Parse(in, &r)
		if again := toGolden(&r); !reflect.DeepEqual(first, again) {
			t.Errorf("%s: second parse differs:\n%+v\n%+v", d.Name(), first, again)
		}
	})
}

// FuzzParseReset: every reset format and the Retry-After reader.
func FuzzParseReset(f *testing.F) {
	recv := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC).UnixNano()
	date := "Fri, 01 May 2026 12:00:00 GMT"
	for _, s := range []string{"6m0s", "12ms", "1s", "0s", "1h2m3.5s", "-1s", "51", "0.5", "1777636800",
		"1777636800.25", "1777636800123", "2026-05-01T12:00:30Z", "2026-05-01T12:00:30.5+02:00",
		"Fri, 01 May 2026 12:01:00 GMT", "1e9", "NaN", "Inf", "-0", "99999999999999999999", " 42 ", "", "T", ",", "GMT", "9999h"} {
		for fm := range uint8(7) {
			f.Add(s, fm, recv, date)
		}
	}
	// ParseRFC3339's fast path against time.Parse: calendar edges, and
	// near misses that must fall through to it.
	for _, s := range []string{"2024-02-29T23:59:59Z", "2025-02-29T00:00:00Z", "2000-02-29T00:00:00Z",
		"1900-02-29T00:00:00Z", "2025-04-31T00:00:00Z", "2025-12-31T23:59:59Z", "0000-01-01T00:00:00Z",
		"9999-12-31T23:59:59Z", "2025-08-21T24:00:00Z", "2025-08-21T12:60:00Z", "2025-08-21T12:40:60Z",
		"2025-00-21T12:40:59Z", "2025-13-21T12:40:59Z", "2025-08-00T12:40:59Z", "2025-08-32T12:40:59Z",
		"2025-08-21t12:40:59z", "2025-08-21T12:40:59+00:00", "2025-08-21T12:40:59.5Z", "2025-08-2aT12:40:59Z",
		"+025-08-21T12:40:59Z", "2025-08-21 12:40:59Z", "2025-8-021T12:40:59Z"} {
		f.Add(s, uint8(FormatRFC3339), recv, date)
	}
	// parseHTTPDate's fast path against http.ParseTime.
	for _, d := range []string{"Thu, 29 Feb 2024 12:00:00 GMT", "Sat, 29 Feb 2025 12:00:00 GMT", "Tue, 29 Feb 2000 12:00:00 GMT",
		"Thu, 29 Feb 1900 12:00:00 GMT", "Thu, 31 Apr 2025 12:00:00 GMT", "Wed, 31 Dec 2025 23:59:59 GMT", "Mon, 00 Jan 2025 00:00:00 GMT",
		"Fri, 01 May 2026 24:00:00 GMT", "Fri, 01 Mai 2026 12:00:00 GMT", "Fri, 01 May 2026 12:00:00 UTC", "Friday, 01-May-26 12:00:00 GMT"} {
		f.Add("30", uint8(FormatSeconds), recv, d)
	}
	f.Add("30", uint8(FormatSeconds), recv, "Fri, 01 May 2026 11:00:00 GMT") // skewed clock
	f.Add("1777636800", uint8(FormatEpochSeconds), recv, "garbage")
	f.Fuzz(func(t *testing.T, s string, format uint8, recvNs int64, date string) {
		in := &Input{Header: http.Header{"Date": {date}}, Received: fuzzReceived(recvNs)}
		c := newClock(in)
		floor := resetFloor(in)
		fm := ResetFormat(format % 7)
		tm, err := parseReset(s, fm, &c)
		if err != nil {
			if !errors.Is(err, ErrBadReset) && !errors.Is(err, ErrNegative) && !errors.Is(err, ErrOverflow) &&
				!errors.Is(err, ErrNotFinite) && !errors.Is(err, ErrSyntax) {
				t.Errorf("parseReset(%q, %d): unexpected error %v", s, fm, err)
			}
		} else {
			if tm.IsZero() {
				t.Errorf("parseReset(%q, %d): zero time without an error", s, fm)
			}
			if tm.Before(floor) {
				t.Errorf("parseReset(%q, %d) = %v, before %v", s, fm, tm, floor)
			}
		}
		d, err := parseRetryAfter(s, &c)
		if err == nil && (d < 0 || d > maxRelative) {
			t.Errorf("parseRetryAfter(%q) = %v, outside [0, %v]", s, d, maxRelative)
		}
		if got, err := parseHTTPDate(date); err == nil {
			if want, err := http.ParseTime(date); err != nil || !got.Equal(want) {
				t.Errorf("parseHTTPDate(%q) = %v; http.ParseTime: %v, %v", date, got, want, err)
			}
		}
		got, gotErr := ParseRFC3339(s)
		want, wantErr := time.Parse(time.RFC3339Nano, s)
		// Equal and the same zone: time.Parse makes a new *Location for each
		// numeric offset, so the Times themselves cannot be compared with ==.
		if (gotErr == nil) != (wantErr == nil) || !got.Equal(want) || got.Location().String() != want.Location().String() ||
			got.Format(time.RFC3339Nano) != want.Format(time.RFC3339Nano) {
			t.Errorf("ParseRFC3339(%q) = %v, %v; time.Parse: %v, %v", s, got, gotErr, want, wantErr)
		}
	})
}

// parseSecondsReference is parseSeconds without its fast path: the oracle
// that the fast path must agree with on every input.
func parseSecondsReference(s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return 0, ErrOverflow
		}
		return 0, ErrSyntax
	}
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return 0, ErrNotFinite
	case f < 0:
		return 0, ErrNegative
	case f == 0:
		return 0, nil
	}
	return f, nil
}

// FuzzParseDuration: the fast path gives time.ParseDuration's answer.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"6ms", "1s", "6m0s", "1h2m3s", "0", "0s", "", "s", "1", "1.5s", "-1s", "+1s",
		"1us", "1µs", "1ns", "1d", "1hm", "1h1h", "2562047h47m16s854ms", "2562047h47m16s855ms", "9223372036854775807ms",
		"999999999999h", "1000000000000h", "1m.5s", "1ms5", "01s", "1s "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, gotErr := parseDuration(s)
		want, wantErr := time.ParseDuration(s)
		if got != want || (gotErr == nil) != (wantErr == nil) {
			t.Errorf("parseDuration(%q) = %v, %v; time.ParseDuration: %v, %v", s, got, gotErr, want, wantErr)
		}
	})
}

// FuzzParseCount: a count is a finite number in [0, maxValue] or an error.
func FuzzParseCount(f *testing.F) {
	for _, s := range []string{"0", "59", "59.0", "1e3", "-1", "NaN", "nan", "Inf", "+Inf", "-0", "1e15", "1e16",
		"1.7976931348623157e308", "1e309", "0x1p3", "1_000", " 42 ", "", "1,000", "4.9e-324", "0x10",
		"1748858419.5", "1748862000.25", "5.", ".5", ".", "0.000", "1.2.3", "999999999999999", "9999999999999999",
		"99999999999999.9", "999999999999999.", "0.000000000000001", "0.0000000000000001", "123456789.123456",
		"\u00a042", "42\u0085", "\v42\f", "\x0142", "42\x7f", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := trimSpace(s), strings.TrimSpace(s); got != want {
			t.Errorf("trimSpace(%q) = %q, strings.TrimSpace: %q", s, got, want)
		}
		got, gotErr := parseSeconds(s)
		want, wantErr := parseSecondsReference(s)
		if got != want || gotErr != wantErr || math.Signbit(got) != math.Signbit(want) {
			t.Errorf("parseSeconds(%q) = %v, %v; ParseFloat: %v, %v", s, got, gotErr, want, wantErr)
		}
		v, err := ParseCount(s)
		if err != nil {
			if v != 0 {
				t.Errorf("ParseCount(%q) = %v with error %v", s, v, err)
			}
			if err != ErrSyntax && err != ErrNegative && err != ErrNotFinite && err != ErrOverflow {
				t.Errorf("ParseCount(%q): unexpected error %v", s, err)
			}
			return
		}
		if !finiteNonNeg(v) {
			t.Errorf("ParseCount(%q) = %v", s, v)
		}
		if math.Signbit(v) {
			t.Errorf("ParseCount(%q) = negative zero (exported as -0)", s)
		}
	})
}

// FuzzStructuredFields: the RFC 9651 parser on arbitrary field lines.
func FuzzStructuredFields(f *testing.F) {
	for _, s := range []string{
		`"burst";q=100;w=60,"daily";q=1000;w=86400`, `"burst";r=50;t=30`, `limit=100, remaining=50, reset=30`,
		`100;w=60`, `10, 10;w=1, 50;w=60`, `("a" "b");x=?1, :aGVsbG8=:, %"f%c3%bc"`, `a=1.5, b=-0.001, c=@1659578233`,
		`"unterminated`, `1234567890123456`, `12345678901234567`, `a=(1 2 3), b`, `*tok/en:x`, `"\"\\"`,
	} {
		f.Add(s, "")
		f.Add(s, "extra=1")
	}
	f.Fuzz(func(t *testing.T, line, line2 string) {
		lines := []string{line}
		if line2 != "" {
			lines = append(lines, line2)
		}
		var buf [8]sfMember
		for _, dict := range []bool{false, true} {
			ms, err := sfParseLines(lines, buf[:0], dict)
			if err != nil {
				continue
			}
			for _, m := range ms {
				checkSFValue(t, m.Value)
				m.Params.each(func(k string, v sfValue) bool { checkSFValue(t, v); return true })
				_ = m.Params.Len()
				if m.Value.Kind == sfInnerList {
					m.Inner.each(func(v sfValue, p sfParams) bool {
						checkSFValue(t, v)
						_ = p.Len()
						return true
					})
				}
			}
			if dict {
				for _, m := range ms {
					if _, ok := sfDictGet(ms, m.Key); !ok {
						t.Errorf("dictionary key %q not found by sfDictGet", m.Key)
					}
				}
			}
		}
		if v, p, err := sfParseItem(line); err == nil {
			checkSFValue(t, v)
			_ = p.Len()
		}
	})
}

func checkSFValue(t *testing.T, v sfValue) {
	t.Helper()
	_ = v.Kind.String()
	_ = v.Unquoted()
	switch v.Kind {
	case sfInteger, sfDate:
		if v.Int > 999_999_999_999_999 || v.Int < -999_999_999_999_999 {
			t.Errorf("%v %d out of RFC 9651 range", v.Kind, v.Int)
		}
	case sfDecimal:
		if math.IsNaN(v.Dec) || math.IsInf(v.Dec, 0) || math.Abs(v.Dec) >= 1e12 {
			t.Errorf("decimal %v out of RFC 9651 range", v.Dec)
		}
	}
}

type fuzzSeed struct {
	name    string
	dialect string
	status  int
	header  string
	body    []byte
	recv    int64
}

// goldenSeeds turns every golden capture into a FuzzDialects input.
func goldenSeeds(tb testing.TB) []fuzzSeed {
	files, err := filepath.Glob("testdata/golden/*/*.http")
	if err != nil {
		tb.Fatal(err)
	}
	var out []fuzzSeed
	for _, f := range files {
		in := readCapture(tb, f)
		out = append(out, fuzzSeed{
			name:    filepath.Base(filepath.Dir(f)) + "-" + strings.TrimSuffix(filepath.Base(f), ".http"),
			dialect: filepath.Base(filepath.Dir(f)),
			status:  in.Status, header: encodeHeader(in.Header), body: in.Body,
			recv: in.Received.UnixNano(),
		})
	}
	return out
}

// TestWriteFuzzSeeds writes the golden captures as files of the
// FuzzDialects seed corpus (go test fuzz v1 format), so that the corpus is
// reviewable and `go test -fuzz` starts from it.
func TestWriteFuzzSeeds(t *testing.T) {
	if !*writeFuzzSeeds {
		t.Skip("run with -fuzzseeds to rewrite testdata/fuzz/FuzzDialects/golden-*")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDialects")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, s := range goldenSeeds(t) {
		content := fmt.Sprintf("go test fuzz v1\nstring(%s)\nint(%d)\nstring(%s)\n[]byte(%s)\nint64(%d)\n",
			strconv.Quote(s.dialect), s.status, strconv.Quote(s.header), strconv.Quote(string(s.body)), s.recv)
		if err := os.WriteFile(filepath.Join(dir, "golden-"+s.name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Regressions of FuzzParseReset (testdata/fuzz/FuzzParseReset/regression-*):
// a Date header centuries off made Retry-After dates centuries long and
// shifted every absolute reset by as much. A Date more than a year off is
// now ignored, and a Retry-After date more than a year ahead is an error.
func TestGarbageDateIgnored(t *testing.T) {
	recv := time.Unix(1777636800, 0)
	in := &Input{Header: http.Header{"Date": {"Fri, 01 May 0000 00:00:00 GMT"}}, Received: recv}
	c := newClock(in)
	got, err := parseReset("1777636860", FormatEpochSeconds, &c)
	if err != nil || !got.Equal(recv.Add(time.Minute)) {
		t.Errorf("epoch reset with a garbage Date = %v, %v; want %v", got, err, recv.Add(time.Minute))
	}
	if d, err := parseRetryAfter("Fri, 01 May 2026 12:01:00 GMT", &c); err != nil || d != time.Minute {
		t.Errorf("Retry-After date with a garbage Date = %v, %v; want 1m", d, err)
	}
	if d, err := parseRetryAfter("Fri, 31 Dec 9999 23:59:59 GMT", &c); err == nil {
		t.Errorf("Retry-After in year 9999 accepted as %v", d)
	}
}
