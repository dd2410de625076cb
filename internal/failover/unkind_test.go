package failover

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/harness/sim"
	"github.com/prestoha/coordinator-ha/internal/signal"
)

// Problem 2 of issue 11: AttachENI re-reads what Terminate confirmed. One stale
// DescribeNetworkInterfaces or DescribeInstances (EC2's eventual consistency) raised
// FenceNotConfirmed, never retried: the execution ended FAILED with the ENI available
// and a healthy standby idle. It waits the stale reads out now.
func TestAttachWaitsOutStaleReads(t *testing.T) {
	for _, op := range []string{"DescribeNetworkInterfaces", "DescribeInstances"} {
		t.Run(op, func(t *testing.T) {
			w := newWorld(t, worldOpts{})
			st, err := w.run(events.StepTerminate, w.input())
			must(t, err)
			if st.Terminate.Outcome != events.TerminateFenced {
				t.Fatalf("terminate %+v", st.Terminate)
			}
			w.acct.Inject(sim.Fault{Service: "ec2", Operation: op, Caller: "attacheni", Kind: sim.StaleRead, Latency: 5 * time.Second, Times: 3})
			st, err = w.run(events.StepAttachENI, st)
			if err != nil {
				t.Fatalf("AttachENI on stale reads: %v (%s)\n%s", err, ErrorType(err), timeline(st))
			}
			if st.Attach.Outcome != events.AttachAttached || st.Attach.InstanceID != w.standbys[0] {
				t.Fatalf("attach %+v", st.Attach)
			}
			if !hasEvent(st, events.StepAttachENI, "fence-not-visible") {
				t.Errorf("the wait is not in the timeline:\n%s", timeline(st))
			}
		})
	}
}

// Problem 5 of issue 11: scale-in protection was set after the attach; when
// SetInstanceProtection kept failing the new active was never protected, and a later
// scale-in could terminate it. Now the standby is protected before it gets the ENI
// (retried for Timing.ProtectWait); if protection keeps failing, the attach goes ahead
// (a coordinator beats none) and the protection is repaired whenever the holder is seen:
// by a re-run of this step, and by the health check (TestHolderProtectionRepaired).
func TestProtectedBeforeAttach(t *testing.T) {
	t.Run("protection fails twice", func(t *testing.T) {
		w := newWorld(t, worldOpts{})
		st, err := w.run(events.StepTerminate, w.input())
		must(t, err)
		w.acct.Inject(sim.Fault{Service: "autoscaling", Operation: "SetInstanceProtection", Caller: "attacheni", Kind: sim.ServerError, Times: 8})
		st, err = w.run(events.StepAttachENI, st)
		must(t, err)
		var protectAt, attachAt time.Time
		for _, c := range w.acct.Calls() {
			if c.Caller == "attacheni" && c.Err == "" && c.Operation == "SetInstanceProtection" && protectAt.IsZero() {
				protectAt = c.At
			}
			if c.Caller == "attacheni" && c.Err == "" && c.Operation == "AttachNetworkInterface" {
				attachAt = c.At
			}
		}
		if protectAt.IsZero() || attachAt.IsZero() || attachAt.Before(protectAt) {
			t.Errorf("protected at %s, attached at %s: want protection first\n%s", protectAt, attachAt, timeline(st))
		}
		if !protected(w, st.Attach.InstanceID) {
			t.Errorf("holder %s is not protected", st.Attach.InstanceID)
		}
	})
	t.Run("protection keeps failing", func(t *testing.T) {
		w := newWorld(t, worldOpts{})
		st, err := w.run(events.StepTerminate, w.input())
		must(t, err)
		w.acct.Inject(sim.Fault{Service: "autoscaling", Operation: "SetInstanceProtection", Caller: "attacheni", Kind: sim.ServerError})
		st, err = w.run(events.StepAttachENI, st)
		if err == nil {
			t.Fatalf("AttachENI succeeded although the holder could not be protected (the step must fail so that the repair is visible)\n%s", timeline(st))
		}
		if e, _ := w.acct.ENI(w.eni); e.Attachment == nil || !hasEvent(st, events.StepAttachENI, "protect-failed") {
			t.Fatalf("ENI %+v: the cluster must not stay without a coordinator\n%s", e.Attachment, timeline(st))
		}
		// The re-run (the state machine's Retry) finds the holder and repairs it.
		w.acct.ClearFaults()
		st, err = w.run(events.StepAttachENI, st)
		must(t, err)
		if !protected(w, st.Attach.InstanceID) {
			t.Errorf("holder %s was not protected on sight", st.Attach.InstanceID)
		}
	})
	t.Run("repair on sight", func(t *testing.T) {
		w := newWorld(t, worldOpts{})
		st, err := w.run(events.StepTerminate, w.input())
		must(t, err)
		st, err = w.run(events.StepAttachENI, st)
		must(t, err)
		_, err = w.acct.Clients("setup").AutoScaling.SetInstanceProtection(context.Background(), &autoscaling.SetInstanceProtectionInput{
			AutoScalingGroupName: aws.String(testASG), InstanceIds: []string{st.Attach.InstanceID}, ProtectedFromScaleIn: aws.Bool(false)})
		must(t, err)
		st, err = w.run(events.StepAttachENI, st)
		must(t, err)
		if !protected(w, st.Attach.InstanceID) {
			t.Errorf("holder %s was not re-protected on sight", st.Attach.InstanceID)
		}
	})
}

func protected(w *world, id string) bool {
	g, _ := w.acct.ASG(testASG)
	for _, m := range g.Members {
		if m.InstanceID == id {
			return m.Protected
		}
	}
	return false
}

// Problem 6 of issue 11: InvalidInstanceID.NotFound was taken as "fenced". EC2 also
// answers NotFound for instances it has only just created, so an instance that still
// runs could count as fenced (and lose the ENI without being terminated). NotFound
// counts only once confirmed.
func TestNotFoundIsNotFencedUntilConfirmed(t *testing.T) {
	for _, times := range []int{2, 0} { // NotFound twice; NotFound for every read (0: until cleared)
		w := newWorld(t, worldOpts{})
		w.acct.Inject(sim.Fault{Service: "ec2", Operation: "DescribeInstances", Caller: "terminate", Kind: sim.NotFound, Times: times})
		st, err := w.run(events.StepTerminate, w.input())
		must(t, err)
		if times > 0 && hasEvent(st, events.StepTerminate, "already-terminated") {
			t.Fatalf("a running instance that answered NotFound twice counted as terminated:\n%s", timeline(st))
		}
		inst, _ := w.acct.Instance(w.active)
		if st.Terminate.Outcome != events.TerminateFenced || (inst.State != "shutting-down" && inst.State != "terminated") {
			t.Fatalf("NotFound x%d: terminate %+v, failed instance %s (it still runs: not fenced)\n%s", times, st.Terminate, inst.State, timeline(st))
		}
	}
}

// Auto Scaling lifecycle hooks: a Terminating:Wait hook keeps an instance terminated
// through its group running (an hour by default). The fence does not wait for it: the
// instance is terminated through EC2 once Timing.HookWait has passed.
func TestLifecycleHookDoesNotHoldTheFence(t *testing.T) {
	w := newWorld(t, worldOpts{})
	w.acct.SetConsistency(sim.Consistency{TerminationHook: time.Hour})
	st, err := w.run(events.StepTerminate, w.input())
	must(t, err)
	inst, _ := w.acct.Instance(w.active)
	if st.Terminate.Outcome != events.TerminateFenced || inst.State == "running" || !hasEvent(st, events.StepTerminate, "terminate-through-ec2") {
		t.Fatalf("terminate %+v, instance %s\n%s", st.Terminate, inst.State, timeline(st))
	}
}

// An attach that stays "attaching" is waited for within the step's budget.
func TestAttachStuckAttachingIsWaitedFor(t *testing.T) {
	w := newWorld(t, worldOpts{})
	st, err := w.run(events.StepTerminate, w.input())
	must(t, err)
	w.acct.SetConsistency(sim.Consistency{AttachStuckP: 1, AttachStuckMax: 45 * time.Second})
	st, err = w.run(events.StepAttachENI, st)
	must(t, err)
	if st.Attach.Outcome != events.AttachAttached {
		t.Fatalf("attach %+v\n%s", st.Attach, timeline(st))
	}
}

// skewedAgents is a clock whose Sleep lets the standbys' agents report every 5 s, each
// report stamped by an agent clock that runs behind by skew.
type skewedAgents struct {
	w    *world
	skew time.Duration
	ids  []string
	next time.Time
}

func (c *skewedAgents) Now() time.Time { return c.w.clk.Now() }

func (c *skewedAgents) Sleep(ctx context.Context, d time.Duration) error {
	end := c.w.clk.Now().Add(d)
	for !c.next.After(end) {
		c.w.clk.Set(c.next)
		for _, id := range c.ids {
			must(c.w.t, c.w.pool.Report(id, signal.Healthy, c.next.Add(-c.skew), time.Second, 1))
		}
		c.next = c.next.Add(5 * time.Second)
	}
	c.w.clk.Set(end)
	c.w.acct.Tick()
	return ctx.Err()
}

// Problem 7, AttachENI's half: a standby whose agent clock runs 35 s behind reports
// healthy every 5 s, yet its newest report looks 35 s old. It is chosen once its reports
// are seen to keep arriving.
func TestAttachChoosesStandbyWithClockBehind(t *testing.T) {
	w := newWorld(t, worldOpts{silentAfter: true, healthyReports: 1})
	st, err := w.run(events.StepTerminate, w.input())
	must(t, err)
	w.advance(2 * time.Minute) // the standby's one old report is long gone from the streak
	c := &skewedAgents{w: w, skew: 35 * time.Second, ids: w.standbys, next: w.clk.Now()}
	for range 12 { // a minute of skewed reports
		must(t, c.Sleep(context.Background(), 5*time.Second))
	}
	cl := w.acct.Clients("attacheni")
	s, err := New(w.cfg, Deps{EC2: cl.EC2, AutoScaling: cl.AutoScaling, CloudWatch: cl.CloudWatch, SNS: cl.SNS, Clock: c, Log: testLogger(t), Jitter: func() float64 { return 0.5 }})
	must(t, err)
	st, err = s.AttachENI(context.Background(), st)
	must(t, err)
	if st.Attach.Outcome != events.AttachAttached || !hasEvent(st, events.StepAttachENI, "clock-behind") {
		t.Fatalf("attach %+v\n%s", st.Attach, timeline(st))
	}
}
