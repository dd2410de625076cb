package agent

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

var goodEnv = map[string]string{
	EnvCluster: "prod-1",
	EnvENIID:   "eni-0123456789abcdef0",
	EnvENIIP:   "10.0.1.10",
}

func TestParseFlagsDefaultsAndEnv(t *testing.T) {
	c, err := ParseFlags(nil, env(goodEnv), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.ProbeURL != DefaultProbeURL || c.ProbeInterval != 5*time.Second || c.ProbeTimeout != 2*time.Second ||
		c.PublishInterval != 5*time.Second || c.StandbyPublish != 10*time.Second || c.RoleInterval != 30*time.Second || c.Publish != PublishCloudWatch {
		t.Fatalf("defaults: %+v", c)
	}
	w, err := c.WitnessURL()
	if err != nil || w != "http://10.0.1.10:8080/v1/info" {
		t.Fatalf("witness URL %q %v", w, err)
	}
	// A flag wins over the environment.
	e := map[string]string{EnvProbeInterval: "7s", EnvPublish: "stdout"}
	for k, v := range goodEnv {
		e[k] = v
	}
	c, err = ParseFlags([]string{"-probe-interval=9s", "-publish-interval=9s"}, env(e), io.Discard)
	if err != nil || c.ProbeInterval != 9*time.Second || c.Publish != PublishStdout {
		t.Fatalf("flag over env: %+v %v", c, err)
	}
	c, err = ParseFlags([]string{"-version"}, env(nil), io.Discard)
	if err != nil || !c.ShowVersion {
		t.Fatalf("-version must skip validation: %v", err)
	}
}

func TestWitnessURLIPv6AndHTTPS(t *testing.T) {
	c := Config{ProbeURL: "https://[::1]:8443/v1/info", ENIIP: "fd00::10"}
	if w, _ := c.WitnessURL(); w != "https://[fd00::10]:8443/v1/info" {
		t.Fatalf("got %q", w)
	}
}

func TestConfigValidation(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(notPEM, []byte("nope"), 0o600); err != nil {
		t.Fatal(err)
	}
	pin := strings.Repeat("ab", 32)
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string // "" = valid
	}{
		{"valid", nil, nil, ""},
		{"valid https with pin", []string{"-probe-url=https://localhost:8443/v1/info", "-pin-sha256=" + pin, "-server-name=coord.internal"}, nil, ""},
		{"missing cluster", nil, map[string]string{EnvCluster: ""}, "-cluster"},
		{"bad cluster", []string{"-cluster=prod.cluster"}, nil, "-cluster"},
		{"bad eni id", []string{"-eni-id=eni-XYZ"}, nil, "not an ENI id"},
		{"missing eni ip", nil, map[string]string{EnvENIIP: ""}, "-eni-ip"},
		{"eni ip loopback", []string{"-eni-ip=127.0.0.1"}, nil, "not loopback"},
		{"probe url not loopback", []string{"-probe-url=http://10.0.1.10:8080/v1/info"}, nil, "must be loopback"},
		{"probe url bad scheme", []string{"-probe-url=ftp://127.0.0.1/v1/info"}, nil, "scheme"},
		{"probe url unparsable", []string{"-probe-url=http://127.0.0.1:port/v1/info"}, nil, "-probe-url"},
		{"interval not above timeout", []string{"-probe-interval=2s", "-probe-timeout=2s", "-publish-interval=2s", "-role-interval=2s"}, nil, "longer than -probe-timeout"},
		{"publish faster than probe", []string{"-publish-interval=1s"}, nil, "at least -probe-interval"},
		{"publish too slow", []string{"-publish-interval=20s"}, nil, "at most 10s"},
		{"standby publish too slow", []string{"-standby-publish-interval=11s"}, nil, "-standby-publish-interval 11s: at most 10s"},
		{"role faster than probe", []string{"-role-interval=1s"}, nil, "-role-interval"},
		{"bad duration env", nil, map[string]string{EnvProbeTimeout: "2"}, "AGENT_PROBE_TIMEOUT"},
		{"bad int env", nil, map[string]string{EnvMaxBuffered: "lots"}, "AGENT_MAX_BUFFERED"},
		{"buffer too small", []string{"-max-buffered=10"}, nil, "-max-buffered"},
		{"short pin", []string{"-probe-url=https://127.0.0.1:8443/v1/info", "-pin-sha256=abc"}, nil, "64 hex"},
		{"tls options on http", []string{"-pin-sha256=" + pin}, nil, "need an https"},
		{"ca file missing", []string{"-probe-url=https://127.0.0.1:8443/v1/info", "-ca-file=" + filepath.Join(dir, "none.pem")}, nil, "-ca-file"},
		{"ca file not pem", []string{"-probe-url=https://127.0.0.1:8443/v1/info", "-ca-file=" + notPEM}, nil, "no PEM certificate"},
		{"bad publish", []string{"-publish=kafka"}, nil, "-publish"},
		{"bad imds endpoint", []string{"-imds-endpoint=169.254.169.254"}, nil, "-imds-endpoint"},
		{"bad log level", []string{"-log-level=loud"}, nil, "-log-level"},
		{"stray argument", []string{"extra"}, nil, "unexpected arguments"},
		{"unknown flag", []string{"-nope"}, nil, "not defined"},
		{"several problems at once", []string{"-cluster=", "-eni-id="}, nil, "-eni-id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := map[string]string{}
			for k, v := range goodEnv {
				e[k] = v
			}
			for k, v := range c.env {
				e[k] = v
			}
			_, err := ParseFlags(c.args, env(e), io.Discard)
			if c.want == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want error containing %q, got %v", c.want, err)
			}
		})
	}
}
