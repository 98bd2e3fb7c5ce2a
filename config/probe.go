package config

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/headroomhq/headroom/catalog"
)

// ProbeConfig is a provider's `probe:` section in the providers file.
type ProbeConfig struct {
	// Enabled runs the probe on its own schedule. Without it the probe only
	// runs when /probe?provider=NAME is scraped (blackbox style).
	Enabled bool `yaml:"enabled"`
	// Interval between scheduled probes (default 5m), jittered by ±10 %.
	Interval time.Duration `yaml:"interval"`
	// Timeout of one probe request (default 30s).
	Timeout time.Duration `yaml:"timeout"`
	// KeyEnv names the environment variable holding the API key; KeyFile a
	// file holding it (a mounted Kubernetes secret). Exactly one is set. The
	// key is read at every probe, so a rotated secret is picked up.
	KeyEnv  string `yaml:"key_env"`
	KeyFile string `yaml:"key_file"`
	// Key exists only to reject inline keys with a helpful message.
	Key string `yaml:"key"`
	// Method, Path and Body override the catalog's probe request.
	Method string `yaml:"method"`
	Path   string `yaml:"path"`
	Body   string `yaml:"body"`
	// Headers are extra request headers, merged over the catalog probe's
	// (anthropic-version): a name given here wins, and an empty value drops
	// the catalog's header. User-Agent replaces the probe's default. They
	// may not carry credentials, nor the headers that frame or route the
	// request (Host, Content-Length, Connection, ...).
	Headers map[string]string `yaml:"headers"`
}

// ProbeSpec is a resolved, validated probe.
type ProbeSpec struct {
	Enabled  bool
	Interval time.Duration
	Timeout  time.Duration
	KeyEnv   string
	KeyFile  string
	Method   string
	// Path is relative to the upstream; Query is the raw query written
	// after it in probe.path (Azure's api-version).
	Path  string
	Query string
	Body  string
	// Header holds the extra headers in canonical form: the catalog probe's
	// with the providers file's over them.
	Header http.Header
	// Cost is the catalog's description of one probe's cost ("" when the
	// request is configured rather than the catalog's).
	Cost string
}

// Probe defaults.
const (
	DefaultProbeInterval = 5 * time.Minute
	DefaultProbeTimeout  = 30 * time.Second
	// MinProbeInterval keeps a typo ("5s" for "5m") from spending a
	// provider's budget; tests and demos against fakeprovider use 1s.
	MinProbeInterval = time.Second
)

func resolveProbe(pc *ProbeConfig, p *Provider) (*ProbeSpec, error) {
	if pc.Key != "" {
		return nil, errors.New(".probe.key: API keys are never read from the providers file; use probe.key_env (an environment variable) or probe.key_file (a mounted secret)")
	}
	s := &ProbeSpec{
		Enabled: pc.Enabled, Interval: pc.Interval, Timeout: pc.Timeout,
		KeyEnv: strings.TrimSpace(pc.KeyEnv), KeyFile: strings.TrimSpace(pc.KeyFile),
		Method: strings.ToUpper(strings.TrimSpace(pc.Method)), Path: pc.Path, Body: pc.Body,
		Header: http.Header{},
	}
	switch {
	case s.KeyEnv == "" && s.KeyFile == "":
		return nil, errors.New(".probe: set key_env (an environment variable) or key_file (a mounted secret) holding the API key")
	case s.KeyEnv != "" && s.KeyFile != "":
		return nil, errors.New(".probe: key_env and key_file are both set; use one")
	}
	if s.KeyEnv != "" && strings.ContainsAny(s.KeyEnv, "= \t") {
		return nil, fmt.Errorf(".probe.key_env: %q is not an environment variable name", s.KeyEnv)
	}
	if s.Interval == 0 {
		s.Interval = DefaultProbeInterval
	}
	if s.Interval < MinProbeInterval {
		return nil, fmt.Errorf(".probe.interval: %s is below the minimum of %s", s.Interval, MinProbeInterval)
	}
	if s.Timeout == 0 {
		s.Timeout = DefaultProbeTimeout
	}
	if s.Timeout < 0 {
		return nil, fmt.Errorf(".probe.timeout: %s must be positive", s.Timeout)
	}
	if s.Path == "" && p.Probe != nil {
		// The catalog's request, field by field where not overridden.
		s.Path, s.Cost = p.Probe.Path, p.Probe.Cost
		if s.Method == "" {
			s.Method = p.Probe.Method
		}
		if s.Body == "" && s.Method == strings.ToUpper(p.Probe.Method) {
			s.Body = p.Probe.Body
		}
	}
	if s.Path == "" {
		return nil, fmt.Errorf(".probe.path: required (the catalog has no probe request for %s; name the cheapest request that returns its rate-limit headers)", p.Name)
	}
	if !strings.HasPrefix(s.Path, "/") || strings.ContainsAny(s.Path, "#") {
		return nil, fmt.Errorf(".probe.path: %q must start with '/' and be relative to the upstream", s.Path)
	}
	if path, query, ok := strings.Cut(s.Path, "?"); ok {
		// Kept apart so that the '?' is not escaped into the path.
		q, err := url.ParseQuery(query)
		if err != nil {
			return nil, fmt.Errorf(".probe.path: the query of %q does not parse: %v", s.Path, err)
		}
		for name := range q {
			if catalog.CredentialParam(name) {
				return nil, fmt.Errorf(".probe.path: query parameter %q looks like a credential; keys are never read from the providers file (use key_env or key_file)", name)
			}
		}
		s.Path, s.Query = path, query
	}
	if s.Method == "" {
		s.Method = http.MethodGet
		if s.Body != "" {
			s.Method = http.MethodPost
		}
	}
	switch s.Method {
	case http.MethodGet, http.MethodHead, http.MethodPost:
	default:
		return nil, fmt.Errorf(".probe.method: %q must be GET, HEAD or POST", s.Method)
	}
	if s.Body != "" && s.Method != http.MethodPost {
		return nil, fmt.Errorf(".probe.body: only POST probes carry a body (method is %s)", s.Method)
	}
	// The catalog's headers are what the provider requires of every
	// request, so they stay when probe.path replaces the catalog's request.
	if p.Probe != nil {
		for k, v := range p.Probe.Headers {
			s.Header.Set(k, v)
		}
	}
	seen := map[string]string{}
	for k, v := range pc.Headers {
		name := strings.TrimSpace(k)
		if prev, dup := seen[http.CanonicalHeaderKey(name)]; dup {
			return nil, fmt.Errorf(".probe.headers: %s and %s are the same header", headerField(prev), headerField(k))
		}
		seen[http.CanonicalHeaderKey(name)] = k
		if catalog.CredentialHeader(name, p.KeyHeader) {
			return nil, fmt.Errorf(".probe.headers[%s]: credentials are never read from the providers file; use key_env or key_file", headerField(k))
		}
		if catalog.FramingHeader(name) {
			return nil, fmt.Errorf(".probe.headers[%s]: %s", headerField(k), catalog.FramingHeaderReason())
		}
		if !catalog.ValidHeaderName(name) || !catalog.ValidHeaderValue(v) {
			return nil, fmt.Errorf(".probe.headers[%s]: not a valid header (a field name, and a value without control characters)", headerField(k))
		}
		if v == "" {
			s.Header.Del(name)
			continue
		}
		s.Header.Set(name, v)
	}
	return s, nil
}

// headerField renders a probe.headers name for an error: as written, or
// quoted when it holds control characters, which would otherwise break the
// error (and the log line carrying it) in two.
func headerField(k string) string {
	if catalog.ValidHeaderValue(k) {
		return k
	}
	return strconv.Quote(k)
}
