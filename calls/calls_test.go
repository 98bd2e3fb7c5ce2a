package calls_test

import (
	"context"
	"fmt"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/headroomhq/headroom/calls"
	"github.com/headroomhq/headroom/collector"
	"github.com/headroomhq/headroom/parsers"
)

// The sources are siblings: none imports another; what they share is this
// package (and the layers below it).
func TestSourcesAreSiblings(t *testing.T) {
	sources := []string{"proxy", "tail", "probe"}
	for _, src := range sources {
		files, err := filepath.Glob(filepath.Join("..", src, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range ast.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				for _, other := range sources {
					if other != src && path == "github.com/headroomhq/headroom/"+other {
						t.Errorf("%s imports %s: sources share package calls, not each other", f, path)
					}
				}
			}
		}
	}
}

// A call recorded by the Recorder: its limits and its completion, as every
// source's; an uncounted one (a probe's) leaves the traffic counters alone;
// hooks see the call.
func TestRecorder(t *testing.T) {
	coll := collector.New(collector.Options{})
	coll.SetProviders([]collector.Provider{{Name: "p", Family: "openai", Dialect: "openai"}})
	reg := prometheus.NewRegistry()
	if err := coll.Register(reg); err != nil {
		t.Fatal(err)
	}
	var seen []string
	rec := calls.Recorder{Coll: coll, Hooks: []calls.Hook{hookFunc(func(c *calls.Call) { seen = append(seen, c.Source) })}}
	now := time.Now()
	res := &parsers.Result{Observations: []parsers.Observation{{Resource: "requests", Window: "1m", Limit: 10, HasLimit: true, Remaining: 7, HasRemaining: true}}}
	for _, c := range []*calls.Call{
		{Source: "tail", Provider: "p", Labels: coll.Labels("p", "m", "k"), Start: now.Add(-time.Second), Received: now, End: now, Status: 200, Result: res, InputTok: 3, OutputTok: 4},
		{Source: "probe", Provider: "p", Labels: coll.Labels("p", "m", "k"), Start: now, Received: now, End: now, Status: 200, Result: res, Uncounted: true},
	} {
		rec.Answered(c)
		rec.Done(context.Background(), c)
	}
	if n, err := testutil.GatherAndCount(reg, "headroom_requests_total"); err != nil || n != 1 {
		t.Errorf("%d request series (%v), want the tail call's only", n, err)
	}
	want := `
# HELP headroom_tokens_total Tokens reported in the usage of responses.
# TYPE headroom_tokens_total counter
headroom_tokens_total{key="k",model="m",provider="p",type="input"} 3
headroom_tokens_total{key="k",model="m",provider="p",type="output"} 4
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "headroom_tokens_total"); err != nil {
		t.Error(err)
	}
	if !slices.Equal(seen, []string{"tail", "probe"}) {
		t.Errorf("hooks saw %v", seen)
	}
}

type hookFunc func(*calls.Call)

func (f hookFunc) CallDone(c *calls.Call) { f(c) }

// A fourth source is one file: whatever it learns of a call to a provider
// (here, a provider's admin API polled for a key's usage), it parses with
// the provider's dialect and hands to the Recorder, like the proxy, the
// tailer and the prober.
func ExampleRecorder() {
	coll := collector.New(collector.Options{})
	coll.SetProviders([]collector.Provider{{Name: "openai", Family: "openai", Dialect: "openai"}})
	rec := calls.Recorder{Coll: coll}

	d, _ := parsers.Lookup("openai")
	now := time.Now()
	var res parsers.Result
	d.Parse(&parsers.Input{Status: 200, Received: now, Fields: []parsers.Field{
		{Name: "x-ratelimit-limit-requests", Value: "500"},
		{Name: "x-ratelimit-remaining-requests", Value: "420"},
	}}, &res)
	c := &calls.Call{
		Source: "admin-api", Provider: "openai", Family: "openai", Labels: coll.Labels("openai", "gpt-4o", "k-0123456789ab"),
		Start: now, Received: now, End: now, Status: 200, Result: &res, Uncounted: true,
	}
	rec.Answered(c)
	rec.Done(context.Background(), c)
	for _, s := range coll.Snapshot() {
		fmt.Println(s.Provider, s.Resource, s.Window, s.Limit, s.Remaining)
	}
	// Output: openai requests 1m 500 420
}
