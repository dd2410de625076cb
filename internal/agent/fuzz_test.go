package agent

import (
	"io"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

// fuzzEnv reads "KEY=VALUE" lines. The CA file is dropped: Validate reads that path from
// disk, and a fuzzer must not be pointed at /dev/zero or similar.
func fuzzEnv(blob string) func(string) string {
	m := map[string]string{}
	for _, line := range strings.Split(blob, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && k != EnvCAFile {
			m[k] = v
		}
	}
	return func(k string) string { return m[k] }
}

func fuzzArgs(blob string) []string {
	if blob == "" {
		return nil
	}
	var args []string
	skip := false
	for _, a := range strings.Split(blob, "\x00") {
		if skip {
			skip = false
			continue
		}
		if strings.Contains(a, "ca-file") {
			skip = !strings.Contains(a, "=") // "-ca-file x": drop the value too
			continue
		}
		args = append(args, a)
	}
	return args
}

// FuzzParseFlags: whatever the environment file and the command line say, the agent
// either refuses to start with an error, or starts with a configuration that is valid:
// a loopback self probe, a real ENI IP to witness through, sane intervals.
func FuzzParseFlags(f *testing.F) {
	good := EnvCluster + "=prod-1\n" + EnvENIID + "=eni-0123456789abcdef0\n" + EnvENIIP + "=10.0.1.10"
	f.Add(good, "")
	f.Add(good, "-probe-interval=9s\x00-publish-interval=9s")
	f.Add(good, "-probe-url=https://[::1]:8443/v1/info\x00-pin-sha256=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
	f.Add(good+"\n"+EnvProbeURL+"=http://10.0.0.1:8080/v1/info", "")
	f.Add(good, "-version")
	f.Add("", "-h")
	f.Add(good+"\n"+EnvProbeTimeout+"=-1s", "")
	f.Add(good+"\n"+EnvMaxBuffered+"=99999999999999999999", "")
	f.Add(good, "-eni-ip=fe80::1%eth0")
	f.Fuzz(func(t *testing.T, envBlob, argBlob string) {
		c, err := ParseFlags(fuzzArgs(argBlob), fuzzEnv(envBlob), io.Discard)
		if err != nil || c.ShowVersion {
			return
		}
		if verr := c.Validate(); verr != nil {
			t.Fatalf("ParseFlags accepted a configuration Validate rejects: %v", verr)
		}
		u, err := url.Parse(c.ProbeURL)
		if err != nil || !isLoopback(u.Hostname()) {
			t.Fatalf("accepted a self probe that is not on loopback: %q", c.ProbeURL)
		}
		if c.ProbeTimeout <= 0 || c.ProbeInterval <= c.ProbeTimeout || c.PublishInterval < c.ProbeInterval {
			t.Fatalf("accepted intervals probe %s timeout %s publish %s", c.ProbeInterval, c.ProbeTimeout, c.PublishInterval)
		}
		w, err := c.WitnessURL()
		if err != nil {
			t.Fatalf("valid configuration without a witness URL: %v", err)
		}
		wu, err := url.Parse(w)
		if err != nil {
			t.Fatalf("witness URL %q does not parse: %v", w, err)
		}
		ip, err := netip.ParseAddr(wu.Hostname())
		if err != nil || ip.IsLoopback() || ip.String() != netip.MustParseAddr(c.ENIIP).String() {
			t.Fatalf("witness URL %q does not point at the ENI IP %s", w, c.ENIIP)
		}
		if wu.Scheme != u.Scheme || wu.Port() != u.Port() || wu.Path != u.Path {
			t.Fatalf("witness URL %q differs from the self probe %q in more than the host", w, c.ProbeURL)
		}
	})
}
