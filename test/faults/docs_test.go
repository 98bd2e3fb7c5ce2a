package faults

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestHardeningDocListsEveryFuzzTarget keeps docs/hardening.md in step with
// the code: every fuzz target in the module and every test in this package
// has its row, and every test the page names exists.
func TestHardeningDocListsEveryFuzzTarget(t *testing.T) {
	root := filepath.Join("..", "..")
	doc, err := os.ReadFile(filepath.Join(root, "docs", "hardening.md"))
	if err != nil {
		t.Fatal(err)
	}
	defined := map[string]string{} // test function → file
	decl := regexp.MustCompile(`(?m)^func ((?:Test|Fuzz)\w+)\(`)
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range decl.FindAllSubmatch(src, -1) {
			defined[string(m[1])] = filepath.ToSlash(path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	named := map[string]bool{}
	for _, m := range regexp.MustCompile("`((?:Test|Fuzz)\\w+)`").FindAllSubmatch(doc, -1) {
		named[string(m[1])] = true
	}
	for name := range named {
		if _, ok := defined[name]; !ok {
			t.Errorf("docs/hardening.md names %s, which no test file defines", name)
		}
	}
	for name, file := range defined {
		inFaults := strings.Contains(file, "test/faults/") && name != "TestMain" && name != t.Name()
		if (strings.HasPrefix(name, "Fuzz") || inFaults) && !named[name] {
			t.Errorf("%s (%s) has no row in docs/hardening.md", name, file)
		}
	}
}
