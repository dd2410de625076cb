package probe

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
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prestoha/coordinator-ha/internal/signal"
)

type testCert struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	der  []byte
}

// newCert makes a certificate signed by parent (self-signed when parent is nil).
func newCert(t *testing.T, cn string, isCA bool, dns []string, ips []net.IP, parent *testCert) *testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		DNSNames:              dns,
		IPAddresses:           ips,
		BasicConstraintsValid: true,
		IsCA:                  isCA,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	signer, signKey := tmpl, key
	if parent != nil {
		signer, signKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCert{cert: c, key: key, der: der}
}

func (c *testCert) writePEM(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func tlsServer(t *testing.T, leaf *testCert) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"nodeVersion":{"version":"477"},"coordinator":true,"starting":false,"state":"ACTIVE"}`))
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leaf.der}, PrivateKey: leaf.key}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func TestTLSCAAndPin(t *testing.T) {
	loop := []net.IP{net.ParseIP("127.0.0.1")}
	ca := newCert(t, "test private CA", true, nil, nil, nil)
	otherCA := newCert(t, "other CA", true, nil, nil, nil)
	byIP := tlsServer(t, newCert(t, "coordinator", false, nil, loop, ca))
	byName := tlsServer(t, newCert(t, "coordinator", false, []string{"coordinator.internal"}, nil, ca))
	selfSigned := newCert(t, "self-signed loopback", false, nil, nil, nil) // no SAN at all
	pinned := tlsServer(t, selfSigned)
	pin := SPKIPin(selfSigned.cert)
	wrongPin := SPKIPin(newCert(t, "someone else", false, nil, nil, nil).cert)
	caFile, otherCAFile := ca.writePEM(t), otherCA.writePEM(t)

	cases := []struct {
		name    string
		srv     *httptest.Server
		opts    TLSOptions
		healthy bool
		reason  string
	}{
		{"private CA, IP SAN", byIP, TLSOptions{CAFile: caFile}, true, ""},
		{"wrong CA", byIP, TLSOptions{CAFile: otherCAFile}, false, "certificate"},
		{"system roots reject a private CA", byIP, TLSOptions{}, false, "certificate"},
		{"private CA, name mismatch", byName, TLSOptions{CAFile: caFile}, false, "certificate"},
		{"private CA, server name", byName, TLSOptions{CAFile: caFile, ServerName: "coordinator.internal"}, true, ""},
		{"pin replaces host-name check", pinned, TLSOptions{Pins: []string{pin}}, true, ""},
		{"pin with colons and upper case", pinned, TLSOptions{Pins: []string{colons(strings.ToUpper(pin))}}, true, ""},
		{"one of two pins (rotation)", pinned, TLSOptions{Pins: []string{wrongPin, pin}}, true, ""},
		{"wrong pin", pinned, TLSOptions{Pins: []string{wrongPin}}, false, "matches no pin"},
		{"pin and CA: chain still checked", pinned, TLSOptions{CAFile: caFile, Pins: []string{pin}}, false, "chain"},
		{"pin and CA both good", byName, TLSOptions{CAFile: caFile, Pins: []string{SPKIPin(byName.Certificate())}}, true, ""},
		{"self-signed without pin", pinned, TLSOptions{}, false, "certificate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			client, err := NewHTTPClient(c.opts)
			if err != nil {
				t.Fatal(err)
			}
			got := New(c.srv.URL+"/v1/info", client, 2*time.Second, nil).Probe(context.Background())
			if c.healthy != (got.Status == signal.Healthy) || !strings.Contains(got.Reason, c.reason) {
				t.Fatalf("got %v %q; want healthy=%v reason containing %q", got.Status, got.Reason, c.healthy, c.reason)
			}
		})
	}
}

func colons(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(s[i : i+2])
	}
	return b.String()
}

func TestTLSConfigErrors(t *testing.T) {
	notPEM := filepath.Join(t.TempDir(), "x.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		opts TLSOptions
		want string
	}{
		{"missing CA file", TLSOptions{CAFile: filepath.Join(t.TempDir(), "nope.pem")}, "reading CA bundle"},
		{"CA file without PEM", TLSOptions{CAFile: notPEM}, "no PEM certificate"},
		{"short pin", TLSOptions{Pins: []string{"abcd"}}, "64 hex"},
		{"non-hex pin", TLSOptions{Pins: []string{strings.Repeat("zz", 32)}}, "invalid byte"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := TLSConfig(c.opts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want error containing %q, got %v", c.want, err)
			}
		})
	}
	cfg, err := TLSConfig(TLSOptions{})
	if err != nil || cfg.InsecureSkipVerify {
		t.Fatalf("without a pin verification must stay on: %+v %v", cfg, err)
	}
}
