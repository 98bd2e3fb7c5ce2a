package parsers

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ResetFormat says how a dialect documents a reset value. Dialects declare
// the format per header; sniffing (FormatAuto) is only the fallback for
// values that do not fit the declared format.
type ResetFormat uint8

const (
	// FormatAuto sniffs: a Go duration ("6m0s"), an RFC 3339 time, an
	// HTTP-date, or a number: ≥1e12 epoch milliseconds, ≥1e9 epoch seconds,
	// otherwise seconds from now.
	FormatAuto ResetFormat = iota
	// FormatDuration is a Go duration string: "51s", "6m0s", "12ms", "1h2m3.5s".
	FormatDuration
	// FormatSeconds is seconds from now, integer or fractional.
	FormatSeconds
	// FormatEpochSeconds is a Unix time in seconds (may be fractional).
	FormatEpochSeconds
	// FormatEpochMillis is a Unix time in milliseconds.
	FormatEpochMillis
	// FormatRFC3339 is an absolute RFC 3339 time.
	FormatRFC3339
	// FormatHTTPDate is an absolute HTTP-date (RFC 9110).
	FormatHTTPDate
)

// Plausibility bounds used to recognise epoch values when sniffing: 1e9 s is
// September 2001, so no realistic "seconds from now" reaches it, and 1e12 ms
// is the same instant in milliseconds.
const (
	epochSecondsMin = 1e9
	epochMillisMin  = 1e12
	// maxValue bounds limits and remaining counts: larger numbers are not
	// quotas but garbage (or an overflow upstream).
	maxValue = 1e15
	// maxRelative bounds relative resets and Retry-After (one year).
	maxRelative = 366 * 24 * time.Hour
)

// clock converts the provider's times to the receiver's clock.
//
// Providers compute absolute reset times on their own clock. The response's
// Date header tells us that clock, so an absolute reset is shifted by the
// skew (received − Date). Date has one-second resolution and arrives a few
// milliseconds before Received, so a skew under skewThreshold is noise and
// is ignored: otherwise every epoch-second reset would be exported with a
// random sub-second offset. An absolute reset is never earlier than Date.
//
// Date is read on the first absolute conversion, not up front: responses
// whose resets are all relative (durations, delay-seconds) never need it,
// and parsing it is a good part of the cost of such a response.
type clock struct {
	received time.Time
	header   header    // where Date comes from
	dateRead bool      // date and skew below are set
	date     time.Time // server "now" on the local clock; received if no Date
	skew     time.Duration
}

const skewThreshold = 2 * time.Second

func newClock(in *Input) clock {
	return clock{received: in.Received, header: headerOf(in)}
}

// readDate sets date and skew from the Date header.
func (c *clock) readDate() {
	c.dateRead = true
	c.date = c.received
	if v := c.header.first("Date", "date"); v != "" {
		if d, err := parseHTTPDate(v); err == nil {
			skew := c.received.Sub(d)
			if skew > maxRelative || skew < -maxRelative {
				// A Date more than a year off is garbage, not a clock
				// to correct for: it would shift every absolute reset by
				// as much. Use the local clock alone.
			} else if skew > skewThreshold || skew < -skewThreshold {
				c.skew = skew
			} else {
				c.date = d
			}
		}
	}
}

// parseHTTPDate is http.ParseTime with a fast path for the IMF-fixdate form
// every server sends in Date ("Sun, 06 Nov 1994 08:49:37 GMT", RFC 9110
// §5.6.7): time.Parse costs a few hundred nanoseconds on every response.
func parseHTTPDate(s string) (time.Time, error) {
	if len(s) == 29 && s[3] == ',' && s[4] == ' ' && s[7] == ' ' && s[11] == ' ' &&
		s[16] == ' ' && s[19] == ':' && s[22] == ':' && s[25:] == " GMT" {
		day, ok1 := httpDateDigits(s[5:7])
		year, ok2 := httpDateDigits(s[12:16])
		hour, ok3 := httpDateDigits(s[17:19])
		minute, ok4 := httpDateDigits(s[20:22])
		sec, ok5 := httpDateDigits(s[23:25])
		month := 0
		switch s[8:11] {
		case "Jan":
			month = 1
		case "Feb":
			month = 2
		case "Mar":
			month = 3
		case "Apr":
			month = 4
		case "May":
			month = 5
		case "Jun":
			month = 6
		case "Jul":
			month = 7
		case "Aug":
			month = 8
		case "Sep":
			month = 9
		case "Oct":
			month = 10
		case "Nov":
			month = 11
		case "Dec":
			month = 12
		}
		weekday := false
		switch s[:3] {
		case "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun":
			weekday = true
		}
		if ok1 && ok2 && ok3 && ok4 && ok5 && weekday && month > 0 && validDay(year, month, day) && hour < 24 && minute < 60 && sec < 60 {
			return time.Date(year, time.Month(month), day, hour, minute, sec, 0, time.UTC), nil
		}
	}
	return http.ParseTime(s)
}

// ParseRFC3339 is time.Parse(time.RFC3339Nano, s) with a fast path for the
// UTC form providers and log writers use ("2025-08-21T12:40:59Z" in each of
// Anthropic's reset headers, "2024-11-22T10:00:00.123Z" from Envoy and
// Headroom's access log), where time.Parse costs several times as much. The
// fast path takes only what time.Parse takes and returns the same Time
// (FuzzParseReset and TestParseRFC3339Calendar check both); package tail
// uses it for log timestamps.
func ParseRFC3339(s string) (time.Time, error) {
	if t, ok := parseUTC(s); ok {
		return t, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

// parseUTC reads YYYY-MM-DDTHH:MM:SS[.fraction]Z, ok false for any other
// form or an out-of-range field.
func parseUTC(s string) (t time.Time, ok bool) {
	if len(s) < 20 || len(s) > 30 || s[len(s)-1] != 'Z' ||
		s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return t, false
	}
	year, ok1 := httpDateDigits(s[0:4])
	month, ok2 := httpDateDigits(s[5:7])
	day, ok3 := httpDateDigits(s[8:10])
	hour, ok4 := httpDateDigits(s[11:13])
	minute, ok5 := httpDateDigits(s[14:16])
	sec, ok6 := httpDateDigits(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || !validDay(year, month, day) ||
		hour > 23 || minute > 59 || sec > 59 {
		return t, false
	}
	var nsec int
	if frac := s[19 : len(s)-1]; frac != "" {
		if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 {
			return t, false
		}
		f, ok := httpDateDigits(frac[1:])
		if !ok {
			return t, false
		}
		for i := len(frac) - 1; i < 9; i++ {
			f *= 10
		}
		nsec = f
	}
	// time.Date(…, time.UTC) builds the same value; this is cheaper.
	unix := (daysFromCivil(int64(year), int64(month), int64(day))*24+int64(hour))*3600 + int64(minute)*60 + int64(sec)
	return time.Unix(unix, int64(nsec)).UTC(), true
}

// daysFromCivil is the number of days from 1970-01-01 to a proleptic
// Gregorian date (H. Hinnant's algorithm), for years 0 to 9999.
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := (y+400)/400 - 1 // floor(y/400) for y ≥ -1
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

var monthDays = [13]int{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

// validDay reports whether day exists in month (1–12) of year: not 31 Apr,
// nor 29 Feb out of a leap year.
func validDay(year, month, day int) bool {
	return day >= 1 && day <= monthDays[month] &&
		(month != 2 || day < 29 || year%4 == 0 && (year%100 != 0 || year%400 == 0))
}

func httpDateDigits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// absolute maps a provider timestamp to the local clock, never before Date.
func (c *clock) absolute(t time.Time) time.Time {
	if !c.dateRead {
		c.readDate()
	}
	if c.skew != 0 {
		t = t.Add(c.skew)
	}
	if t.Before(c.date) {
		return c.date
	}
	return t
}

func (c *clock) relative(d time.Duration) time.Time { return c.received.Add(d) }

// first returns the first value of a canonical header key.
func first(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// trimSpace is strings.TrimSpace without the call for the usual header
// value, which starts and ends with a byte that is neither a space nor part
// of a multi-byte character: nothing to trim.
func trimSpace(s string) string {
	if len(s) > 0 && s[0] > ' ' && s[0] < utf8.RuneSelf && s[len(s)-1] > ' ' && s[len(s)-1] < utf8.RuneSelf {
		return s
	}
	return strings.TrimSpace(s)
}

// lookup returns a header's value. A header repeated with different values
// (two proxies each adding theirs) is ambiguous and reported as an error
// rather than guessed.
func lookup(h http.Header, key string) (v string, ok bool, dup bool) {
	vs := h[key]
	switch len(vs) {
	case 0:
		return "", false, false
	case 1:
		return trimSpace(vs[0]), true, false
	}
	v = trimSpace(vs[0])
	for _, o := range vs[1:] {
		if trimSpace(o) != v {
			return v, true, true
		}
	}
	return v, true, false
}

// ParseCount parses a limit or remaining value: a finite, non-negative number
// below maxValue. Fractions are allowed (some providers send "59.0").
func ParseCount(s string) (float64, error) {
	return parseCount(trimSpace(s))
}

// parseCount is ParseCount for a value that lookup already trimmed.
func parseCount(s string) (float64, error) {
	f, err := parseSeconds(s)
	if err == nil && f > maxValue {
		return 0, ErrOverflow
	}
	return f, err
}

// parseSeconds parses a finite non-negative number (of seconds, or a count).
func parseSeconds(s string) (float64, error) {
	// Fast path for the common cases, an integer or a plain decimal
	// ("1748858419.5", an epoch reset): several times cheaper than
	// ParseFloat on every header. With at most 15 digits both the digits
	// and the power of ten are exact float64s, so the one division rounds
	// once, to the same value ParseFloat returns (its own exact path).
	if len(s) > 0 && len(s) <= 16 {
		var n int64
		i := 0
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			n = n*10 + int64(s[i]-'0')
		}
		if i == len(s) {
			if i <= 15 {
				return float64(n), nil
			}
		} else if s[i] == '.' && len(s) > 1 {
			j := i + 1
			for ; j < len(s) && s[j] >= '0' && s[j] <= '9'; j++ {
				n = n*10 + int64(s[j]-'0')
			}
			if j == len(s) {
				return float64(n) / pow10[j-i-1], nil
			}
		}
	}
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
		// "-0" parses as negative zero, which Prometheus would show as -0.
		return 0, nil
	}
	return f, nil
}

// pow10 holds the powers of ten that are exact float64s and that the fast
// path of parseSeconds needs.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

func secondsToDuration(f float64) (time.Duration, error) {
	if f > maxRelative.Seconds() {
		return 0, ErrOverflow
	}
	return time.Duration(f * float64(time.Second)), nil
}

// parseDuration is time.ParseDuration with a fast path for the whole
// numbers of hours, minutes, seconds and milliseconds that providers send
// ("6ms", "1s", "6m0s"): ParseDuration's general loop was most of the cost
// of an OpenAI-style response's parse. Anything else, fractions and signs
// included, goes to ParseDuration (FuzzParseDuration compares the two).
func parseDuration(s string) (time.Duration, error) {
	var total int64
	i := 0
	for i < len(s) {
		var n int64
		j := i
		for j < len(s) && j-i < 12 && '0' <= s[j] && s[j] <= '9' {
			n = n*10 + int64(s[j]-'0')
			j++
		}
		if j == i {
			return time.ParseDuration(s)
		}
		k := j
		for k < len(s) && (s[k] < '0' || s[k] > '9') && s[k] != '.' {
			k++
		}
		var unit int64
		switch s[j:k] {
		case "h":
			unit = int64(time.Hour)
		case "m":
			unit = int64(time.Minute)
		case "s":
			unit = int64(time.Second)
		case "ms":
			unit = int64(time.Millisecond)
		default:
			return time.ParseDuration(s)
		}
		// Past int64: ParseDuration's overflow error.
		if n > (1<<63-1-total)/unit {
			return time.ParseDuration(s)
		}
		total += n * unit
		i = k
	}
	if i == 0 {
		return time.ParseDuration(s)
	}
	return time.Duration(total), nil
}

// ParseReset interprets a reset value in the given format, falling back to
// sniffing when the value cannot be what the format promises (an "epoch"
// header carrying 42 is seconds from now, not 1970).
func parseReset(s string, f ResetFormat, c *clock) (time.Time, error) {
	s = trimSpace(s)
	if s == "" {
		return time.Time{}, ErrBadReset
	}
	switch f {
	case FormatDuration:
		if d, err := parseDuration(s); err == nil {
			if d < 0 {
				return time.Time{}, ErrNegative
			}
			if d > maxRelative {
				return time.Time{}, ErrOverflow
			}
			return c.relative(d), nil
		}
	case FormatSeconds:
		if n, err := parseSeconds(s); err == nil && n < epochSecondsMin {
			d, err := secondsToDuration(n)
			if err != nil {
				return time.Time{}, err
			}
			return c.relative(d), nil
		}
	case FormatEpochSeconds:
		if n, err := parseSeconds(s); err == nil && n >= epochSecondsMin && n < epochMillisMin {
			return c.absolute(unixFloat(n)), nil
		}
	case FormatEpochMillis:
		if n, err := parseSeconds(s); err == nil && n >= epochMillisMin && n < 1e15 {
			return c.absolute(time.UnixMilli(int64(n))), nil
		}
	case FormatRFC3339:
		if t, err := ParseRFC3339(s); err == nil {
			return c.absolute(t), nil
		}
	case FormatHTTPDate:
		if t, err := http.ParseTime(s); err == nil {
			return c.absolute(t), nil
		}
	}
	return sniffReset(s, c)
}

func sniffReset(s string, c *clock) (time.Time, error) {
	last := s[len(s)-1]
	switch {
	case last == 's' || last == 'm' || last == 'h':
		d, err := parseDuration(s)
		if err != nil {
			return time.Time{}, ErrBadReset
		}
		if d < 0 {
			return time.Time{}, ErrNegative
		}
		if d > maxRelative {
			return time.Time{}, ErrOverflow
		}
		return c.relative(d), nil
	case strings.IndexByte(s, 'T') > 0:
		t, err := ParseRFC3339(s)
		if err != nil {
			return time.Time{}, ErrBadReset
		}
		return c.absolute(t), nil
	case strings.IndexByte(s, ',') > 0 || strings.HasSuffix(s, "GMT"):
		t, err := http.ParseTime(s)
		if err != nil {
			return time.Time{}, ErrBadReset
		}
		return c.absolute(t), nil
	}
	n, err := parseSeconds(s)
	if err != nil {
		if err == ErrSyntax {
			return time.Time{}, ErrBadReset
		}
		return time.Time{}, err
	}
	switch {
	case n >= 1e15:
		return time.Time{}, ErrOverflow
	case n >= epochMillisMin:
		return c.absolute(time.UnixMilli(int64(n))), nil
	case n >= epochSecondsMin:
		return c.absolute(unixFloat(n)), nil
	}
	d, err := secondsToDuration(n)
	if err != nil {
		return time.Time{}, err
	}
	return c.relative(d), nil
}

func unixFloat(n float64) time.Time {
	sec, frac := math.Modf(n)
	return time.Unix(int64(sec), int64(frac*1e9))
}

// parseRetryAfter reads Retry-After: delay-seconds or an HTTP-date.
func parseRetryAfter(s string, c *clock) (time.Duration, error) {
	s = trimSpace(s)
	if s == "" {
		return 0, ErrSyntax
	}
	if s[0] >= '0' && s[0] <= '9' || s[0] == '-' || s[0] == '.' {
		n, err := parseSeconds(s)
		if err != nil {
			return 0, err
		}
		return secondsToDuration(n)
	}
	t, err := http.ParseTime(s)
	if err != nil {
		return 0, ErrBadReset
	}
	d := c.absolute(t).Sub(c.received)
	if d < 0 {
		d = 0
	}
	if d > maxRelative {
		// Same bound as delay-seconds: a date centuries ahead (or a Date
		// header centuries behind) is garbage, not advice.
		return 0, ErrOverflow
	}
	return d, nil
}

// FormatWindow renders a window length in Prometheus duration notation using
// the largest exact unit: 1s, 10s, 1m, 1h, 1d, 30d.
func FormatWindow(d time.Duration) string {
	switch d {
	case time.Second:
		return "1s"
	case time.Minute:
		return "1m"
	case time.Hour:
		return "1h"
	case 24 * time.Hour:
		return "1d"
	case 30 * 24 * time.Hour:
		return "30d"
	}
	if d <= 0 {
		return WindowNone
	}
	const day = 24 * time.Hour
	var b strings.Builder
	for _, u := range []struct {
		d time.Duration
		s string
	}{{day, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}, {time.Millisecond, "ms"}} {
		if n := d / u.d; n > 0 {
			b.WriteString(strconv.FormatInt(int64(n), 10))
			b.WriteString(u.s)
			d -= n * u.d
		}
	}
	return b.String()
}

// ParseWindow is the inverse of FormatWindow (and accepts any Prometheus
// duration). WindowNone yields 0.
func ParseWindow(s string) (time.Duration, error) {
	if s == WindowNone {
		return 0, nil
	}
	var total time.Duration
	rest := s
	if rest == "" {
		return 0, ErrSyntax
	}
	for rest != "" {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 {
			return 0, ErrSyntax
		}
		n, err := strconv.ParseInt(rest[:i], 10, 64)
		if err != nil {
			return 0, ErrOverflow
		}
		rest = rest[i:]
		j := 0
		for j < len(rest) && (rest[j] < '0' || rest[j] > '9') {
			j++
		}
		var unit time.Duration
		switch rest[:j] {
		case "ms":
			unit = time.Millisecond
		case "s":
			unit = time.Second
		case "m":
			unit = time.Minute
		case "h":
			unit = time.Hour
		case "d":
			unit = 24 * time.Hour
		case "w":
			unit = 7 * 24 * time.Hour
		case "y":
			unit = 365 * 24 * time.Hour
		default:
			return 0, ErrSyntax
		}
		total += time.Duration(n) * unit
		rest = rest[j:]
	}
	return total, nil
}
