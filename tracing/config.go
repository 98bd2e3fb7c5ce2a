package tracing

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// ResponseHeadersEnv names the opt-in allow-list of response headers recorded
// as http.response.header.<name> attributes (comma-separated, any case).
const ResponseHeadersEnv = "HEADROOM_TRACE_RESPONSE_HEADERS"

// Config is what the standard OTEL_* variables (plus
// HEADROOM_TRACE_RESPONSE_HEADERS) ask for, beyond the exporter itself:
// New builds that with go.opentelemetry.io/contrib/exporters/autoexport,
// which reads OTEL_TRACES_EXPORTER and OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL
// from the process environment (and the OTLP exporters read their own
// OTEL_EXPORTER_OTLP_* settings). What autoexport does not decide stays
// here: whether tracing is on at all (Headroom's default differs from the
// specification's, see ConfigFromEnv), sampling, propagation, batching and
// attribute choices.
type Config struct {
	// Enabled is false when tracing is off: nothing is installed and the
	// proxy pays one nil check per request.
	Enabled bool
	// Exporter is OTEL_TRACES_EXPORTER, "otlp" when unset (for the log).
	Exporter string
	// Propagators: "tracecontext", "baggage"; empty propagates nothing.
	Propagators []string
	Sampler     sdktrace.Sampler
	SamplerName string

	// Batching (OTEL_BSP_*).
	MaxQueueSize       int
	MaxExportBatchSize int
	ScheduleDelay      time.Duration
	ExportTimeout      time.Duration

	Semconv Semconv
	// ResponseHeaders is the allow-list, canonical header names, with every
	// credential-bearing name removed (see DeniedHeaders).
	ResponseHeaders []string
	// DeniedHeaders were asked for but are never recorded.
	DeniedHeaders []string
}

// Semconv selects attribute names where the conventions changed, from
// OTEL_SEMCONV_STABILITY_OPT_IN (a comma-separated list).
type Semconv struct {
	// GenAILatestOnly (gen_ai_latest_experimental) emits only the latest
	// experimental GenAI names; by default the v1.36 gen_ai.system is emitted
	// next to its replacement gen_ai.provider.name.
	GenAILatestOnly bool
	// HTTPDup (http/dup) also emits the pre-1.21 HTTP names (http.method,
	// http.status_code, http.url, net.peer.name, net.peer.port) next to the
	// stable ones.
	HTTPDup bool
}

// ParseSemconv reads an OTEL_SEMCONV_STABILITY_OPT_IN value. Unknown
// categories (database, messaging, …) are ignored: they are not Headroom's.
func ParseSemconv(v string) Semconv {
	var s Semconv
	for _, f := range strings.Split(v, ",") {
		switch strings.ToLower(strings.TrimSpace(f)) {
		case "gen_ai_latest_experimental":
			s.GenAILatestOnly = true
		case "http/dup":
			s.HTTPDup = true
		}
	}
	return s
}

// Defaults of the batch span processor, as in the SDK specification.
const (
	DefaultMaxQueueSize       = 2048
	DefaultMaxExportBatchSize = 512
	DefaultScheduleDelay      = 5 * time.Second
	DefaultExportTimeout      = 30 * time.Second
)

// ConfigFromEnv reads the configuration through getenv (os.Getenv in
// production). Tracing is on when OTEL_TRACES_EXPORTER names an exporter
// other than "none", or when it is unset and an OTLP endpoint is set (the
// specification would export to localhost:4318 with nothing set; Headroom
// stays off instead); OTEL_SDK_DISABLED=true turns it off whatever else is
// set. Invalid values are errors: a typo should stop Headroom at start
// rather than silently lose the traces. The exporter name and protocol are
// checked by New (autoexport), also at start.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	env := func(k string) string { return strings.TrimSpace(getenv(k)) }
	c := Config{
		MaxQueueSize:       DefaultMaxQueueSize,
		MaxExportBatchSize: DefaultMaxExportBatchSize,
		ScheduleDelay:      DefaultScheduleDelay,
		ExportTimeout:      DefaultExportTimeout,
		Semconv:            ParseSemconv(getenv("OTEL_SEMCONV_STABILITY_OPT_IN")),
	}
	if v := env("OTEL_SDK_DISABLED"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, fmt.Errorf("OTEL_SDK_DISABLED=%q: want true or false", v)
		}
		if b {
			return c, nil
		}
	}
	switch c.Exporter = env("OTEL_TRACES_EXPORTER"); {
	case c.Exporter == "none":
		return c, nil
	case c.Exporter != "":
	case env("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "":
		c.Exporter = "otlp"
	default:
		return c, nil
	}
	c.Enabled = true

	props := "tracecontext,baggage"
	if v := env("OTEL_PROPAGATORS"); v != "" {
		props = v
	}
	for _, p := range splitList(props) {
		switch p {
		case "tracecontext", "baggage":
			c.Propagators = append(c.Propagators, p)
		case "none":
		default:
			return c, fmt.Errorf("OTEL_PROPAGATORS: %q is not supported (tracecontext, baggage, none)", p)
		}
	}

	var err error
	if c.Sampler, c.SamplerName, err = samplerFromEnv(env("OTEL_TRACES_SAMPLER"), env("OTEL_TRACES_SAMPLER_ARG")); err != nil {
		return c, err
	}

	for _, n := range []struct {
		key string
		dst *int
	}{{"OTEL_BSP_MAX_QUEUE_SIZE", &c.MaxQueueSize}, {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", &c.MaxExportBatchSize}} {
		if v := env(n.key); v != "" {
			i, err := strconv.Atoi(v)
			if err != nil || i <= 0 {
				return c, fmt.Errorf("%s=%q: want a positive integer", n.key, v)
			}
			*n.dst = i
		}
	}
	c.MaxExportBatchSize = min(c.MaxExportBatchSize, c.MaxQueueSize)
	for _, d := range []struct {
		key string
		dst *time.Duration
	}{{"OTEL_BSP_SCHEDULE_DELAY", &c.ScheduleDelay}, {"OTEL_BSP_EXPORT_TIMEOUT", &c.ExportTimeout}} {
		if v := env(d.key); v != "" {
			ms, err := strconv.Atoi(v)
			if err != nil || ms <= 0 {
				return c, fmt.Errorf("%s=%q: want a positive number of milliseconds", d.key, v)
			}
			*d.dst = time.Duration(ms) * time.Millisecond
		}
	}

	c.ResponseHeaders, c.DeniedHeaders = AllowHeaders(getenv(ResponseHeadersEnv))
	return c, nil
}

func splitList(v string) []string {
	var out []string
	for _, f := range strings.Split(v, ",") {
		if f = strings.ToLower(strings.TrimSpace(f)); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func samplerFromEnv(name, arg string) (sdktrace.Sampler, string, error) {
	name = strings.ToLower(name)
	ratio := func() (float64, error) {
		if arg == "" {
			return 1, nil
		}
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return 0, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG=%q: want a ratio between 0 and 1", arg)
		}
		return r, nil
	}
	switch name {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), "parentbased_always_on", nil
	case "always_on":
		return sdktrace.AlwaysSample(), name, nil
	case "always_off":
		return sdktrace.NeverSample(), name, nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), name, nil
	case "traceidratio":
		r, err := ratio()
		return sdktrace.TraceIDRatioBased(r), name, err
	case "parentbased_traceidratio":
		r, err := ratio()
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(r)), name, err
	}
	return nil, "", fmt.Errorf("OTEL_TRACES_SAMPLER: %q is not supported (always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio)", name)
}

// deniedHeader reports header names that can carry credentials or session
// state. They are never recorded, even when allow-listed.
func deniedHeader(lower string) bool {
	switch lower {
	case "authorization", "proxy-authorization", "proxy-authenticate", "www-authenticate",
		"cookie", "set-cookie", "set-cookie2", "x-api-key", "api-key":
		return true
	}
	for _, s := range []string{"auth", "cookie", "key", "secret", "password", "passwd", "token-id", "session", "signature", "credential", "access-token", "security-token", "csrf"} {
		if strings.Contains(lower, s) {
			return true
		}
	}
	return false
}

// AllowHeaders parses an allow-list of response header names, dropping
// (and returning separately) the names that may carry credentials.
func AllowHeaders(list string) (allowed, denied []string) {
	seen := map[string]bool{}
	for _, f := range strings.Split(list, ",") {
		n := strings.ToLower(strings.TrimSpace(f))
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		if deniedHeader(n) || !validHeaderName(n) {
			denied = append(denied, n)
			continue
		}
		allowed = append(allowed, http.CanonicalHeaderKey(n))
	}
	return allowed, denied
}

func validHeaderName(n string) bool {
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
