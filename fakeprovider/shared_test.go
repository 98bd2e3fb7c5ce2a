package fakeprovider

import (
	"testing"

	"github.com/headroomhq/headroom/catalog"
	"github.com/headroomhq/headroom/parsers"
)

// Three keys of one group drain one bucket and report its state; a key
// outside the group keeps its own.
func TestSharedKeys(t *testing.T) {
	h := newHarness(t, Options{Provider: "infercom", SharedKeys: [][]string{{"k1", "k2", "k3"}},
		Limits: []catalog.Limit{{Resource: "requests", Window: "1m", Value: 5}}}, "2026-11-23T10:00:10Z")
	model := h.s.defaultModel()
	want := []struct {
		key       string
		status    int
		remaining float64
	}{{"k1", 200, 4}, {"k2", 200, 3}, {"k3", 200, 2}, {"k1", 200, 1}, {"k2", 200, 0}, {"k3", 429, 0}, {"solo", 200, 4}}
	for i, w := range want {
		r := h.chat(w.key, model)
		o, ok := r.res.Find(parsers.Requests, "1m")
		if r.status != w.status || !ok || o.Remaining != w.remaining || o.Limit != 5 {
			t.Fatalf("request %d (%s): %d, requests/1m %+v, want %d with %v left", i, w.key, r.status, o, w.status, w.remaining)
		}
	}
	for _, k := range []string{"k1", "k2", "k3"} {
		for _, s := range h.s.Snapshot(k, model) {
			if s.Resource == "requests" && s.Window == "1m" && s.Remaining != 0 {
				t.Errorf("%s: snapshot %+v, want the bucket's 0", k, s)
			}
		}
	}
	// The window resets at the minute: the bucket refills for every key.
	h.clk.Set("2026-11-23T10:01:00Z")
	if r := h.chat("k3", model); r.status != 200 {
		t.Fatalf("after the reset: %d", r.status)
	}
}

func TestSharedKeysInvalid(t *testing.T) {
	for _, g := range [][][]string{{{}}, {{"a", ""}}, {{"a", "b"}, {"b"}}} {
		if _, err := NewServer(Options{Provider: "infercom", SharedKeys: g}); err == nil {
			t.Errorf("%q accepted", g)
		}
	}
}
