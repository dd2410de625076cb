package failover

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/awserr"
	"github.com/prestoha/coordinator-ha/internal/config"
	"github.com/prestoha/coordinator-ha/internal/harness/sim"
	"github.com/prestoha/coordinator-ha/internal/signal"
)

// runAll runs the success path Terminate -> AttachENI -> LaunchStandby -> Notify.
func (w *world) runAll(st events.FailoverState) events.FailoverState {
	w.t.Helper()
	for _, step := range []string{events.StepTerminate, events.StepAttachENI, events.StepLaunch, events.StepNotify} {
		var err error
		st, err = w.run(step, st)
		if err != nil {
			w.t.Fatalf("%s: %v\n%s", step, err, timeline(st))
		}
	}
	return st
}

// checkFailedOver asserts the invariants of a completed failover.
func (w *world) checkFailedOver(st events.FailoverState) {
	w.t.Helper()
	if st.Terminate == nil || st.Terminate.Outcome != events.TerminateFenced {
		w.t.Fatalf("terminate %+v", st.Terminate)
	}
	if st.Attach == nil || st.Attach.Outcome != events.AttachAttached || st.Attach.InstanceID != w.standbys[0] {
		w.t.Fatalf("attach %+v, want ATTACHED to %s", st.Attach, w.standbys[0])
	}
	eni, _ := w.acct.ENI(w.eni)
	if eni.Attachment == nil || eni.Attachment.InstanceID != w.standbys[0] || eni.Attachment.DeviceIndex != 1 || eni.Attachment.Status != "attached" {
		w.t.Fatalf("ENI %+v", eni)
	}
	if n := w.calls("", "AttachNetworkInterface", true) - 1; n != 1 { // one by setup
		w.t.Errorf("%d successful attaches by the steps, want exactly 1", n)
	}
	failed, ok := w.acct.Instance(w.active)
	if ok && failed.State != "shutting-down" && failed.State != "terminated" {
		w.t.Errorf("failed instance is %s", failed.State)
	}
	// Fence before attach: the attach call came after the failed instance left running.
	var attachAt time.Time
	for _, c := range w.acct.Calls() {
		if c.Caller == "attacheni" && c.Operation == "AttachNetworkInterface" && c.Err == "" {
			attachAt = c.At
		}
	}
	if attachAt.Before(st.Terminate.FencedAt) {
		w.t.Errorf("attached at %s before the fence was confirmed at %s", attachAt, st.Terminate.FencedAt)
	}
	inst, _ := w.acct.Instance(w.standbys[0])
	if inst.Tags[config.TagRole] != config.RoleActive {
		w.t.Errorf("new coordinator tags %v", inst.Tags)
	}
	g, _ := w.acct.ASG(testASG)
	for _, m := range g.Members {
		if m.InstanceID == w.standbys[0] && !m.Protected {
			w.t.Error("new coordinator is not protected from scale-in")
		}
	}
}

func TestHappyPath(t *testing.T) {
	w := newWorld(t, worldOpts{})
	st := w.runAll(w.input())
	w.checkFailedOver(st)

	if st.Launch == nil || st.Launch.Live != 2 || len(st.Launch.NewInstanceIDs) != 1 || st.Launch.DesiredCapacity != 2 {
		t.Errorf("launch %+v", st.Launch)
	}
	newID := st.Launch.NewInstanceIDs[0]
	if inst, _ := w.acct.Instance(newID); inst.Tags[config.TagRole] != config.RoleStandby {
		t.Errorf("newcomer %s tags %v", newID, inst.Tags)
	}
	msgs := w.acct.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	m := msgs[0]
	wantSubject := "[coordinator-ha] prod: failed over " + w.active + " -> " + w.standbys[0] + " in "
	if !strings.HasPrefix(m.Subject, wantSubject) || len(m.Subject) > 100 {
		t.Errorf("subject %q, want prefix %q", m.Subject, wantSubject)
	}
	for _, want := range []string{"Verdict:          FAILED", "Fence:            FENCED", "Timeline:", "attach-requested", "candidate " + w.standbys[0]} {
		if !strings.Contains(m.Message, want) {
			t.Errorf("body lacks %q:\n%s", want, m.Message)
		}
	}
	if st.Notify == nil || st.Notify.Outcome != events.OutcomeFailedOver || st.Notify.MessageID != m.ID {
		t.Errorf("notify %+v", st.Notify)
	}
	// The failover, in simulated time, from detection to attached.
	took := st.Attach.AttachedAt.Sub(st.DetectedAt)
	if took <= 0 || took > 2*time.Minute {
		t.Errorf("failover took %s of simulated time", took)
	}
	t.Logf("failover in %s (simulated); subject %q\n%s", took, m.Subject, timeline(st))
}

// TestCrashAndRerun crashes each step after every one of its AWS calls (the call is
// applied, the reply lost, the invocation dies) and re-runs the step on the same input:
// it must finish the job or report it done, and never attach twice.
func TestCrashAndRerun(t *testing.T) {
	steps := []string{events.StepTerminate, events.StepAttachENI, events.StepLaunch, events.StepNotify}
	for si, crashStep := range steps {
		// Count the step's calls in a clean run.
		clean := newWorld(t, worldOpts{})
		st := clean.input()
		for _, s := range steps[:si] {
			st, _ = clean.run(s, st)
		}
		clean.acct.ResetCalls()
		if _, err := clean.run(crashStep, st); err != nil {
			t.Fatal(err)
		}
		total := len(clean.acct.Calls())
		t.Run(crashStep, func(t *testing.T) {
			for after := 0; after < total; after++ {
				w := newWorld(t, worldOpts{})
				st := w.input()
				for _, s := range steps[:si] {
					var err error
					if st, err = w.run(s, st); err != nil {
						t.Fatal(err)
					}
				}
				ctx, cancel := context.WithCancel(context.Background())
				cc := &crashClients{after: after, cancel: cancel, inner: w.pool.ClientsOf(lambdaOf(crashStep))}
				_, err := w.stepsWith(cc.deps()).Handlers()[crashStep](ctx, st)
				// The crash loses the step's output whatever it returned; a best-effort
				// last call (tagging) may let it return nil, anything else is a
				// TransientError so the state machine would retry.
				var te *TransientError
				if err != nil && !errors.As(err, &te) {
					t.Fatalf("crash after %d calls: err %T %v, want TransientError", after, err, err)
				}
				w.advance(time.Second)
				// Re-run the crashed step on the same input, then the rest.
				for _, s := range steps[si:] {
					if st, err = w.run(s, st); err != nil {
						t.Fatalf("crash after %d calls, re-run of %s: %v\n%s", after, s, err, timeline(st))
					}
				}
				w.checkFailedOver(st)
				if crashStep != events.StepNotify && len(w.acct.Messages()) != 1 {
					t.Errorf("crash after %d: %d messages", after, len(w.acct.Messages()))
				}
			}
			t.Logf("%s: crashed after each of its %d calls; every re-run finished the failover", crashStep, total)
		})
	}
}

func TestThrottling(t *testing.T) {
	tests := []struct {
		step      string
		before    []string
		service   string
		op        string
		caller    string
		times     int // 0: forever
		wantError bool
	}{
		{step: events.StepTerminate, service: "ec2", op: "DescribeNetworkInterfaces", caller: "terminate", times: 3},
		{step: events.StepTerminate, service: "autoscaling", op: "TerminateInstanceInAutoScalingGroup", caller: "terminate", times: 4},
		{step: events.StepTerminate, service: "ec2", op: "DescribeInstances", caller: "terminate", times: 0, wantError: true},
		{step: events.StepAttachENI, before: []string{events.StepTerminate}, service: "cloudwatch", op: "GetMetricData", caller: "attacheni", times: 3},
		{step: events.StepAttachENI, before: []string{events.StepTerminate}, service: "ec2", op: "AttachNetworkInterface", caller: "attacheni", times: 4},
		{step: events.StepAttachENI, before: []string{events.StepTerminate}, service: "ec2", op: "AttachNetworkInterface", caller: "attacheni", times: 0, wantError: true},
		{step: events.StepLaunch, before: []string{events.StepTerminate, events.StepAttachENI}, service: "autoscaling", op: "DescribeAutoScalingGroups", caller: "launchstandby", times: 5},
		{step: events.StepLaunch, before: []string{events.StepTerminate, events.StepAttachENI}, service: "autoscaling", op: "DescribeAutoScalingGroups", caller: "launchstandby", times: 0, wantError: true},
		{step: events.StepNotify, before: []string{events.StepTerminate, events.StepAttachENI}, service: "sns", op: "Publish", caller: "notify", times: 3},
		{step: events.StepNotify, before: []string{events.StepTerminate, events.StepAttachENI}, service: "sns", op: "Publish", caller: "notify", times: 0, wantError: true},
	}
	for _, tc := range tests {
		name := tc.step + "/" + tc.op
		if tc.wantError {
			name += "/beyond-budget"
		}
		t.Run(name, func(t *testing.T) {
			w := newWorld(t, worldOpts{})
			st := w.input()
			for _, s := range tc.before {
				var err error
				if st, err = w.run(s, st); err != nil {
					t.Fatal(err)
				}
			}
			w.acct.Inject(sim.Fault{Service: tc.service, Operation: tc.op, Caller: tc.caller, Kind: sim.Throttle, Times: tc.times})
			out, err := w.run(tc.step, st)
			failedCalls := 0
			for _, c := range w.acct.Calls() {
				if c.Caller == tc.caller && c.Operation == tc.op && c.Err != "" {
					failedCalls++
				}
			}
			if tc.wantError {
				var te *TransientError
				if !errors.As(err, &te) || ErrorType(err) != ErrorTypeTransient {
					t.Fatalf("err %T %v, want *TransientError", err, err)
				}
				if failedCalls != DefaultTiming().APIAttempts {
					t.Errorf("%d throttled attempts, want %d", failedCalls, DefaultTiming().APIAttempts)
				}
				if tc.op == "AttachNetworkInterface" && w.calls("attacheni", "AttachNetworkInterface", true) != 0 {
					t.Error("attached despite the error")
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, timeline(out))
			}
			if failedCalls != tc.times {
				t.Errorf("%d throttled calls, want %d", failedCalls, tc.times)
			}
		})
	}
}

func TestENISlowToDetachIsForced(t *testing.T) {
	w := newWorld(t, worldOpts{})
	// The failed instance hangs in shutting-down and does not release the ENI.
	must(t, w.acct.StickInstanceShutdown(w.active, 10*time.Minute))
	must(t, w.acct.StickENIDetach(w.eni, 10*time.Minute))
	start := w.clk.Now()
	st, err := w.run(events.StepTerminate, w.input())
	if err != nil {
		t.Fatalf("%v\n%s", err, timeline(st))
	}
	if st.Terminate.Outcome != events.TerminateFenced || !st.Terminate.ForcedDetach || st.Terminate.InstanceState != "shutting-down" {
		t.Fatalf("terminate %+v", st.Terminate)
	}
	// The instance is confirmed shutting down, so the detach is forced at once: the fence
	// takes the force detach's own delay, not the instance's (stuck) shutdown.
	took := st.Terminate.FencedAt.Sub(start)
	if took > sim.DefaultTimings().ForceDetachDelay+5*time.Second {
		t.Errorf("fenced after %s, want about the %s of a forced detach", took, sim.DefaultTimings().ForceDetachDelay)
	}
	if hasEvent(st, events.StepTerminate, "detach-requested") {
		t.Errorf("a graceful detach was tried on a shutting-down instance:\n%s", timeline(st))
	}
	if !hasEvent(st, events.StepTerminate, "force-detach-requested") {
		t.Errorf("no force detach in the timeline:\n%s", timeline(st))
	}
	st = w.runAll2(st)
	w.checkFailedOver(st)
	t.Logf("forced detach after %s (simulated)\n%s", took, timeline(st))
}

// runAll2 continues the success path after Terminate.
func (w *world) runAll2(st events.FailoverState) events.FailoverState {
	w.t.Helper()
	for _, step := range []string{events.StepAttachENI, events.StepLaunch, events.StepNotify} {
		var err error
		if st, err = w.run(step, st); err != nil {
			w.t.Fatalf("%s: %v\n%s", step, err, timeline(st))
		}
	}
	return st
}

func TestENIStuckBeyondBudgetIsTransient(t *testing.T) {
	w := newWorld(t, worldOpts{})
	must(t, w.acct.StickInstanceShutdown(w.active, time.Hour))
	w.acct.Inject(sim.Fault{Service: "ec2", Operation: "DetachNetworkInterface", Caller: "terminate", Kind: sim.ServerError})
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second) // 25 s budget after the margin
	defer cancel()
	_, err := w.steps("terminate").Terminate(ctx, w.input())
	var te *TransientError
	if !errors.As(err, &te) {
		t.Fatalf("err %v, want TransientError", err)
	}
	if w.calls("attacheni", "AttachNetworkInterface", false) != 0 {
		t.Error("attached")
	}
}

func TestASGSlowToReplace(t *testing.T) {
	w := newWorld(t, worldOpts{})
	must(t, w.acct.SetASGSuspended(testASG, true))
	st, err := w.run(events.StepTerminate, w.input())
	must(t, err)
	st, err = w.run(events.StepAttachENI, st)
	must(t, err)
	start := w.clk.Now()
	out, err := w.run(events.StepLaunch, st)
	must(t, err)
	if out.Launch.Outcome != events.LaunchRequested || out.Launch.Live != 1 || len(out.Launch.NewInstanceIDs) != 0 {
		t.Errorf("launch while the group is slow: %+v", out.Launch)
	}
	if waited := w.clk.Now().Sub(start); waited < DefaultTiming().LaunchWait-5*time.Second || waited > DefaultTiming().LaunchWait+5*time.Second {
		t.Errorf("waited %s, want about %s", waited, DefaultTiming().LaunchWait)
	}
	// The group catches up; a re-run confirms and tags the newcomer.
	must(t, w.acct.SetASGSuspended(testASG, false))
	out, err = w.run(events.StepLaunch, st)
	must(t, err)
	if out.Launch.Live != 2 || len(out.Launch.NewInstanceIDs) != 1 || len(out.Launch.TaggedStandby) != 1 || out.Launch.TaggedStandby[0] != out.Launch.NewInstanceIDs[0] {
		t.Errorf("launch after the group caught up: %+v", out.Launch)
	}
}

func TestLaunchRaisesDesiredCapacity(t *testing.T) {
	w := newWorld(t, worldOpts{})
	w.cfg.HACount = 3
	out, err := w.run(events.StepLaunch, w.input())
	must(t, err)
	g, _ := w.acct.ASG(testASG)
	if g.Desired != 3 || out.Launch.Outcome != events.LaunchRequested || out.Launch.DesiredCapacity != 3 || !hasEvent(out, events.StepLaunch, "capacity-raised") {
		t.Errorf("group %+v launch %+v", g, out.Launch)
	}
	// Idempotent: a second run does not raise it again.
	w.acct.ResetCalls()
	if _, err := w.run(events.StepLaunch, w.input()); err != nil {
		t.Fatal(err)
	}
	if w.calls("launchstandby", "SetDesiredCapacity", false) != 0 {
		t.Error("desired capacity set again")
	}
}

func TestNoStandby(t *testing.T) {
	tests := []struct {
		name   string
		opts   worldOpts
		sicken func(w *world)
		reason string
	}{
		{name: "HA count 1", opts: worldOpts{haCount: 1}, reason: ""},
		{name: "standby has too few healthy reports", opts: worldOpts{healthyReports: 2, silentAfter: true}, reason: "consecutive healthy reports, needs 3"},
		{name: "standby unhealthy", opts: worldOpts{silentAfter: true}, sicken: func(w *world) { w.report(w.standbys[0], signal.Unhealthy, 12) }, reason: "0 consecutive healthy reports, needs 3"},
		{name: "standby still starting", opts: worldOpts{silentAfter: true}, sicken: func(w *world) { w.report(w.standbys[0], signal.Starting, 12) }, reason: "0 consecutive healthy reports, needs 3"},
		{name: "standby silent", opts: worldOpts{silentAfter: true}, sicken: func(w *world) { w.advance(2 * time.Minute) }, reason: "0 consecutive healthy reports, needs 3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, tc.opts)
			if tc.sicken != nil {
				tc.sicken(w)
			}
			st, err := w.run(events.StepTerminate, w.input())
			must(t, err)
			st, err = w.run(events.StepAttachENI, st)
			must(t, err)
			if st.Attach.Outcome != events.AttachNoStandby || st.Attach.Attempts != 1 || st.Attach.MaxAttempts != 3 {
				t.Fatalf("attach %+v", st.Attach)
			}
			if w.calls("attacheni", "AttachNetworkInterface", false) != 0 {
				t.Error("attach attempted")
			}
			if tc.reason != "" && !candidateRejected(st, w.standbys[0], tc.reason) {
				t.Errorf("candidates %+v, want %s rejected with %q", st.Attach.Candidates, w.standbys[0], tc.reason)
			}
			// The slow path runs AttachENI again: attempts count up.
			st2, err := w.run(events.StepAttachENI, st)
			must(t, err)
			if st2.Attach.Attempts != 2 {
				t.Errorf("second attempt %+v", st2.Attach)
			}
		})
	}
}

func candidateRejected(st events.FailoverState, id, reason string) bool {
	for _, c := range st.Attach.Candidates {
		if c.InstanceID == id && strings.Contains(c.Rejected, reason) {
			return true
		}
	}
	return false
}

func TestSlowPathAttachesOnceTheNewStandbyIsHealthy(t *testing.T) {
	w := newWorld(t, worldOpts{haCount: 1})
	st, err := w.run(events.StepTerminate, w.input())
	must(t, err)
	st, err = w.run(events.StepAttachENI, st)
	must(t, err)
	if st.Attach.Outcome != events.AttachNoStandby {
		t.Fatalf("attach %+v", st.Attach)
	}
	st, err = w.run(events.StepLaunch, st)
	must(t, err)
	if len(st.Launch.NewInstanceIDs) != 1 {
		t.Fatalf("launch %+v", st.Launch)
	}
	newID := st.Launch.NewInstanceIDs[0]
	w.advance(time.Minute) // boots
	w.report(newID, signal.Healthy, 4)
	st, err = w.run(events.StepAttachENI, st)
	must(t, err)
	if st.Attach.Outcome != events.AttachAttached || st.Attach.InstanceID != newID || st.Attach.Attempts != 2 {
		t.Fatalf("attach %+v\n%s", st.Attach, timeline(st))
	}
}

// Attack: an instance launched outside the Auto Scaling group, given the cluster tag
// (anyone with ec2:CreateTags can add it) and healthy reports of its own, in the ENI's
// AZ. The pool is the group's members, not a tag: it is never a candidate, the slow
// path is taken instead, and IAM would refuse the attach anyway (no
// aws:autoscaling:groupName tag, which only Auto Scaling can write).
func TestTaggedOutsiderNeverGetsTheENI(t *testing.T) {
	w := newWorld(t, worldOpts{haCount: 1})
	outsider, err := w.acct.LaunchInstance(sim.InstanceSpec{SubnetID: subnetA, Tags: map[string]string{config.TagCluster: testCluster}})
	must(t, err)
	w.advance(time.Minute)
	w.report(outsider, signal.Healthy, 6)
	w.keepReporting(outsider, 15*time.Minute)
	st, err := w.run(events.StepTerminate, w.input())
	must(t, err)
	st, err = w.run(events.StepAttachENI, st)
	must(t, err)
	if st.Attach.Outcome != events.AttachNoStandby {
		t.Fatalf("attach %+v", st.Attach)
	}
	for _, c := range st.Attach.Candidates {
		if c.InstanceID == outsider {
			t.Fatalf("the outsider was considered: %+v", c)
		}
	}
	if e, _ := w.acct.ENI(w.eni); e.Attachment != nil {
		t.Fatalf("the ENI is attached to %s", e.Attachment.InstanceID)
	}
	// Even asked directly, IAM refuses AttachENI's role an attach to it.
	_, err = w.pool.ClientsOf(lambdaOf(events.StepAttachENI)).EC2.AttachNetworkInterface(context.Background(),
		&ec2.AttachNetworkInterfaceInput{DeviceIndex: aws.Int32(1), InstanceId: aws.String(outsider), NetworkInterfaceId: aws.String(w.eni)})
	if !awserr.IsAccessDenied(err) {
		t.Fatalf("attach to the outsider: %v, want AccessDenied", err)
	}
	if i, _ := w.acct.Instance(outsider); i.State != "running" {
		t.Fatalf("the outsider is %s", i.State)
	}
}

func TestPrefersLongestHealthyStreak(t *testing.T) {
	w := newWorld(t, worldOpts{haCount: 3, healthyReports: 4})
	w.report(w.standbys[1], signal.Healthy, 9) // longer streak
	st, err := w.run(events.StepTerminate, w.input())
	must(t, err)
	st, err = w.run(events.StepAttachENI, st)
	must(t, err)
	if st.Attach.InstanceID != w.standbys[1] {
		t.Fatalf("chose %s, want %s: %+v", st.Attach.InstanceID, w.standbys[1], st.Attach.Candidates)
	}
	if !candidateRejected(st, w.standbys[0], "qualified; "+w.standbys[1]+" preferred") {
		t.Errorf("candidates %+v", st.Attach.Candidates)
	}
}

func TestFailedInstanceAlreadyGone(t *testing.T) {
	for _, gone := range []struct {
		name    string
		visible time.Duration
		state   string
	}{{"terminated and describable", time.Hour, "terminated"}, {"no longer describable", time.Minute, stateGone}} {
		t.Run(gone.name, func(t *testing.T) {
			w := newWorld(t, worldOpts{})
			tm := w.acct.Timings()
			tm.TerminatedVisibleFor = gone.visible
			w.acct.SetTimings(tm)
			must(t, w.acct.TerminateFromOutside(w.active))
			w.advance(3 * time.Minute) // the standby keeps reporting healthy (keepReporting)
			st, err := w.run(events.StepTerminate, w.input())
			must(t, err)
			if st.Terminate.Outcome != events.TerminateFenced || st.Terminate.InstanceState != gone.state || !hasEvent(st, events.StepTerminate, "already-terminated") {
				t.Fatalf("terminate %+v\n%s", st.Terminate, timeline(st))
			}
			// A describable terminated instance is left alone; one EC2 no longer knows is
			// terminated again (NotFound is only EC2's word: issue 11, problem 6).
			if n := w.calls("terminate", "TerminateInstanceInAutoScalingGroup", false) + w.calls("terminate", "TerminateInstances", false); (n != 0) != (gone.state == stateGone) {
				t.Errorf("%d terminate calls", n)
			}
			st, err = w.run(events.StepAttachENI, st)
			must(t, err)
			if st.Attach.Outcome != events.AttachAttached {
				t.Fatalf("attach %+v", st.Attach)
			}
		})
	}
}

func TestENIMovedBySomeoneElseIsSuperseded(t *testing.T) {
	w := newWorld(t, worldOpts{})
	setup := w.acct.Clients("setup")
	eni, _ := w.acct.ENI(w.eni)
	_, err := setup.EC2.DetachNetworkInterface(context.Background(), detachInput(eni.Attachment.ID))
	must(t, err)
	w.advance(10 * time.Second)
	_, err = setup.EC2.AttachNetworkInterface(context.Background(), attachInput(w.eni, w.standbys[0]))
	must(t, err)
	w.advance(5 * time.Second)

	st, err := w.run(events.StepTerminate, w.input())
	must(t, err)
	if st.Terminate.Outcome != events.TerminateSuperseded || st.Terminate.ENIHolder != w.standbys[0] {
		t.Fatalf("terminate %+v", st.Terminate)
	}
	if inst, _ := w.acct.Instance(w.active); inst.State != "running" {
		t.Errorf("superseded Terminate still touched the failed instance: %s", inst.State)
	}
	st, err = w.run(events.StepNotify, st)
	must(t, err)
	if st.Notify.Outcome != events.OutcomeSuperseded || !strings.Contains(st.Notify.Subject, "superseded") {
		t.Errorf("notify %+v", st.Notify)
	}
}

func TestAttachRefusesWithoutConfirmedFence(t *testing.T) {
	tests := []struct {
		name   string
		fence  *events.TerminateResult
		mutate func(w *world)
	}{
		{name: "no Terminate result"},
		{name: "Terminate superseded", fence: &events.TerminateResult{Outcome: events.TerminateSuperseded}},
		{name: "forged FENCED, instance still running and holding the ENI", fence: &events.TerminateResult{Outcome: events.TerminateFenced}},
		{name: "forged FENCED, ENI free but instance running", fence: &events.TerminateResult{Outcome: events.TerminateFenced}, mutate: func(w *world) {
			eni, _ := w.acct.ENI(w.eni)
			_, err := w.acct.Clients("setup").EC2.DetachNetworkInterface(context.Background(), detachInput(eni.Attachment.ID))
			must(w.t, err)
			w.advance(10 * time.Second)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, worldOpts{})
			if tc.mutate != nil {
				tc.mutate(w)
			}
			st := w.input()
			st.Terminate = tc.fence
			out, err := w.run(events.StepAttachENI, st)
			var fe *FenceNotConfirmedError
			if !errors.As(err, &fe) || ErrorType(err) != ErrorTypeFenceNotConfirmed {
				t.Fatalf("err %T %v, want *FenceNotConfirmedError", err, err)
			}
			if w.calls("attacheni", "AttachNetworkInterface", false) != 0 {
				t.Error("attach attempted without a confirmed fence")
			}
			if !hasEvent(out, events.StepAttachENI, "refused") {
				t.Errorf("no refusal in the timeline:\n%s", timeline(out))
			}
		})
	}
}

func TestUnattachedVerdictAttachesWithoutFencing(t *testing.T) {
	w := newWorld(t, worldOpts{})
	eni, _ := w.acct.ENI(w.eni)
	_, err := w.acct.Clients("setup").EC2.DetachNetworkInterface(context.Background(), detachInput(eni.Attachment.ID))
	must(t, err)
	w.advance(time.Second) // still detaching: Terminate waits
	st := w.input()
	st.FailedInstanceID = ""
	st.Verdict = events.VerdictUnattached
	st, err = w.run(events.StepTerminate, st)
	must(t, err)
	if st.Terminate.Outcome != events.TerminateNoHolder || st.Terminate.ENIStatus != "available" {
		t.Fatalf("terminate %+v", st.Terminate)
	}
	if inst, _ := w.acct.Instance(w.active); inst.State != "running" {
		t.Errorf("UNATTACHED terminated %s", w.active)
	}
	st, err = w.run(events.StepAttachENI, st)
	must(t, err)
	// The former active is a healthy-looking running pool member without reports: only
	// the reporting standby qualifies.
	if st.Attach.Outcome != events.AttachAttached || st.Attach.InstanceID != w.standbys[0] {
		t.Fatalf("attach %+v", st.Attach)
	}
}

func TestAttachLostReplyDoesNotAttachTwice(t *testing.T) {
	w := newWorld(t, worldOpts{})
	st, err := w.run(events.StepTerminate, w.input())
	must(t, err)
	w.acct.Inject(sim.Fault{Service: "ec2", Operation: "AttachNetworkInterface", Caller: "attacheni", Kind: sim.LostReply, Times: 1})
	st, err = w.run(events.StepAttachENI, st)
	must(t, err)
	if st.Attach.Outcome != events.AttachAttached || w.calls("attacheni", "AttachNetworkInterface", false) != 1 {
		t.Fatalf("attach %+v, %d attach calls", st.Attach, w.calls("attacheni", "AttachNetworkInterface", false))
	}
	// And a re-run of the whole step reports ATTACHED without attaching again.
	again, err := w.run(events.StepAttachENI, st)
	must(t, err)
	if again.Attach.Outcome != events.AttachAttached || !hasEvent(again, events.StepAttachENI, "already-attached") || w.calls("attacheni", "AttachNetworkInterface", false) != 1 {
		t.Errorf("re-run %+v", again.Attach)
	}
}

func TestNotifyFailureAndNoTopic(t *testing.T) {
	w := newWorld(t, worldOpts{})
	st := w.input()
	st.Error = &events.CatchError{Error: "TransientError", Cause: `{"errorMessage":"Terminate: describing ENI: throttled","errorType":"TransientError"}`}
	out, err := w.run(events.StepNotify, st)
	must(t, err)
	if out.Notify.Outcome != events.OutcomeFailed || !strings.Contains(out.Notify.Subject, "FAILOVER FAILED for "+w.active+": TransientError") {
		t.Errorf("notify %+v", out.Notify)
	}
	msgs := w.acct.Messages()
	if len(msgs) != 1 || !strings.Contains(msgs[0].Message, "Cause:            Terminate: describing ENI: throttled") {
		t.Errorf("messages %+v", msgs)
	}
	w.cfg.TopicARN = ""
	out, err = w.run(events.StepNotify, st)
	must(t, err)
	if out.Notify.Outcome != events.OutcomeFailed || out.Notify.MessageID != "" || len(w.acct.Messages()) != 1 {
		t.Errorf("without a topic: %+v, %d messages", out.Notify, len(w.acct.Messages()))
	}
}

func TestInvalidInput(t *testing.T) {
	w := newWorld(t, worldOpts{})
	tests := []struct {
		name   string
		mutate func(*events.FailoverState)
	}{
		{"missing ENI", func(s *events.FailoverState) { s.ENIID = "" }},
		{"other cluster", func(s *events.FailoverState) { s.Cluster = "staging" }},
		{"other ENI", func(s *events.FailoverState) { s.ENIID = "eni-0123456789abcdef0" }},
		{"verdict without failover", func(s *events.FailoverState) { s.Verdict = events.VerdictHealthy }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := w.input()
			tc.mutate(&st)
			for step, h := range w.steps("x").Handlers() {
				_, err := h(context.Background(), st)
				var ie *InvalidInputError
				if !errors.As(err, &ie) || ErrorType(err) != ErrorTypeInvalidInput {
					t.Errorf("%s: err %T %v", step, err, err)
				}
			}
		})
	}
	if len(w.acct.Calls()) != 0 && w.calls("x", "DescribeNetworkInterfaces", false) != 0 {
		t.Error("AWS called with invalid input")
	}
}

func TestSubjectIsBounded(t *testing.T) {
	st := &events.FailoverState{Cluster: strings.Repeat("c", 40), FailedInstanceID: "i-0123456789abcdef0", DetectedAt: t0,
		Error: &events.CatchError{Error: strings.Repeat("E", 200) + "\n"}}
	_, subject := Summary(st, t0)
	if len(subject) > 100 || strings.ContainsAny(subject, "\n\r") {
		t.Errorf("subject %d chars: %q", len(subject), subject)
	}
}

// Attack: a manual execution naming an instance outside the group (tagged with the
// cluster, even holding the ENI) is refused with a clear error before anything changes;
// the outsider is never terminated and the ENI stays where it is.
func TestManualExecutionNamingANonMemberIsRefused(t *testing.T) {
	for _, holds := range []bool{false, true} {
		t.Run(map[bool]string{false: "outsider", true: "outsider holding the ENI"}[holds], func(t *testing.T) {
			w := newWorld(t, worldOpts{})
			outsider, err := w.acct.LaunchInstance(sim.InstanceSpec{SubnetID: subnetA, Tags: map[string]string{config.TagCluster: testCluster}})
			must(t, err)
			w.advance(time.Minute)
			if holds {
				e, _ := w.acct.ENI(w.eni)
				setup := w.acct.Clients("setup").EC2
				_, err := setup.DetachNetworkInterface(context.Background(), detachInput(e.Attachment.ID))
				must(t, err)
				w.advance(10 * time.Second)
				_, err = setup.AttachNetworkInterface(context.Background(), &ec2.AttachNetworkInterfaceInput{
					DeviceIndex: aws.Int32(1), InstanceId: aws.String(outsider), NetworkInterfaceId: aws.String(w.eni)})
				must(t, err)
				w.advance(5 * time.Second)
			}
			in := w.input()
			in.FailedInstanceID, in.Verdict, in.Reason = outsider, events.VerdictManual, "operator"
			_, err = w.run(events.StepTerminate, in)
			var pe *PermanentError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), "not a coordinator of cluster "+testCluster) ||
				!strings.Contains(err.Error(), "members of Auto Scaling group "+testASG) {
				t.Fatalf("terminate of a non-member: %v, want a PermanentError naming the group", err)
			}
			if i, _ := w.acct.Instance(outsider); i.State != "running" {
				t.Fatalf("the outsider is %s", i.State)
			}
			if n := w.calls("terminate", "TerminateInstanceInAutoScalingGroup", false) + w.calls("terminate", "DetachNetworkInterface", false); n != 0 {
				t.Fatalf("%d mutating calls for a refused execution", n)
			}
			// And IAM would refuse the fence too: the Terminate role may not touch it.
			if _, err := w.pool.ClientsOf("terminate").EC2.TerminateInstances(context.Background(),
				&ec2.TerminateInstancesInput{InstanceIds: []string{outsider}}); !awserr.IsAccessDenied(err) {
				t.Fatalf("TerminateInstances on the outsider: %v, want AccessDenied", err)
			}
		})
	}
}
