package proxy

import (
	"strings"
	"testing"
)

// splitProvider's allocation-free segment check agrees with the
// strings.Split version it replaced.
func TestSplitProvider(t *testing.T) {
	ref := func(path string) (string, string, bool) {
		if len(path) < 2 || path[0] != '/' {
			return "", "", false
		}
		for _, seg := range strings.Split(path[1:], "/") {
			if seg == "." || seg == ".." {
				return "", "", false
			}
		}
		i := strings.IndexByte(path[1:], '/')
		if i < 0 {
			return path[1:], "", true
		}
		return path[1 : i+1], path[i+1:], true
	}
	for _, p := range []string{"", "/", "//", "/p", "/p/", "/p/v1/chat", "/p/../q", "/../p", "/p/..", "/p/.", "/./p",
		"/p/.../x", "/p/..x/y", "/p//x", "p/x", "/p/v1/a.b/..c", "/p/a/./b", "/.", "/.."} {
		n, r, ok := splitProvider(p)
		wn, wr, wok := ref(p)
		if n != wn || r != wr || ok != wok {
			t.Errorf("splitProvider(%q) = %q %q %v, want %q %q %v", p, n, r, ok, wn, wr, wok)
		}
	}
	if n := testing.AllocsPerRun(100, func() { splitProvider("/p/v1/chat/completions") }); n != 0 {
		t.Errorf("%v allocations", n)
	}
}
