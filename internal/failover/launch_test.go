package failover

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/harness/sim"
)

// EC2 is eventually consistent with Auto Scaling: right after the group launches a
// replacement, DescribeInstances may answer InvalidInstanceID.NotFound for it.
// LaunchStandby looks again within its deadline, and only when EC2 keeps not knowing
// the member does it give up with a TransientError (which the state machine retries).
func TestLaunchWaitsForEC2ToKnowNewMember(t *testing.T) {
	tests := []struct {
		name      string
		stale     int // DescribeInstances answers from before the replacement existed this many times; 0: until cleared
		wantError bool
	}{
		{name: "once", stale: 1},
		{name: "just under the limit", stale: notFoundAttempts - 1},
		{name: "persists", stale: 0, wantError: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, worldOpts{})
			st := w.input()
			for _, s := range []string{events.StepTerminate, events.StepAttachENI} {
				var err error
				if st, err = w.run(s, st); err != nil {
					t.Fatalf("%s: %v", s, err)
				}
			}
			// Older than the replacement (and than the whole pool): EC2 knows none of them.
			w.acct.Inject(sim.Fault{Service: "ec2", Operation: "DescribeInstances", Caller: "launchstandby", Kind: sim.StaleRead,
				Latency: 30 * time.Minute, Times: tc.stale})
			start := w.clk.Now()
			out, err := w.run(events.StepLaunch, st)
			notFound := 0
			for _, c := range w.acct.Calls() {
				if c.Caller == "launchstandby" && c.Operation == "DescribeInstances" && c.Err != "" {
					notFound++
				}
			}
			if tc.wantError {
				var te *TransientError
				if !errors.As(err, &te) || ErrorType(err) != ErrorTypeTransient {
					t.Fatalf("err %T %v, want *TransientError", err, err)
				}
				if notFound != notFoundAttempts {
					t.Errorf("%d NotFound answers, want %d", notFound, notFoundAttempts)
				}
				if out.Launch != nil {
					t.Errorf("launch result despite the error: %+v", out.Launch)
				}
				// Idempotent: once EC2 catches up, a re-run (the state machine's Retry) succeeds.
				w.acct.ClearFaults()
				out, err = w.run(events.StepLaunch, st)
				if err != nil {
					t.Fatalf("re-run after EC2 caught up: %v", err)
				}
			} else {
				if err != nil {
					t.Fatalf("%T %v\n%s", err, err, timeline(out))
				}
				if notFound != tc.stale {
					t.Errorf("%d NotFound answers, want %d", notFound, tc.stale)
				}
			}
			if out.Launch == nil || out.Launch.Live != 2 || len(out.Launch.NewInstanceIDs) != 1 ||
				!slices.Equal(out.Launch.TaggedStandby, out.Launch.NewInstanceIDs) {
				t.Fatalf("launch %+v", out.Launch)
			}
			// Bounded: the extra looks cost a poll interval each, far below the step's budget.
			if !tc.wantError {
				if waited := w.clk.Now().Sub(start); waited > DefaultTiming().LaunchWait+time.Duration(notFoundAttempts)*DefaultTiming().PollInterval {
					t.Errorf("step took %s on the simulated clock", waited)
				}
			}
		})
	}
}

// A group slower than the step's budget is reported (REQUESTED, Live below the count)
// within the budget, like a group slower than LaunchWait, not failed with a
// TransientError that every retry would repeat.
func TestLaunchWaitIsBoundedByTheDeadline(t *testing.T) {
	w := newWorld(t, worldOpts{})
	must(t, w.acct.SetASGSuspended(testASG, true)) // the group does not replace the failed member
	st := w.input()
	for _, s := range []string{events.StepTerminate, events.StepAttachENI} {
		var err error
		if st, err = w.run(s, st); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	// 40 s of Lambda time less the 15 s margin: a 25 s budget, shorter than LaunchWait.
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	budget := 40*time.Second - DefaultTiming().DeadlineMargin
	start := w.clk.Now()
	out, err := w.steps("launchstandby").LaunchStandby(ctx, st)
	if err != nil {
		t.Fatalf("%T %v", err, err)
	}
	if out.Launch == nil || out.Launch.Outcome != events.LaunchRequested || out.Launch.Live != 1 {
		t.Errorf("launch %+v", out.Launch)
	}
	if waited := w.clk.Now().Sub(start); waited > budget || waited < budget-2*DefaultTiming().PollInterval {
		t.Errorf("waited %s on the simulated clock, want just under the %s budget", waited, budget)
	}
}
