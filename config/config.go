// Package config loads Headroom's settings: process settings from the
// environment (HEADROOM_*) and the providers file (YAML) named by
// HEADROOM_CONFIG, resolved against the built-in catalog.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"gopkg.in/yaml.v3"

	"github.com/headroomhq/headroom/catalog"
	"github.com/headroomhq/headroom/parsers"
)

// Settings are the process settings, all from the environment.
type Settings struct {
	ProxyAddr   string `env:"HEADROOM_PROXY_ADDR" envDefault:":8797"`
	MetricsAddr string `env:"HEADROOM_METRICS_ADDR" envDefault:":9797"`
	// ConfigFile is the providers file; empty runs on the built-in catalog.
	ConfigFile string `env:"HEADROOM_CONFIG"`
	LogLevel   string `env:"HEADROOM_LOG_LEVEL" envDefault:"info"`
	LogFormat  string `env:"HEADROOM_LOG_FORMAT" envDefault:"text"`

	MaxModelsPerProvider int           `env:"HEADROOM_MAX_MODELS_PER_PROVIDER" envDefault:"200"`
	MaxKeysPerProvider   int           `env:"HEADROOM_MAX_KEYS_PER_PROVIDER" envDefault:"100"`
	MaxSeriesPerProvider int           `env:"HEADROOM_MAX_SERIES_PER_PROVIDER" envDefault:"10000"`
	StaleGrace           time.Duration `env:"HEADROOM_STALE_GRACE" envDefault:"2m"`
	ConcurrencyStaleness time.Duration `env:"HEADROOM_CONCURRENCY_STALENESS" envDefault:"5m"`

	// UpstreamHeaderTimeout bounds the wait for an upstream's response
	// headers (long generations stream their body after that). 504 after it.
	UpstreamHeaderTimeout time.Duration `env:"HEADROOM_UPSTREAM_HEADER_TIMEOUT" envDefault:"10m"`
	// UpstreamDialTimeout bounds connecting to an upstream. 502 after it.
	UpstreamDialTimeout time.Duration `env:"HEADROOM_UPSTREAM_DIAL_TIMEOUT" envDefault:"10s"`
	// MaxRequestBodyBytes bounds request bodies through the proxy (413 past
	// it; 0: no limit). 64 MiB leaves room for base64 images in requests.
	MaxRequestBodyBytes int64 `env:"HEADROOM_MAX_REQUEST_BODY_BYTES" envDefault:"67108864"`
	// ReadHeaderTimeout bounds how long a client may take to send request
	// headers (slowloris protection).
	ReadHeaderTimeout time.Duration `env:"HEADROOM_READ_HEADER_TIMEOUT" envDefault:"30s"`
	// RequestBodyTimeout bounds how long a request body may pause between
	// two reads (408 after it, as nginx's client_body_timeout); a body
	// that keeps coming is not bounded.
	RequestBodyTimeout time.Duration `env:"HEADROOM_REQUEST_BODY_TIMEOUT" envDefault:"60s"`
	// ShutdownTimeout is how long in-flight requests may drain on SIGTERM.
	ShutdownTimeout time.Duration `env:"HEADROOM_SHUTDOWN_TIMEOUT" envDefault:"30s"`

	// AccessLog, when set, makes the proxy write one JSON line per call in
	// the headroom format (docs/tail.md): a file path, or "-" for stdout.
	AccessLog string `env:"HEADROOM_ACCESS_LOG"`

	// PacingHeaders adds IETF RateLimit / RateLimit-Policy fields to
	// proxied answers, summarising the tightest limit of the call's bucket
	// (docs/decide.md). Off: answers pass unchanged.
	PacingHeaders bool `env:"HEADROOM_PACING_HEADERS" envDefault:"false"`
}

// LoadSettings reads Settings from the environment.
func LoadSettings() (Settings, error) {
	s, err := env.ParseAs[Settings]()
	if err != nil {
		return s, nameEnvVars(err)
	}
	switch s.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return s, fmt.Errorf("HEADROOM_LOG_LEVEL: %q must be debug, info, warn or error", s.LogLevel)
	}
	switch s.LogFormat {
	case "text", "json":
	default:
		return s, fmt.Errorf("HEADROOM_LOG_FORMAT: %q must be text or json", s.LogFormat)
	}
	if s.RequestBodyTimeout <= 0 || s.ReadHeaderTimeout <= 0 {
		return s, errors.New("HEADROOM_REQUEST_BODY_TIMEOUT and HEADROOM_READ_HEADER_TIMEOUT must be positive durations")
	}
	if s.MaxModelsPerProvider < 1 || s.MaxKeysPerProvider < 1 || s.MaxSeriesPerProvider < 1 {
		return s, errors.New("HEADROOM_MAX_MODELS_PER_PROVIDER, HEADROOM_MAX_KEYS_PER_PROVIDER and HEADROOM_MAX_SERIES_PER_PROVIDER must be at least 1")
	}
	return s, nil
}

// nameEnvVars rewrites env's `field "StaleGrace"` into the variable a user
// actually sets, so the message points at what to fix.
func nameEnvVars(err error) error {
	msg := err.Error()
	t := reflect.TypeOf(Settings{})
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		msg = strings.ReplaceAll(msg, fmt.Sprintf("field %q", f.Name), f.Tag.Get("env"))
	}
	return errors.New(msg)
}

// File is the providers file. It may also be a bare YAML list of providers.
type File struct {
	// IncludeCatalog also enables every built-in provider with a public
	// upstream that the file does not name.
	IncludeCatalog bool             `yaml:"include_catalog"`
	Providers      []ProviderConfig `yaml:"providers"`
	// Tail lists access logs to follow (tail mode, docs/tail.md).
	Tail []TailConfig `yaml:"tail"`
	// Buckets names keys that drain one shared limit (config/buckets.go).
	Buckets []BucketConfig `yaml:"buckets"`
}

// ProviderConfig is one entry of the providers file.
type ProviderConfig struct {
	// Name is the instance name: the proxy path prefix and the provider label.
	Name string `yaml:"name"`
	// Catalog names the built-in instance to inherit dialect, upstream and
	// documented limits from; defaults to Name when Name is a built-in one.
	Catalog string `yaml:"catalog"`
	// Dialect defaults to the catalog entry's, and to auto (the generic
	// dialect) for a provider outside the catalog.
	Dialect  string `yaml:"dialect"`
	Upstream string `yaml:"upstream"`
	// Windows gives dialect auto the window of rate-limit headers that name
	// none: resource (requests, tokens, input_tokens, output_tokens) →
	// window ("1m").
	Windows map[string]string `yaml:"windows"`
	// KeyHeader is the request header carrying the credential when it is not
	// Authorization.
	KeyHeader string `yaml:"key_header"`
	// KeyAliases maps key fingerprints (k-xxxxxxxxxxxx) to readable names.
	KeyAliases map[string]string `yaml:"key_aliases"`
	// LimitsPer is "key" when limits apply per key whatever the model.
	LimitsPer string `yaml:"limits_per"`
	// DocumentedLimits overrides or adds documented limits (your tier's):
	// model → "resource/window" → limit. Use "" as model for per-key limits.
	DocumentedLimits map[string]map[string]float64 `yaml:"documented_limits"`
	// Probe configures probe mode for this provider (docs/probe.md).
	Probe *ProbeConfig `yaml:"probe"`
}

// Provider is a resolved, validated provider.
type Provider struct {
	Name      string
	Family    string
	Dialect   parsers.Dialect
	Upstream  *url.URL
	KeyHeader string
	KeyAlias  map[string]string
	PerKey    bool
	Models    []string
	Limits    []catalog.Limit
	// Probe is the catalog's cheapest request for this provider, if any.
	Probe *catalog.Probe
	// ProbeSpec is the resolved probe configuration; nil when the providers
	// file has no probe section for this provider.
	ProbeSpec *ProbeSpec
}

// Config is everything Headroom runs with.
type Config struct {
	Providers []Provider
	// Tail is the resolved tail section, in file order.
	Tail []Tail
	// Buckets is the resolved buckets section, in file order.
	Buckets []Bucket
}

// Lookup finds a provider by name.
func (c *Config) Lookup(name string) (*Provider, bool) {
	for i := range c.Providers {
		if c.Providers[i].Name == name {
			return &c.Providers[i], true
		}
	}
	return nil, false
}

// Load reads the providers file at path, or returns the catalog default when
// path is empty. Errors name the field and the problem.
func Load(path string, cat *catalog.Catalog) (*Config, error) {
	if path == "" {
		return Default(cat)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("HEADROOM_CONFIG: %w", err)
	}
	f, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c, err := Resolve(f, cat)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Parse decodes a providers file strictly (unknown fields are errors: a
// typo must not silently disable a setting).
func Parse(b []byte) (*File, error) {
	var node yaml.Node
	if err := yaml.Unmarshal(b, &node); err != nil {
		return nil, err
	}
	f := &File{}
	if len(node.Content) == 0 {
		return f, nil
	}
	root := node.Content[0]
	var target any = f
	if root.Kind == yaml.SequenceNode {
		target = &f.Providers
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	if err := enc.Encode(root); err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(&buf)
	dec.KnownFields(true)
	if err := dec.Decode(target); err != nil {
		return nil, err
	}
	return f, nil
}

// Default enables every catalog provider that has a public upstream.
func Default(cat *catalog.Catalog) (*Config, error) {
	return Resolve(&File{IncludeCatalog: true}, cat)
}

// Resolve validates a file against the catalog.
func Resolve(f *File, cat *catalog.Catalog) (*Config, error) {
	c := &Config{}
	seen := map[string]bool{}
	for i, pc := range f.Providers {
		p, err := resolveOne(pc, cat)
		if err != nil {
			return nil, fmt.Errorf("providers[%d]%s: %w", i, nameSuffix(pc.Name), err)
		}
		if seen[p.Name] {
			return nil, fmt.Errorf("providers[%d].name: %q is used twice", i, p.Name)
		}
		seen[p.Name] = true
		c.Providers = append(c.Providers, p)
	}
	if f.IncludeCatalog {
		for _, cp := range cat.Providers {
			if seen[cp.Name] || cp.Upstream == "" {
				continue
			}
			p, err := resolveOne(ProviderConfig{Name: cp.Name}, cat)
			if err != nil {
				return nil, fmt.Errorf("catalog provider %s: %w", cp.Name, err)
			}
			c.Providers = append(c.Providers, p)
		}
	}
	sort.Slice(c.Providers, func(i, j int) bool { return c.Providers[i].Name < c.Providers[j].Name })
	tails, err := resolveTail(f.Tail, c)
	if err != nil {
		return nil, err
	}
	c.Tail = tails
	if c.Buckets, err = resolveBuckets(f.Buckets, c); err != nil {
		return nil, err
	}
	return c, nil
}

func nameSuffix(n string) string {
	if n == "" {
		return ""
	}
	return " (" + n + ")"
}

func resolveOne(pc ProviderConfig, cat *catalog.Catalog) (Provider, error) {
	var p Provider
	if pc.Name == "" {
		return p, errors.New(".name: required")
	}
	if strings.ContainsAny(pc.Name, "/ ?#%") || strings.HasPrefix(pc.Name, ".") {
		return p, fmt.Errorf(".name: %q must not contain '/', spaces, '?', '#', '%%' or start with '.'", pc.Name)
	}
	p.Name = pc.Name
	var base *catalog.Provider
	if pc.Catalog != "" {
		b, ok := cat.Lookup(pc.Catalog)
		if !ok {
			return p, fmt.Errorf(".catalog: %q is not a built-in provider (known: %s)", pc.Catalog, catalogNames(cat))
		}
		base = b
	} else if b, ok := cat.Lookup(pc.Name); ok {
		base = b
	}
	dialect := pc.Dialect
	upstream := pc.Upstream
	if base != nil {
		p.Family = base.Family
		if dialect == "" {
			dialect = base.Dialect
		}
		if upstream == "" {
			upstream = base.Upstream
		}
		p.KeyHeader = base.KeyHeader
		p.PerKey = base.LimitsPer == "key"
		p.Models = base.Models
		p.Limits = append(p.Limits, base.Limits...)
		p.Probe = base.Probe
	}
	if dialect == "" {
		// Outside the catalog and naming none: the generic dialect reads
		// the OpenAI-style and IETF headers most providers send.
		dialect = parsers.Auto.Name()
	}
	d, ok := parsers.Lookup(dialect)
	if !ok {
		return p, fmt.Errorf(".dialect: %q is not a known dialect (known: %s)", dialect, strings.Join(parsers.Names(), ", "))
	}
	if len(pc.Windows) > 0 {
		if dialect != parsers.Auto.Name() {
			return p, fmt.Errorf(".windows: only for dialect auto (this provider's dialect is %s, which knows its windows)", dialect)
		}
		if err := checkWindows(pc.Windows); err != nil {
			return p, err
		}
		d = parsers.NewAuto(pc.Windows)
	}
	p.Dialect = d
	if p.Family == "" {
		p.Family = dialect
	}
	if upstream == "" {
		return p, errors.New(".upstream: required (this provider has no public base URL in the catalog)")
	}
	u, err := url.Parse(upstream)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return p, fmt.Errorf(".upstream: %q must be an absolute http or https URL", upstream)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return p, fmt.Errorf(".upstream: %q must not carry a query, fragment or credentials", upstream)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	p.Upstream = u
	if pc.KeyHeader != "" {
		p.KeyHeader = pc.KeyHeader
	}
	switch pc.LimitsPer {
	case "":
	case "key":
		p.PerKey = true
	case "model":
		p.PerKey = false
	default:
		return p, fmt.Errorf(".limits_per: %q must be key or model", pc.LimitsPer)
	}
	for fp, alias := range pc.KeyAliases {
		if !strings.HasPrefix(fp, "k-") || len(fp) != 14 {
			return p, fmt.Errorf(".key_aliases: %q is not a key fingerprint (k- and 12 hex digits; see docs/configuration.md)", fp)
		}
		if alias == "" || alias == "none" || alias == "other" {
			return p, fmt.Errorf(".key_aliases[%s]: alias %q is empty or reserved", fp, alias)
		}
	}
	p.KeyAlias = pc.KeyAliases
	for model, limits := range pc.DocumentedLimits {
		for k, v := range limits {
			res, win, ok := strings.Cut(k, "/")
			if !ok {
				return p, fmt.Errorf(".documented_limits[%s]: %q must be resource/window, e.g. requests/1m", model, k)
			}
			if _, err := parsers.ParseWindow(win); err != nil {
				return p, fmt.Errorf(".documented_limits[%s]: %q: bad window %q", model, k, win)
			}
			if v < 0 {
				return p, fmt.Errorf(".documented_limits[%s][%s]: negative limit", model, k)
			}
			p.Limits = overrideLimit(p.Limits, catalog.Limit{Model: model, Resource: res, Window: win, Value: v})
		}
	}
	if pc.Probe != nil {
		spec, err := resolveProbe(pc.Probe, &p)
		if err != nil {
			return p, err
		}
		p.ProbeSpec = spec
	}
	return p, nil
}

// checkWindows validates a provider's windows (dialect auto).
func checkWindows(ws map[string]string) error {
	keys := make([]string, 0, len(ws))
	for k := range ws {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, res := range keys {
		if !validAutoResource(res) {
			return fmt.Errorf(".windows: %q is not a resource whose headers may omit the window (one of %s)", res, strings.Join(parsers.AutoWindowResources, ", "))
		}
		if err := parsers.ValidAutoWindow(res, ws[res]); err != nil {
			return fmt.Errorf(".windows[%s]: %q must be a window such as 1s, 10s, 1m, 1h or 1d", res, ws[res])
		}
	}
	return nil
}

func validAutoResource(res string) bool {
	for _, r := range parsers.AutoWindowResources {
		if r == res {
			return true
		}
	}
	return false
}

func overrideLimit(ls []catalog.Limit, l catalog.Limit) []catalog.Limit {
	out := make([]catalog.Limit, 0, len(ls)+1)
	for _, o := range ls {
		if o.Model == l.Model && o.Resource == l.Resource && o.Window == l.Window {
			continue
		}
		out = append(out, o)
	}
	return append(out, l)
}

func catalogNames(cat *catalog.Catalog) string {
	var n []string
	for _, p := range cat.Providers {
		n = append(n, p.Name)
	}
	return strings.Join(n, ", ")
}
