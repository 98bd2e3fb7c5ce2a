package decide

import (
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/headroomhq/headroom/config"
)

// Bounds of the admission query's values.
const (
	maxModelLen    = 128
	maxRequests    = 1_000_000
	maxTokensValue = 1_000_000_000
)

// QueryError is a bad admission query: a 4xx with a JSON body naming the
// parameter. Values are never echoed (a raw key may be in them).
type QueryError struct {
	Status    int
	Parameter string
	Message   string
}

func (e *QueryError) Error() string { return e.Parameter + ": " + e.Message }

func badParam(p, msg string) *QueryError {
	return &QueryError{Status: http.StatusBadRequest, Parameter: p, Message: msg}
}

// ParseRequest reads an admission query (the raw query of
// GET /api/v1/admit): provider (required), model, key (required: alias or
// fingerprint, or none), requests (default 1), tokens, max_tokens. Unknown,
// repeated or malformed parameters are errors, and so are an unknown
// provider and a key that is neither a configured alias nor a fingerprint.
func (e *Engine) ParseRequest(rawQuery string) (Request, *QueryError) {
	r := Request{Requests: 1}
	var seen [6]bool
	for q := rawQuery; q != ""; {
		var kv string
		kv, q, _ = strings.Cut(q, "&")
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		if strings.ContainsAny(k, "%+") {
			var err error
			if k, err = url.QueryUnescape(k); err != nil {
				return r, badParam("", "malformed query")
			}
		}
		if strings.ContainsAny(v, "%+") {
			var err error
			if v, err = url.QueryUnescape(v); err != nil {
				return r, badParam(clipName(k), "malformed value")
			}
		}
		i := paramIndex(k)
		if i < 0 {
			return r, badParam(clipName(k), "unknown parameter (known: provider, model, key, requests, tokens, max_tokens)")
		}
		if seen[i] {
			return r, badParam(k, "given more than once")
		}
		seen[i] = true
		var err *QueryError
		switch i {
		case 0:
			r.Provider = v
		case 1:
			if len(v) > maxModelLen || !utf8.ValidString(v) || strings.ContainsFunc(v, isControl) {
				return r, badParam(k, "must be valid UTF-8 without control characters, at most 128 bytes")
			}
			r.Model = v
		case 2:
			r.Key = v
		case 3:
			r.Requests, err = count(k, v, maxRequests)
		case 4:
			r.Tokens, err = count(k, v, maxTokensValue)
		case 5:
			r.MaxTokens, err = count(k, v, maxTokensValue)
		}
		if err != nil {
			return r, err
		}
	}
	if r.Provider == "" {
		return r, badParam("provider", "required")
	}
	if r.Key == "" {
		return r, badParam("key", "required: a key alias or fingerprint (k- and 12 hex digits), or none")
	}
	e.mu.Lock()
	pi := e.providers[r.Provider]
	known := pi != nil && (pi.aliases[r.Key] || pi.bucketOf[r.Key] != "")
	e.mu.Unlock()
	if pi == nil {
		return r, &QueryError{Status: http.StatusNotFound, Parameter: "provider", Message: "not a configured provider"}
	}
	if !known && r.Key != "none" && !config.IsFingerprint(r.Key) {
		return r, badParam("key", "not a key alias of this provider nor a key fingerprint (k- and 12 hex digits); never send the key itself")
	}
	return r, nil
}

var params = [...]string{"provider", "model", "key", "requests", "tokens", "max_tokens"}

func paramIndex(k string) int {
	for i, p := range params {
		if k == p {
			return i
		}
	}
	return -1
}

func count(name, v string, limit int64) (int64, *QueryError) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > limit {
		return 0, badParam(name, "must be an integer from 0 to "+strconv.FormatInt(limit, 10))
	}
	return n, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// clipName keeps an unknown parameter's name short and printable for the
// error message (a name, unlike a value, is not a secret).
func clipName(k string) string {
	if len(k) > 32 || !utf8.ValidString(k) || strings.ContainsFunc(k, isControl) {
		return "(unprintable)"
	}
	return k
}

var bufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// ServeAdmit is GET /api/v1/admit.
func (e *Engine) ServeAdmit(w http.ResponseWriter, r *http.Request) {
	req, qerr := e.ParseRequest(r.URL.RawQuery)
	if qerr != nil {
		e.m.admit.WithLabelValues(ResultRejected).Inc()
		writeQueryError(w, qerr)
		return
	}
	a := e.Admit(req)
	if a.Admit {
		e.m.admit.WithLabelValues(ResultAdmitted).Inc()
	} else {
		e.m.admit.WithLabelValues(ResultDenied).Inc()
	}
	bp := bufs.Get().(*[]byte)
	b := appendAnswer((*bp)[:0], &a)
	b = append(b, '\n')
	h := w.Header()
	h["Content-Type"] = jsonType
	h["Cache-Control"] = noStore
	_, _ = w.Write(b)
	*bp = b[:0]
	bufs.Put(bp)
}

var (
	jsonType = []string{"application/json"}
	noStore  = []string{"no-store"}
)

func writeQueryError(w http.ResponseWriter, e *QueryError) {
	var body struct {
		Error struct {
			Type      string `json:"type"`
			Parameter string `json:"parameter,omitempty"`
			Message   string `json:"message"`
		} `json:"error"`
	}
	body.Error.Type = "bad_request"
	if e.Status == http.StatusNotFound {
		body.Error.Type = "not_found"
	}
	body.Error.Parameter, body.Error.Message = e.Parameter, e.Message
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(&body)
}

// appendAnswer appends a as JSON (as encoding/json would write it, without
// its reflection: the admission answer is on callers' hot paths).
func appendAnswer(b []byte, a *Answer) []byte {
	b = append(b, `{"admit":`...)
	b = strconv.AppendBool(b, a.Admit)
	b = append(b, `,"wait_seconds":`...)
	b = appendFloat(b, a.WaitSeconds)
	b = append(b, `,"limiting":`...)
	if l := a.Limiting; l == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"resource":`...)
		b = appendString(b, l.Resource)
		b = append(b, `,"window":`...)
		b = appendString(b, l.Window)
		b = append(b, `,"remaining":`...)
		b = appendFloat(b, l.Remaining)
		b = append(b, `,"limit":`...)
		b = appendFloatPtr(b, l.Limit)
		b = append(b, `,"reset":`...)
		if l.Reset == nil {
			b = append(b, "null"...)
		} else {
			b = appendString(b, *l.Reset)
		}
		b = append(b, `,"reset_in_seconds":`...)
		b = appendFloatPtr(b, l.ResetInSeconds)
		b = append(b, `,"observed_remaining":`...)
		b = appendFloat(b, l.Observed)
		b = append(b, `,"sent_since_observation":`...)
		b = appendFloat(b, l.SentSince)
		b = append(b, `,"observed_key":`...)
		b = appendString(b, l.ObservedKey)
		b = append(b, '}')
	}
	b = append(b, `,"age_seconds":`...)
	b = appendFloatPtr(b, a.AgeSeconds)
	for _, f := range [...]struct{ k, v string }{{"reason", a.Reason}, {"provider", a.Provider}, {"model", a.Model}, {"key", a.Key}, {"bucket", a.Bucket}} {
		b = append(b, `,"`...)
		b = append(b, f.k...)
		b = append(b, `":`...)
		b = appendString(b, f.v)
	}
	return append(b, '}')
}

func appendFloatPtr(b []byte, f *float64) []byte {
	if f == nil {
		return append(b, "null"...)
	}
	return appendFloat(b, *f)
}

// appendFloat writes f as encoding/json does (finite values only here).
func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	abs := math.Abs(f)
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		b = strconv.AppendFloat(b, f, 'e', -1, 64)
		// e-07 becomes e-7, as encoding/json writes it.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
		return b
	}
	return strconv.AppendFloat(b, f, 'f', -1, 64)
}

// appendString writes s as a JSON string. Values here are labels,
// validated models and RFC 3339 times: escaping quotes, backslashes and
// control characters is enough; HTML characters are escaped as
// encoding/json does.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c == '<' || c == '>' || c == '&':
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// ServeChanges is GET /api/v1/headroom/changes: the last limit changes,
// newest first.
func (e *Engine) ServeChanges(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, map[string]any{"time": e.opts.Now().UTC().Format(time.RFC3339Nano), "max": MaxChanges, "changes": e.Changes()})
}

// ServeBuckets is GET /api/v1/headroom/buckets: the configured buckets and
// the key pairs that look shared.
func (e *Engine) ServeBuckets(w http.ResponseWriter, r *http.Request) {
	c, s := e.Buckets()
	writeJSON(w, map[string]any{"buckets": c, "suspected_shared": s})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
