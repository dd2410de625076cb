package drill

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestDrillShort runs every scenario of the demo on simulated time (clock.Sim) against
// the simulated account with the real agent, health check, state machine definition
// (through the Go interpreter, which the asl package's differential test holds to
// aws-local-stepfunctions) and step handlers, and asserts each behaves: failover when it
// must, none when it must not, and the invariants hold. Time advances only when every
// component waits, so no verdict depends on the machine's speed or load. It is the
// deterministic form of `make demo` inside `make test`.
func TestDrillShort(t *testing.T) {
	r, err := RunDemo(context.Background(), DemoOptions{Unpaced: true, Parallel: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Scenarios) != len(Scenarios(DefaultSettings())) {
		t.Fatalf("%d scenarios ran, want all %d", len(r.Scenarios), len(Scenarios(DefaultSettings())))
	}
	for _, s := range r.Scenarios {
		t.Run(s.Name, func(t *testing.T) {
			if !s.OK {
				t.Errorf("misbehaved: %v", s.Violations)
			}
			if s.FailedOver != s.ExpectFailover {
				t.Errorf("failed over %v, want %v", s.FailedOver, s.ExpectFailover)
			}
			if s.MaxAttachments != 1 || s.Samples == 0 {
				t.Errorf("attachment sampling: %d samples, max %d at once", s.Samples, s.MaxAttachments)
			}
			if !s.ExpectFailover {
				if s.Executions != 0 || s.DetectS != nil {
					t.Errorf("%d executions after the fault, detect %v", s.Executions, s.DetectS)
				}
				return
			}
			if s.Executions != 1 || s.ExecutionStatus != "SUCCEEDED" {
				t.Errorf("%d executions, status %q; want one that succeeded", s.Executions, s.ExecutionStatus)
			}
			if s.DetectS == nil || s.FencedS == nil || s.ENIAttachedS == nil || s.ServingS == nil {
				t.Fatalf("missing timings: detect %v fenced %v attached %v serving %v", s.DetectS, s.FencedS, s.ENIAttachedS, s.ServingS)
			}
			// Order of events, and bounds in drill time (production-equivalent seconds). The
			// attachment is sampled every few wall milliseconds, so the client may see the
			// new holder a sample earlier than the sampler: allow a second of drill time.
			if !(*s.DetectS <= *s.FencedS && *s.FencedS <= *s.ENIAttachedS && *s.ENIAttachedS <= *s.ServingS+1) {
				t.Errorf("out of order: detect %.1f fenced %.1f attached %.1f serving %.1f", *s.DetectS, *s.FencedS, *s.ENIAttachedS, *s.ServingS)
			}
			limit := 180.0
			if s.Name == "single-coordinator" {
				limit = 600
			}
			if *s.ServingS > limit {
				t.Errorf("served again after %.1fs of drill time, more than %.0fs", *s.ServingS, limit)
			}
			if s.FailedInstance == s.NewHolder || s.NewHolder == "" {
				t.Errorf("the ENI is on %q after the failure of %q", s.NewHolder, s.FailedInstance)
			}
		})
	}
	dir := t.TempDir()
	if err := r.Write(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"report.json", "timeline.svg"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s not written: %v", f, err)
		}
	}
}
