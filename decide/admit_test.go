package decide

import (
	"testing"
	"time"

	"github.com/headroomhq/headroom/parsers"
)

// Admission with reservations in flight: the provider's last word minus
// what this Headroom started for the bucket since.
func TestAdmitCountsCallsSinceTheObservation(t *testing.T) {
	c := &clock{}
	c.set(0)
	e := newTestEngine(t, c, false)
	model := "gpt-4o"
	reset := at(40 * time.Second)
	// A call through prod answered at 10s: 5 requests and 1000 tokens left.
	e.Start(lbl("openai", model, "prod"), at(9*time.Second), 0)
	respond(e, lbl("openai", model, "prod"), 200, at(10*time.Second),
		obs(parsers.Requests, "1m", 100, 5, reset), obs(parsers.Tokens, "1m", 10000, 1000, reset))
	// Three calls start after it through the bucket's other keys, one
	// reserving max_tokens 300; none has answered.
	var calls []Call
	for i, k := range []string{"batch", "ci", "batch"} {
		mt := int64(0)
		if i == 1 {
			mt = 300
		}
		calls = append(calls, e.Start(lbl("openai", model, k), at(11*time.Second), mt))
	}
	c.set(12 * time.Second)

	cases := []struct {
		name      string
		req       Request
		admit     bool
		reason    string
		resource  string
		remaining float64
		sent      float64
		wait      float64
	}{
		// requests: 5 - 3 = 2 left, share 0.02; tokens 1000 - 300 = 700, share 0.07.
		{"two requests fit", Request{Provider: "openai", Model: model, Key: "ci", Requests: 2}, true, ReasonWithinLimits, parsers.Requests, 2, 3, 0},
		{"three do not", Request{Provider: "openai", Model: model, Key: "ci", Requests: 3}, false, ReasonExhausted, parsers.Requests, 2, 3, 28},
		{"tokens beyond the 700 left", Request{Provider: "openai", Model: model, Key: "prod", Requests: 1, Tokens: 701}, false, ReasonExhausted, parsers.Tokens, 700, 300, 28},
		{"max_tokens counts against tokens", Request{Provider: "openai", Model: model, Key: "prod", Requests: 1, MaxTokens: 700}, true, ReasonWithinLimits, parsers.Requests, 2, 3, 0},
		{"fingerprint of a member", Request{Provider: "openai", Model: model, Key: "k-222222222222", Requests: 1}, true, ReasonWithinLimits, parsers.Requests, 2, 3, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := e.Admit(tc.req)
			if a.Admit != tc.admit || a.Reason != tc.reason || a.Bucket != "org-a" {
				t.Fatalf("admit %v reason %s bucket %q, want %v %s org-a", a.Admit, a.Reason, a.Bucket, tc.admit, tc.reason)
			}
			l := a.Limiting
			if l == nil || l.Resource != tc.resource || l.Remaining != tc.remaining || l.SentSince != tc.sent || a.WaitSeconds != tc.wait {
				t.Fatalf("limiting %+v wait %v, want %s remaining %v sent %v wait %v", l, a.WaitSeconds, tc.resource, tc.remaining, tc.sent, tc.wait)
			}
			if *a.AgeSeconds != 2 || *l.ResetInSeconds != 28 || l.ObservedKey != "prod" {
				t.Errorf("age %v reset in %v observed by %s", *a.AgeSeconds, *l.ResetInSeconds, l.ObservedKey)
			}
		})
	}

	// The batch call's answer is the bucket's new truth: 1 request left,
	// and the two calls still in flight started before it (counted by the
	// provider already), so nothing is subtracted.
	respond(e, lbl("openai", model, "batch"), 200, at(13*time.Second),
		obs(parsers.Requests, "1m", 100, 1, reset), obs(parsers.Tokens, "1m", 10000, 700, reset))
	for _, cl := range calls {
		e.End(cl)
	}
	a := e.Admit(Request{Provider: "openai", Model: model, Key: "prod", Requests: 1})
	if !a.Admit || a.Limiting.Remaining != 1 || a.Limiting.SentSince != 0 || a.Limiting.ObservedKey != "batch" {
		t.Fatalf("after the new observation: %+v %+v", a, a.Limiting)
	}
	e.Start(lbl("openai", model, "prod"), at(14*time.Second), 0)
	if a := e.Admit(Request{Provider: "openai", Model: model, Key: "ci", Requests: 1}); a.Admit || a.Limiting.Remaining != 0 {
		t.Fatalf("the last request is in flight: %+v %+v", a, a.Limiting)
	}
	// A key of its own is not the bucket's.
	if a := e.Admit(Request{Provider: "openai", Model: model, Key: "k-999999999999", Requests: 1}); !a.Admit || a.Reason != ReasonNoData || a.Bucket != "" {
		t.Fatalf("unknown fingerprint: %+v", a)
	}
	// After the reset the data is stale: admitted.
	c.set(41 * time.Second)
	if a := e.Admit(Request{Provider: "openai", Model: model, Key: "ci", Requests: 1}); !a.Admit || a.Reason != ReasonStale {
		t.Fatalf("after the reset: %+v", a)
	}
}

// Anthropic counts max_tokens against its output-token limit at the start.
func TestAdmitReservesMaxTokensAgainstOutputTokens(t *testing.T) {
	c := &clock{}
	c.set(0)
	e := newTestEngine(t, c, false)
	l := lbl("anthropic", "claude-sonnet-4", "agents")
	reset := at(time.Minute)
	respond(e, l, 200, at(time.Second),
		obs(parsers.Requests, "1m", 50, 40, reset), obs(parsers.InputTokens, "1m", 30000, 29000, reset), obs(parsers.OutputTokens, "1m", 8000, 3000, reset))
	e.Start(l, at(2*time.Second), 2048)
	c.set(3 * time.Second)
	// 3000 - 2048 = 952 output tokens left.
	if a := e.Admit(Request{Provider: "anthropic", Model: "claude-sonnet-4", Key: "agents", Requests: 1, Tokens: 1500, MaxTokens: 1000}); a.Admit ||
		a.Limiting.Resource != parsers.OutputTokens || a.Limiting.Remaining != 952 || a.Limiting.SentSince != 2048 || a.WaitSeconds != 57 {
		t.Fatalf("%+v %+v", a, a.Limiting)
	}
	if a := e.Admit(Request{Provider: "anthropic", Model: "claude-sonnet-4", Key: "agents", Requests: 1, Tokens: 1400, MaxTokens: 900}); !a.Admit ||
		a.Limiting.Resource != parsers.OutputTokens || a.Limiting.Remaining != 952 {
		t.Fatalf("%+v %+v", a, a.Limiting)
	}
}

func TestAdmitNeverBlocksOnMissingData(t *testing.T) {
	c := &clock{}
	c.set(0)
	e := newTestEngine(t, c, false)
	for _, r := range []Request{
		{Provider: "openai", Model: "gpt-4o", Key: "prod", Requests: 1},
		{Provider: "heroku-us", Model: "claude-4-sonnet", Key: "none", Requests: 1},
		{Provider: "nope", Key: "prod", Requests: 1},
	} {
		if a := e.Admit(r); !a.Admit || a.Reason != ReasonNoData || a.Limiting != nil || a.AgeSeconds != nil {
			t.Errorf("%+v: %+v", r, a)
		}
	}
	// Old data: a window older than itself says nothing about now.
	respond(e, lbl("heroku-us", "claude-4-sonnet", "k-aaaaaaaaaaaa"), 200, at(0), obs(parsers.Requests, "1m", 10, 0, time.Time{}))
	c.set(61 * time.Second)
	if a := e.Admit(Request{Provider: "heroku-us", Model: "claude-4-sonnet", Key: "k-aaaaaaaaaaaa", Requests: 1}); !a.Admit || a.Reason != ReasonStale {
		t.Errorf("stale: %+v", a)
	}
	c.set(59 * time.Second)
	if a := e.Admit(Request{Provider: "heroku-us", Model: "claude-4-sonnet", Key: "k-aaaaaaaaaaaa", Requests: 1}); a.Admit || a.WaitSeconds != 1 {
		t.Errorf("fresh, no reset (capacity at the window's end): %+v", a)
	}
}

// Pacing fields summarise the tightest limit of the call's bucket after
// the call, and our own IETF dialect reads them back.
func TestPacingFields(t *testing.T) {
	c := &clock{}
	c.set(0)
	e := newTestEngine(t, c, true)
	l := lbl("openai", "gpt-4o", "prod")
	reset := at(30 * time.Second)
	respond(e, l, 200, at(time.Second), obs(parsers.Requests, "1m", 100, 20, reset), obs(parsers.Tokens, "1m", 10000, 5000, reset))
	call := e.Start(lbl("openai", "gpt-4o", "batch"), at(2*time.Second), 0)
	c.set(2500 * time.Millisecond)
	policy, limit, ok := e.PacingValues(call)
	if !ok || policy != `"requests-1m";q=100;w=60` || limit != `"requests-1m";r=19;t=28` {
		t.Fatalf("%q %q %v", policy, limit, ok)
	}
	h := map[string][]string{"Ratelimit-Policy": {policy}, "Ratelimit": {limit}}
	var res parsers.Result
	parsers.IETF.Parse(&parsers.Input{Status: 200, Header: h, Received: c.now}, &res)
	o, found := res.Find(parsers.Requests, "1m")
	if !found || o.Limit != 100 || o.Remaining != 19 || !o.Reset.Equal(at(30500*time.Millisecond)) {
		t.Fatalf("read back: %+v %v (errors %v)", o, found, res.Errors)
	}
	off := newTestEngine(t, c, false)
	if p, l, ok := off.PacingValues(call); ok {
		t.Fatalf("pacing off gave %q %q", p, l)
	}
}
