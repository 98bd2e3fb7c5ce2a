package proxy

import (
	"os"
	"testing"
)

// TestMain lets HEADROOM_UPSTREAM_CLIENT=fast|std run this package's tests
// on either upstream client.
func TestMain(m *testing.M) {
	if c := os.Getenv("HEADROOM_UPSTREAM_CLIENT"); c != "" {
		DefaultUpstreamClient = c
	}
	os.Exit(m.Run())
}
