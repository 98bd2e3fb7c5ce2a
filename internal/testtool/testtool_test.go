package testtool

import (
	"os"
	"path/filepath"
	"testing"
)

// fakeTB records Fatalf/Skipf instead of stopping the real test.
type fakeTB struct {
	testing.TB
	failed, skipped bool
}

func (f *fakeTB) Helper()               {}
func (f *fakeTB) Fatalf(string, ...any) { f.failed = true }
func (f *fakeTB) Skipf(string, ...any)  { f.skipped = true }
func (f *fakeTB) Logf(string, ...any)   {}
func (f *fakeTB) Errorf(string, ...any) { f.failed = true }
func (f *fakeTB) Cleanup(func())        {}
func (f *fakeTB) Name() string          { return "fake" }

func TestRequireFindsTool(t *testing.T) {
	dir := t.TempDir()
	tool := filepath.Join(dir, "headroom-fake-tool")
	if err := os.WriteFile(tool, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	f := &fakeTB{TB: t}
	if got := Require(f, "headroom-fake-tool"); got != tool || f.failed || f.skipped {
		t.Fatalf("Require = %q (failed %v, skipped %v), want %q", got, f.failed, f.skipped, tool)
	}
}

func TestRequireMissingFailsWhenRequired(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv(RequireEnv, "1")
	f := &fakeTB{TB: t}
	Require(f, "headroom-no-such-tool")
	if !f.failed || f.skipped {
		t.Fatalf("missing tool with %s=1: failed %v skipped %v, want a failure", RequireEnv, f.failed, f.skipped)
	}
}

func TestRequireMissingSkipsOtherwise(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv(RequireEnv, "")
	f := &fakeTB{TB: t}
	Require(f, "headroom-no-such-tool")
	if f.failed || !f.skipped {
		t.Fatalf("missing tool without %s: failed %v skipped %v, want a skip", RequireEnv, f.failed, f.skipped)
	}
}
