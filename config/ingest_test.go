package config

import (
	"strings"
	"testing"
	"time"

	"github.com/headroomhq/headroom/catalog"
)

func TestTailAndProbeValid(t *testing.T) {
	f, err := Parse([]byte(`
providers:
  - name: heroku-us
    probe: {enabled: true, interval: 10m, key_env: HEROKU_KEY}
  - name: predictions
    upstream: https://api.predictions.example
    probe: {key_file: /var/run/secrets/predictions/key, method: GET, path: /v1/predictions}
  - name: anthropic
    probe: {key_env: ANTHROPIC_KEY}
tail:
  - {path: /var/log/nginx/headroom.log, format: nginx, position_file: /var/lib/headroom/nginx.pos}
  - {path: /var/log/envoy.log, format: envoy, provider_map: {heroku_cluster: heroku-us}, start_at: beginning, max_line_bytes: 4096}
  - path: /var/log/gw.log
    format: mapping
    provider: predictions
    key: gateway
    mapping: {time: ts, status: code, headers: resp_headers}
`))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Resolve(f, catalog.MustLoad())
	if err != nil {
		t.Fatal(err)
	}
	hu, _ := c.Lookup("heroku-us")
	if s := hu.ProbeSpec; s == nil || !s.Enabled || s.Interval != 10*time.Minute || s.Method != "POST" || s.Path != "/v1/chat/completions" || s.Cost == "" {
		t.Errorf("heroku probe: %+v", hu.ProbeSpec)
	}
	pr, _ := c.Lookup("predictions")
	if s := pr.ProbeSpec; s.Interval != DefaultProbeInterval || s.Method != "GET" || s.KeyFile == "" || s.Enabled {
		t.Errorf("predictions probe: %+v", s)
	}
	an, _ := c.Lookup("anthropic")
	if an.ProbeSpec.Header.Get("Anthropic-Version") == "" {
		t.Error("anthropic probe without anthropic-version")
	}
	if len(c.Tail) != 3 || c.Tail[0].ProviderField != "upstream_host" || !c.Tail[0].StartAtEnd || c.Tail[0].MaxLineBytes != DefaultMaxLineBytes ||
		c.Tail[1].StartAtEnd || c.Tail[1].ProviderField != "upstream_cluster" || c.Tail[2].Key != "gateway" || c.Tail[0].Key != "none" {
		t.Errorf("tail: %+v", c.Tail)
	}
}

func TestTailAndProbeInvalid(t *testing.T) {
	cases := []struct{ yaml, want string }{
		{"providers: [{name: heroku-us, probe: {key: sk-123}}]", "providers[0] (heroku-us): .probe.key: API keys are never read from the providers file"},
		{"providers: [{name: heroku-us, probe: {enabled: true}}]", ".probe: set key_env"},
		{"providers: [{name: heroku-us, probe: {key_env: A, key_file: /b}}]", "key_env and key_file are both set"},
		{"providers: [{name: heroku-us, probe: {key_env: A, interval: 10ms}}]", ".probe.interval: 10ms is below the minimum"},
		{"providers: [{name: predictions, upstream: 'https://x', probe: {key_env: A}}]", "providers[0] (predictions): .probe.path: required"},
		{"providers: [{name: heroku-us, probe: {key_env: A, method: DELETE}}]", `.probe.method: "DELETE" must be GET, HEAD or POST`},
		{"providers: [{name: heroku-us, probe: {key_env: A, headers: {Authorization: x}}}]", ".probe.headers[Authorization]: credentials are never read"},
		{"providers: [{name: heroku-us, probe: {key_env: A, intervall: 1m}}]", "field intervall not found"},
		{"providers: [{name: heroku-us}]\ntail: [{format: nginx}]", "tail[0]: .path: required"},
		{"providers: [{name: heroku-us}]\ntail: [{path: /a, format: apache}]", `tail[0] (/a): .format: "apache" must be nginx, envoy, headroom or mapping`},
		{"providers: [{name: heroku-us}]\ntail: [{path: /a, format: nginx, provider: nope}]", `tail[0] (/a): .provider: "nope" is not a configured provider`},
		{"providers: [{name: heroku-us}]\ntail: [{path: /a, format: nginx, provider_map: {h: nope}}]", `.provider_map[h]: "nope" is not a configured provider`},
		{"providers: [{name: heroku-us}]\ntail: [{path: /a, format: nginx, provider: heroku-us, provider_field: x}]", "not both"},
		{"providers: [{name: heroku-us}]\ntail: [{path: /a, format: mapping, provider_field: x}]", ".mapping: required when format is mapping"},
		{"providers: [{name: heroku-us}]\ntail: [{path: /a, format: mapping, provider: heroku-us, mapping: {headers: h}}]", ".mapping.status: required"},
		{"providers: [{name: heroku-us}]\ntail: [{path: /a, format: mapping, mapping: {status: s, headers: h}}]", ".provider: set provider, or provider_field"},
		{"providers: [{name: heroku-us}]\ntail: [{path: /a, format: nginx, start_at: middle}]", `.start_at: "middle" must be end or beginning`},
		{"providers: [{name: heroku-us}]\ntail: [{path: /a, format: nginx, max_line_bytes: 10}]", ".max_line_bytes: 10 must be between"},
		{"providers: [{name: heroku-us}]\ntail: [{path: /a, format: nginx}, {path: /a, format: envoy}]", `tail[1].path: "/a" is already tailed by tail[0]`},
		{"providers: [{name: heroku-us}]\ntail: [{path: /a, format: nginx, position_file: /p}, {path: /b, format: nginx, position_file: /p}]", "tail[1].position_file"},
		{"providers: [{name: heroku-us}]\ntail: [{path: /a, format: mapping, provider: heroku-us, mapping: {status: s, model: s, headers: h}}]", `.mapping: field "s" is mapped twice`},
	}
	for _, tc := range cases {
		f, err := Parse([]byte(tc.yaml))
		if err == nil {
			_, err = Resolve(f, catalog.MustLoad())
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s:\n got %v\nwant …%s…", tc.yaml, err, tc.want)
		}
	}
}

func TestAccessLogSetting(t *testing.T) {
	t.Setenv("HEADROOM_ACCESS_LOG", "-")
	s, err := LoadSettings()
	if err != nil || s.AccessLog != "-" {
		t.Fatalf("%v %+v", err, s)
	}
}

// Tail lines told apart by the upstream's host cannot tell two providers on
// one host and port apart: check-config says so, naming both and the fix.
func TestTailSharedUpstream(t *testing.T) {
	const providers = "providers:\n  - {name: sambanova-a, dialect: sambanova, upstream: https://api.example.com/v1}\n" +
		"  - {name: heroku-b, dialect: heroku, upstream: 'https://API.example.com:443/v2'}\n  - {name: other, dialect: openai, upstream: https://other.example.com}\n"
	for _, tc := range []struct{ tail, want string }{
		{"{path: /l, format: nginx}", `tail[0] (/l): .provider_field: providers "heroku-b" and "sambanova-a" share the upstream api.example.com port 443, so upstream_host cannot tell their lines apart: log a provider field per location (nginx: set $headroom_provider in each location; Envoy: name each route after its provider, logged as %ROUTE_NAME%; both in docs/snippets) and set provider_field: provider, or give each location a log of its own tailed with provider: NAME`},
		{"{path: /l, format: envoy, provider_field: upstream_host}", `providers "heroku-b" and "sambanova-a" share the upstream`},
		{"{path: /l, format: nginx, provider_field: provider}", ""},
		{"{path: /l, format: nginx, provider: sambanova-a}", ""},
		{"{path: /l, format: nginx, provider_map: {api.example.com: heroku-b}}", ""},
		{"{path: /l, format: envoy}", ""}, // clusters, not hosts
	} {
		f, err := Parse([]byte(providers + "tail:\n  - " + tc.tail + "\n"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = Resolve(f, catalog.MustLoad())
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.tail, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s:\n got %v\nwant …%s…", tc.tail, err, tc.want)
		}
	}
	// Different ports are different upstreams; the built-in catalog shares none.
	f, _ := Parse([]byte("include_catalog: true\nproviders:\n  - {name: a, dialect: openai, upstream: 'http://127.0.0.1:8080'}\n" +
		"  - {name: b, dialect: openai, upstream: 'http://127.0.0.1:8081'}\ntail:\n  - {path: /l, format: nginx}\n"))
	if _, err := Resolve(f, catalog.MustLoad()); err != nil {
		t.Error(err)
	}
}
