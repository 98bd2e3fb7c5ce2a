package agent_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/headroomhq/headroom/decide"
	"github.com/headroomhq/headroom/internal/testenv"
	"github.com/headroomhq/headroom/internal/testtool/loopback"
	"github.com/headroomhq/headroom/keyid"
)

// The admission answer against the proxy, in one run: its cost per call
// must stay a small share (at most 10 %) of what the proxy spends on a
// request, or asking before every call would cost more than relaying it.
//
//	go test -run XXX -bench Admit -benchmem ./internal/agent
//
// cpu-ns/op is the whole process's CPU time (client, Headroom and the
// canned upstream, GC included) per operation:
//
//   - direct: a client and the canned upstream over loopback, no Headroom;
//   - proxy: the same request through Headroom's proxy (proxy - direct is
//     the proxy's own CPU per request);
//   - admit: GET /api/v1/admit's handler in-process (query parsing, the
//     decision, the JSON answer), the admission path's own cost;
//   - admit-http: the same over loopback HTTP, what a router pays in all;
//   - share: proxy and admit calls in turn within one benchmark, reporting
//     admit-cpu-%-of-proxy (admit / (proxy - direct)).

const admitBenchBody = `{"id":"chatcmpl-bench","object":"chat.completion","model":"gpt-4o","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":9,"total_tokens":18}}`

var admitBenchAnswer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" +
	"x-ratelimit-limit-requests: 10000\r\nx-ratelimit-remaining-requests: 9999\r\nx-ratelimit-reset-requests: 6ms\r\n" +
	"x-ratelimit-limit-tokens: 2000000\r\nx-ratelimit-remaining-tokens: 1999982\r\nx-ratelimit-reset-tokens: 1ms\r\n" +
	"Content-Length: " + strconv.Itoa(len(admitBenchBody)) + "\r\n\r\n" + admitBenchBody

// discardWriter is a ResponseWriter that keeps nothing (its header map is
// reused).
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

const admitQuery = "provider=up&model=gpt-4o&key=prod&requests=1&tokens=500&max_tokens=200"

func BenchmarkAdmit(b *testing.B) {
	up := loopback.Upstream(b, admitBenchAnswer)
	a := testenv.Start(b, testenv.Options{ProvidersYAML: "providers:\n  - name: up\n    dialect: openai\n    upstream: http://" + up +
		"\n    key_aliases: {" + keyFP + ": prod}\nbuckets:\n  - {name: org, provider: up, keys: [prod]}\n"})
	const body = `{"model":"gpt-4o","messages":[{"role":"user","content":"Hello!"}],"max_tokens":20}`
	proxy := loopback.Dial(b, a.ProxyAddr, loopback.Post("/up/v1/chat/completions", benchKey, body))
	proxy.Do(b) // the bucket has data from here on
	admitHTTP := loopback.Dial(b, a.MetricsAddr, "GET /api/v1/admit?"+admitQuery+" HTTP/1.1\r\nHost: x\r\n\r\n")
	e := a.Decide()
	req := httptest.NewRequest("GET", "/api/v1/admit?"+admitQuery, nil)
	w := &discardWriter{h: http.Header{}}
	if ans := e.Admit(mustParse(b, e.ParseRequest)); ans.Limiting == nil {
		b.Fatalf("the bucket has no data: %+v", ans)
	}
	direct := loopback.Dial(b, up, loopback.Post("/v1/chat/completions", benchKey, body))
	run := func(name string, op func()) {
		b.Run(name, func(b *testing.B) { loopback.Run(b, op) })
	}
	run("direct", func() { direct.Do(b) })
	run("proxy", func() { proxy.Do(b) })
	run("admit", func() { e.ServeAdmit(w, req) })
	run("admit-http", func() { admitHTTP.Do(b) })
	b.Run("share", func(b *testing.B) {
		// Each phase runs b.N times; the CPU of each is measured apart.
		n := b.N
		b.ResetTimer()
		c0 := loopback.CPUTime()
		for range n {
			direct.Do(b)
		}
		c1 := loopback.CPUTime()
		for range n {
			proxy.Do(b)
		}
		c2 := loopback.CPUTime()
		for range n {
			e.ServeAdmit(w, req)
		}
		c3 := loopback.CPUTime()
		d, p, ad := float64(c1-c0)/float64(n), float64(c2-c1)/float64(n), float64(c3-c2)/float64(n)
		b.ReportMetric(p-d, "proxy-cpu-ns/req")
		b.ReportMetric(ad, "admit-cpu-ns/call")
		b.ReportMetric(100*ad/(p-d), "admit-cpu-%-of-proxy")
	})
}

const benchKey = "sk-bench-admit-key-0001"

// keyFP is benchKey's fingerprint.
var keyFP = keyid.Fingerprint(benchKey)

func mustParse(b *testing.B, parse func(string) (decide.Request, *decide.QueryError)) decide.Request {
	r, err := parse(admitQuery)
	if err != nil {
		b.Fatal(err)
	}
	return r
}
