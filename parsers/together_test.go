package parsers

import (
	"net/http"
	"testing"
	"time"
)

// The static limit is the contract's requests and tokens, the dynamic one
// its own resources: both are exported, neither overwrites the other.
func TestTogetherStaticAndDynamic(t *testing.T) {
	type lr struct{ limit, remaining float64 }
	cases := []struct {
		name string
		kv   []string
		want map[string]lr
	}{
		{"static only", []string{"x-ratelimit-limit", "10", "x-ratelimit-remaining", "9", "x-tokenlimit-limit", "3000", "x-tokenlimit-remaining", "2000"},
			map[string]lr{Requests: {10, 9}, Tokens: {3000, 2000}}},
		{"dynamic only", []string{"x-ratelimit-limit-dynamic", "2", "x-ratelimit-remaining-dynamic", "1", "x-tokenlimit-limit-dynamic", "500", "x-tokenlimit-remaining-dynamic", "400"},
			map[string]lr{DynamicRequests: {2, 1}, DynamicTokens: {500, 400}}},
		{"both", []string{
			"x-ratelimit-limit", "10", "x-ratelimit-remaining", "9", "x-tokenlimit-limit", "3000", "x-tokenlimit-remaining", "2000",
			"x-ratelimit-limit-dynamic", "2", "x-ratelimit-remaining-dynamic", "1", "x-tokenlimit-limit-dynamic", "500", "x-tokenlimit-remaining-dynamic", "400",
		}, map[string]lr{Requests: {10, 9}, Tokens: {3000, 2000}, DynamicRequests: {2, 1}, DynamicTokens: {500, 400}}},
		{"mixed per resource", []string{"x-ratelimit-limit", "10", "x-ratelimit-remaining", "9", "x-tokenlimit-limit-dynamic", "500", "x-tokenlimit-remaining-dynamic", "400"},
			map[string]lr{Requests: {10, 9}, DynamicTokens: {500, 400}}},
	}
	for _, tc := range cases {
		r := dlParse(t, Together, dlInput(200, "", tc.kv...))
		if len(r.Observations) != len(tc.want) {
			t.Errorf("%s: %+v", tc.name, r.Observations)
			continue
		}
		for res, w := range tc.want {
			if o := dlFind(t, r, res, "1s"); o.Limit != w.limit || o.Remaining != w.remaining {
				t.Errorf("%s: %s %+v, want %+v", tc.name, res, o, w)
			}
		}
	}
	// Both request limits share x-ratelimit-reset.
	r := dlParse(t, Together, dlInput(200, "", "x-ratelimit-limit", "10", "x-ratelimit-limit-dynamic", "2", "x-ratelimit-reset", "1"))
	if a, b := dlFind(t, r, Requests, "1s").Reset, dlFind(t, r, DynamicRequests, "1s").Reset; !a.Equal(dlReceived.Add(time.Second)) || !b.Equal(a) {
		t.Errorf("resets %v and %v", a, b)
	}
}

func TestTogetherReset(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want time.Time
	}{
		{"1", dlReceived.Add(time.Second)},
		{"0.25", dlReceived.Add(250 * time.Millisecond)},
		{"0", dlReceived},
		{"1779537605", time.Unix(1779537605, 0)}, // an epoch value is still recognised
	} {
		r := dlParse(t, Together, dlInput(200, "", "x-ratelimit-limit", "10", "x-ratelimit-remaining", "9", "x-ratelimit-reset", tc.v))
		if got := dlFind(t, r, Requests, "1s").Reset; !got.Equal(tc.want) {
			t.Errorf("reset %q = %v, want %v", tc.v, got, tc.want)
		}
	}
	// The reset describes the request limit only.
	r := dlParse(t, Together, dlInput(200, "", "x-ratelimit-reset", "1", "x-tokenlimit-limit", "3000", "x-tokenlimit-remaining", "1"))
	if o := dlFind(t, r, Tokens, "1s"); !o.Reset.IsZero() || len(r.Observations) != 1 {
		t.Errorf("%+v", r.Observations)
	}
}

func TestTogether429Attribution(t *testing.T) {
	cases := []struct {
		name, body string
		kv         []string
		want       string
	}{
		{"token body beats zero requests", `{"error":{"type":"dynamic_token_limited"}}`, []string{"x-ratelimit-limit-dynamic", "1", "x-ratelimit-remaining-dynamic", "0"}, DynamicTokens},
		{"request body", `{"error":{"type":"dynamic_request_limited"}}`, nil, DynamicRequests},
		{"no body: zero remaining", "", []string{"x-tokenlimit-limit", "10", "x-tokenlimit-remaining", "0", "x-ratelimit-limit", "5", "x-ratelimit-remaining", "3"}, Tokens},
		{"legacy credit_limit body", `{"error":{"message":"You have been rate limited.","type":"credit_limit"}}`, nil, ""},
	}
	for _, tc := range cases {
		r := dlParse(t, Together, dlInput(http.StatusTooManyRequests, tc.body, tc.kv...))
		if r.ThrottledResource != tc.want {
			t.Errorf("%s: throttled %q, want %q", tc.name, r.ThrottledResource, tc.want)
		}
	}
	// A 503 (within the dynamic rate) is not attributed.
	r := dlParse(t, Together, dlInput(http.StatusServiceUnavailable, `{"error":{"type":"dynamic_request_limited"}}`))
	if r.ThrottledResource != "" {
		t.Errorf("503 attributed to %q", r.ThrottledResource)
	}
	if !Together.WantsBody(http.StatusTooManyRequests) || Together.WantsBody(http.StatusOK) {
		t.Error("WantsBody")
	}
}

func TestTogetherRandomHeaders(t *testing.T) {
	dlFuzzHeaders(t, Together, []string{"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "x-tokenlimit-limit", "x-tokenlimit-remaining",
		"x-ratelimit-limit-dynamic", "x-ratelimit-remaining-dynamic", "x-tokenlimit-limit-dynamic", "x-tokenlimit-remaining-dynamic", "Date"})
}

var togetherBench = dlInput(http.StatusTooManyRequests, `{"error":{"message":"Request rate exceeds your dynamic rate for this model","type":"dynamic_request_limited","param":null,"code":null}}`,
	"Date", "Mon, 02 Feb 2026 12:00:00 GMT",
	"Content-Type", "application/json",
	"x-ratelimit-limit", "10",
	"x-ratelimit-remaining", "4",
	"x-ratelimit-limit-dynamic", "1",
	"x-ratelimit-remaining-dynamic", "0",
	"x-ratelimit-reset", "1",
	"x-tokenlimit-limit", "3000",
	"x-tokenlimit-remaining", "2500",
	"x-tokenlimit-limit-dynamic", "2000",
	"x-tokenlimit-remaining-dynamic", "1800",
	"retry-after", "1",
)

func TestTogetherAllocs(t *testing.T) {
	if a := dlAllocs(Together, togetherBench); a > 2 {
		t.Errorf("%v allocations per parse, want ≤ 2", a)
	}
}

func BenchmarkTogether(b *testing.B) {
	var r Result
	b.ReportAllocs()
	for b.Loop() {
		r.Reset()
		Together.Parse(togetherBench, &r)
	}
}
