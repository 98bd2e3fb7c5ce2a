package collector

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/headroomhq/headroom/parsers"
)

// Regression (found by test/faults): a model name that is not valid UTF-8
// (from a request body, or cut mid-rune by the 128-byte bound) made
// client_golang panic, in the request goroutine (WithLabelValues) and, for
// the rate-limit gauges, in Collect, which runs outside any recover: one
// request could bring the agent down at the next scrape.
func TestLabelsAreValidUTF8(t *testing.T) {
	c, reg, _ := newTest(t, Options{})
	for _, model := range []string{"\xff\xfe", "ok\xc3", strings.Repeat("é", 100), strings.Repeat("a", 127) + "é"} {
		l := c.Labels("heroku-us", model, "k-0123456789ab")
		if !utf8.ValidString(l.Model) || len(l.Model) > 128 {
			t.Errorf("Labels(%q).Model = %q: not valid UTF-8 or longer than 128 bytes", model, l.Model)
		}
		r := &parsers.Result{Observations: []parsers.Observation{{Resource: parsers.Requests, Window: "1m", Limit: 10, HasLimit: true}}}
		c.ObserveResponse(l, 429, r, time.Unix(1700000000, 0))
		c.ObserveCompletion(l, 200, time.Second, 1, 1)
	}
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}
}
