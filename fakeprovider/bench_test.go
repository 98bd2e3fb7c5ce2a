package fakeprovider

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkChat measures the fake's own cost per admitted request (accounting
// plus response), so benchmarks of Headroom in front of it can subtract it.
func BenchmarkChat(b *testing.B) {
	for _, provider := range []string{"heroku-us", "infercom", "openai", "anthropic"} {
		b.Run(provider, func(b *testing.B) {
			s, err := NewServer(Options{Provider: provider, Limits: nil, Scale: 1e6})
			if err != nil {
				b.Fatal(err)
			}
			body := chatBody("m")
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					i++
					r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(body))
					r.Header.Set("Authorization", "Bearer k"+strconv.Itoa(i%64))
					w := httptest.NewRecorder()
					s.ServeHTTP(w, r)
					if w.Code != http.StatusOK {
						b.Fatalf("status %d", w.Code)
					}
				}
			})
		})
	}
}
