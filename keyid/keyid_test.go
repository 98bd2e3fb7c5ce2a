package keyid

import (
	"net/http"
	"strings"
	"testing"
)

func TestLabel(t *testing.T) {
	const secret = "sk-live-1234567890abcdef"
	fp := Fingerprint(secret)
	cases := []struct {
		name string
		h    http.Header
		r    Resolver
		want string
	}{
		{"bearer", http.Header{"Authorization": {"Bearer " + secret}}, Resolver{}, fp},
		{"bearer lower case scheme", http.Header{"Authorization": {"bearer " + secret}}, Resolver{}, fp},
		{"x-api-key", http.Header{"X-Api-Key": {secret}}, Resolver{KeyHeader: "x-api-key"}, fp},
		{"alias", http.Header{"Authorization": {"Bearer " + secret}}, Resolver{Aliases: map[string]string{fp: "prod"}}, "prod"},
		{"none", http.Header{}, Resolver{}, None},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.r.Label(tc.h)
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
