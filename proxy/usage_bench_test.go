package proxy

import "testing"

// benchCompletion is the body scripts/bench.sh's upstream answers with.
const benchCompletion = `{"id":"chatcmpl-bench","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I help you today?"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":9,"total_tokens":18}}`

func BenchmarkJSONSnifferUsage(b *testing.B) {
	var s jsonSniffer
	body := []byte(benchCompletion)
	b.ReportAllocs()
	for b.Loop() {
		s.head, s.tail = s.head[:0], s.tail[:0]
		s.write(body)
		if u := s.usage(); u.input != 9 || u.output != 9 || u.model != "gpt-4o" {
			b.Fatal(u)
		}
	}
}
