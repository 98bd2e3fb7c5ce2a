package catalog

import (
	"testing"

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
