package collector

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/headroomhq/headroom/parsers"
)

// parse runs a registered dialect on a response with the given headers.
func parse(t testing.TB, dialect string, status int, kv ...string) *parsers.Result {
	t.Helper()
	d, ok := parsers.Lookup(dialect)
	if !ok {
		t.Fatalf("no dialect %s", dialect)
	}
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	var r parsers.Result
	d.Parse(&parsers.Input{Status: status, Header: h, Received: time.Unix(1700000000, 0)}, &r)
	return &r
}

// Unread rate-limit-looking names are counted per provider and name, at
// most MaxUnreadNames names per provider, the rest as other.
func TestDriftUnreadCap(t *testing.T) {
	c, reg, clk := newTest(t, Options{})
	l := c.Labels("heroku-us", "claude-4-sonnet", "k-abc")
	// 6 responses of 10 names each: x-quota-00 … x-quota-59. A header map
	// hands a response's names over in random order, so the cap falls
	// between two responses: the first five fill it.
	for resp := 0; resp < 6; resp++ {
		var kv []string
		for i := 0; i < 10; i++ {
			kv = append(kv, fmt.Sprintf("X-Quota-%02d", resp*10+i), "1")
		}
		kv = append(kv, "x-ratelimit-limit-requests", "150", "Content-Type", "application/json")
		c.ObserveResponse(l, 200, parse(t, "heroku", 200, kv...), clk.Now())
	}
	// Two of the first 50 names again, and one of the later ones.
	c.ObserveResponse(l, 200, parse(t, "heroku", 200, "x-quota-00", "1", "x-quota-49", "1", "x-quota-55", "1"), clk.Now())
	got := gather(t, reg, "headroom_header_drift_unread_total")
	if n := strings.Count(got, "\n"); n != MaxUnreadNames+1 {
		t.Errorf("%d series, want %d names and other:\n%s", n, MaxUnreadNames, got)
	}
	for _, want := range []string{
		"headroom_header_drift_unread_total{header=x-quota-00,provider=heroku-us} 2\n",
		"headroom_header_drift_unread_total{header=x-quota-01,provider=heroku-us} 1\n",
		"headroom_header_drift_unread_total{header=x-quota-49,provider=heroku-us} 2\n",
		"headroom_header_drift_unread_total{header=other,provider=heroku-us} 11\n", // x-quota-50…59, then 55 again
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	if strings.Contains(got, "x-ratelimit-limit-requests") || strings.Contains(got, "content-type") || strings.Contains(got, "x-quota-50") {
		t.Errorf("a read, unrelated or capped name has its own series:\n%s", got)
	}
	// Another provider has a cap of its own.
	c.ObserveResponse(c.Labels("predictions", "m", "k"), 200, parse(t, "predictions", 200, "X-Quota-99", "1"), clk.Now())
	if got := gather(t, reg, "headroom_header_drift_unread_total"); !strings.Contains(got, "{header=x-quota-99,provider=predictions} 1\n") {
		t.Errorf("predictions: %s", got)
	}
}

// A family a model used to send is counted each time a response with other
// families of the dialect lacks it; responses with none of them do not
// count, and other models remember their own.
func TestDriftMissingFamilies(t *testing.T) {
	c, reg, clk := newTest(t, Options{})
	c.SetProviders([]Provider{{Name: "anthropic", Family: "anthropic", Dialect: "anthropic"}})
	opus, haiku := c.Labels("anthropic", "claude-opus-4-6", "k"), c.Labels("anthropic", "claude-haiku-4-5", "k")
	full := []string{"anthropic-ratelimit-requests-limit", "50", "anthropic-ratelimit-requests-remaining", "49",
		"anthropic-ratelimit-input-tokens-limit", "30000", "anthropic-ratelimit-input-tokens-remaining", "29000"}
	requestsOnly := full[:4]
	observe := func(l Labels, status int, kv ...string) {
		c.ObserveResponse(l, status, parse(t, "anthropic", status, kv...), clk.Now())
	}
	observe(opus, 200, full...)
	observe(opus, 200, requestsOnly...)                                                        // 1: input tokens stopped
	observe(opus, 429, "retry-after", "5")                                                     // says nothing
	observe(opus, 200, requestsOnly...)                                                        // 2
	observe(opus, 200, append(requestsOnly, "anthropic-priority-input-tokens-limit", "10")...) // 3; priority is conditional
	observe(haiku, 200, requestsOnly...)                                                       // never sent input tokens: nothing
	observe(opus, 200, full...)                                                                // back: not counted
	got := gather(t, reg, "headroom_header_drift_missing_total")
	want := "headroom_header_drift_missing_total{family=anthropic-ratelimit-input-tokens-*,model=claude-opus-4-6,provider=anthropic} 3\n"
	if got != want {
		t.Errorf("got\n%swant\n%s", got, want)
	}
	// Forgotten with the provider.
	c.SetProviders(nil)
	c.SetProviders([]Provider{{Name: "anthropic", Family: "anthropic", Dialect: "anthropic"}})
	observe(c.Labels("anthropic", "claude-opus-4-6", "k"), 200, requestsOnly...)
	if got2 := gather(t, reg, "headroom_header_drift_missing_total"); got2 != want {
		t.Errorf("after the provider was gone and came back:\n%s", got2)
	}
}

// A limit that applies to the key goes to the series without a model.
func TestPerKeyObservation(t *testing.T) {
	c, reg, clk := newTest(t, Options{})
	l := c.Labels("heroku-us", "claude-4-sonnet", "k-abc")
	c.ObserveResponse(l, 200, &parsers.Result{Observations: []parsers.Observation{
		{Resource: "usage", Window: "5h", Limit: 1, Remaining: 0.25, HasLimit: true, HasRemaining: true, PerKey: true},
		{Resource: "requests", Window: "1m", Limit: 150, Remaining: 149, HasLimit: true, HasRemaining: true},
	}}, clk.Now())
	got := gather(t, reg, "headroom_ratelimit_remaining")
	for _, want := range []string{
		"headroom_ratelimit_remaining{key=k-abc,model=,provider=heroku-us,resource=usage,window=5h} 0.25\n",
		"headroom_ratelimit_remaining{key=k-abc,model=claude-4-sonnet,provider=heroku-us,resource=requests,window=1m} 149\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
}

// The drift counting costs a response little: side by side, the same
// response with and without what drift counts (families that arrived,
// unread names), observed by parallel goroutines.
func BenchmarkObserveResponseDrift(b *testing.B) {
	c := New(Options{})
	c.SetProviders([]Provider{{Name: "anthropic", Family: "anthropic", Dialect: "anthropic"}})
	kv := []string{"anthropic-ratelimit-requests-limit", "50", "anthropic-ratelimit-requests-remaining", "49",
		"anthropic-ratelimit-tokens-limit", "60000", "anthropic-ratelimit-tokens-remaining", "59000",
		"anthropic-ratelimit-input-tokens-limit", "30000", "anthropic-ratelimit-input-tokens-remaining", "29000",
		"anthropic-ratelimit-output-tokens-limit", "8000", "anthropic-ratelimit-output-tokens-remaining", "8000"}
	with := parse(b, "anthropic", 200, kv...)
	unread := parse(b, "anthropic", 200, append(kv, "x-new-quota", "1")...)
	without := &parsers.Result{Observations: with.Observations}
	l := c.Labels("anthropic", "claude-opus-4-6", "k")
	now := time.Unix(1700000000, 0)
	for _, bc := range []struct {
		name string
		r    *parsers.Result
	}{{"without", without}, {"families", with}, {"families+unread", unread}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					c.ObserveResponse(l, 200, bc.r, now)
				}
			})
		})
	}
}

// Concurrent responses of one model count each missing family exactly
// once per response.
func TestDriftConcurrent(t *testing.T) {
	c, reg, clk := newTest(t, Options{})
	c.SetProviders([]Provider{{Name: "anthropic", Family: "anthropic", Dialect: "anthropic"}})
	l := c.Labels("anthropic", "claude-opus-4-6", "k")
	c.ObserveResponse(l, 200, parse(t, "anthropic", 200, "anthropic-ratelimit-requests-limit", "5", "anthropic-ratelimit-tokens-limit", "5"), clk.Now())
	r := parse(t, "anthropic", 200, "anthropic-ratelimit-requests-limit", "5")
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				c.ObserveResponse(l, 200, r, clk.Now())
			}
		}()
	}
	wg.Wait()
	if got := gather(t, reg, "headroom_header_drift_missing_total"); !strings.HasSuffix(got, " 800\n") {
		t.Errorf("got %s, want 800", got)
	}
}
