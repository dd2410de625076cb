package events

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// addSamples seeds a fuzz target with the sample events a person feeds to the handlers.
func addSamples(f *testing.F, pattern string) {
	f.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		f.Fatalf("no samples match %s: %v", pattern, err)
	}
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

// FuzzDecodeFailoverState: any payload either decodes into a valid state that
// re-encodes and decodes to the same document, or fails with an error; it never panics.
func FuzzDecodeFailoverState(f *testing.F) {
	addSamples(f, "*-input.json")
	addSamples(f, "*-output.json")
	addSamples(f, "failover-caught-error.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := DecodeFailoverState(data)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("error without a message")
			}
			return
		}
		if s == nil {
			t.Fatal("nil state without an error")
		}
		e1, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("a valid state does not re-encode: %v", err)
		}
		s2, err := DecodeFailoverState(e1)
		if err != nil {
			t.Fatalf("the re-encoded state does not decode: %v\n%s", err, e1)
		}
		e2, err := json.Marshal(s2)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(e1, e2) {
			t.Fatalf("re-encoding is not stable:\n%s\n%s", e1, e2)
		}
		if s2.Cluster != s.Cluster || s2.ENIID != s.ENIID || s2.FailedInstanceID != s.FailedInstanceID ||
			s2.Verdict != s.Verdict || !s2.DetectedAt.Equal(s.DetectedAt) || len(s2.Timeline) != len(s.Timeline) {
			t.Fatalf("round trip changed the state:\n%+v\n%+v", s, s2)
		}
		if name := ExecutionName(s.Cluster, s.FailedInstanceID, s.ENIID, s.DetectedAt); !validExecutionName(name) {
			t.Fatalf("a valid state gives an invalid execution name %q", name)
		}
	})
}

// validExecutionName is Step Functions' rule for execution names.
func validExecutionName(s string) bool {
	if len(s) < 1 || len(s) > 80 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// FuzzDecodeScheduleEvent: the same property for what EventBridge (or an operator) sends
// the health check.
func FuzzDecodeScheduleEvent(f *testing.F) {
	addSamples(f, "schedule-*.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := DecodeScheduleEvent(data)
		if err != nil {
			return
		}
		e1, err := json.Marshal(e)
		if err != nil {
			t.Fatalf("a valid event does not re-encode: %v", err)
		}
		e2, err := DecodeScheduleEvent(e1)
		if err != nil {
			t.Fatalf("the re-encoded event does not decode: %v\n%s", err, e1)
		}
		r, err := json.Marshal(e2)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(e1, r) {
			t.Fatalf("re-encoding is not stable:\n%s\n%s", e1, r)
		}
		if e2.ID != e.ID || !e2.Time.Equal(e.Time) {
			t.Fatalf("round trip changed the event: %+v %+v", e, e2)
		}
	})
}
