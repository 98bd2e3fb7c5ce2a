package decide

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/headroomhq/headroom/parsers"
)

// One bucket, three keys, two replicas: each replica's truth is the latest
// observation by any member key it saw, minus what it sent since.
func TestBucketMergedAcrossKeysAndReplicas(t *testing.T) {
	c := &clock{}
	r1, r2 := newTestEngine(t, c, false), newTestEngine(t, c, false)
	model := "gpt-4o"
	reset := at(time.Minute)
	// The provider's one counter: 30 requests a minute for org-a. Calls
	// alternate replicas and keys; each answer reports what is left.
	keys := []string{"prod", "batch", "ci"}
	remaining := 30.0
	for i := 0; i < 7; i++ {
		r := r1
		if i%2 == 1 {
			r = r2
		}
		l := lbl("openai", model, keys[i%3])
		start := at(time.Duration(i) * time.Second)
		call := r.Start(l, start, 0)
		remaining--
		respond(r, l, 200, start.Add(100*time.Millisecond), obs(parsers.Requests, "1m", 30, remaining, reset))
		r.End(call)
	}
	// 23 left. r1 answered calls 0, 2, 4, 6 (the last by prod, 23 left);
	// r2 calls 1, 3, 5 (the last by ci, 24 left).
	c.set(7 * time.Second)
	for _, w := range []struct {
		e        *Engine
		name     string
		left     float64
		observed string
	}{{r1, "replica 1", 23, "prod"}, {r2, "replica 2", 24, "ci"}} {
		a := w.e.Admit(Request{Provider: "openai", Model: model, Key: "ci", Requests: 1})
		if !a.Admit || a.Bucket != "org-a" || a.Limiting.Remaining != w.left || a.Limiting.ObservedKey != w.observed {
			t.Errorf("%s: %+v %+v, want %v left as %s saw it", w.name, a, a.Limiting, w.left, w.observed)
		}
	}
	// r2 sends 24 calls through ci without an answer: it knows its own.
	for range 24 {
		r2.Start(lbl("openai", model, "ci"), at(8*time.Second), 0)
	}
	if a := r2.Admit(Request{Provider: "openai", Model: model, Key: "prod", Requests: 1}); a.Admit || a.Limiting.Remaining != 0 || a.WaitSeconds != 53 {
		t.Errorf("replica 2 after its own 24 calls: %+v %+v", a, a.Limiting)
	}
	// r1 does not see r2's calls (per replica, documented): 23 left.
	if a := r1.Admit(Request{Provider: "openai", Model: model, Key: "prod", Requests: 1}); !a.Admit || a.Limiting.Remaining != 23 {
		t.Errorf("replica 1: %+v %+v", a, a.Limiting)
	}
	// A key outside the bucket has its own.
	if a := r1.Admit(Request{Provider: "openai", Model: model, Key: "k-999999999999", Requests: 1}); a.Reason != ReasonNoData {
		t.Errorf("key outside the bucket: %+v", a)
	}

	want := `
# HELP headroom_bucket_info One series per key of a configured shared bucket (the providers file's buckets: section).
# TYPE headroom_bucket_info gauge
headroom_bucket_info{bucket="org-a",key="batch",provider="openai"} 1
headroom_bucket_info{bucket="org-a",key="ci",provider="openai"} 1
headroom_bucket_info{bucket="org-a",key="prod",provider="openai"} 1
`
	if err := testutil.CollectAndCompare(stateCollector{r1.m}, strings.NewReader(want), "headroom_bucket_info"); err != nil {
		t.Error(err)
	}
}

// Keys that drain one counter look shared; keys with the same limit and
// aligned resets that drain their own do not.
func TestSharedKeysSuspected(t *testing.T) {
	c := &clock{}
	e := newTestEngine(t, c, false)
	model := "claude-4-sonnet"
	reset := at(time.Minute)
	// k-a and k-b share one counter; k-c and k-d have their own, with the
	// same limit and reset (fixed minute windows).
	shared, cOwn, dOwn := 100.0, 100.0, 100.0
	for i := 0; i < 12; i++ {
		c.set(time.Duration(i) * time.Second)
		shared--
		k := "k-aaaaaaaaaaaa"
		if i%2 == 1 {
			k = "k-bbbbbbbbbbbb"
		}
		respond(e, lbl("heroku-us", model, k), 200, c.now, obs(parsers.Requests, "1m", 100, shared, reset))
		// c drains faster than d: d's later observation shows more left.
		if i%2 == 0 {
			cOwn -= 3
			respond(e, lbl("heroku-us", model, "k-cccccccccccc"), 200, c.now.Add(time.Millisecond), obs(parsers.Requests, "1m", 100, cOwn, reset))
		} else {
			dOwn--
			respond(e, lbl("heroku-us", model, "k-dddddddddddd"), 200, c.now.Add(time.Millisecond), obs(parsers.Requests, "1m", 100, dOwn, reset))
		}
	}
	_, got := e.Buckets()
	if len(got) != 1 || got[0] != (SuspectedPair{Provider: "heroku-us", Key: "k-aaaaaaaaaaaa", Peer: "k-bbbbbbbbbbbb", Consistent: 11, Contradicting: 0}) {
		t.Fatalf("suspected %+v", got)
	}
	want := `
# HELP headroom_shared_keys_suspected_info Key pairs of a provider that look like one bucket (same limit, resets within 1 s, remaining moving together) but are in no configured bucket.
# TYPE headroom_shared_keys_suspected_info gauge
headroom_shared_keys_suspected_info{key="k-aaaaaaaaaaaa",peer="k-bbbbbbbbbbbb",provider="heroku-us"} 1
`
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(stateCollector{e.m})
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "headroom_shared_keys_suspected_info"); err != nil {
		t.Error(err)
	}
	// Configured buckets' keys are never reported: org-a's keys drain one
	// counter by configuration.
	for i := 0; i < 8; i++ {
		c.set(time.Duration(20+i) * time.Second)
		respond(e, lbl("openai", "gpt-4o", []string{"prod", "batch"}[i%2]), 200, c.now, obs(parsers.Requests, "1m", 50, float64(40-i), reset))
	}
	if _, got := e.Buckets(); len(got) != 1 {
		t.Fatalf("configured keys reported: %+v", got)
	}
}
