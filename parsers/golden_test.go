package parsers

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden .json files from the parser output (review the diff!)")

// Golden cases live in testdata/<dialect>/<case>.http: '#' comment lines
// (which must include "# source:" naming where the capture comes from and
// "# received:" the RFC 3339 receive time), then an HTTP/1.1 response.
// The expected result is <case>.json beside it.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/golden/*")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, dir := range dirs {
		dialect := filepath.Base(dir)
		d, ok := Lookup(dialect)
		if !ok {
			t.Errorf("testdata/golden/%s: no dialect of that name", dialect)
			continue
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*.http"))
		for _, f := range files {
			seen[dialect]++
			t.Run(dialect+"/"+strings.TrimSuffix(filepath.Base(f), ".http"), func(t *testing.T) {
				in := readCapture(t, f)
				var r Result
				before := in.Header.Clone()
				d.Parse(in, &r)
				// The proxy reuses the header map across responses and
				// trusts that parsing only reads it (proxy/head.go).
				if !reflect.DeepEqual(in.Header, before) {
					t.Errorf("Parse changed the header:\n got %v\nwant %v", in.Header, before)
				}
				sameFromFields(t, d, in, &r)
				got := toGolden(&r)
				want := strings.TrimSuffix(f, ".http") + ".json"
				if *update {
					b, _ := json.MarshalIndent(got, "", "  ")
					if err := os.WriteFile(want, append(b, '\n'), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				b, err := os.ReadFile(want)
				if err != nil {
					t.Fatalf("missing golden file: %v", err)
				}
				var exp golden
				dec := json.NewDecoder(bytes.NewReader(b))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&exp); err != nil {
					t.Fatalf("%s: %v", want, err)
				}
				gb, _ := json.MarshalIndent(got, "", "  ")
				eb, _ := json.MarshalIndent(exp, "", "  ")
				if !bytes.Equal(gb, eb) {
					t.Errorf("%s\n got: %s\nwant: %s", f, gb, eb)
				}
			})
		}
	}
	for _, name := range Names() {
		if seen[name] < 3 {
			t.Errorf("dialect %s has %d golden captures, want at least 3", name, seen[name])
		}
	}
}

type golden struct {
	Observations []goldenObs `json:"observations"`
	RetryAfter   *float64    `json:"retry_after_seconds,omitempty"`
	Throttled    string      `json:"throttled,omitempty"`
	Errors       []string    `json:"errors,omitempty"`
	// Unread are the rate-limit-looking headers the dialect did not read.
	Unread []string `json:"unread,omitempty"`
}

type goldenObs struct {
	Resource  string   `json:"resource"`
	Window    string   `json:"window"`
	Limit     *float64 `json:"limit,omitempty"`
	Remaining *float64 `json:"remaining,omitempty"`
	Reset     string   `json:"reset,omitempty"`
	PerKey    bool     `json:"per_key,omitempty"`
}

func toGolden(r *Result) golden {
	g := golden{Observations: []goldenObs{}, Throttled: r.ThrottledResource}
	for _, o := range r.Observations {
		go_ := goldenObs{Resource: o.Resource, Window: o.Window}
		if o.HasLimit {
			v := o.Limit
			go_.Limit = &v
		}
		if o.HasRemaining {
			v := o.Remaining
			go_.Remaining = &v
		}
		if !o.Reset.IsZero() {
			go_.Reset = o.Reset.UTC().Format(time.RFC3339Nano)
		}
		go_.PerKey = o.PerKey
		g.Observations = append(g.Observations, go_)
	}
	if r.HasRetryAfter {
		v := r.RetryAfter.Seconds()
		g.RetryAfter = &v
	}
	for _, e := range r.Errors {
		g.Errors = append(g.Errors, e.Header+": "+e.Err.Error())
	}
	if r.UnreadHeaders() > 0 {
		g.Unread = r.UnreadNames()
		sort.Strings(g.Unread) // a map's order is random
	}
	return g
}

func readCapture(t testing.TB, path string) *Input {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var received time.Time
	var source bool
	var rest bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	header := true
	for sc.Scan() {
		line := sc.Text()
		if header && strings.HasPrefix(line, "#") {
			k, v, _ := strings.Cut(strings.TrimSpace(strings.TrimPrefix(line, "#")), ":")
			switch strings.TrimSpace(k) {
			case "received":
				received, err = time.Parse(time.RFC3339Nano, strings.TrimSpace(v))
				if err != nil {
					t.Fatalf("%s: received: %v", path, err)
				}
			case "source":
				source = strings.TrimSpace(v) != ""
			}
			continue
		}
		header = false
		rest.WriteString(line)
		rest.WriteString("\r\n")
	}
	if !source {
		t.Fatalf("%s: a capture must name its source (# source: …)", path)
	}
	if received.IsZero() {
		t.Fatalf("%s: a capture must give its receive time (# received: …)", path)
	}
	resp, err := http.ReadResponse(bufio.NewReader(&rest), nil)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	body, _ := io.ReadAll(resp.Body)
	body = bytes.TrimRight(body, "\r\n")
	return &Input{Status: resp.StatusCode, Header: resp.Header, Body: body, Received: received}
}
