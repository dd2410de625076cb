package secretscan

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"regexp"
)

// Finding is one suspected secret.
type Finding struct {
	Path string
	Line int
	Kind string
	// Match is the suspected secret with its middle masked, safe to print.
	Match string
}

func (f Finding) String() string {
	return fmt.Sprintf("%s:%d: %s %s", f.Path, f.Line, f.Kind, f.Match)
}

type rule struct {
	kind string
	re   *regexp.Regexp
}

var rules = []rule{
	{"PEM private key", regexp.MustCompile(`-----BEGIN[A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----`)},
	{"AWS access key id", regexp.MustCompile(`\b(AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b`)},
	{"AWS secret access key", regexp.MustCompile(`(?i)(aws_?secret_?access_?key|secretAccessKey)["']?\s*[:=]\s*["']?[A-Za-z0-9/+]{40}([^A-Za-z0-9/+=]|$)`)},
}

// Allowed are values that look like secrets but are published examples, never real keys.
var Allowed = map[string]bool{
	"AKIAIOSFODNN7EXAMPLE": true, // the access key id of the AWS documentation's examples
}

// Scan reads r line by line and reports every suspected secret that is not allowed.
func Scan(path string, r io.Reader) ([]Finding, error) {
	var out []Finding
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		for _, ru := range rules {
			for _, m := range ru.re.FindAll(line, -1) {
				if Allowed[string(m)] {
					continue
				}
				out = append(out, Finding{Path: path, Line: n, Kind: ru.kind, Match: mask(m)})
			}
		}
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("scanning %s: %w", path, err)
	}
	return out, nil
}

// IsBinary reports whether data looks like a binary file (a NUL byte in its first 8 KiB).
func IsBinary(data []byte) bool {
	if len(data) > 8192 {
		data = data[:8192]
	}
	return bytes.IndexByte(data, 0) >= 0
}

func mask(m []byte) string {
	if len(m) <= 8 {
		return "****"
	}
	return string(m[:4]) + "****" + string(m[len(m)-4:])
}
