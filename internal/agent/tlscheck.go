package agent

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"os"
)

// WitnessTLSWarning says, at start, when the agent's TLS settings cannot verify a
// coordinator at the ENI IP: an HTTPS probe with a CA file, no pins and no server name
// verifies the certificate for the IP itself, so unless the coordinators' certificate
// lists that IP every witness probe fails verification and is reported as "not reached"
// for ever. It returns "" when nothing is wrong that can be seen from here: a CA file
// whose certificates list the IP (a self-signed coordinator certificate used as its
// own CA), a server name, pins, or plain HTTP. A private CA's own certificate rarely
// lists the IP, so the warning then asks the operator to check the coordinator's.
func (c Config) WitnessTLSWarning() string {
	u, err := url.Parse(c.ProbeURL)
	if err != nil || u.Scheme != "https" || c.CAFile == "" || len(c.Pins) > 0 || c.ServerName != "" || c.ENIIP == "" {
		return ""
	}
	data, err := os.ReadFile(c.CAFile)
	if err != nil {
		return "" // Validate and the probe client report an unreadable CA file
	}
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err == nil && cert.VerifyHostname(c.ENIIP) == nil {
			return ""
		}
	}
	return fmt.Sprintf("witness probes of https://%s verify the coordinator's certificate for IP %s, and no certificate in %s "+
		"lists that IP, with no -server-name and no -pin-sha256: unless the coordinators' certificate lists IP %s, every witness "+
		"probe will fail verification and report the active as not reached; set -server-name to the name in the certificate, "+
		"or pin its key", c.ENIIP, c.ENIIP, c.CAFile, c.ENIIP)
}
