package faults

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestSecretsNeverLeak sends distinctive credentials in every place clients
// put them, through calls that succeed, fail in every way, and carry bad
// rate-limit headers; then greps /metrics, the JSON state API, the landing
// page, every response Headroom wrote and the debug-level logs.
func TestSecretsNeverLeak(t *testing.T) {
	tag := fmt.Sprintf("HRSECRET%08x", rand.Uint32())
	secrets := map[string]string{
		"bearer":  "sk-" + tag + "-bearer",
		"x-key":   tag + "-xapikey",
		"api-key": tag + "-azure",
		"query":   tag + "-query",
		"basic":   tag + "-basic",
	}
	ok := newRawUpstream(t, serveHTTP(func(c net.Conn, req *http.Request, _ []byte) bool {
		switch req.URL.Path {
		case "/v1/bad":
			io.WriteString(c, "HTTP/1.1 429 Too Many Requests\r\nx-ratelimit-limit-requests: -1\r\nx-ratelimit-remaining-requests: NaN\r\nretry-after: never\r\nContent-Length: 2\r\n\r\n{}")
		case "/v1/reset":
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial")
			return false
		case "/v1/slow":
			io.Copy(io.Discard, c)
			return false
		default:
			io.WriteString(c, okResponse(`{"model":"gpt-4o","usage":{"prompt_tokens":1,"completion_tokens":2}}`))
		}
		return true
	}))
	dl, _ := net.Listen("tcp", "127.0.0.1:0")
	downURL := "http://" + dl.Addr().String()
	dl.Close()
	e := startAgent(t, []provider{{"ok", "openai", ok.url()}, {"down", "openai", downURL}, {"az", "azure-openai", ok.url()}},
		headerTimeout(300*time.Millisecond))

	var seen strings.Builder
	record := func(what string, r reply) {
		fmt.Fprintf(&seen, "== %s: %d\n", what, r.status)
		for k, vs := range r.header {
			fmt.Fprintf(&seen, "%s: %s\n", k, strings.Join(vs, ", "))
		}
		seen.Write(r.body)
		seen.WriteByte('\n')
	}
	creds := [][]string{
		{"Authorization", "Bearer " + secrets["bearer"]},
		{"X-Api-Key", secrets["x-key"], "Anthropic-Version", "2023-06-01"},
		{"Api-Key", secrets["api-key"]},
		{"Authorization", "Basic " + secrets["basic"]},
	}
	body := []byte(`{"model":"gpt-4o","api_key":"` + secrets["bearer"] + `"}`)
	for _, path := range []string{"/ok/v1/chat", "/ok/v1/bad", "/ok/v1/reset", "/ok/v1/slow", "/down/v1/chat", "/az/v1/chat", "/nope/v1/chat", "/ok/../down/v1"} {
		for _, h := range creds {
			p := path + "?key=" + secrets["query"] + "&api-version=2024-10-21"
			record(path, e.do("POST", p, body, h...))
		}
	}
	// A client that gives up mid-call.
	cl := &http.Client{Timeout: 100 * time.Millisecond}
	req, _ := http.NewRequest("POST", e.url("/ok/v1/slow?key="+secrets["query"]), strings.NewReader(string(body)))
	req.Header.Set("Authorization", "Bearer "+secrets["bearer"])
	if resp, err := cl.Do(req); err == nil {
		resp.Body.Close()
	}
	cl.CloseIdleConnections()
	// Malformed request lines with a credential in them.
	if c, err := net.Dial("tcp", e.agent.ProxyAddr); err == nil {
		fmt.Fprintf(c, "GET /ok/v1?key=%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nBad Header\r\n\r\n", secrets["query"], secrets["bearer"])
		c.SetReadDeadline(time.Now().Add(deadline))
		b, _ := io.ReadAll(c)
		c.Close()
		seen.Write(b)
	}
	waitInflightZero(t, e)

	raw, _ := e.scrape()
	seen.WriteString(raw)
	for _, path := range []string{"/api/v1/headroom", "/"} {
		resp, err := e.client.Get("http://" + e.agent.MetricsAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		seen.WriteString(string(b))
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "level=DEBUG") && !strings.Contains(logs, "level=WARN") {
		t.Logf("logs: %s", logs)
	}
	for where, text := range map[string]string{"responses, /metrics and API": seen.String(), "debug logs": logs} {
		if i := strings.Index(text, tag); i >= 0 {
			lo, hi := max(0, i-200), min(len(text), i+100)
			t.Errorf("a credential leaked into %s: …%s…", where, text[lo:hi])
		}
	}
	if !strings.Contains(raw, `key="k-`) {
		t.Errorf("no fingerprinted key label on /metrics: the test did not exercise key labels")
	}
	e.checkLeaks(ok)
}
