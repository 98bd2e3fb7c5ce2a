package keyid

import (
	"strings"
	"testing"
)

func TestLabel(t *testing.T) {
	const secret = "sk-live-1234567890abcdef"
	fp := Fingerprint(secret)
	cases := []struct {
		name string
		auth string
		r    Resolver
		want string
	}{
		{"bearer", "Bearer " + secret, Resolver{}, fp},
		{"bearer lower case scheme", "bearer " + secret, Resolver{}, fp},
		{"other scheme: the whole value", " Basic " + secret, Resolver{}, Fingerprint("Basic " + secret)},
		{"alias", "Bearer " + secret, Resolver{Aliases: map[string]string{fp: "prod"}}, "prod"},
		{"none", "", Resolver{}, None},
		{"blank bearer", "Bearer   ", Resolver{}, None},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.r.Label(Token([]byte(tc.auth)))
			if got != tc.want {
				t.Errorf("got %q want %q", got, tc.want)
			}
			if strings.Contains(got, "sk-live") {
				t.Errorf("label leaks the credential: %q", got)
			}
		})
	}
	if len(fp) != 14 || !strings.HasPrefix(fp, "k-") {
		t.Errorf("fingerprint shape: %q", fp)
	}
}
