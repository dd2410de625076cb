package events

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Every sample in this directory decodes strictly, validates, and re-encodes to the same
// JSON (compared as values, so indentation does not matter).
func TestSamplesRoundTrip(t *testing.T) {
	samples, err := filepath.Glob("*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) < 8 {
		t.Fatalf("expected the samples for every type, found %d: %v", len(samples), samples)
	}
	for _, name := range samples {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			var v any
			if strings.HasPrefix(name, "schedule") {
				var e *ScheduleEvent
				e, err = DecodeScheduleEvent(data)
				if err == nil && e.IsDoorbell() != strings.Contains(name, "doorbell") {
					t.Fatalf("IsDoorbell() = %v", e.IsDoorbell())
				}
				v = e
			} else {
				v, err = DecodeFailoverState(data)
			}
			if err != nil {
				t.Fatalf("decoding sample: %v", err)
			}
			again, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			assertSameJSON(t, data, again)
		})
	}
}

func assertSameJSON(t *testing.T, want, got []byte) {
	t.Helper()
	var a, b any
	if err := json.Unmarshal(want, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(got, &b); err != nil {
		t.Fatal(err)
	}
	wa, _ := json.Marshal(a)
	gb, _ := json.Marshal(b)
	if !bytes.Equal(wa, gb) {
		t.Fatalf("re-encoded JSON differs\nwant %s\n got %s", wa, gb)
	}
}

func TestDecodeFailoverStateErrors(t *testing.T) {
	valid, err := os.ReadFile("failover-input.json")
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(valid, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	cases := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", []byte("  "), "empty payload"},
		{"not json", []byte("{cluster: prod"), "decoding failover state"},
		{"array", []byte("[]"), "expected a JSON object"},
		{"trailing data", append(append([]byte{}, valid...), []byte(" {}")...), "trailing data"},
		{"unknown field", mutate(func(m map[string]any) { m["eni"] = "x" }), `unknown field "eni"`},
		{"wrong type", mutate(func(m map[string]any) { m["cluster"] = 7 }), `field "cluster"`},
		{"bad time", mutate(func(m map[string]any) { m["detectedAt"] = "yesterday" }), "detectedAt"},
		{"missing cluster", mutate(func(m map[string]any) { delete(m, "cluster") }), "missing cluster"},
		{"bad cluster", mutate(func(m map[string]any) { m["cluster"] = "prod cluster!" }), "cluster \"prod cluster!\""},
		{"missing eni", mutate(func(m map[string]any) { delete(m, "eniId") }), "missing eniId"},
		{"bad eni", mutate(func(m map[string]any) { m["eniId"] = "i-0123456789abcdef0" }), "not an ENI id"},
		{"unknown verdict", mutate(func(m map[string]any) { m["verdict"] = "DEAD" }), `verdict "DEAD"`},
		{"healthy verdict", mutate(func(m map[string]any) { m["verdict"] = "HEALTHY" }), "does not call for a failover"},
		{"missing instance", mutate(func(m map[string]any) { delete(m, "failedInstanceId") }), "missing failedInstanceId"},
		{"bad instance", mutate(func(m map[string]any) { m["failedInstanceId"] = "eni-0a1b2c3d4e5f60718" }), "not an instance id"},
		{"missing detectedAt", mutate(func(m map[string]any) { delete(m, "detectedAt") }), "missing detectedAt"},
		{"bad target", mutate(func(m map[string]any) { m["targetInstanceId"] = "standby" }), `targetInstanceId "standby" is not an instance id`},
		{"target is the failed one", mutate(func(m map[string]any) { m["targetInstanceId"] = m["failedInstanceId"] }), "is the instance to fence"},
		{"several at once", mutate(func(m map[string]any) { delete(m, "cluster"); delete(m, "eniId") }), "missing cluster; missing eniId"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeFailoverState(c.in)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want error containing %q, got %v", c.want, err)
			}
		})
	}
}

func TestUnattachedNeedsNoInstance(t *testing.T) {
	data, err := os.ReadFile("unattached-input.json")
	if err != nil {
		t.Fatal(err)
	}
	s, err := DecodeFailoverState(data)
	if err != nil {
		t.Fatal(err)
	}
	if s.FailedInstanceID != "" || s.Verdict != VerdictUnattached {
		t.Fatalf("unexpected %+v", s)
	}
}

func TestDecodeScheduleEventErrors(t *testing.T) {
	cases := []struct{ in, want string }{
		{`{}`, "missing id; missing time"},
		{`{"id":"x","time":"2026-11-24T10:00:00Z","extra":1}`, `unknown field "extra"`},
		{`{"id":"x","time":12}`, `field "time"`},
		{``, "empty payload"},
	}
	for _, c := range cases {
		_, err := DecodeScheduleEvent([]byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("DecodeScheduleEvent(%q): want error containing %q, got %v", c.in, c.want, err)
		}
	}
}

func TestExecutionName(t *testing.T) {
	at := time.Date(2026, 11, 24, 10, 0, 40, 0, time.UTC)
	cases := []struct {
		cluster, inst, eni, want string
	}{
		{"prod", "i-0123456789abcdef0", "eni-0a1b2c3d4e5f60718", "prod-i-0123456789abcdef0"},
		{"prod", "", "eni-0a1b2c3d4e5f60718", "prod-unattached-eni-0a1b2c3d4e5f60718-20261124T1000"},
		{strings.Repeat("c", 40), "", "eni-0a1b2c3d4e5f60718", (strings.Repeat("c", 40) + "-unattached-eni-0a1b2c3d4e5f60718-20261124T1000")[:80]},
	}
	for _, c := range cases {
		got := ExecutionName(c.cluster, c.inst, c.eni, at)
		if got != c.want {
			t.Errorf("ExecutionName(%q,%q) = %q, want %q", c.cluster, c.inst, got, c.want)
		}
		if len(got) > 80 {
			t.Errorf("name %q longer than 80 characters", got)
		}
		for _, r := range got {
			if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
				t.Errorf("name %q has %q, which Step Functions rejects", got, r)
			}
		}
	}
	// The same failure always gives the same name: the second trigger collides with the first.
	if ExecutionName("prod", "i-0123456789abcdef0", "", at) != ExecutionName("prod", "i-0123456789abcdef0", "", at.Add(time.Hour)) {
		t.Fatal("name of the same failed instance changed with the detection time")
	}
}

func TestVerdicts(t *testing.T) {
	seen := map[float64]bool{}
	for _, v := range Verdicts {
		if !v.Valid() || seen[v.Code()] {
			t.Fatalf("verdict %s invalid or code reused", v)
		}
		seen[v.Code()] = true
	}
	for v, want := range map[Verdict]bool{VerdictFailed: true, VerdictGone: true, VerdictUnattached: true, VerdictManual: true,
		VerdictHealthy: false, VerdictAgentLost: false, VerdictPartitioned: false, VerdictSuspect: false, VerdictStarting: false, VerdictForeignHolder: false} {
		if v.TriggersFailover() != want {
			t.Errorf("%s.TriggersFailover() = %v", v, !want)
		}
	}
	if Verdict("X").Code() != -1 || Verdict("X").Valid() {
		t.Fatal("unknown verdict accepted")
	}
}

func TestAttemptName(t *testing.T) {
	base := "prod-i-0123456789abcdef0"
	if AttemptName(base, 1) != base || AttemptName(base, 0) != base {
		t.Fatal("the first attempt must keep the execution name")
	}
	if got := AttemptName(base, 2); got != base+"-a2" {
		t.Fatalf("AttemptName(2) = %q", got)
	}
	long := strings.Repeat("c", 80)
	if got := AttemptName(long, 10); len(got) != 80 || !strings.HasSuffix(got, "-a10") {
		t.Fatalf("AttemptName of an 80-character name = %q (%d characters)", got, len(got))
	}
}

func TestLeaseName(t *testing.T) {
	name := LeaseName("prod", 42)
	if name != "prod-failover-000042" {
		t.Fatalf("LeaseName = %q", name)
	}
	if g, ok := ParseLeaseName("prod", name); !ok || g != 42 {
		t.Fatalf("ParseLeaseName(%q) = %d, %v", name, g, ok)
	}
	for _, bad := range []string{"prod-i-0123456789abcdef0", "prod-failover-", "prod-failover-00x1", "other-failover-000001", "prod-failover-000000", "prod-failover-1234567890"} {
		if g, ok := ParseLeaseName("prod", bad); ok {
			t.Errorf("ParseLeaseName(%q) = %d, want not a lease name", bad, g)
		}
	}
	if !validExecutionName(LeaseName("a-forty-character-cluster-name-123456789", 999999999)) {
		t.Errorf("a lease name of the longest cluster is not a valid execution name")
	}
}
