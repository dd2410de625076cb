package agent

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// selfSigned writes a PEM certificate for ips and dns to a temporary file.
func selfSigned(t *testing.T, dns []string, ips ...string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "coordinator"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: dns}
	for _, ip := range ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestWitnessTLSWarning(t *testing.T) {
	withIP := selfSigned(t, nil, "127.0.0.1", "10.0.1.50")
	withoutIP := selfSigned(t, []string{"coordinator.internal"}, "127.0.0.1")
	base := Config{ENIIP: "10.0.1.50", ProbeURL: "https://127.0.0.1:8443/v1/info"}
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		warn bool
	}{
		{"plain HTTP", func(c *Config) { c.ProbeURL = "http://127.0.0.1:8080/v1/info"; c.CAFile = withoutIP }, false},
		{"CA file lists the ENI IP", func(c *Config) { c.CAFile = withIP }, false},
		{"CA file without the ENI IP", func(c *Config) { c.CAFile = withoutIP }, true},
		{"server name set", func(c *Config) { c.CAFile = withoutIP; c.ServerName = "coordinator.internal" }, false},
		{"pinned key", func(c *Config) { c.CAFile = withoutIP; c.Pins = []string{"00"} }, false},
		{"system roots", func(*Config) {}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.mod(&c)
			if got := c.WitnessTLSWarning(); (got != "") != tc.warn {
				t.Fatalf("warning %q, want a warning: %v", got, tc.warn)
			}
		})
	}
}
