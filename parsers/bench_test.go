package parsers

import (
	"net/http"
	"path/filepath"
	"testing"
)

// Normalisation cost per dialect, on a full header set: for each registered
// dialect the clean golden capture that yields the most observations (the
// proxy's hot path: every response), and its 429 capture with a body where
// the dialect reads one (rare path). Target (issue 7): ≤ 1 µs and ≤ 2
// allocations per header-path parse.
//
//	go test -run XXX -bench BenchmarkDialects -benchmem ./parsers

type benchCase struct {
	dialect Dialect
	file    string
	in      *Input
	obs     int
}

// fullHeaderSet picks, per dialect, the error-free non-429 capture with
// the most observations, and the 429 capture whose body the dialect reads.
func fullHeaderSet(tb testing.TB) (hot, body []benchCase) {
	tb.Helper()
	for _, name := range Names() {
		d, _ := Lookup(name)
		files, _ := filepath.Glob(filepath.Join("testdata", "golden", name, "*.http"))
		var best, best429 benchCase
		for _, f := range files {
			in := readCapture(tb, f)
			var r Result
			if !d.WantsBody(in.Status) {
				in.Body = nil // the proxy reads bodies only where the dialect asks
			}
			d.Parse(in, &r)
			c := benchCase{d, filepath.Base(f), in, len(r.Observations)}
			if len(r.Errors) > 0 {
				continue
			}
			if in.Status == http.StatusTooManyRequests {
				if len(in.Body) > 0 && (best429.in == nil || c.obs > best429.obs) {
					best429 = c
				}
				continue
			}
			if best.in == nil || c.obs > best.obs {
				best = c
			}
		}
		if best.in != nil {
			hot = append(hot, best)
		}
		if best429.in != nil {
			body = append(body, best429)
		}
	}
	return hot, body
}

func BenchmarkDialects(b *testing.B) {
	hot, body := fullHeaderSet(b)
	run := func(name string, c benchCase) {
		b.Run(name, func(b *testing.B) {
			var r Result
			c.dialect.Parse(c.in, &r)
			b.ReportAllocs()
			for b.Loop() {
				r.Reset()
				c.dialect.Parse(c.in, &r)
			}
			b.ReportMetric(float64(c.obs), "observations") // after b.Loop, which resets metrics
		})
	}
	for _, c := range hot {
		run(c.dialect.Name(), c)
	}
	// As the proxy's fast path passes it: the fields, no map.
	for _, c := range hot {
		if ReadsFields(c.dialect) {
			run(c.dialect.Name()+"/fields", asFields(c))
		}
	}
	for _, c := range body {
		run(c.dialect.Name()+"/429-body", c)
	}
}

// TestDialectAllocBudget holds every dialect's header path to the target of
// at most 2 allocations per parse, with the Result reused as the proxy does.
func TestDialectAllocBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	hot, _ := fullHeaderSet(t)
	// Dialects without a clean non-429 capture (openrouter reads only 429
	// bodies) have no header path to hold to it.
	for _, c := range hot {
		if ReadsFields(c.dialect) {
			hot = append(hot, asFields(c))
		}
	}
	for _, c := range hot {
		var r Result
		c.dialect.Parse(c.in, &r)
		a := testing.AllocsPerRun(200, func() {
			r.Reset()
			c.dialect.Parse(c.in, &r)
		})
		if a > 2 {
			t.Errorf("%s (%s): %v allocations per parse, target ≤ 2", c.dialect.Name(), c.file, a)
		}
	}
}

// asFields is c with its header passed as fields (see fieldsOf).
func asFields(c benchCase) benchCase {
	in := *c.in
	in.Fields, _ = fieldsOf(in.Header, false)
	in.Header = nil
	c.in, c.file = &in, c.file+" (fields)"
	return c
}
