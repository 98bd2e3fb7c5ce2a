// Package testtool finds external tools (promtool, amtool, prometheus, ...) for tests.
//
// A test that shells out to a tool calls Require: when the tool is missing the test fails if
// HEADROOM_REQUIRE_TOOLS=1 (scripts/test.sh and CI set it, after scripts/deps/*.sh installed
// the tools), so a missing install step cannot pass as a green run; otherwise it is skipped,
// so `go test ./...` on a bare machine still runs everything else.
package testtool

import (
	"os"
	"os/exec"
	"testing"
)

// RequireEnv is the environment variable that turns a missing tool into a test failure.
const RequireEnv = "HEADROOM_REQUIRE_TOOLS"

// Required reports whether missing tools must fail the tests (HEADROOM_REQUIRE_TOOLS=1).
func Required() bool { return os.Getenv(RequireEnv) == "1" }

// Require returns the path of the executable name on PATH. When it is missing, the test
// fails (HEADROOM_REQUIRE_TOOLS=1) or is skipped (otherwise), naming the install script.
func Require(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	const hint = "install it with the matching scripts/deps/*.sh (scripts/test.sh runs them all)"
	if Required() {
		t.Fatalf("%s not found on PATH (%v) and %s=1: %s", name, err, RequireEnv, hint)
		return ""
	}
	t.Skipf("%s not found on PATH (%v); %s=1 would fail this test; %s", name, err, RequireEnv, hint)
	return ""
}
