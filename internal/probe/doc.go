// Package probe asks a Presto/Trino server whether it is a working coordinator: one
// GET /v1/info with a tight timeout, classified into a signal.Status with a reason.
//
// Healthy means HTTP 200 and a JSON object with "coordinator": true, "starting": false
// (or absent, as in older prestodb) and "state" absent or "ACTIVE". "starting": true is
// Starting. Everything else (connection refused, timeout, TLS failure, a redirect, any
// other status code, a body over MaxBody, malformed JSON, a field of the wrong type, a
// worker's answer, any other state) is Unhealthy with a reason that names it. Unknown
// fields are ignored, so newer servers keep parsing.
//
// Result.Answered is the weaker "is a coordinator there at all" test that a standby's
// witness probe reports: HTTP 200 and valid JSON with "coordinator": true, whatever
// "starting" and "state" say.
//
// TLS (tls.go): a private CA bundle (-ca-file) verifies the chain and the host name (the
// URL's host, or ServerName); a pin (-pin-sha256) is the SHA-256 of the certificate's
// SubjectPublicKeyInfo and replaces host-name verification, for self-signed certificates.
// Certificate verification is never switched off without a pin.
package probe
