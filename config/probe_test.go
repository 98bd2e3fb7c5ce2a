package config

import (
	"net/http"
	"strings"
	"testing"

	"github.com/headroomhq/headroom/catalog"
)

func resolveProbeYAML(t *testing.T, yaml string) (*Config, error) {
	t.Helper()
	f, err := Parse([]byte(yaml))
	if err != nil {
		return nil, err
	}
	return Resolve(f, catalog.MustLoad())
}

// The catalog probe's headers and the providers file's probe.headers merge,
// the file winning name by name.
func TestProbeHeadersMerge(t *testing.T) {
	cases := []struct {
		name, yaml, provider string
		want                 http.Header
	}{
		{"catalog", "providers: [{name: anthropic, probe: {key_env: K}}]", "anthropic",
			http.Header{"Anthropic-Version": {"2023-06-01"}}},
		{"user adds", "providers: [{name: anthropic, probe: {key_env: K, headers: {anthropic-beta: b1}}}]", "anthropic",
			http.Header{"Anthropic-Version": {"2023-06-01"}, "Anthropic-Beta": {"b1"}}},
		{"user wins", "providers: [{name: anthropic, probe: {key_env: K, headers: {ANTHROPIC-VERSION: 2026-10-21}}}]", "anthropic",
			http.Header{"Anthropic-Version": {"2026-10-21"}}},
		{"empty drops", "providers: [{name: github, probe: {key_env: K, headers: {x-github-api-version: ''}}}]", "github",
			http.Header{}},
		// Required of every request, so kept when the path is the user's.
		{"own path", "providers: [{name: anthropic, probe: {key_env: K, method: GET, path: /v1/models}}]", "anthropic",
			http.Header{"Anthropic-Version": {"2023-06-01"}}},
		{"inherited", "providers: [{name: claude-team-b, catalog: anthropic, probe: {key_env: K}}]", "claude-team-b",
			http.Header{"Anthropic-Version": {"2023-06-01"}}},
		// Not a catalog provider: nothing is guessed from the dialect.
		{"custom", "providers: [{name: gw, dialect: anthropic, upstream: 'https://gw.example', probe: {key_env: K, path: /v1/messages}}]", "gw",
			http.Header{}},
		{"no catalog headers", "providers: [{name: openai, probe: {key_env: K}}]", "openai", http.Header{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := resolveProbeYAML(t, tc.yaml)
			if err != nil {
				t.Fatal(err)
			}
			p, _ := c.Lookup(tc.provider)
			got := p.ProbeSpec.Header
			if len(got) != len(tc.want) {
				t.Fatalf("headers %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got.Get(k) != v[0] || len(got.Values(k)) != 1 {
					t.Errorf("%s: %q, want %q", k, got.Values(k), v)
				}
			}
		})
	}
	// Overrides stay in the provider's spec: the catalog is shared.
	cat := catalog.MustLoad()
	f, err := Parse([]byte("providers: [{name: anthropic, probe: {key_env: K, headers: {anthropic-version: ''}}}, {name: github, probe: {key_env: K, headers: {X-GitHub-Api-Version: '2099-01-01'}}}]"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Resolve(f, cat); err != nil {
		t.Fatal(err)
	}
	an, _ := cat.Lookup("anthropic")
	gh, _ := cat.Lookup("github")
	if an.Probe.Headers["anthropic-version"] != "2023-06-01" || gh.Probe.Headers["X-GitHub-Api-Version"] != "2022-11-28" {
		t.Errorf("catalog headers changed: %v %v", an.Probe.Headers, gh.Probe.Headers)
	}
}

func TestProbeHeadersRefused(t *testing.T) {
	cases := []struct{ yaml, want string }{
		{"providers: [{name: anthropic, probe: {key_env: K, headers: {x-api-key: sk-1}}}]", ".probe.headers[x-api-key]: credentials are never read from the providers file"},
		{"providers: [{name: openai, probe: {key_env: K, headers: {Helicone-Auth: 'Bearer sk-1'}}}]", ".probe.headers[Helicone-Auth]: credentials"},
		{"providers: [{name: openai, probe: {key_env: K, headers: {cf-aig-authorization: x}}}]", ".probe.headers[cf-aig-authorization]: credentials"},
		{"providers: [{name: gw, dialect: openai, upstream: 'https://gw.example', key_header: X-Gw, probe: {key_env: K, path: /p, headers: {x-gw: k}}}]", ".probe.headers[x-gw]: credentials"},
		{"providers: [{name: openai, probe: {key_env: K, headers: {'a b': x}}}]", ".probe.headers[a b]: not a valid header"},
		{"providers: [{name: openai, probe: {key_env: K, headers: {X-V: \"a\\r\\nX-Injected: b\"}}}]", ".probe.headers[X-V]: not a valid header"},
		{"providers: [{name: openai, probe: {key_env: K, headers: {X-V: a, x-v: b}}}]", "are the same header"},
		{"providers: [{name: gw, dialect: openai, upstream: 'https://gw.example', probe: {key_env: K, path: '/v1/x?api_key=sk-1'}}]", `.probe.path: query parameter "api_key" looks like a credential`},
		{"providers: [{name: gw, dialect: openai, upstream: 'https://gw.example', probe: {key_env: K, path: '/v1/x?key=sk-1'}}]", `query parameter "key" looks like a credential`},
		{"providers: [{name: gw, dialect: openai, upstream: 'https://gw.example', probe: {key_env: K, path: '/v1/x?a=%zz'}}]", ".probe.path: the query of"},
	}
	for _, tc := range cases {
		_, err := resolveProbeYAML(t, tc.yaml)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s:\n error %v\n want %q", tc.yaml, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "sk-1") {
			t.Errorf("the error repeats the secret: %v", err)
		}
	}
}

// Azure names its API version in the query; it must reach the provider as
// a query, not as an escaped '?' in the path.
func TestProbePathQuery(t *testing.T) {
	c, err := resolveProbeYAML(t, `
providers:
  - name: azure-openai
    upstream: https://res.openai.azure.com
    probe:
      key_env: AZURE_KEY
      path: /openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21
      body: '{"messages":[{"role":"user","content":"."}],"max_tokens":1}'
`)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := c.Lookup("azure-openai")
	if s := p.ProbeSpec; s.Path != "/openai/deployments/gpt-4o-mini/chat/completions" || s.Query != "api-version=2024-10-21" || s.Method != "POST" {
		t.Errorf("path %q query %q method %s", s.Path, s.Query, s.Method)
	}
}
