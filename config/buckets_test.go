package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/headroomhq/headroom/catalog"
)

func TestBucketsValid(t *testing.T) {
	c, err := Load("testdata/buckets/valid.yaml", catalog.MustLoad())
	if err != nil {
		t.Fatal(err)
	}
	want := []Bucket{
		{Name: "org-a", Provider: "openai", Keys: []string{"prod", "batch", "ci"}},
		{Name: "team.x_1", Provider: "heroku-us", Keys: []string{"k-aaaaaaaaaaaa"}},
	}
	if !reflect.DeepEqual(c.Buckets, want) {
		t.Fatalf("got %+v\nwant %+v", c.Buckets, want)
	}
}

// A bucket naming an unknown provider or key fails with the entry named;
// a key's value is never echoed (it may be a raw key pasted by mistake).
func TestBucketsInvalid(t *testing.T) {
	head := "providers:\n  - name: openai\n    key_aliases: {k-0123456789ab: prod}\n  - name: heroku-us\nbuckets:\n"
	cases := []struct{ yaml, want string }{
		{"  - {name: org, provider: anthropic, keys: [prod]}", `buckets[0] (org): .provider: "anthropic" is not a configured provider (configured: heroku-us, openai)`},
		{"  - {name: org, provider: openai, keys: [prod, sk-live-secret123]}", "buckets[0] (org): .keys[1]: not a key alias of provider openai (aliases: prod) nor a key fingerprint"},
		{"  - {name: org, provider: heroku-us, keys: [prod]}", "buckets[0] (org): .keys[0]: not a key alias of provider heroku-us (aliases: none configured)"},
		{"  - {name: org, provider: openai, keys: [k-0123456789AB]}", "buckets[0] (org): .keys[0]: not a key alias"},
		{"  - {name: org, provider: openai, keys: []}", "buckets[0] (org): .keys: at least one"},
		{"  - {provider: openai, keys: [prod]}", "buckets[0]: .name: required"},
		{"  - {name: 'a b', provider: openai, keys: [prod]}", `buckets[0] (a b): .name: "a b" may hold only`},
		{"  - {name: org, provider: openai, keys: [prod]}\n  - {name: org, provider: openai, keys: [k-111111111111]}", `buckets[1] (org): .name: "org" is used twice`},
		{"  - {name: a, provider: openai, keys: [prod]}\n  - {name: b, provider: openai, keys: [k-0123456789ab]}", `buckets[1] (b): .keys[0]: key prod is already in bucket "a"`},
		{"  - {name: a, provider: openai, kees: [prod]}", "field kees not found"},
	}
	for _, tc := range cases {
		p := filepath.Join(t.TempDir(), "c.yaml")
		os.WriteFile(p, []byte(head+tc.yaml+"\n"), 0o644)
		_, err := Load(p, catalog.MustLoad())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s:\n got %v\nwant …%s…", tc.yaml, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret123") {
			t.Errorf("the key's value is echoed: %v", err)
		}
	}
}
