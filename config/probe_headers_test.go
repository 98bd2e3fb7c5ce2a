package config

import (
	"fmt"
	"strings"
	"testing"
)

// Headers that frame or route the request are the HTTP client's: each is
// refused, in any spelling, with an error naming the provider entry and
// the field as written.
func TestProbeFramingHeadersRefused(t *testing.T) {
	names := []string{
		"Host", "host", "HOST", " Host", "Content-Length", "content-length", "Transfer-Encoding", "transfer-encoding",
		"Connection", "CONNECTION", "Keep-Alive", "keep-alive", "Upgrade", "upgrade", "TE", "te", "Te",
		"Trailer", "trailer", "Proxy-Connection", "proxy-connection", "Expect", "expect",
	}
	providers := []struct{ entry, yaml string }{
		{"providers[0] (openai)", "providers: [{name: openai, probe: {key_env: K, headers: {'%s': v}}}]"},
		{"providers[0] (gw)", "providers: [{name: gw, dialect: openai, upstream: 'https://gw.example', probe: {key_env: K, path: /p, headers: {'%s': v}}}]"},
	}
	for _, p := range providers {
		for _, name := range names {
			t.Run(p.entry+"/"+name, func(t *testing.T) {
				_, err := resolveProbeYAML(t, fmt.Sprintf(p.yaml, name))
				want := p.entry + ": .probe.headers[" + name + "]: the HTTP client sets this header itself"
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("error %v\nwant %q", err, want)
				}
				if !strings.Contains(err.Error(), "Host, Content-Length, Transfer-Encoding, Connection, Keep-Alive, Upgrade, TE, Trailer, Proxy-Connection, Expect") {
					t.Errorf("the error does not list the refused names: %v", err)
				}
			})
		}
	}
}

// Values (and names) that would split the header or that no server accepts
// are refused at load, never sent; the error names the field, not the value.
func TestProbeHeaderControlCharactersRefused(t *testing.T) {
	cases := []struct{ name, header, want string }{
		{"CRLF", `X-V: "a\r\nX-Injected: b"`, ".probe.headers[X-V]: not a valid header"},
		{"LF", `X-V: "a\nX-Injected: b"`, ".probe.headers[X-V]: not a valid header"},
		{"CR", `X-V: "a\rX-Injected: b"`, ".probe.headers[X-V]: not a valid header"},
		{"NUL", `X-V: "a\0b"`, ".probe.headers[X-V]: not a valid header"},
		{"DEL", `X-V: "a\x7fb"`, ".probe.headers[X-V]: not a valid header"},
		{"ESC", `X-V: "a\eb"`, ".probe.headers[X-V]: not a valid header"},
		{"CRLF in User-Agent", `User-Agent: "acme/1\r\nHost: evil.example"`, ".probe.headers[User-Agent]: not a valid header"},
		// Quoted, so that the error stays on one line.
		{"CRLF in the name", `"X-A\r\nHost": b`, `.probe.headers["X-A\r\nHost"]: not a valid header`},
		{"colon in the name", `"X-A:": b`, ".probe.headers[X-A:]: not a valid header"},
		{"space in the name", `"X A": b`, ".probe.headers[X A]: not a valid header"},
		{"empty name", `"": b`, ".probe.headers[]: not a valid header"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := resolveProbeYAML(t, "providers: [{name: openai, probe: {key_env: K, headers: {"+tc.header+"}}}]")
			if err == nil || !strings.Contains(err.Error(), "providers[0] (openai): ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v\nwant %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "Injected") || strings.Contains(err.Error(), "evil") {
				t.Errorf("the error repeats the value: %v", err)
			}
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Errorf("the error spans lines: %q", err)
			}
		})
	}
}

// What stays accepted: a User-Agent of the user's (it replaces the probe's
// default), tabs and non-ASCII text in values, names merely resembling the
// refused ones.
func TestProbeHeadersAccepted(t *testing.T) {
	headers := map[string]string{
		"User-Agent":       "acme-batch/2.1 (+https://acme.example/bots)",
		"X-Note":           "a\tb",
		"X-Team":           "Zürich",
		"X-Forwarded-Host": "gw.example",
		"Expect-CT":        "max-age=0",
		"X-Connection-Id":  "c1",
	}
	var kv []string
	for k, v := range headers {
		kv = append(kv, fmt.Sprintf("%q: %q", k, v))
	}
	c, err := resolveProbeYAML(t, "providers: [{name: openai, probe: {key_env: K, headers: {"+strings.Join(kv, ", ")+"}}}]")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := c.Lookup("openai")
	for k, v := range headers {
		if got := p.ProbeSpec.Header.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
}
