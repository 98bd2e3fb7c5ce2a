// Package parsers turns one provider response (status, headers, optional body,
// receive time) into normalised rate-limit observations.
//
// Every provider family is a Dialect, registered by name from its own file
// (anthropic.go, openai.go, …). Dialects are pure: no I/O, no clocks, no
// globals beyond their registration, so the proxy, the log tailer and the
// prober all share them.
//
// Parse is on the proxy's hot path: dialects append into a caller-owned
// Result (reused across calls) and look headers up by their canonical key
// without allocating. For that reason structured fields (RFC 9651) are read
// by this package's own parser, sfv.go, not by a library: sfv.go says why.
package parsers

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// Resource label values. The set is closed: dashboards and alerts rely on it.
const (
	Requests     = "requests"
	Tokens       = "tokens"
	InputTokens  = "input_tokens"
	OutputTokens = "output_tokens"
	Images       = "images"
	Concurrency  = "concurrency"
	// A provider that runs a second bucket for the same count and window
	// (Together's dynamic limits beside its static ones, Anthropic's
	// Priority Tier beside the standard tier) reports it under its own
	// resource, the count qualified by the bucket: exporting it under the
	// plain one would overwrite the series of the bucket every request
	// draws from (docs/metrics.md, "Resources").
	DynamicRequests      = "dynamic_requests"
	DynamicTokens        = "dynamic_tokens"
	PriorityInputTokens  = "priority_input_tokens"
	PriorityOutputTokens = "priority_output_tokens"
	// Usage is a share of an allowance whose unit the provider does not
	// publish (subscription plans: Anthropic's unified 5-hour and 7-day
	// limits). Its limit is 1 and its remaining the unused share.
	Usage = "usage"
	// Unknown is used only for counting 429s whose cause cannot be told.
	Unknown = "unknown"
)

// Resources lists the resource label values of rate-limit series, the
// closed set of docs/metrics.md.
func Resources() []string {
	return []string{Requests, Tokens, InputTokens, OutputTokens, Images, Concurrency,
		DynamicRequests, DynamicTokens, PriorityInputTokens, PriorityOutputTokens, Usage}
}

// WindowNone is the window label of limits that are not rates (concurrency).
const WindowNone = "none"

// Observation is one provider limit as seen in one response.
type Observation struct {
	Resource string
	// Window in Prometheus duration notation ("1s", "1m", "1h", "1d", "30d"),
	// or WindowNone.
	Window string

	Limit        float64
	Remaining    float64
	HasLimit     bool
	HasRemaining bool

	// Reset is when capacity returns, on the receiver's clock (see Clock).
	// Zero when the response did not say.
	Reset time.Time

	// PerKey: the limit applies to the key (the account) whatever the
	// model of the request, so it is exported with model="" even for a
	// provider whose other limits are per model.
	PerKey bool
}

// FieldError records one value that could not be used. Header names the
// header (lower case) or body field it came from; Value is truncated and never
// holds credentials because dialects only read rate-limit fields.
type FieldError struct {
	Header string
	Value  string
	Err    error
}

func (e FieldError) Error() string {
	return fmt.Sprintf("%s: %q: %v", e.Header, e.Value, e.Err)
}

// Result is what a dialect extracts from one response. Reuse one per
// goroutine via Reset to keep parsing allocation-free.
type Result struct {
	Observations []Observation

	// RetryAfter is the provider's advice on a 429 (Retry-After,
	// retry-after-ms, or a body field).
	RetryAfter    time.Duration
	HasRetryAfter bool

	// ThrottledResource is set on a 429 when the dialect can tell which limit
	// was hit; empty means unknown.
	ThrottledResource string

	Errors []FieldError

	// Families has bit i set when the response carried any header of
	// FamilyNames[i], the dialect's steady header families (a table
	// dialect's limit/remaining/reset triples, less those sent only for
	// some requests). Zero when the dialect tracks none or none arrived.
	Families    uint64
	FamilyNames []string

	// unread holds the lower-case names of the rate-limit-looking headers
	// the dialect did not read (see UnreadHeader), back to back;
	// unreadEnd the end of each.
	unread    []byte
	unreadEnd []int32
}

// Reset empties r for reuse, keeping its capacity.
func (r *Result) Reset() {
	r.Observations = r.Observations[:0]
	r.Errors = r.Errors[:0]
	r.RetryAfter = 0
	r.HasRetryAfter = false
	r.ThrottledResource = ""
	r.Families, r.FamilyNames = 0, nil
	r.unread, r.unreadEnd = r.unread[:0], r.unreadEnd[:0]
}

// Find returns the observation for resource and window, if present.
func (r *Result) Find(resource, window string) (Observation, bool) {
	for _, o := range r.Observations {
		if o.Resource == resource && o.Window == window {
			return o, true
		}
	}
	return Observation{}, false
}

func (r *Result) addError(header, value string, err error) {
	if len(value) > maxErrorValue {
		value = value[:maxErrorValue] + "…"
	} else {
		// The value may share the caller's buffer (Input.Fields), which
		// outlives Parse only in a copy. Errors are rare.
		value = strings.Clone(value)
	}
	r.Errors = append(r.Errors, FieldError{Header: header, Value: value, Err: err})
}

// maxErrorValue is how much of a value FieldError keeps, in bytes.
const maxErrorValue = 64

// addBodyError records a body that could not be read. Only what addError
// keeps of it (and a byte to show the cut) is copied: a body can be large.
func (r *Result) addBodyError(body []byte) {
	if len(body) > maxErrorValue+1 {
		body = body[:maxErrorValue+1]
	}
	r.addError("body", string(body), ErrBadBody)
}

// Input is one response as a dialect sees it.
type Input struct {
	Status int
	// Header must have canonical keys (as net/http produces them).
	Header http.Header
	// Fields is the header as received, for a caller that built no map:
	// the proxy's fast path builds none when only the dialect reads the
	// header and the dialect reads fields (ReadsFields). Dialects read it
	// when Header is nil. Its strings may share the caller's buffer and
	// are valid only during Parse: a dialect keeps none of them (the
	// values in Result.Errors are copies).
	Fields []Field
	// Body is optional: the proxy passes it only for error responses (429
	// bodies carry limits for some providers), bounded in size.
	Body []byte
	// Received is when the response headers arrived, on the local clock.
	Received time.Time
}

// Field is one header field as received: Name in any case, Value as sent.
type Field struct{ Name, Value string }

// fieldReader marks the dialects that look their headers up by name,
// which a field list answers as well as a map.
type fieldReader interface{ readsFields() }

// ReadsFields reports whether d reads Input.Fields without Input.Header,
// so that a caller holding the fields need not build a map for it. The
// others still get a map built from Fields, one allocation per response.
func ReadsFields(d Dialect) bool {
	_, ok := d.(fieldReader)
	return ok
}

// Dialect parses one provider family's rate-limit signals.
type Dialect interface {
	Name() string
	// Parse appends what it finds in in to r. It never panics on any input
	// and never appends an observation with a negative, NaN or infinite value.
	Parse(in *Input, r *Result)
	// WantsBody reports whether a response with this status carries limits in
	// its body, so callers only buffer bodies when it matters.
	WantsBody(status int) bool
}

var (
	registryMu sync.RWMutex
	registry   = map[string]Dialect{}
)

// Register makes a dialect available by name. It panics on a duplicate name
// because that is a programming error caught by any test run.
func Register(d Dialect) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[d.Name()]; dup {
		panic("parsers: dialect registered twice: " + d.Name())
	}
	registry[d.Name()] = d
}

// Lookup returns the dialect registered under name.
func Lookup(name string) (Dialect, bool) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	d, ok := registry[name]
	return d, ok
}

// Names lists the registered dialects, sorted.
func Names() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	out := make([]string, 0, len(registry))
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Errors reported in FieldError.Err. They are sentinels so that recording
// an error does not allocate.
var (
	ErrSyntax     = errors.New("not a number")
	ErrNegative   = errors.New("negative value")
	ErrNotFinite  = errors.New("NaN or infinite value")
	ErrOverflow   = errors.New("value too large")
	ErrBadReset   = errors.New("unrecognised reset format")
	ErrBadBody    = errors.New("malformed body")
	ErrBadField   = errors.New("malformed structured field")
	ErrDuplicated = errors.New("header repeated with different values")
	// ErrNoWindow: the value names no window and none is configured for it
	// (the provider's windows, dialect auto), so it has no series to go to.
	ErrNoWindow = errors.New("window not stated")
)
