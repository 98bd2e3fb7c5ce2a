package config

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// TailConfig is one entry of the providers file's top-level `tail:` list:
// an access log to follow (docs/tail.md).
type TailConfig struct {
	// Path of the log file. It may not exist yet.
	Path string `yaml:"path"`
	// Format is nginx, envoy, headroom or mapping.
	Format string `yaml:"format"`
	// Provider assigns every line of the file to one provider.
	Provider string `yaml:"provider"`
	// ProviderField names the field that tells the provider of a line
	// (default per format: nginx upstream_host, envoy upstream_cluster,
	// headroom provider). Its value is looked up in ProviderMap, then as a
	// provider name, then as a provider's upstream host.
	ProviderField string            `yaml:"provider_field"`
	ProviderMap   map[string]string `yaml:"provider_map"`
	// Key is the key label of lines that carry none (default "none").
	Key string `yaml:"key"`
	// StartAt is where to start in a file that exists when Headroom starts
	// and has no saved position: end (default) or beginning. Files that
	// appear later, and files after a rotation, are read from the start.
	StartAt string `yaml:"start_at"`
	// PositionFile saves the read position (inode and offset) so a restart
	// resumes where the last run stopped.
	PositionFile string `yaml:"position_file"`
	// MaxLineBytes bounds a line; longer lines are skipped and counted
	// (default 65536).
	MaxLineBytes int `yaml:"max_line_bytes"`
	// PollInterval is how often the file is checked for new data and
	// rotation (default 250ms).
	PollInterval time.Duration `yaml:"poll_interval"`
	// RotateWait is how long a rotated (renamed) file is still read after
	// its last write, for writers that reopen late (default 5s).
	RotateWait time.Duration `yaml:"rotate_wait"`
	// Mapping describes the fields of a format: mapping log.
	Mapping *Mapping `yaml:"mapping"`
}

// Mapping names the fields of any JSON-lines access log. Field names may
// be dotted paths into nested objects ("upstream.status").
type Mapping struct {
	// Time of the line: RFC 3339, Unix seconds or milliseconds (as number
	// or string), or nginx's $time_local. TimeIs says what it marks: end
	// (the response completed; default), start (the request arrived) or
	// received (the response headers arrived).
	Time   string `yaml:"time"`
	TimeIs string `yaml:"time_is"`
	// Status is the HTTP status field (required).
	Status string `yaml:"status"`
	// Duration is the request's total duration; HeaderTime the time from
	// its start to the response headers. Units: s (default), ms or us.
	Duration       string `yaml:"duration"`
	DurationUnit   string `yaml:"duration_unit"`
	HeaderTime     string `yaml:"header_time"`
	HeaderTimeUnit string `yaml:"header_time_unit"`
	Model          string `yaml:"model"`
	Key            string `yaml:"key"`
	InputTokens    string `yaml:"input_tokens"`
	OutputTokens   string `yaml:"output_tokens"`
	// Headers names an object whose members are response headers
	// (header name → value).
	Headers string `yaml:"headers"`
	// HeaderFields maps single fields to the response header they hold.
	HeaderFields map[string]string `yaml:"header_fields"`
}

// Tail is a resolved, validated tail entry (defaults applied).
type Tail struct {
	Path          string
	Format        string
	Provider      string
	ProviderField string
	ProviderMap   map[string]string
	Key           string
	StartAtEnd    bool
	PositionFile  string
	MaxLineBytes  int
	PollInterval  time.Duration
	RotateWait    time.Duration
	Mapping       *Mapping
}

// Tail formats.
const (
	FormatNginx    = "nginx"
	FormatEnvoy    = "envoy"
	FormatHeadroom = "headroom"
	FormatMapping  = "mapping"
)

// DefaultProviderField is the provider field of each built-in format.
var DefaultProviderField = map[string]string{
	FormatNginx:    "upstream_host",
	FormatEnvoy:    "upstream_cluster",
	FormatHeadroom: "provider",
}

// Tail defaults and bounds.
const (
	DefaultMaxLineBytes = 64 << 10
	MinMaxLineBytes     = 256
	MaxMaxLineBytes     = 16 << 20
	DefaultPollInterval = 250 * time.Millisecond
	DefaultRotateWait   = 5 * time.Second
)

func resolveTail(ts []TailConfig, c *Config) ([]Tail, error) {
	paths := map[string]int{}
	positions := map[string]int{}
	var out []Tail
	for i, tc := range ts {
		t, err := resolveTailOne(tc, c)
		if err != nil {
			return nil, fmt.Errorf("tail[%d]%s: %w", i, nameSuffix(tc.Path), err)
		}
		if j, dup := paths[t.Path]; dup {
			return nil, fmt.Errorf("tail[%d].path: %q is already tailed by tail[%d]", i, tc.Path, j)
		}
		paths[t.Path] = i
		if t.PositionFile != "" {
			if j, dup := positions[t.PositionFile]; dup {
				return nil, fmt.Errorf("tail[%d].position_file: %q is already used by tail[%d]", i, tc.PositionFile, j)
			}
			if _, clash := paths[t.PositionFile]; clash {
				return nil, fmt.Errorf("tail[%d].position_file: %q is a tailed log", i, tc.PositionFile)
			}
			positions[t.PositionFile] = i
		}
		out = append(out, t)
	}
	return out, nil
}

func resolveTailOne(tc TailConfig, c *Config) (Tail, error) {
	t := Tail{
		Format: tc.Format, Provider: tc.Provider, ProviderField: tc.ProviderField,
		ProviderMap: tc.ProviderMap, Key: tc.Key, MaxLineBytes: tc.MaxLineBytes,
		PollInterval: tc.PollInterval, RotateWait: tc.RotateWait, Mapping: tc.Mapping,
		StartAtEnd: true,
	}
	if tc.Path == "" {
		return t, errors.New(".path: required")
	}
	t.Path = filepath.Clean(tc.Path)
	if tc.PositionFile != "" {
		t.PositionFile = filepath.Clean(tc.PositionFile)
		if t.PositionFile == t.Path {
			return t, fmt.Errorf(".position_file: %q is the log itself", tc.PositionFile)
		}
	}
	switch tc.Format {
	case FormatNginx, FormatEnvoy, FormatHeadroom:
		if tc.Mapping != nil {
			return t, fmt.Errorf(".mapping: only for format mapping (format is %s)", tc.Format)
		}
	case FormatMapping:
		if tc.Mapping == nil {
			return t, errors.New(".mapping: required when format is mapping")
		}
		if err := checkMapping(tc.Mapping); err != nil {
			return t, err
		}
	case "":
		return t, errors.New(".format: required (nginx, envoy, headroom or mapping)")
	default:
		return t, fmt.Errorf(".format: %q must be nginx, envoy, headroom or mapping", tc.Format)
	}
	known := func(field, name string) error {
		if _, ok := c.Lookup(name); !ok {
			return fmt.Errorf(".%s: %q is not a configured provider (configured: %s)", field, name, providerNames(c))
		}
		return nil
	}
	switch {
	case tc.Provider != "" && (tc.ProviderField != "" || len(tc.ProviderMap) > 0):
		return t, errors.New(".provider: set provider (every line is that provider's) or provider_field/provider_map, not both")
	case tc.Provider != "":
		if err := known("provider", tc.Provider); err != nil {
			return t, err
		}
	default:
		if t.ProviderField == "" {
			t.ProviderField = DefaultProviderField[tc.Format]
		}
		if t.ProviderField == "" {
			return t, errors.New(".provider: set provider, or provider_field naming the field that tells the provider of a line")
		}
		keys := make([]string, 0, len(tc.ProviderMap))
		for k := range tc.ProviderMap {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if err := known("provider_map["+k+"]", tc.ProviderMap[k]); err != nil {
				return t, err
			}
		}
		if t.ProviderField == HostField {
			if err := sharedUpstreams(c, tc.ProviderMap); err != nil {
				return t, err
			}
		}
	}
	if t.Key == "" {
		t.Key = "none"
	} else if t.Key == "other" || strings.ContainsAny(t.Key, "\n\"") {
		return t, fmt.Errorf(".key: %q is reserved or not a valid label value", t.Key)
	}
	switch tc.StartAt {
	case "", "end":
	case "beginning":
		t.StartAtEnd = false
	default:
		return t, fmt.Errorf(".start_at: %q must be end or beginning", tc.StartAt)
	}
	if t.MaxLineBytes == 0 {
		t.MaxLineBytes = DefaultMaxLineBytes
	}
	if t.MaxLineBytes < MinMaxLineBytes || t.MaxLineBytes > MaxMaxLineBytes {
		return t, fmt.Errorf(".max_line_bytes: %d must be between %d and %d", tc.MaxLineBytes, MinMaxLineBytes, MaxMaxLineBytes)
	}
	if t.PollInterval == 0 {
		t.PollInterval = DefaultPollInterval
	}
	if t.PollInterval < time.Millisecond || t.PollInterval > time.Minute {
		return t, fmt.Errorf(".poll_interval: %s must be between 1ms and 1m", tc.PollInterval)
	}
	if t.RotateWait == 0 {
		t.RotateWait = DefaultRotateWait
	}
	if t.RotateWait < 0 {
		return t, fmt.Errorf(".rotate_wait: %s must be positive", tc.RotateWait)
	}
	return t, nil
}

// HostField is the field the shipped nginx and Envoy formats log the
// upstream's host into (nginx's default provider field).
const HostField = "upstream_host"

// sharedUpstreams rejects providers that share an upstream host and port
// when lines are told apart by that host: a line could be either's, and
// which one it was counted for would be an accident of names. A host the
// entry's provider_map names is the user's decision and is accepted.
func sharedUpstreams(c *Config, providerMap map[string]string) error {
	byHost := map[string][]string{}
	var hosts []string
	for _, p := range c.Providers {
		if p.Upstream == nil {
			continue
		}
		h := UpstreamHostPort(p.Upstream)
		if byHost[h] == nil {
			hosts = append(hosts, h)
		}
		byHost[h] = append(byHost[h], p.Name)
	}
	sort.Strings(hosts)
	for _, h := range hosts {
		names := byHost[h]
		if len(names) < 2 {
			continue
		}
		host, port, _ := strings.Cut(h, ":")
		if _, mapped := providerMap[h]; mapped {
			continue
		}
		if _, mapped := providerMap[host]; mapped {
			continue
		}
		sort.Strings(names)
		return fmt.Errorf(".provider_field: providers %q and %q share the upstream %s port %s, so %s cannot tell their lines apart: "+
			"log a provider field per location (nginx: set $headroom_provider in each location; Envoy: name each route after its provider, "+
			"logged as %%ROUTE_NAME%%; both in docs/snippets) and set provider_field: provider, or give each location a log of its own tailed with provider: NAME",
			names[0], names[1], host, port, HostField)
	}
	return nil
}

// UpstreamHostPort is the host and port of an upstream, lower case, the
// port made explicit (443 for https, 80 for http).
func UpstreamHostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "443"
		if u.Scheme == "http" {
			port = "80"
		}
	}
	return strings.ToLower(u.Hostname()) + ":" + port
}

func checkMapping(m *Mapping) error {
	if m.Status == "" {
		return errors.New(".mapping.status: required (the field holding the HTTP status)")
	}
	if m.Headers == "" && len(m.HeaderFields) == 0 {
		return errors.New(".mapping: set headers (an object of response headers) or header_fields (field → header name)")
	}
	switch m.TimeIs {
	case "", "end", "start", "received":
	default:
		return fmt.Errorf(".mapping.time_is: %q must be end, start or received", m.TimeIs)
	}
	if m.TimeIs != "" && m.Time == "" {
		return errors.New(".mapping.time_is: set without mapping.time")
	}
	for _, u := range []struct{ name, v string }{{"duration_unit", m.DurationUnit}, {"header_time_unit", m.HeaderTimeUnit}} {
		switch u.v {
		case "", "s", "ms", "us":
		default:
			return fmt.Errorf(".mapping.%s: %q must be s, ms or us", u.name, u.v)
		}
	}
	seen := map[string]string{}
	for _, f := range []struct{ name, field string }{
		{"time", m.Time}, {"status", m.Status}, {"duration", m.Duration}, {"header_time", m.HeaderTime},
		{"model", m.Model}, {"key", m.Key}, {"input_tokens", m.InputTokens}, {"output_tokens", m.OutputTokens}, {"headers", m.Headers},
	} {
		if f.field == "" {
			continue
		}
		if other, dup := seen[f.field]; dup {
			return fmt.Errorf(".mapping: field %q is mapped twice (%s and %s)", f.field, other, f.name)
		}
		seen[f.field] = f.name
	}
	for f := range m.HeaderFields {
		if other, dup := seen[f]; dup {
			return fmt.Errorf(".mapping: field %q is mapped twice (%s and header_fields)", f, other)
		}
	}
	for f, h := range m.HeaderFields {
		if f == "" || h == "" || strings.ContainsAny(h, " :\r\n") {
			return fmt.Errorf(".mapping.header_fields[%s]: %q is not a header name", f, h)
		}
	}
	return nil
}

func providerNames(c *Config) string {
	n := make([]string, 0, len(c.Providers))
	for _, p := range c.Providers {
		n = append(n, p.Name)
	}
	if len(n) == 0 {
		return "none"
	}
	return strings.Join(n, ", ")
}
