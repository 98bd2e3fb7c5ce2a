package agent_test

import (
	"bufio"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/headroomhq/headroom/internal/testenv"
)

var (
	descName   = regexp.MustCompile(`fqName: "([^"]+)"`)
	descLabels = regexp.MustCompile(`variableLabels: \{([^}]*)\}`)
	descConst  = regexp.MustCompile(`constLabels: \{([^}]*)\}`)
	constName  = regexp.MustCompile(`([a-z_]+)="`)
	// | `headroom_x` | type | labels | meaning |
	docRow = regexp.MustCompile("^\\| `(headroom_[a-z_]+)` \\| [^|]+ \\| ([^|]*) \\|")
)

// TestMetricsDocumented fails when docs/metrics.md and the exported metrics
// drift apart, in names or in label sets.
func TestMetricsDocumented(t *testing.T) {
	a := testenv.New(t, testenv.Options{})
	code := map[string]string{}
	ch := make(chan *prometheus.Desc, 100)
	go func() {
		for _, c := range a.HeadroomCollectors() {
			c.Describe(ch)
		}
		close(ch)
	}()
	for d := range ch {
		n := descName.FindStringSubmatch(d.String())
		l := descLabels.FindStringSubmatch(d.String())
		if n == nil || l == nil {
			t.Fatalf("cannot read %s", d)
		}
		labels := l[1]
		if c := descConst.FindStringSubmatch(d.String()); c != nil {
			for _, m := range constName.FindAllStringSubmatch(c[1], -1) {
				labels += "," + m[1]
			}
		}
		code[n[1]] = normLabels(labels)
	}
	f, err := os.Open("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	docs := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := docRow.FindStringSubmatch(sc.Text()); m != nil {
			docs[m[1]] = normLabels(m[2])
		}
	}
	for n, l := range code {
		dl, ok := docs[n]
		if !ok {
			t.Errorf("%s is exported but not documented in docs/metrics.md", n)
		} else if dl != l {
			t.Errorf("%s: docs list labels {%s}, code has {%s}", n, dl, l)
		}
	}
	for n := range docs {
		if _, ok := code[n]; !ok {
			t.Errorf("%s is documented in docs/metrics.md but not exported", n)
		}
	}
}

func normLabels(s string) string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		f = strings.Trim(f, "`")
		if f != "" && f != "—" && f != "-" {
			out = append(out, f)
		}
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}
