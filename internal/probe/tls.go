package probe

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// TLSOptions say how the probe trusts an HTTPS server. The zero value trusts the
// system roots and verifies the URL's host name.
type TLSOptions struct {
	// CAFile is a PEM bundle of the private CA(s) that sign the server certificate; it
	// replaces the system roots.
	CAFile string
	// Pins are hex SHA-256 digests of the DER SubjectPublicKeyInfo of acceptable leaf
	// certificates (64 hex characters each). With pins, host-name verification is replaced
	// by the pin check, and the chain is verified only when CAFile is also set.
	Pins []string
	// ServerName is the name sent in SNI and verified in the certificate instead of the
	// URL's host (for a certificate issued to a DNS name while the probe dials an IP).
	ServerName string
}

// ParsePin decodes one pin: 64 hex characters (colons allowed, as openssl prints them).
func ParsePin(s string) ([]byte, error) {
	clean := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), ":", ""))
	if len(clean) != 2*sha256.Size {
		return nil, fmt.Errorf("pin %q: want the 64 hex characters of a SHA-256 digest, got %d", s, len(clean))
	}
	b, err := hex.DecodeString(clean)
	if err != nil {
		return nil, fmt.Errorf("pin %q: %w", s, err)
	}
	return b, nil
}

// SPKIPin returns the pin of a certificate: hex SHA-256 of its DER SubjectPublicKeyInfo.
// The same value comes from
//
//	openssl x509 -in cert.pem -pubkey -noout | openssl pkey -pubin -outform der | sha256sum
func SPKIPin(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(sum[:])
}

// LoadCAFile reads a PEM bundle into a pool; it fails when the file holds no certificate.
func LoadCAFile(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading CA bundle: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA bundle %s holds no PEM certificate", path)
	}
	return pool, nil
}

// TLSConfig builds the client TLS configuration for opts.
func TLSConfig(opts TLSOptions) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: opts.ServerName}
	var roots *x509.CertPool
	if opts.CAFile != "" {
		pool, err := LoadCAFile(opts.CAFile)
		if err != nil {
			return nil, err
		}
		roots = pool
		cfg.RootCAs = pool
	}
	if len(opts.Pins) == 0 {
		return cfg, nil
	}
	pins := make([][]byte, 0, len(opts.Pins))
	for _, p := range opts.Pins {
		b, err := ParsePin(p)
		if err != nil {
			return nil, err
		}
		pins = append(pins, b)
	}
	// The standard verification (chain + host name) is replaced, not dropped: the pin
	// check below runs on every handshake, including resumed ones (VerifyConnection).
	cfg.InsecureSkipVerify = true
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("pinned TLS: server sent no certificate")
		}
		leaf := cs.PeerCertificates[0]
		if roots != nil {
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter}); err != nil {
				return fmt.Errorf("pinned TLS: chain: %w", err)
			}
		}
		sum := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
		for _, p := range pins {
			if bytes.Equal(sum[:], p) {
				return nil
			}
		}
		return fmt.Errorf("pinned TLS: certificate public key sha256 %x matches no pin", sum[:])
	}
	return cfg, nil
}

// NewHTTPClient returns the client the probes share: no proxy (the targets are loopback
// and the ENI IP), no redirects (a redirect is an unhealthy answer), small idle pool,
// and the TLS configuration of opts. Per-request timeouts come from the Prober.
func NewHTTPClient(opts TLSOptions) (*http.Client, error) {
	tc, err := TLSConfig(opts)
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     tc,
		TLSHandshakeTimeout: 5 * time.Second,
		MaxIdleConns:        4,
		MaxIdleConnsPerHost: 1,
		IdleConnTimeout:     60 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}, nil
}
