// Package catalog is Headroom's built-in knowledge of providers: which
// dialect each speaks, where its public API lives, and the limits its
// documentation publishes per model. It is data (providers/*.yaml, one file
// per provider family, embedded at build time), not code, so updating a
// documented limit is a one-line change with its source beside it.
package catalog

import (
	"embed"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/headroomhq/headroom/parsers"
)

//go:embed providers/*.yaml
var files embed.FS

// Family is one provider family's file.
type Family struct {
	Family  string `yaml:"family"`
	Dialect string `yaml:"dialect"`
	// Docs is the page the limits and header formats were taken from.
	Docs      string     `yaml:"docs"`
	Instances []Instance `yaml:"instances"`
	Models    []Model    `yaml:"models"`
	// KeyLimits are limits that apply per API key whatever the model; they
	// are exported with model="".
	KeyLimits map[string]float64 `yaml:"key_limits,omitempty"`
	// Probe is the cheapest request that returns the rate-limit headers.
	Probe *Probe `yaml:"probe,omitempty"`
	// LimitsPer is "key" when the provider's limits apply per API key
	// whatever the model (rate-limit gauges then carry model=""), else "model".
	LimitsPer string `yaml:"limits_per,omitempty"`
	// KeyHeader names the request header carrying the credential when it is
	// not Authorization (e.g. x-api-key, api-key).
	KeyHeader string `yaml:"key_header,omitempty"`
}

// Instance is one deployment of a family with its own limits (Heroku US and
// EU count separately).
type Instance struct {
	Name string `yaml:"name"`
	// Upstream is the public base URL; empty when every user has their own
	// (Azure resources), in which case the provider needs configuring.
	Upstream string `yaml:"upstream"`
	Region   string `yaml:"region,omitempty"`
}

// Model is one model's documented limits.
type Model struct {
	Model string `yaml:"model"`
	// Limits maps "resource/window" (e.g. "requests/1m") to the documented
	// limit.
	Limits map[string]float64 `yaml:"limits"`
	Note   string             `yaml:"note,omitempty"`
}

// Probe describes a cheap request for probe mode.
type Probe struct {
	Method string `yaml:"method"`
	Path   string `yaml:"path"`
	Body   string `yaml:"body,omitempty"`
	// Headers are fixed request headers the provider requires on every
	// request (anthropic-version), sent with every probe of the provider
	// whatever its method and path. They are data anyone can read, so
	// credentials are refused: the key comes from probe.key_env or
	// probe.key_file and goes in KeyHeader or Authorization. So are the
	// headers the HTTP client sets itself (FramingHeader). A User-Agent
	// here replaces the probe's default.
	Headers map[string]string `yaml:"headers,omitempty"`
	// Cost is a human description of what one probe spends.
	Cost string `yaml:"cost"`
}

// credentialHeaders carry a credential in some provider's API; the
// fragments catch the names gateways invent (Helicone-Auth,
// cf-aig-authorization, X-Auth-Token, x-goog-api-key).
var (
	credentialHeaders   = []string{"Authorization", "Proxy-Authorization", "X-Api-Key", "Api-Key", "Cookie", "Ocp-Apim-Subscription-Key"}
	credentialFragments = []string{"auth", "api-key", "apikey", "secret", "token", "password", "credential", "cookie"}
	// Query parameters that carry keys: Gemini's key, Azure Functions'
	// code, SAS signatures.
	credentialParams = []string{"key", "code", "sig", "signature"}
)

// CredentialHeader reports whether a request header carries, or looks like
// it carries, a credential. keyHeader is the provider's own key header ("" for
// Authorization). Probe headers are read from files that are not secrets,
// so such names are refused there.
func CredentialHeader(name, keyHeader string) bool {
	ck := strings.ToLower(strings.TrimSpace(name))
	if keyHeader != "" && ck == strings.ToLower(keyHeader) {
		return true
	}
	for _, h := range credentialHeaders {
		if ck == strings.ToLower(h) {
			return true
		}
	}
	for _, f := range credentialFragments {
		if strings.Contains(ck, f) {
			return true
		}
	}
	return false
}

// CredentialParam is CredentialHeader for a query parameter name.
func CredentialParam(name string) bool {
	n := strings.ToLower(strings.TrimSpace(name))
	for _, p := range credentialParams {
		if n == p || strings.HasSuffix(n, "_"+p) || strings.HasSuffix(n, "-"+p) {
			return true
		}
	}
	return CredentialHeader(strings.ReplaceAll(n, "_", "-"), "")
}

// framingHeaders decide how a request is routed and framed, or how its
// connection behaves. Go's HTTP client derives them from the request (the
// host from the URL, the length and encoding from the body) and silently
// drops Host, Content-Length, Transfer-Encoding and Trailer when they are set
// by hand; the others are sent as written and change the connection (Expect
// makes the request wait for the server, Upgrade asks to switch protocols)
// or, over HTTP/2, are dropped or fail the request. None of them has a
// place in a fixed probe header.
var (
	framingNames   = []string{"Host", "Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive", "Upgrade", "TE", "Trailer", "Proxy-Connection", "Expect"}
	framingHeaders = canonicalSet(framingNames)
)

// canonicalSet keys names by http.CanonicalHeaderKey, so that lookups of
// any spelling ("TE", "te", "Te") agree.
func canonicalSet(names []string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[http.CanonicalHeaderKey(n)] = true
	}
	return m
}

// FramingHeader reports whether a request header frames or routes the
// request (Host, Content-Length, Connection, ...), which the HTTP client
// sets itself: probe headers may not name one, whatever its case.
func FramingHeader(name string) bool {
	return framingHeaders[http.CanonicalHeaderKey(strings.TrimSpace(name))]
}

// FramingHeaderReason says why FramingHeader names are refused, naming
// them all, for the catalog's and the providers file's errors alike.
func FramingHeaderReason() string {
	return "the HTTP client sets this header itself, from the upstream, path and body (it frames or routes the request); probe headers may not name " +
		strings.Join(framingNames, ", ")
}

// ValidHeaderName reports whether name is an RFC 9110 field name (a token).
func ValidHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// ValidHeaderValue reports whether v can be sent as a field value: no
// control characters (a CR or LF would start another header).
func ValidHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// Limit is one documented limit, flattened.
type Limit struct {
	Model, Resource, Window string
	Value                   float64
}

// Provider is an instance with its family's data, the unit everything else
// works with.
type Provider struct {
	Name      string
	Family    string
	Dialect   string
	Upstream  string
	Region    string
	Docs      string
	KeyHeader string
	LimitsPer string
	Probe     *Probe
	Limits    []Limit
	Models    []string
}

// Catalog is the whole built-in catalog.
type Catalog struct {
	Providers []Provider
	byName    map[string]*Provider
}

// Lookup finds a provider instance by name.
func (c *Catalog) Lookup(name string) (*Provider, bool) {
	p, ok := c.byName[name]
	return p, ok
}

// Load parses and validates the embedded catalog.
func Load() (*Catalog, error) { return load(files) }

// MustLoad is Load for callers that cannot continue without the catalog; the
// embedded data is checked by tests, so failure is a build defect.
func MustLoad() *Catalog {
	c, err := Load()
	if err != nil {
		panic(err)
	}
	return c
}

var validResources = func() map[string]bool {
	m := map[string]bool{}
	for _, r := range parsers.Resources() {
		m[r] = true
	}
	return m
}()

func load(fsys fs.FS) (*Catalog, error) {
	names, err := fs.Glob(fsys, "providers/*.yaml")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	c := &Catalog{byName: map[string]*Provider{}}
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		var f Family
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		dec.KnownFields(true)
		if err := dec.Decode(&f); err != nil {
			return nil, fmt.Errorf("catalog %s: %w", name, err)
		}
		if err := f.validate(); err != nil {
			return nil, fmt.Errorf("catalog %s: %w", path.Base(name), err)
		}
		var limits []Limit
		var models []string
		all := f.Models
		if len(f.KeyLimits) > 0 {
			all = append([]Model{{Model: "", Limits: f.KeyLimits}}, all...)
		}
		for _, m := range all {
			if m.Model != "" {
				models = append(models, m.Model)
			}
			keys := make([]string, 0, len(m.Limits))
			for k := range m.Limits {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				res, win, _ := strings.Cut(k, "/")
				limits = append(limits, Limit{Model: m.Model, Resource: res, Window: win, Value: m.Limits[k]})
			}
		}
		for _, in := range f.Instances {
			if _, dup := c.byName[in.Name]; dup {
				return nil, fmt.Errorf("catalog %s: instance %q defined twice", name, in.Name)
			}
			c.Providers = append(c.Providers, Provider{
				Name: in.Name, Family: f.Family, Dialect: f.Dialect, Upstream: in.Upstream,
				Region: in.Region, Docs: f.Docs, KeyHeader: f.KeyHeader, LimitsPer: f.LimitsPer, Probe: f.Probe,
				Limits: limits, Models: models,
			})
		}
	}
	for i := range c.Providers {
		c.byName[c.Providers[i].Name] = &c.Providers[i]
	}
	return c, nil
}

func (f *Family) validate() error {
	if f.Family == "" {
		return fmt.Errorf("family: missing")
	}
	if _, ok := parsers.Lookup(f.Dialect); !ok {
		return fmt.Errorf("dialect: %q is not a known dialect (known: %s)", f.Dialect, strings.Join(parsers.Names(), ", "))
	}
	if f.Docs == "" {
		return fmt.Errorf("docs: every family names the page its data comes from")
	}
	if f.LimitsPer != "" && f.LimitsPer != "key" && f.LimitsPer != "model" {
		return fmt.Errorf("limits_per: %q must be key or model", f.LimitsPer)
	}
	if len(f.Instances) == 0 {
		return fmt.Errorf("instances: at least one is required")
	}
	for _, in := range f.Instances {
		if in.Name == "" || strings.ContainsAny(in.Name, "/ ") {
			return fmt.Errorf("instances: name %q must be non-empty without '/' or spaces", in.Name)
		}
		if in.Upstream != "" && !strings.HasPrefix(in.Upstream, "https://") {
			return fmt.Errorf("instances[%s].upstream: %q must be an https URL", in.Name, in.Upstream)
		}
	}
	all := f.Models
	if len(f.KeyLimits) > 0 {
		all = append([]Model{{Model: "(key_limits)", Limits: f.KeyLimits}}, all...)
	}
	for _, m := range all {
		if m.Model == "" {
			return fmt.Errorf("models: entry without a model name (use key_limits for limits that apply to every model)")
		}
		for k, v := range m.Limits {
			res, win, ok := strings.Cut(k, "/")
			if !ok || !validResources[res] {
				return fmt.Errorf("models[%s].limits: %q must be resource/window with resource one of %s", m.Model, k, strings.Join(parsers.Resources(), ", "))
			}
			if _, err := parsers.ParseWindow(win); err != nil {
				return fmt.Errorf("models[%s].limits: %q: bad window %q", m.Model, k, win)
			}
			if v < 0 {
				return fmt.Errorf("models[%s].limits: %q: negative limit", m.Model, k)
			}
		}
	}
	if f.Probe != nil {
		if err := f.Probe.validate(f.KeyHeader); err != nil {
			return err
		}
	}
	return nil
}

func (p *Probe) validate(keyHeader string) error {
	switch p.Method {
	case "GET", "HEAD", "POST":
	default:
		return fmt.Errorf("probe.method: %q must be GET, HEAD or POST", p.Method)
	}
	if !strings.HasPrefix(p.Path, "/") || strings.ContainsAny(p.Path, "?#") {
		return fmt.Errorf("probe.path: %q must start with '/' and carry no query or fragment", p.Path)
	}
	if p.Body != "" && p.Method != "POST" {
		return fmt.Errorf("probe.body: only POST probes carry a body")
	}
	if p.Cost == "" {
		return fmt.Errorf("probe.cost: every catalog probe says what it spends")
	}
	seen := map[string]string{}
	for k, v := range p.Headers {
		if !ValidHeaderName(k) || !ValidHeaderValue(v) || strings.TrimSpace(v) == "" {
			return fmt.Errorf("probe.headers[%s]: not a valid header (a field name, and a non-empty value without control characters)", k)
		}
		if CredentialHeader(k, keyHeader) {
			return fmt.Errorf("probe.headers[%s]: credentials are never part of the catalog; keys come from probe.key_env or probe.key_file", k)
		}
		if FramingHeader(k) {
			return fmt.Errorf("probe.headers[%s]: %s", k, FramingHeaderReason())
		}
		ck := strings.ToLower(k)
		if prev, dup := seen[ck]; dup {
			return fmt.Errorf("probe.headers: %s and %s are the same header", prev, k)
		}
		seen[ck] = k
	}
	return nil
}
