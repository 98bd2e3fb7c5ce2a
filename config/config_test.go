package config

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/headroomhq/headroom/catalog"
	"github.com/headroomhq/headroom/parsers"
)

func TestLoadValid(t *testing.T) {
	c, err := Load("testdata/valid.yaml", catalog.MustLoad())
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Providers) != 4 {
		t.Fatalf("got %d providers", len(c.Providers))
	}
	hu, _ := c.Lookup("heroku-us")
	if hu.Upstream.String() != "https://us.inference.heroku.com" || hu.Dialect.Name() != "heroku" {
		t.Errorf("heroku-us not inherited from catalog: %+v", hu)
	}
	pr, _ := c.Lookup("predictions")
	if !pr.PerKey || pr.Upstream.String() != "http://127.0.0.1:9999" {
		t.Errorf("predictions: %+v upstream %s", pr, pr.Upstream)
	}
	gw, _ := c.Lookup("my-gateway")
	if len(gw.Limits) != 2 || gw.Upstream.Path != "/openai" {
		t.Errorf("my-gateway: %+v", gw)
	}
}

func TestDefaultIsCatalog(t *testing.T) {
	c, err := Load("", catalog.MustLoad())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"heroku-us", "heroku-eu", "sambanova", "infercom", "openai"} {
		if _, ok := c.Lookup(want); !ok {
			t.Errorf("default config lacks %s", want)
		}
	}
	if _, ok := c.Lookup("predictions"); ok {
		t.Error("predictions has no public upstream and must not be enabled by default")
	}
}

// A provider outside the catalog that names no dialect gets the generic
// one; windows configure it.
func TestAutoDialectDefault(t *testing.T) {
	f, err := Parse([]byte("providers:\n  - {name: xai, upstream: https://api.x.ai}\n  - {name: gw, upstream: https://gw.internal, windows: {requests: 60s, tokens: 1m}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Resolve(f, catalog.MustLoad())
	if err != nil {
		t.Fatal(err)
	}
	x, _ := c.Lookup("xai")
	gw, _ := c.Lookup("gw")
	if x.Dialect.Name() != "auto" || gw.Dialect.Name() != "auto" || x.Family != "auto" {
		t.Fatalf("dialects %s %s, family %s", x.Dialect.Name(), gw.Dialect.Name(), x.Family)
	}
	in := &parsers.Input{Status: 200, Header: http.Header{"X-Ratelimit-Limit-Requests": {"10"}, "X-Ratelimit-Remaining-Requests": {"9"}}}
	var r parsers.Result
	gw.Dialect.Parse(in, &r)
	if o, ok := r.Find(parsers.Requests, "1m"); !ok || o.Limit != 10 || o.Remaining != 9 {
		t.Errorf("with windows: %+v", r.Observations)
	}
	r.Reset()
	x.Dialect.Parse(in, &r)
	if len(r.Observations) != 0 || len(r.Errors) != 2 {
		t.Errorf("without windows: %+v %v", r.Observations, r.Errors)
	}
}

func TestBareListAccepted(t *testing.T) {
	f, err := Parse([]byte("- name: heroku-us\n- name: openai\n"))
	if err != nil || len(f.Providers) != 2 {
		t.Fatalf("%v %+v", err, f)
	}
}

func TestInvalid(t *testing.T) {
	cases := []struct{ yaml, want string }{
		{"providers: [{dialect: openai, upstream: https://x}]", "providers[0]: .name: required"},
		{"providers: [{name: x, dialect: openai, upstream: https://x, windows: {requests: 1m}}]", "providers[0] (x): .windows: only for dialect auto"},
		{"providers: [{name: x, upstream: https://x, windows: {images: 1m}}]", `.windows: "images" is not a resource`},
		{"providers: [{name: x, upstream: https://x, windows: {requests: soon}}]", `.windows[requests]: "soon" must be a window`},
		{"providers: [{name: x, upstream: https://x, windows: {tokens: none}}]", `.windows[tokens]: "none" must be a window`},
		{"providers: [{name: x, dialect: klingon, upstream: https://x}]", `.dialect: "klingon" is not a known dialect`},
		{"providers: [{name: x, dialect: openai}]", "providers[0] (x): .upstream: required"},
		{"providers: [{name: x, dialect: openai, upstream: ftp://x}]", `.upstream: "ftp://x" must be an absolute http or https URL`},
		{"providers: [{name: a/b, dialect: openai, upstream: https://x}]", ".name: \"a/b\" must not contain"},
		{"providers: [{name: predictions}]", "providers[0] (predictions): .upstream: required"},
		{"providers: [{name: x, catalog: nope}]", `.catalog: "nope" is not a built-in provider`},
		{"providers: [{name: heroku-us}, {name: heroku-us}]", `providers[1].name: "heroku-us" is used twice`},
		{"providers: [{name: heroku-us, key_aliases: {sk-secret: a}}]", `.key_aliases: "sk-secret" is not a key fingerprint`},
		{"providers: [{name: heroku-us, limits_per: nope}]", `.limits_per: "nope" must be key or model`},
		{"providers: [{name: heroku-us, documented_limits: {m: {requests: 5}}}]", `must be resource/window`},
		{"providers: [{name: heroku-us, upstrem: https://x}]", "field upstrem not found"},
	}
	for _, tc := range cases {
		dir := t.TempDir()
		p := filepath.Join(dir, "c.yaml")
		os.WriteFile(p, []byte(tc.yaml), 0o644)
		_, err := Load(p, catalog.MustLoad())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s:\n got %v\nwant …%s…", tc.yaml, err, tc.want)
		}
	}
}

func TestSettingsFromEnv(t *testing.T) {
	t.Setenv("HEADROOM_PROXY_ADDR", "127.0.0.1:1")
	t.Setenv("HEADROOM_LOG_LEVEL", "debug")
	s, err := LoadSettings()
	if err != nil || s.ProxyAddr != "127.0.0.1:1" || s.MetricsAddr != ":9797" {
		t.Fatalf("%v %+v", err, s)
	}
	t.Setenv("HEADROOM_LOG_LEVEL", "loud")
	if _, err := LoadSettings(); err == nil || !strings.Contains(err.Error(), "HEADROOM_LOG_LEVEL") {
		t.Errorf("bad level accepted: %v", err)
	}
	t.Setenv("HEADROOM_LOG_LEVEL", "info")
	t.Setenv("HEADROOM_STALE_GRACE", "soon")
	if _, err := LoadSettings(); err == nil || !strings.Contains(err.Error(), "HEADROOM_STALE_GRACE") {
		t.Errorf("bad duration accepted: %v", err)
	}
}
