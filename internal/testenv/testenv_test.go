package testenv

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/headroomhq/headroom/config"
)

// The environment stays the base (CI reruns suites with HEADROOM_* set);
// the providers file, loopback addresses and Options.Settings go on top.
func TestSettingsKeepEnvironment(t *testing.T) {
	t.Setenv("HEADROOM_REQUEST_BODY_TIMEOUT", "7s")
	t.Setenv("HEADROOM_PROXY_ADDR", ":1")
	const yaml = "providers:\n  - name: up\n    upstream: http://127.0.0.1:1\n"
	s := Settings(t, Options{ProvidersYAML: yaml, Settings: func(s *config.Settings) { s.MaxKeysPerProvider = 7 }})
	if s.RequestBodyTimeout != 7*time.Second {
		t.Errorf("environment lost: RequestBodyTimeout %v", s.RequestBodyTimeout)
	}
	if s.ProxyAddr != "127.0.0.1:0" || s.MetricsAddr != "127.0.0.1:0" || s.MaxKeysPerProvider != 7 {
		t.Errorf("overrides lost: %+v", s)
	}
	if b, err := os.ReadFile(s.ConfigFile); err != nil || string(b) != yaml {
		t.Errorf("providers file %q: %q, %v", s.ConfigFile, b, err)
	}
	t.Setenv("HEADROOM_CONFIG", "/from/env.yaml")
	if s := Settings(t, Options{}); s.ConfigFile != "/from/env.yaml" {
		t.Errorf("ConfigFile %q without ProvidersYAML, want the environment's", s.ConfigFile)
	}
}

func TestStart(t *testing.T) {
	logs := &LogBuffer{}
	a := Start(t, Options{ProvidersYAML: "providers:\n  - name: up\n    dialect: openai\n    upstream: http://127.0.0.1:1\n",
		Logger: DebugLogger(logs), ManualShutdown: true})
	resp, err := http.Get("http://" + a.MetricsAddr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("healthz %d", resp.StatusCode)
	}
	if !strings.Contains(logs.String(), "headroom started") {
		t.Errorf("logs:\n%s", logs)
	}
	if err := Shutdown(a); err != nil {
		t.Error(err)
	}
}
