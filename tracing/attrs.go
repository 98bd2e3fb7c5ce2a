package tracing

import (
	"strings"
	"sync"

	"go.opentelemetry.io/otel/attribute"
)

// Attribute names. GenAI names follow the GenAI semantic conventions
// (open-telemetry/semantic-conventions v1.41 docs/gen-ai/gen-ai-spans.md,
// continued in open-telemetry/semantic-conventions-genai), HTTP and server
// names the stable HTTP client span conventions. Headroom's own attributes
// live under headroom.*; docs/tracing.md lists them all.
const (
	AttrGenAIOperation        = attribute.Key("gen_ai.operation.name")
	AttrGenAIProvider         = attribute.Key("gen_ai.provider.name")
	AttrGenAISystem           = attribute.Key("gen_ai.system") // v1.36 and older; see Semconv
	AttrGenAIRequestModel     = attribute.Key("gen_ai.request.model")
	AttrGenAIRequestStream    = attribute.Key("gen_ai.request.stream")
	AttrGenAIResponseModel    = attribute.Key("gen_ai.response.model")
	AttrGenAIInputTokens      = attribute.Key("gen_ai.usage.input_tokens")
	AttrGenAIOutputTokens     = attribute.Key("gen_ai.usage.output_tokens")
	AttrGenAITimeToFirstChunk = attribute.Key("gen_ai.response.time_to_first_chunk")
	AttrHTTPMethod            = attribute.Key("http.request.method")
	AttrHTTPMethodOriginal    = attribute.Key("http.request.method_original")
	AttrHTTPStatus            = attribute.Key("http.response.status_code")
	AttrServerAddress         = attribute.Key("server.address")
	AttrServerPort            = attribute.Key("server.port")
	AttrURLFull               = attribute.Key("url.full")
	AttrErrorType             = attribute.Key("error.type")
	attrOldHTTPMethod         = attribute.Key("http.method")
	attrOldHTTPStatus         = attribute.Key("http.status_code")
	attrOldHTTPURL            = attribute.Key("http.url")
	attrOldPeerName           = attribute.Key("net.peer.name")
	attrOldPeerPort           = attribute.Key("net.peer.port")
	AttrProvider              = attribute.Key("headroom.provider")
	AttrKey                   = attribute.Key("headroom.key")
	AttrSource                = attribute.Key("headroom.source")
	AttrRetryAfter            = attribute.Key("headroom.ratelimit.retry_after")
	AttrThrottledResource     = attribute.Key("headroom.ratelimit.throttled_resource")
	AttrEventResource         = attribute.Key("headroom.ratelimit.resource")
	responseHeaderPrefix      = "http.response.header."
	rateLimitPrefix           = "headroom.ratelimit."
	EventRateLimited          = "rate_limited"
	maxModelLen               = 256
	opChat, opText, opEmbed   = "chat", "text_completion", "embeddings"
	opGenerate                = "generate_content"
	instrumentationName       = "github.com/headroomhq/headroom"
	errOther                  = "_OTHER"
	sourceProxy               = "proxy"
)

// ProviderName maps a Headroom provider family to the value of
// gen_ai.provider.name: the well-known value where the conventions list one,
// else the family itself (heroku, infercom, sambanova, predictions, …).
func ProviderName(family string) string {
	switch family {
	case "azure-openai":
		return "azure.ai.openai"
	case "mistral":
		return "mistral_ai"
	case "xai":
		return "x_ai"
	case "gemini":
		return "gcp.gemini"
	case "vertex-ai":
		return "gcp.vertex_ai"
	case "bedrock":
		return "aws.bedrock"
	}
	return family
}

// Operation derives gen_ai.operation.name from an HTTP method and path, or
// returns "" for calls that are not model inference (GET /v1/models, …).
func Operation(method, path string) string {
	if method != "POST" {
		return ""
	}
	path = strings.TrimRight(path, "/")
	switch {
	case strings.HasSuffix(path, "/chat/completions"), strings.HasSuffix(path, "/messages"), strings.HasSuffix(path, "/responses"):
		return opChat
	case strings.HasSuffix(path, "/completions"):
		return opText
	case strings.HasSuffix(path, "/embeddings"):
		return opEmbed
	case strings.HasSuffix(path, "/predictions"), strings.HasSuffix(path, "/images/generations"),
		strings.HasSuffix(path, ":generateContent"), strings.HasSuffix(path, ":streamGenerateContent"):
		return opGenerate
	}
	return ""
}

// rlKeys are the attribute keys of one (resource, window).
type rlKeys struct {
	limit, remaining, reset attribute.Key
	// drain and eta: the forecast of the series (Tracer.SetForecaster).
	drain, eta attribute.Key
}

type rlName struct{ resource, window string }

var (
	rlMu    sync.RWMutex
	rlCache = map[rlName]*rlKeys{}
)

// RateLimitKeys returns headroom.ratelimit.<resource>.<window>.{limit,
// remaining,reset}. Keys are built once per (resource, window) and cached, so
// annotating a span does not build strings.
func RateLimitKeys(resource, window string) (limit, remaining, reset attribute.Key) {
	k := rateLimitKeys(resource, window)
	return k.limit, k.remaining, k.reset
}

func rateLimitKeys(resource, window string) *rlKeys {
	n := rlName{resource, window}
	rlMu.RLock()
	k := rlCache[n]
	rlMu.RUnlock()
	if k != nil {
		return k
	}
	base := rateLimitPrefix + sanitize(resource) + "." + sanitize(window) + "."
	k = &rlKeys{attribute.Key(base + "limit"), attribute.Key(base + "remaining"), attribute.Key(base + "reset"),
		attribute.Key(base + "drain_rate"), attribute.Key(base + "exhaustion_eta")}
	rlMu.Lock()
	if len(rlCache) < 1024 { // resources and windows are closed sets; bound it anyway
		rlCache[n] = k
	}
	rlMu.Unlock()
	return k
}

// sanitize keeps attribute-name characters only (resources and windows are
// label values already: [a-z0-9_]).
func sanitize(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return strings.Map(func(r rune) rune {
				if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
					return r
				}
				return '_'
			}, s)
		}
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// httpMethod returns the method as http.request.method records it: one of the
// known methods, or _OTHER (with the original in method_original).
func httpMethod(m string) (string, bool) {
	switch m {
	case "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "CONNECT", "TRACE", "QUERY":
		return m, true
	}
	return errOther, false
}
