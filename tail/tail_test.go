package tail

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/headroomhq/headroom/accesslog"
	"github.com/headroomhq/headroom/config"
	"github.com/headroomhq/headroom/parsers"
)

func feed(t *testing.T, tl *Tailer, path string) {
	t.Helper()
	for _, l := range readLines(t, path) {
		tl.Line(l)
	}
}

// Real nginx lines (testdata/nginx.jsonl) through the nginx format: exact
// values per provider, the 429s, the model from the request body, and the
// reset worked out against the line's own time.
func TestNginxFixture(t *testing.T) {
	e := newEnv(t, "")
	tl := e.tailer(tailCfg(config.FormatNginx, "nginx.log"))
	feed(t, tl, "testdata/nginx.jsonl")
	e.expect(11, "headroom_tail_lines_total", "file=nginx.log", "result=ok")
	e.expect(0, "headroom_tail_lines_total", "file=nginx.log", "result=invalid_json")

	hk := []string{"provider=heroku-us", "model=claude-4-sonnet", "key=none"}
	e.expect(150, "headroom_ratelimit_limit", append(hk, "resource=requests", "window=1m")...)
	e.expect(148, "headroom_ratelimit_remaining", append(hk, "resource=requests", "window=1m")...)
	e.expect(799932, "headroom_ratelimit_remaining", append(hk, "resource=tokens", "window=1m")...)
	// Second line: time 1795458933.442 (response end), request_time 0.564,
	// upstream_header_time 0.002 → headers at 1795458932.880; reset "1m0s".
	e.expect(1795458932.880+60, "headroom_ratelimit_reset_timestamp_seconds", append(hk, "resource=requests", "window=1m")...)
	e.expect(1795458932.880, "headroom_ratelimit_observed_timestamp_seconds", append(hk, "resource=requests", "window=1m")...)
	e.expect(2, "headroom_requests_total", append(hk, "code=200")...)
	e.expect(1, "headroom_requests_total", append(hk, "code=401")...)

	pk := []string{"provider=predictions", "model=", "key=none"}
	e.expect(3, "headroom_ratelimit_limit", append(pk, "resource=requests", "window=1m")...)
	e.expect(0, "headroom_ratelimit_remaining", append(pk, "resource=requests", "window=1m")...)
	e.expect(1795458960, "headroom_ratelimit_reset_timestamp_seconds", append(pk, "resource=requests", "window=1m")...)
	e.expect(2, "headroom_ratelimited_total", append(pk, "resource=requests")...)
	e.expect(3, "headroom_requests_total", append(pk, "code=201")...)
	e.expect(2, "headroom_requests_total", append(pk, "code=429")...)

	ak := []string{"provider=anthropic", "model=claude-haiku-4-5", "key=none"}
	e.expect(49, "headroom_ratelimit_remaining", append(ak, "resource=requests", "window=1m")...)
	e.expect(10000, "headroom_ratelimit_limit", append(ak, "resource=output_tokens", "window=1m")...)

	sk := []string{"provider=sambanova", "model=Meta-Llama-3.3-70B-Instruct", "key=none"}
	e.expect(399, "headroom_ratelimit_remaining", append(sk, "resource=requests", "window=1h")...)
	e.expect(1795478400, "headroom_ratelimit_reset_timestamp_seconds", append(sk, "resource=requests", "window=1d")...)
	// The models listing carried no limits, but it is a request.
	e.expect(1, "headroom_requests_total", "provider=sambanova", "model=", "key=none", "code=200")
}

func TestEnvoyFixture(t *testing.T) {
	e := newEnv(t, "")
	tl := e.tailer(tailCfg(config.FormatEnvoy, "envoy.log"))
	feed(t, tl, "testdata/envoy.jsonl")
	e.expect(3, "headroom_tail_lines_total", "file=envoy.log", "result=ok")
	hk := []string{"provider=heroku-us", "model=claude-4-sonnet", "key=none"}
	e.expect(149, "headroom_ratelimit_remaining", append(hk, "resource=requests", "window=1m")...)
	// start 18:35:32.818 + response_duration 27 ms.
	e.expect(float64(time.Date(2026, 11, 23, 18, 35, 32, 845e6, time.UTC).UnixNano())/1e9,
		"headroom_ratelimit_observed_timestamp_seconds", append(hk, "resource=requests", "window=1m")...)
	// typed_json_format: numbers and nulls.
	pk := []string{"provider=predictions", "model=", "key=none"}
	e.expect(0, "headroom_ratelimit_remaining", append(pk, "resource=requests", "window=1m")...)
	e.expect(1, "headroom_ratelimited_total", append(pk, "resource=requests")...)
	e.expect(4800, "headroom_ratelimit_limit", "provider=sambanova", "resource=requests", "window=1d")
}

// Garbage is counted by kind and skipped; the tailer keeps going.
func TestGarbageLines(t *testing.T) {
	e := newEnv(t, "")
	tl := e.tailer(tailCfg(config.FormatNginx, "g.log"))
	feed(t, tl, "testdata/garbage.jsonl")
	for r, n := range map[string]float64{ResultInvalidJSON: 5, ResultMissingFields: 6, ResultUnknownProvider: 1, ResultOK: 2, ResultTooLong: 0} {
		e.expect(n, "headroom_tail_lines_total", "file=g.log", "result="+r)
	}
	// An unparseable value is a parse error, never a wrong number.
	e.expect(1, "headroom_parse_errors_total", "provider=heroku-us", "header=x-ratelimit-limit-requests")
	e.expect(149, "headroom_ratelimit_remaining", "provider=heroku-us", "model=", "resource=requests")
	// Escapes are decoded: "1\u0034\u0030" is 140, the model keeps its quote.
	e.expect(140, "headroom_ratelimit_remaining", "provider=heroku-us", "model=esc\"aped\\model", "resource=requests")
}

func TestFixedProviderAndKey(t *testing.T) {
	e := newEnv(t, "")
	c := tailCfg(config.FormatNginx, "f.log")
	c.Provider, c.ProviderField, c.Key = "heroku-us", "", "gateway"
	tl := e.tailer(c)
	// upstream_host names predictions, but the file belongs to heroku-us.
	tl.Line([]byte(`{"time":"1795458933","status":"200","headers":{"x-ratelimit-limit-requests":"150","x-ratelimit-remaining-requests":"7"}}`))
	e.expect(7, "headroom_ratelimit_remaining", "provider=heroku-us", "key=gateway", "resource=requests", "window=1m")
}

func TestProviderMap(t *testing.T) {
	e := newEnv(t, "")
	c := tailCfg(config.FormatNginx, "m.log")
	c.ProviderMap = map[string]string{"us.inference.heroku.com": "heroku-us"}
	tl := e.tailer(c)
	tl.Line([]byte(`{"time":"1795458933","status":"200","upstream_host":"us.inference.heroku.com","headers":{"x-ratelimit-limit-requests":"150","x-ratelimit-remaining-requests":"8"}}`))
	// By provider name, too.
	tl.Line([]byte(`{"time":"1795458933","status":"200","upstream_host":"sambanova","headers":{"x-ratelimit-limit-requests":"80","x-ratelimit-remaining-requests":"9"}}`))
	e.expect(8, "headroom_ratelimit_remaining", "provider=heroku-us", "resource=requests", "window=1m")
	e.expect(9, "headroom_ratelimit_remaining", "provider=sambanova", "resource=requests", "window=1m")
}

// The headroom format round-trips: what AppendLine writes, the reader
// records exactly, with the writer's key fingerprint and tokens.
func TestHeadroomRoundTrip(t *testing.T) {
	e := newEnv(t, "")
	recv := time.Date(2026, 11, 23, 18, 35, 33, 123456789, time.UTC)
	l := accesslog.LogLine{
		Time: recv, Provider: "heroku-us", Model: "claude-4-sonnet", Key: "k-0123456789ab", Method: "POST",
		Path: "/v1/chat/completions", Upstream: "127.0.0.1:18081", Status: 429, Duration: 412 * time.Millisecond,
		InputTokens: 12, OutputTokens: 16,
		Observations: []parsers.Observation{
			{Resource: parsers.Requests, Window: "1m", Limit: 150, HasLimit: true, Remaining: 0, HasRemaining: true, Reset: recv.Add(12 * time.Second)},
			{Resource: parsers.Tokens, Window: "1m", Limit: 800000, HasLimit: true, Remaining: 799000.5, HasRemaining: true},
		},
		RetryAfter: 12 * time.Second, HasRetryAfter: true, Throttled: parsers.Requests,
	}
	line := accesslog.AppendLine(nil, &l)
	if line[len(line)-1] != '\n' {
		t.Fatal("no newline")
	}
	tl := e.tailer(tailCfg(config.FormatHeadroom, "h.log"))
	tl.Line(line[:len(line)-1])
	e.expect(1, "headroom_tail_lines_total", "file=h.log", "result=ok")
	b := []string{"provider=heroku-us", "model=claude-4-sonnet", "key=k-0123456789ab"}
	e.expect(0, "headroom_ratelimit_remaining", append(b, "resource=requests", "window=1m")...)
	e.expect(799000.5, "headroom_ratelimit_remaining", append(b, "resource=tokens", "window=1m")...)
	e.expect(float64(recv.Add(12*time.Second).UnixNano())/1e9, "headroom_ratelimit_reset_timestamp_seconds", append(b, "resource=requests", "window=1m")...)
	e.expect(float64(recv.UnixNano())/1e9, "headroom_ratelimit_observed_timestamp_seconds", append(b, "resource=requests", "window=1m")...)
	e.expect(1, "headroom_ratelimited_total", append(b, "resource=requests")...)
	e.expect(12, "headroom_tokens_total", append(b, "type=input")...)
	e.expect(16, "headroom_tokens_total", append(b, "type=output")...)
	e.expect(1, "headroom_requests_total", append(b, "code=429")...)
	if n := testutil.CollectAndCount(e.coll, "headroom_ratelimit_limit"); n != 2 {
		t.Errorf("%d limit series", n)
	}

	// A malformed observation is a parse error; the rest of the line counts.
	tl.Line([]byte(`{"time":"2026-11-23T18:35:34Z","provider":"sambanova","status":200,"duration_seconds":0.1,"ratelimit":[{"resource":"bananas","window":"1m","limit":1},{"resource":"requests","window":"1h","limit":400,"remaining":12}]}`))
	e.expect(1, "headroom_parse_errors_total", "provider=sambanova", "header=ratelimit")
	e.expect(12, "headroom_ratelimit_remaining", "provider=sambanova", "resource=requests", "window=1h")
}

func TestMappingFormat(t *testing.T) {
	e := newEnv(t, "")
	c := config.Tail{Path: "x.log", Format: config.FormatMapping, ProviderField: "route.upstream", Key: "none",
		ProviderMap: map[string]string{"hk": "heroku-us"},
		Mapping: &config.Mapping{
			Time: "ts", TimeIs: "start", Status: "resp.code", Duration: "latency_ms", DurationUnit: "ms",
			Model: "route.model", Key: "team", InputTokens: "usage.in", OutputTokens: "usage.out",
			Headers: "resp.headers", HeaderFields: map[string]string{"rl_remaining": "X-RateLimit-Remaining-Requests"},
		}}
	tl := e.tailer(c)
	tl.Line([]byte(`{"ts":1795458933000,"team":"search","route":{"upstream":"hk","model":"claude-3-haiku"},` +
		`"resp":{"code":200,"headers":{"X-RateLimit-Limit-Requests":"250"}},"rl_remaining":"240","latency_ms":150,"usage":{"in":10,"out":20}}`))
	e.expect(1, "headroom_tail_lines_total", "file=x.log", "result=ok")
	b := []string{"provider=heroku-us", "model=claude-3-haiku", "key=search"}
	e.expect(250, "headroom_ratelimit_limit", append(b, "resource=requests", "window=1m")...)
	e.expect(240, "headroom_ratelimit_remaining", append(b, "resource=requests", "window=1m")...)
	// Start (ms epoch) plus the whole duration: no header time mapped.
	e.expect(1795458933.15, "headroom_ratelimit_observed_timestamp_seconds", append(b, "resource=requests", "window=1m")...)
	e.expect(20, "headroom_tokens_total", append(b, "type=output")...)
}

func TestParseTime(t *testing.T) {
	want := time.Date(2026, 11, 23, 18, 35, 32, 846e6, time.UTC)
	for _, s := range []string{"1795458932.846", "1795458932846", "1795458932846000", "1795458932846000000",
		"2026-11-23T18:35:32.846Z", "2026-11-23T19:35:32.846+01:00"} {
		got, err := parseTime(s)
		if err != nil || !got.Equal(want) {
			t.Errorf("%s: %v %v", s, got, err)
		}
	}
	got, err := parseTime("23/Nov/2026:18:35:32 +0000")
	if err != nil || !got.Equal(want.Truncate(time.Second)) {
		t.Errorf("time_local: %v %v", got, err)
	}
	for _, s := range []string{"", "-", "soon", "12:00"} {
		if _, err := parseTime(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestJSONReader(t *testing.T) {
	good := []string{`{}`, ` { "a" : [1, {"b": [true, false, null]}, "x\"y"] , "c": -1.5e3 } `, `{"a":"\u00e9\ud83d\ude00"}`}
	for _, s := range good {
		if v, i, ok := parseValue(s, skipWS(s, 0), 0); !ok || skipWS(s, i) != len(s) || v.kind != jObject {
			t.Errorf("rejected %s", s)
		}
	}
	bad := []string{`{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a" 1}`, `{"a":"x}`, `{"a":tru}`, `{"a":"\q"}`, `{"a":[1,]}`, `{"a":"\u12"}`,
		strings.Repeat("[", 100) + strings.Repeat("]", 100)}
	for _, s := range bad {
		if _, i, ok := parseValue(s, 0, 0); ok && skipWS(s, i) == len(s) {
			t.Errorf("accepted %s", s)
		}
	}
	if s, ok := unescape(`\u00e9\ud83d\ude00\n\"`); !ok || s != "é😀\n\"" {
		t.Errorf("unescape: %q %v", s, ok)
	}
}

// Header names logged in canonical form ("X-Ratelimit-…") are read
// correctly line after line although the follower reuses its buffer: the
// name cache once kept such a name as a slice of the first line's buffer,
// and later lines with another layout lost the header.
func TestCanonicalHeaderNamesBufferReused(t *testing.T) {
	e := newEnv(t, "")
	tl := e.tailer(tailCfg(config.FormatNginx, "c.log"))
	buf := make([]byte, 4096)
	line := func(s string) { tl.Line(buf[:copy(buf, s)]) }
	line(`{"time":"1795458933","status":"200","upstream_host":"127.0.0.1:18081","headers":{"X-Ratelimit-Limit-Requests":"150","X-Ratelimit-Remaining-Requests":"7"}}`)
	e.expect(7, "headroom_ratelimit_remaining", "provider=heroku-us", "model=", "resource=requests", "window=1m")
	line(`{"time":"1795458936","status":"200","model":"m","upstream_host":"127.0.0.1:18081","headers":{"X-Ratelimit-Limit-Requests":"150","X-Ratelimit-Remaining-Requests":"2"}}`)
	e.expect(2, "headroom_ratelimit_remaining", "provider=heroku-us", "model=m", "resource=requests", "window=1m")
}
