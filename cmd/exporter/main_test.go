package main

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/headroomhq/headroom/internal/testenv"
)

// The binary as a user runs it: settings from the environment, exit codes,
// signals, the healthcheck subcommand.

func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "headroom")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestBinary(t *testing.T) {
	bin := build(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "providers.yaml")
	os.WriteFile(cfg, []byte("providers:\n  - name: heroku-us\n"), 0o600)
	metrics := freeAddr(t)
	env := append(os.Environ(), "HEADROOM_PROXY_ADDR="+freeAddr(t), "HEADROOM_METRICS_ADDR="+metrics, "HEADROOM_CONFIG="+cfg)

	t.Run("invalid config exits 2 naming the field", func(t *testing.T) {
		bad := filepath.Join(dir, "bad.yaml")
		os.WriteFile(bad, []byte("providers:\n  - name: x\n    dialect: openai\n    upstream: ftp://x\n"), 0o600)
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(), "HEADROOM_CONFIG="+bad)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "providers[0] (x): .upstream") {
			t.Errorf("err %v, output %s", err, out)
		}
	})

	t.Run("check-config", func(t *testing.T) {
		out, err := exec.Command(bin, "check-config", cfg).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "heroku-us") {
			t.Errorf("valid file: %v %s", err, out)
		}
		bad := filepath.Join(dir, "bad2.yaml")
		os.WriteFile(bad, []byte("- name: z\n"), 0o600)
		out, err = exec.Command(bin, "check-config", bad).CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "providers[0] (z): .upstream: required") {
			t.Errorf("invalid file: %v %s", err, out)
		}
	})

	t.Run("check-config names a bad bucket entry", func(t *testing.T) {
		for file, want := range map[string]string{
			"bucket-provider.yaml": "buckets[0] (org-a): .provider: \"openai\" is not a configured provider",
			"bucket-key.yaml":      "buckets[0] (org-a): .keys[1]: not a key alias of provider heroku-us",
		} {
			bad := filepath.Join(dir, file)
			keys := "[k-0123456789ab]"
			provider := "openai"
			if file == "bucket-key.yaml" {
				keys, provider = "[k-0123456789ab, prod]", "heroku-us"
			}
			os.WriteFile(bad, []byte("providers:\n  - name: heroku-us\nbuckets:\n  - name: org-a\n    provider: "+provider+"\n    keys: "+keys+"\n"), 0o600)
			out, err := exec.Command(bin, "check-config", bad).CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), want) {
				t.Errorf("%s: %v %s, want …%s…", file, err, out, want)
			}
		}
	})

	stderr := &testenv.LogBuffer{}
	cmd := exec.Command(bin, "--web.enable-lifecycle")
	cmd.Env, cmd.Stderr = env, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + metrics + "/readyz")
		if err == nil && resp.StatusCode == 200 {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never ready: %s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	hc := exec.Command(bin, "healthcheck")
	hc.Env = env
	if out, err := hc.CombinedOutput(); err != nil {
		t.Errorf("healthcheck: %v %s", err, out)
	}
	// A rejected SIGHUP reload keeps the agent running on the old config.
	os.WriteFile(cfg, []byte("providers: [{name: y, dialect: nope}]\n"), 0o600)
	cmd.Process.Signal(syscall.SIGHUP)
	time.Sleep(300 * time.Millisecond)
	resp, err := http.Post("http://"+metrics+"/-/reload", "", nil)
	if err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("/-/reload with a bad file: %v %v", err, resp)
	}
	if !strings.Contains(stderr.String(), "configuration reload rejected") {
		t.Errorf("no log line for the rejected reload:\n%s", stderr.String())
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v\n%s", err, stderr.String())
	}
	hc = exec.Command(bin, "healthcheck")
	hc.Env = env
	if err := hc.Run(); err == nil {
		t.Error("healthcheck passed with the agent stopped")
	}
}
