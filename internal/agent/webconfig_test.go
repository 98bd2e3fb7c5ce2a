package agent_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/headroomhq/headroom/internal/testenv"
)

// --web.config.file (exporter-toolkit): the metrics listener serves TLS and
// requires basic auth; the proxy listener is not affected.
func TestWebConfigTLSAndBasicAuth(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	web := filepath.Join(dir, "web.yml")
	// bcrypt of "scrape-pass" (cost 10), as exporter-toolkit's docs prescribe.
	os.WriteFile(web, []byte("tls_server_config:\n  cert_file: "+cert+"\n  key_file: "+key+
		"\nbasic_auth_users:\n  prometheus: $2a$10$uvPMjojiflH64wyrCugIbezaOGwZjXdScbvDD.Y6IAky7WnbbMEkS\n"), 0o600)
	a := testenv.Start(t, testenv.Options{WebConfigFile: web})
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	do := func(scheme, user, pass string) int {
		req, _ := http.NewRequest("GET", scheme+"://"+a.MetricsAddr+"/metrics", nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := client.Do(req)
		if err != nil {
			return -1
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := do("https", "prometheus", "scrape-pass"); c != 200 {
		t.Errorf("https with the right credentials: %d", c)
	}
	if c := do("https", "", ""); c != http.StatusUnauthorized {
		t.Errorf("https without credentials: %d, want 401", c)
	}
	if c := do("https", "prometheus", "wrong"); c != http.StatusUnauthorized {
		t.Errorf("https with a wrong password: %d, want 401", c)
	}
	if c := do("http", "prometheus", "scrape-pass"); c == 200 {
		t.Error("plain http served although TLS is configured")
	}
	bad := filepath.Join(dir, "bad.yml")
	os.WriteFile(bad, []byte("tls_server_config:\n  cert_file: /nonexistent\n"), 0o600)
	b := testenv.New(t, testenv.Options{WebConfigFile: bad})
	if err := b.Start(); err == nil {
		t.Error("an invalid web config was accepted")
		b.Shutdown(context.Background())
	}
}

func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "headroom-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(k)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}
