package config

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
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
	// Headers are extra request headers (e.g. anthropic-version). They may
	// not carry credentials.
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
	Path     string
	Body     string
	// Header holds the extra headers in canonical form.
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

// credentialHeaders may not be set through probe.headers.
var credentialHeaders = []string{"Authorization", "Proxy-Authorization", "X-Api-Key", "Api-Key", "Cookie"}

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
	forbidden := append([]string{}, credentialHeaders...)
	if p.KeyHeader != "" {
		forbidden = append(forbidden, p.KeyHeader)
	}
	for k, v := range pc.Headers {
		ck := http.CanonicalHeaderKey(strings.TrimSpace(k))
		for _, f := range forbidden {
			if ck == http.CanonicalHeaderKey(f) {
				return nil, fmt.Errorf(".probe.headers[%s]: credentials are never read from the providers file; use key_env or key_file", k)
			}
		}
		if ck == "" || strings.ContainsAny(ck, " :\r\n") || strings.ContainsAny(v, "\r\n") {
			return nil, fmt.Errorf(".probe.headers[%s]: not a valid header", k)
		}
		s.Header.Set(ck, v)
	}
	// Anthropic rejects requests without a version header; the catalog
	// names it in the probe's cost note.
	if p.Family == "anthropic" && s.Header.Get("Anthropic-Version") == "" {
		s.Header.Set("Anthropic-Version", "2023-06-01")
	}
	return s, nil
}
