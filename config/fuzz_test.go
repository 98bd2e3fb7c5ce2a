package config

import (
	"os"
	"strings"
	"testing"

	"github.com/headroomhq/headroom/catalog"
)

// FuzzParse feeds arbitrary bytes to the providers-file loader (Parse, then
// Resolve against the built-in catalog): it must never panic, and whatever
// it accepts must be something the proxy can route safely. Seeds: the test
// files and testdata/fuzz/FuzzParse. Run longer with
// `go test -run XXX -fuzz FuzzParse -fuzztime 3m ./config`.
func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("testdata/valid.yaml"); err == nil {
		f.Add(b)
	}
	for _, s := range []string{
		"",
		"providers: []\n",
		"include_catalog: true\n",
		"- name: heroku-us\n- name: heroku-eu\n",
		"providers:\n  - name: x\n    dialect: openai\n    upstream: http://127.0.0.1:1/base/\n    limits_per: key\n",
		"providers:\n  - name: x\n    dialect: ietf\n    upstream: https://h\n    documented_limits: {\"\": {requests/1m: 5}}\n",
		"providers:\n  - name: x\n    key_aliases: {k-0123456789ab: prod}\n",
		"providers:\n  - {name: ../x, dialect: openai, upstream: http://h}\n",
		"providers:\n  - {name: a, dialect: openai, upstream: \"http://u:p@h/?q=1#f\"}\n",
		"providers:\n  - {name: a, dialect: openai, upstream: \"//h\"}\n",
		"providers:\n  - {name: a, bogus: 1}\n",
		"a: &a [*a, *a]\n",
		"providers: &p [*p]\n",
		"providers:\n  - name: a\n    documented_limits: {m: {requests/1m: -1}}\n",
		"providers:\n  - name: a\n    documented_limits: {m: {requests/99999999999999999999d: 1}}\n",
		"\xff\xfe\x00",
		"!!binary gIGC",
		"providers: !!map {}\n",
		"? [a]\n: b\n",
	} {
		f.Add([]byte(s))
	}
	cat := catalog.MustLoad()
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Parse(b)
		if err != nil {
			if err.Error() == "" {
				t.Error("error without a message")
			}
			return
		}
		if file == nil {
			t.Fatal("nil file without an error")
		}
		c, err := Resolve(file, cat)
		if err != nil {
			if err.Error() == "" {
				t.Error("error without a message")
			}
			return
		}
		seen := map[string]bool{}
		for _, p := range c.Providers {
			if p.Name == "" || strings.ContainsAny(p.Name, "/?#% ") || strings.HasPrefix(p.Name, ".") {
				t.Errorf("accepted provider name %q: it cannot be a single proxy path segment", p.Name)
			}
			if seen[p.Name] {
				t.Errorf("provider name %q accepted twice", p.Name)
			}
			seen[p.Name] = true
			if p.Dialect == nil {
				t.Errorf("%s: no dialect", p.Name)
			}
			u := p.Upstream
			if u == nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				t.Errorf("%s: upstream %v is not an absolute http(s) URL", p.Name, u)
				continue
			}
			if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
				t.Errorf("%s: upstream %v carries credentials, a query or a fragment", p.Name, u)
			}
			for _, l := range p.Limits {
				if l.Value < 0 || l.Value != l.Value {
					t.Errorf("%s: documented limit %+v", p.Name, l)
				}
			}
		}
	})
}
