package secretscan

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Secrets are assembled at run time so this file does not contain them itself.
var (
	pemHeader  = "-----BEGIN " + "RSA PRIVATE KEY-----"
	pemPlain   = "-----BEGIN " + "PRIVATE KEY-----"
	opensshKey = "-----BEGIN " + "OPENSSH PRIVATE KEY-----"
	accessKey  = "AKIA" + "Q3EGRZ7XJ2LM4NOP"
	sessionKey = "ASIA" + "Q3EGRZ7XJ2LM4NOP"
	secretKey  = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYzzzzzzzzzz"
)

func TestScan(t *testing.T) {
	tests := []struct {
		name  string
		text  string
		kinds []string
	}{
		{"clean", "nothing to see\nhere: arn:aws:iam::123456789012:role/x\n", nil},
		{"rsa pem", "x\n" + pemHeader + "\nMIIE...\n", []string{"PEM private key"}},
		{"pkcs8 pem", pemPlain, []string{"PEM private key"}},
		{"openssh pem", opensshKey, []string{"PEM private key"}},
		{"public key is fine", "-----BEGIN PUBLIC KEY-----\n-----BEGIN CERTIFICATE-----", nil},
		{"access key id", `{"AccessKeyId": "` + accessKey + `"}`, []string{"AWS access key id"}},
		{"session key id", "id=" + sessionKey, []string{"AWS access key id"}},
		{"documented example key is allowed", "AKIAIOSFODNN7EXAMPLE", nil},
		{"secret access key", "aws_secret_access_key = " + secretKey, []string{"AWS secret access key"}},
		{"secret key in json", `"SecretAccessKey": "` + secretKey + `"`, []string{"AWS secret access key"}},
		{"key id inside a longer token is not a key", "XAKIA" + "Q3EGRZ7XJ2LM4NOPX", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Scan("t", strings.NewReader(tc.text))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.kinds) {
				t.Fatalf("findings %v, want kinds %v", got, tc.kinds)
			}
			for i, f := range got {
				if f.Kind != tc.kinds[i] {
					t.Errorf("finding %d kind %q, want %q", i, f.Kind, tc.kinds[i])
				}
				if strings.Contains(f.String(), accessKey) || strings.Contains(f.String(), secretKey) {
					t.Errorf("finding prints the secret unmasked: %s", f)
				}
			}
		})
	}
}

func repoRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Fatalf("git rev-parse: %v (the secrets scan needs a git checkout)", err)
	}
	return strings.TrimSpace(string(out))
}

// TestRepositoryHasNoSecrets scans every tracked file.
func TestRepositoryHasNoSecrets(t *testing.T) {
	root := repoRoot(t)
	out, err := exec.Command("git", "-C", root, "ls-files", "-z").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	scanned := 0
	for _, rel := range strings.Split(string(out), "\x00") {
		if rel == "" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			if os.IsNotExist(err) {
				continue // deleted in the work tree, not yet committed
			}
			t.Fatalf("reading %s: %v", rel, err)
		}
		if IsBinary(data) {
			continue
		}
		found, err := Scan(rel, strings.NewReader(string(data)))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range found {
			t.Errorf("suspected secret: %s", f)
		}
		scanned++
	}
	if scanned == 0 {
		t.Fatal("no tracked file was scanned")
	}
	t.Logf("scanned %d tracked files", scanned)
}

// TestTemplateHasNoSecrets scans the synthesized CloudFormation template(s). `make scan`
// synthesizes first and sets SECRETSCAN_REQUIRE_TEMPLATE=1, so there a missing template
// is a failure; in a plain `go test` run before any synth it is reported and skipped.
func TestTemplateHasNoSecrets(t *testing.T) {
	root := repoRoot(t)
	files, _ := filepath.Glob(filepath.Join(root, "cdk.out", "*.template.json"))
	if len(files) == 0 {
		if os.Getenv("SECRETSCAN_REQUIRE_TEMPLATE") == "1" {
			t.Fatal("no cdk.out/*.template.json to scan: run `make synth` first")
		}
		t.Skip("no synthesized template in cdk.out/ (make scan synthesizes and requires it)")
	}
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		found, err := Scan(filepath.Base(p), strings.NewReader(string(data)))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range found {
			t.Errorf("suspected secret in the template: %s", f)
		}
		t.Logf("scanned %s (%d bytes)", filepath.Base(p), len(data))
	}
}
