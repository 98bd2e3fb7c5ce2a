package helmtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestContainerImage builds the image from the repository's Dockerfile with buildah and
// proves it starts (scripts/image-test.sh says what it checks). It needs buildah and root;
// set HEADROOM_SKIP_IMAGE_TEST=1 to leave it out of a quick run.
func TestContainerImage(t *testing.T) {
	if testing.Short() || os.Getenv("HEADROOM_SKIP_IMAGE_TEST") == "1" {
		t.Skip("image test skipped (-short or HEADROOM_SKIP_IMAGE_TEST=1)")
	}
	tool(t, "buildah", "scripts/deps/buildah.sh")
	if os.Geteuid() != 0 && os.Getenv(requireEnv) != "1" {
		t.Skip("buildah with vfs storage and chroot isolation needs root here")
	}
	root := repoRoot(t)
	start := time.Now()
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "image-test.sh"))
	cmd.Dir = root
	cmd.Env = os.Environ()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/image-test.sh: %v\n%s", err, out)
	}
	t.Logf("scripts/image-test.sh (%s):\n%s", time.Since(start).Round(time.Second), out)
}
