package config

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"testing"
)

// TestSettingsDocumented keeps the README's table of settings and the
// environment variables Settings reads the same, both ways.
func TestSettingsDocumented(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var inCode []string
	st := reflect.TypeFor[Settings]()
	for i := range st.NumField() {
		if v := st.Field(i).Tag.Get("env"); v != "" {
			inCode = append(inCode, v)
		}
	}
	var inDocs []string
	for _, m := range regexp.MustCompile("(?m)^\\| `(HEADROOM_[A-Z_]+)` \\|").FindAllStringSubmatch(string(b), -1) {
		inDocs = append(inDocs, m[1])
	}
	for _, v := range inCode {
		if !slices.Contains(inDocs, v) {
			t.Errorf("%s is read from the environment but not in the README's settings table", v)
		}
	}
	for _, v := range inDocs {
		if !slices.Contains(inCode, v) {
			t.Errorf("the README documents %s, which Settings does not read", v)
		}
	}
}
