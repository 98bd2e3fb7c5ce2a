package accesslog

import (
	"strconv"
	"time"

	"github.com/headroomhq/headroom/parsers"
)

// The headroom format, as Headroom writes it (HEADROOM_ACCESS_LOG): one
// JSON line per call; package tail reads it back (tail/headroom.go
// documents the fields).

// LogLine is one call in the headroom format.
type LogLine struct {
	// Time is when the response headers arrived, or when the call ended if
	// there was no response.
	Time          time.Time
	Provider      string
	Model         string
	Key           string
	Method        string
	Path          string
	Upstream      string
	Status        int
	Duration      time.Duration
	InputTokens   int64
	OutputTokens  int64
	Streamed      bool
	UpstreamError string
	Observations  []parsers.Observation
	RetryAfter    time.Duration
	HasRetryAfter bool
	Throttled     string
}

// AppendLine appends l as one JSON line (with its newline) to b.
func AppendLine(b []byte, l *LogLine) []byte {
	b = append(b, `{"time":"`...)
	b = l.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	b = appendStr(b, "provider", l.Provider)
	b = appendStr(b, "model", l.Model)
	b = appendStr(b, "key", l.Key)
	b = appendStr(b, "method", l.Method)
	b = appendStr(b, "path", l.Path)
	b = appendStr(b, "upstream", l.Upstream)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(l.Status), 10)
	b = append(b, `,"duration_seconds":`...)
	b = appendSeconds(b, l.Duration)
	if l.InputTokens > 0 {
		b = append(b, `,"input_tokens":`...)
		b = strconv.AppendInt(b, l.InputTokens, 10)
	}
	if l.OutputTokens > 0 {
		b = append(b, `,"output_tokens":`...)
		b = strconv.AppendInt(b, l.OutputTokens, 10)
	}
	b = append(b, `,"streamed":`...)
	b = strconv.AppendBool(b, l.Streamed)
	if l.UpstreamError != "" {
		b = appendStr(b, "upstream_error", l.UpstreamError)
	}
	if len(l.Observations) > 0 {
		b = append(b, `,"ratelimit":[`...)
		for i, o := range l.Observations {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"resource":`...)
			b = appendJSONString(b, o.Resource)
			b = appendStr(b, "window", o.Window)
			if o.HasLimit {
				b = append(b, `,"limit":`...)
				b = strconv.AppendFloat(b, o.Limit, 'f', -1, 64)
			}
			if o.HasRemaining {
				b = append(b, `,"remaining":`...)
				b = strconv.AppendFloat(b, o.Remaining, 'f', -1, 64)
			}
			if !o.Reset.IsZero() {
				b = append(b, `,"reset":`...)
				b = appendUnix(b, o.Reset)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if l.HasRetryAfter {
		b = append(b, `,"retry_after_seconds":`...)
		b = appendSeconds(b, l.RetryAfter)
	}
	if l.Throttled != "" {
		b = appendStr(b, "throttled", l.Throttled)
	}
	return append(b, '}', '\n')
}

// appendStr appends ,"name":"value" with JSON escaping.
func appendStr(b []byte, name, v string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendJSONString(b, v)
}

// appendJSONString appends v quoted and escaped for JSON. Bytes ≥ 0x80 pass
// through unchanged (UTF-8, as nginx's escape=json does).
func appendJSONString(b []byte, v string) []byte {
	b = append(b, '"')
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, `\u00`...)
			b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

func appendSeconds(b []byte, d time.Duration) []byte {
	return strconv.AppendFloat(b, d.Seconds(), 'f', -1, 64)
}

// appendUnix writes t as Unix seconds with an exact decimal fraction.
func appendUnix(b []byte, t time.Time) []byte {
	sec, nsec := t.Unix(), int64(t.Nanosecond())
	if sec < 0 {
		return append(b, '0')
	}
	b = strconv.AppendInt(b, sec, 10)
	if nsec == 0 {
		return b
	}
	var frac [10]byte
	frac[0] = '.'
	for i := 9; i >= 1; i-- {
		frac[i] = byte('0' + nsec%10)
		nsec /= 10
	}
	n := 10
	for n > 1 && frac[n-1] == '0' {
		n--
	}
	return append(b, frac[:n]...)
}
