package probe

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/headroomhq/headroom/collector"
)

// A User-Agent in probe.headers (or the catalog's) reaches the provider in
// place of the default; without one the default is sent, exactly once.
func TestProbeUserAgent(t *testing.T) {
	t.Setenv("PROBE_KEY", headerTestKey)
	const own = "acme-batch/2.1 (+https://acme.example/bots; ops@acme.example)"
	cases := []struct {
		name string
		// providers file of one provider; %s is the upstream URL.
		yaml string
		// catalog stands for a User-Agent among the catalog probe's headers,
		// which reach the prober in the same resolved spec.
		catalog string
		want    string
	}{
		{name: "default", yaml: "providers: [{name: github, upstream: '%s', probe: {key_env: PROBE_KEY}}]", want: userAgent},
		{name: "file's", yaml: "providers: [{name: github, upstream: '%s', probe: {key_env: PROBE_KEY, headers: {User-Agent: '" + own + "'}}}]", want: own},
		{name: "file's, any case", yaml: "providers: [{name: github, upstream: '%s', probe: {key_env: PROBE_KEY, headers: {USER-AGENT: '" + own + "'}}}]", want: own},
		{name: "empty value keeps the default", yaml: "providers: [{name: github, upstream: '%s', probe: {key_env: PROBE_KEY, headers: {user-agent: ''}}}]", want: userAgent},
		{name: "not a catalog provider", yaml: "providers: [{name: gh, dialect: github, upstream: '%s', probe: {key_env: PROBE_KEY, path: /zen, headers: {user-agent: '" + own + "'}}}]", want: own},
		{name: "catalog's", yaml: "providers: [{name: github, upstream: '%s', probe: {key_env: PROBE_KEY}}]", catalog: "headroom-catalog/1", want: "headroom-catalog/1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &seen{h: github}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			p := resolve(t, fmt.Sprintf(tc.yaml, srv.URL))
			if tc.catalog != "" {
				p.ProbeSpec.Header.Set("User-Agent", tc.catalog)
			}
			pr, err := NewProber(p, NewClient())
			if err != nil {
				t.Fatal(err)
			}
			o := pr.Probe(context.Background(), collector.New(collector.Options{}))
			if !o.Success {
				t.Fatalf("outcome %+v", o)
			}
			got := rec.last().Header.Values("User-Agent")
			if len(got) != 1 || got[0] != tc.want {
				t.Errorf("User-Agent %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDefaultUserAgent(t *testing.T) {
	for v, want := range map[string]string{
		"":                   "headroom-probe",
		"1.4.0":              "headroom-probe/1.4.0",
		"v1.5.0-rc.1+g1a2b3": "headroom-probe/v1.5.0-rc.1+g1a2b3",
		// Not a token: sent, it would be an invalid or a split header.
		"1.4 beta":         "headroom-probe",
		"1.4\r\nX-Evil: 1": "headroom-probe",
		"1.4/2":            "headroom-probe",
	} {
		if got := defaultUserAgent(v); got != want {
			t.Errorf("defaultUserAgent(%q) = %q, want %q", v, got, want)
		}
	}
}
