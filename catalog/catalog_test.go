package catalog

import (
	"fmt"
	"maps"
	"net/http"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/headroomhq/headroom/parsers"
)

func TestEmbeddedCatalogLoads(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	dialects := map[string]bool{}
	for _, p := range c.Providers {
		dialects[p.Dialect] = true
	}
	// Every dialect has at least one catalog family, so users find it.
	for _, d := range parsers.Names() {
		if !dialects[d] {
			t.Errorf("dialect %s has no catalog entry", d)
		}
	}
}

func TestSeedLimits(t *testing.T) {
	c := MustLoad()
	cases := []struct {
		provider, model, resource, window string
		want                              float64
	}{
		// ../shared/seeds/000: Heroku, per region.
		{"heroku-us", "claude-4-sonnet", "requests", "1m", 150},
		{"heroku-eu", "claude-4-sonnet", "tokens", "1m", 800000},
		{"heroku-us", "claude-3-haiku", "requests", "1m", 250},
		{"heroku-eu", "stable-image-ultra", "requests", "1m", 20},
		// ../shared/seeds/001: Infercom.
		{"infercom", "DeepSeek-V3.1", "requests", "1d", 15000},
		{"infercom", "Meta-Llama-3.1-8B-Instruct", "requests", "1m", 1440},
		// ../shared/seeds/002: predictions API.
		{"predictions", "", "requests", "1m", 60},
		{"predictions", "", "concurrency", "none", 5},
		// ../shared/seeds/003: SambaNova.
		{"sambanova", "Meta-Llama-3.1-8B-Instruct", "requests", "1h", 2400},
		{"sambanova", "DeepSeek-V3-0324", "requests", "1d", 600},
	}
	for _, tc := range cases {
		p, ok := c.Lookup(tc.provider)
		if !ok {
			t.Errorf("no provider %s", tc.provider)
			continue
		}
		found := false
		for _, l := range p.Limits {
			if l.Model == tc.model && l.Resource == tc.resource && l.Window == tc.window {
				found = true
				if l.Value != tc.want {
					t.Errorf("%s %s %s/%s = %v, want %v", tc.provider, tc.model, tc.resource, tc.window, l.Value, tc.want)
				}
			}
		}
		if !found {
			t.Errorf("%s %s %s/%s missing", tc.provider, tc.model, tc.resource, tc.window)
		}
	}
}

// What each family's documentation requires on every request besides the
// key (and Content-Type, and the User-Agent every probe sends): the
// catalog probe must carry exactly these headers, so a new probe fails here
// until someone has read its provider's docs. Families without a probe say
// why, and fail here if one is added without revisiting what it needs.
var probeHeaderDocs = []struct {
	family  string
	headers map[string]string
	noProbe string // why the catalog has no probe
}{
	// https://docs.anthropic.com/en/api/versioning: "you must send an
	// anthropic-version request header"; the API answers 400 without it.
	{family: "anthropic", headers: map[string]string{"anthropic-version": "2023-06-01"}},
	// https://docs.github.com/en/rest/about-the-rest-api/api-versions:
	// requests name the version; 2022-11-28 is the default without it.
	{family: "github", headers: map[string]string{"X-GitHub-Api-Version": "2022-11-28"}},
	// OpenAI and the OpenAI-compatible APIs need only the bearer key.
	{family: "openai"}, {family: "groq"}, {family: "cerebras"}, {family: "mistral"},
	{family: "fireworks"}, {family: "heroku"}, {family: "infercom"}, {family: "sambanova"},
	// Azure's api-version is a query parameter, and the path names the
	// user's deployment: a user probe's path carries both.
	{family: "azure-openai", noProbe: "deployment name and api-version in the path"},
	{family: "openrouter", noProbe: "headers only on 429s"},
	{family: "together", noProbe: "headers only on 429s"},
	{family: "predictions", noProbe: "no public upstream"},
	{family: "ietf-generic", noProbe: "no public upstream"},
	{family: "openai-compatible", noProbe: "no public upstream"},
	{family: "gemini", noProbe: "limits only in 429 bodies"},
	{family: "vertex-ai", noProbe: "project and location in the path; limits only in 429 bodies"},
}

func TestProbeHeadersFollowProviderDocs(t *testing.T) {
	c := MustLoad()
	byFamily := map[string]*Provider{}
	for i := range c.Providers {
		byFamily[c.Providers[i].Family] = &c.Providers[i]
	}
	seen := map[string]bool{}
	for _, tc := range probeHeaderDocs {
		seen[tc.family] = true
		t.Run(tc.family, func(t *testing.T) {
			p, ok := byFamily[tc.family]
			if !ok {
				t.Fatalf("no catalog family %s", tc.family)
			}
			if tc.noProbe != "" {
				if p.Probe != nil {
					t.Fatalf("has a probe now (the table says none: %s); check which headers its docs require", tc.noProbe)
				}
				return
			}
			if p.Probe == nil {
				t.Fatal("no probe")
			}
			got := map[string]string{}
			for k, v := range p.Probe.Headers {
				got[http.CanonicalHeaderKey(k)] = v
			}
			want := map[string]string{}
			for k, v := range tc.headers {
				want[http.CanonicalHeaderKey(k)] = v
			}
			if !maps.Equal(got, want) {
				t.Errorf("probe headers %v, the docs require %v", got, want)
			}
		})
	}
	for f := range byFamily {
		if !seen[f] {
			t.Errorf("family %s is not in probeHeaderDocs: read its docs for required request headers and add it", f)
		}
	}
}

func TestProbeValidation(t *testing.T) {
	const base = "family: f\ndialect: openai\ndocs: d\ninstances: [{name: f, upstream: \"https://f.example\"}]\n"
	const ok = "probe: {method: POST, path: /v1/x, cost: c, headers: {%s}}\n"
	cases := []struct{ yaml, want string }{
		{fmt.Sprintf(ok, "X-Version: '1'"), ""},
		{fmt.Sprintf(ok, "Authorization: x"), "probe.headers[Authorization]: credentials are never part of the catalog"},
		{fmt.Sprintf(ok, "x-api-key: x"), "probe.headers[x-api-key]: credentials"},
		{fmt.Sprintf(ok, "Helicone-Auth: x"), "probe.headers[Helicone-Auth]: credentials"},
		{"key_header: x-custom\n" + fmt.Sprintf(ok, "X-Custom: x"), "probe.headers[X-Custom]: credentials"},
		{fmt.Sprintf(ok, "Host: x.example"), "probe.headers[Host]: the HTTP client sets this header itself"},
		{fmt.Sprintf(ok, "content-length: '1'"), "probe.headers[content-length]: the HTTP client sets"},
		{fmt.Sprintf(ok, "TE: trailers"), "probe.headers[TE]: the HTTP client sets"},
		{fmt.Sprintf(ok, "expect: 100-continue"), "probe.headers[expect]: the HTTP client sets"},
		{fmt.Sprintf(ok, "Proxy-Connection: keep-alive"), "probe.headers[Proxy-Connection]: the HTTP client sets"},
		{fmt.Sprintf(ok, "User-Agent: headroom-catalog"), ""},
		{fmt.Sprintf(ok, "'bad name': x"), "probe.headers[bad name]: not a valid header"},
		{fmt.Sprintf(ok, "X-V: \"a\\r\\nX-Injected: b\""), "probe.headers[X-V]: not a valid header"},
		{fmt.Sprintf(ok, "X-V: ''"), "probe.headers[X-V]: not a valid header"},
		{fmt.Sprintf(ok, "X-V: a, x-v: b"), "are the same header"},
		{"probe: {method: GET, path: '/v1/x?key=1', cost: c}\n", "must start with '/' and carry no query"},
		{"probe: {method: PUT, path: /v1/x, cost: c}\n", `probe.method: "PUT"`},
		{"probe: {method: GET, path: /v1/x}\n", "probe.cost"},
	}
	for _, tc := range cases {
		_, err := load(fstest.MapFS{"providers/f.yaml": {Data: []byte(base + tc.yaml)}})
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.yaml, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want %q", tc.yaml, err, tc.want)
		}
	}
}

func TestCredentialNames(t *testing.T) {
	for name, want := range map[string]bool{
		"Authorization": true, "proxy-authorization": true, "X-API-Key": true, "api-key": true, "Cookie": true,
		"x-goog-api-key": true, "Ocp-Apim-Subscription-Key": true, "cf-aig-authorization": true, "X-Auth-Token": true,
		"anthropic-version": false, "Anthropic-Beta": false, "X-GitHub-Api-Version": false, "OpenAI-Organization": false,
		"Content-Type": false, "Idempotency-Key": false,
	} {
		if got := CredentialHeader(name, ""); got != want {
			t.Errorf("CredentialHeader(%s) = %v", name, got)
		}
	}
	if !CredentialHeader("X-Custom-Key", "x-custom-key") {
		t.Error("the provider's key header is a credential")
	}
	for name, want := range map[string]bool{
		"key": true, "api_key": true, "access_token": true, "code": true, "sig": true, "x-api-key": true,
		"api-version": false, "model": false, "deployment": false,
	} {
		if got := CredentialParam(name); got != want {
			t.Errorf("CredentialParam(%s) = %v", name, got)
		}
	}
}

// The headers that frame or route a request are refused in every spelling;
// names that merely resemble them are not.
func TestFramingHeader(t *testing.T) {
	refused := []string{"Host", "Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive", "Upgrade", "TE", "Trailer", "Proxy-Connection", "Expect"}
	for _, name := range refused {
		for _, n := range []string{name, strings.ToLower(name), strings.ToUpper(name), http.CanonicalHeaderKey(name), " " + name + " "} {
			if !FramingHeader(n) {
				t.Errorf("FramingHeader(%q) = false", n)
			}
		}
		if !strings.Contains(FramingHeaderReason(), name) {
			t.Errorf("the reason does not name %s: %s", name, FramingHeaderReason())
		}
	}
	for _, n := range []string{"User-Agent", "Content-Type", "X-Forwarded-Host", "Hostname", "Expect-CT", "X-Connection-Id", "Accept-Encoding", "Trailers", ""} {
		if FramingHeader(n) {
			t.Errorf("FramingHeader(%q) = true", n)
		}
	}
}
