package decide

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/headroomhq/headroom/parsers"
)

func TestLimitChanges(t *testing.T) {
	c := &clock{}
	e := newTestEngine(t, c, false)
	steps := []struct {
		key   string
		limit float64
	}{
		{"prod", 500}, {"prod", 500}, // first sight, then unchanged: no change
		{"prod", 100},                // a tier downgrade
		{"prod", 100}, {"prod", 200}, // up
		{"other", 500}, {"other", 100}, // the overflow key mixes identities: ignored
	}
	for i, s := range steps {
		c.set(time.Duration(i) * time.Second)
		respond(e, lbl("openai", "gpt-4o", s.key), 200, c.now, obs(parsers.Requests, "1m", s.limit, s.limit-1, at(time.Minute)))
	}
	got := e.Changes()
	if len(got) != 2 {
		t.Fatalf("%d changes: %+v", len(got), got)
	}
	want := []Change{
		{Time: "2026-12-01T12:00:04Z", Provider: "openai", Model: "gpt-4o", Key: "prod", Resource: "requests", Window: "1m", Before: 100, After: 200, Direction: Up},
		{Time: "2026-12-01T12:00:02Z", Provider: "openai", Model: "gpt-4o", Key: "prod", Resource: "requests", Window: "1m", Before: 500, After: 100, Direction: Down},
	}
	for i := range want {
		g := got[i]
		g.at = time.Time{}
		if g != want[i] {
			t.Errorf("change %d: %+v, want %+v", i, g, want[i])
		}
	}
	for dir, n := range map[string]float64{Down: 1, Up: 1} {
		if v := testutil.ToFloat64(e.m.changes.WithLabelValues("openai", "gpt-4o", "prod", "requests", "1m", dir)); v != n {
			t.Errorf("%s: %v", dir, v)
		}
	}
	if n := testutil.CollectAndCount(e.m.changes); n != 2 {
		t.Errorf("%d change series, want 2 (none for the overflow key)", n)
	}
}

// The log keeps the last MaxChanges, newest first.
func TestLimitChangesAreBounded(t *testing.T) {
	c := &clock{}
	e := newTestEngine(t, c, false)
	for i := 0; i <= MaxChanges+10; i++ {
		c.set(time.Duration(i) * time.Second)
		respond(e, lbl("openai", "gpt-4o", "prod"), 200, c.now, obs(parsers.Requests, "1m", float64(1000+i), 1, at(time.Hour)))
	}
	got := e.Changes()
	if len(got) != MaxChanges || got[0].After != 1000+MaxChanges+10 || got[MaxChanges-1].After != 1011 {
		t.Fatalf("%d kept, newest %+v, oldest %+v", len(got), got[0], got[len(got)-1])
	}
}
