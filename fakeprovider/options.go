package fakeprovider

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/headroomhq/headroom/catalog"
	"github.com/headroomhq/headroom/parsers"
)

// MaxFakeDelay bounds the X-Fake-Delay request header.
const MaxFakeDelay = 10 * time.Minute

// Defaults used when the corresponding Options field is zero.
const (
	DefaultCompletionTokens = 16
	DefaultStreamChunks     = 4
)

// Options configures a fake provider. The zero value is the "openai"
// catalog provider.
type Options struct {
	// Provider is a catalog instance name (e.g. "heroku-us", "infercom",
	// "predictions"); its limits, models and KeyHeader are used. Empty: the
	// first catalog instance whose dialect is Dialect, if any.
	Provider string
	// Dialect is the dialect to speak (see Dialects). Empty: the provider's.
	Dialect string
	// Catalog defaults to the embedded catalog (catalog.Load, loaded once).
	Catalog *catalog.Catalog

	// Scale multiplies catalog and default limits (rounded, at least 1), e.g.
	// 0.01 to reach them quickly. Zero means 1.
	Scale float64
	// Limits override individual limits after scaling. Model "" overrides
	// (resource, window) for every model (keeping the scope of the limit it
	// replaces: key-level limits stay shared by the key's models), a model
	// name only for that model. A negative Value removes the limit. Window is
	// Prometheus notation ("1m", "1d"); concurrency uses "none".
	Limits []catalog.Limit

	// KeyHeader is an extra request header accepted as the credential
	// besides Authorization: Bearer (or Token). Empty: the provider's catalog
	// KeyHeader.
	KeyHeader string
	// Keys, when non-empty, are the only credentials accepted; others get
	// 401. Empty accepts any non-empty credential.
	Keys []string
	// SharedKeys lists groups of credentials that drain one bucket, as an
	// organisation's keys do at most providers: every limit of a key in a
	// group is counted for the group, and every key of it reports the
	// group's state. A credential may be in one group only.
	SharedKeys [][]string

	// Now is the accounting clock (and the Date header). Default time.Now.
	Now func() time.Time

	// StreamDelay is the pause between SSE events (real time).
	StreamDelay time.Duration
	// StreamChunks is the number of content chunks in a stream (default 4).
	StreamChunks int
	// CompletionTokens is the completion size of a request without
	// max_tokens (default 16).
	CompletionTokens int

	// Logger receives one line per request (Debug) and per 429 (Info).
	// Default: discard.
	Logger *slog.Logger
}

// ParseLimit parses a limit override "[model:]resource/window=value", e.g.
// "requests/1m=5", "claude-4-sonnet:tokens/1m=1000", "concurrency/none=2".
// The model is everything before the last ':' left of the resource.
func ParseLimit(s string) (catalog.Limit, error) {
	lhs, val, ok := strings.Cut(strings.TrimSpace(s), "=")
	if !ok {
		return catalog.Limit{}, fmt.Errorf("limit %q: want [model:]resource/window=value", s)
	}
	var l catalog.Limit
	if i := strings.LastIndexByte(lhs, ':'); i >= 0 {
		l.Model, lhs = lhs[:i], lhs[i+1:]
	}
	res, win, ok := strings.Cut(lhs, "/")
	if !ok || res == "" || win == "" {
		return catalog.Limit{}, fmt.Errorf("limit %q: want [model:]resource/window=value", s)
	}
	if err := checkLimit(res, win); err != nil {
		return catalog.Limit{}, fmt.Errorf("limit %q: %w", s, err)
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return catalog.Limit{}, fmt.Errorf("limit %q: bad value", s)
	}
	l.Resource, l.Window, l.Value = res, win, v
	return l, nil
}

var resources = func() map[string]bool {
	m := map[string]bool{}
	for _, r := range parsers.Resources() {
		m[r] = true
	}
	return m
}()

func checkLimit(res, win string) error {
	if !resources[res] {
		return fmt.Errorf("unknown resource %q", res)
	}
	d, err := parsers.ParseWindow(win)
	if err != nil {
		return fmt.Errorf("bad window %q", win)
	}
	if (res == parsers.Concurrency) != (d == 0) {
		return errors.New("concurrency limits, and only they, have window \"none\"")
	}
	return nil
}
