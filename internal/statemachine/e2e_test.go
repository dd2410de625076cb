package statemachine

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/failover"
	"github.com/prestoha/coordinator-ha/internal/harness/sfnlocal"
	"github.com/prestoha/coordinator-ha/internal/harness/sim"
	"github.com/prestoha/coordinator-ha/internal/signal"
)

// e2e is a simulated account with a coordinator pool, and the real step handlers.
type e2e struct {
	t        *testing.T
	clk      *clock.Virtual
	acct     *sim.Account
	pool     *sim.Pool
	eni      string
	active   string
	standbys []string
	cfg      failover.Config

	newStandbysSick bool // instances launched from now on never report healthy
}

func newE2E(t *testing.T, haCount int) *e2e {
	t.Helper()
	clk := clock.NewVirtual(time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC))
	acct := sim.New(sim.Options{Clock: clk, Seed: 11})
	e := &e2e{t: t, clk: clk, acct: acct}
	pool, err := sim.NewPool(acct, sim.PoolSpec{Cluster: "prod", Coordinators: haCount, Max: 5, Topic: "prod-coordinator-ha",
		AttachActive: true, Warmup: time.Minute, AttachSettle: 5 * time.Second})
	check(t, err)
	e.pool, e.eni, e.active, e.standbys = pool, pool.ENIID, pool.Active(), pool.Standbys()
	for _, s := range e.standbys {
		e.reportFrom(s, e.clk.Now().Add(-time.Minute))
	}
	e.advance(3 * time.Second) // the reports of the last minute become visible (ingestion), as they are in a running cluster
	// New instances' agents report healthy once they run (pending -> running takes 30 s).
	acct.OnInstanceLaunched(func(id string) {
		if !e.newStandbysSick {
			e.reportFrom(id, e.clk.Now().Add(30*time.Second))
		}
	})
	e.cfg = failover.Config{Cluster: "prod", ENIID: e.eni, ASGName: pool.ASGName, HostRoleID: pool.HostRoleID, HACount: haCount, MinHealthyReports: 3,
		MaxAttachAttempts: 3, TopicARN: pool.TopicARN}
	return e
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (e *e2e) advance(d time.Duration) {
	e.clk.Advance(d)
	e.acct.Tick()
}

// reportFrom publishes healthy self-reports of id every 10 s from `from` for 20 minutes.
func (e *e2e) reportFrom(id string, from time.Time) {
	check(e.t, e.pool.Report(id, signal.Healthy, from, 10*time.Second, 120))
}

func (e *e2e) input() []byte {
	st := events.FailoverState{Cluster: "prod", ENIID: e.eni, FailedInstanceID: e.active, Verdict: events.VerdictFailed,
		Reason: "unhealthy for the whole 30s grace window", DetectedAt: e.clk.Now()}
	st.AddEvent(events.StepDetect, "verdict", e.clk.Now(), "FAILED: unhealthy for the whole 30s grace window")
	b, err := json.Marshal(st)
	check(e.t, err)
	return b
}

// handlers serves every Task state with the real step handler of its Lambda.
func (e *e2e) handlers() map[string]sfnlocal.Handler {
	steps := func(caller string) *failover.Steps {
		c := e.acct.Clients(caller)
		s, err := failover.New(e.cfg, failover.Deps{EC2: c.EC2, AutoScaling: c.AutoScaling, CloudWatch: c.CloudWatch, SNS: c.SNS, Clock: e.clk})
		check(e.t, err)
		return s
	}
	out := map[string]sfnlocal.Handler{}
	for _, task := range Tasks {
		h := sfnlocal.TypedHandler(steps(task.Lambda).Handlers()[task.Step])
		for _, state := range task.States {
			out[state] = h
		}
	}
	return out
}

func (e *e2e) run(h map[string]sfnlocal.Handler) (sfnlocal.Result, events.FailoverState) {
	e.t.Helper()
	def, err := Render(arns())
	check(e.t, err)
	res, err := sfnlocal.Run(context.Background(), def, e.input(), h, sfnlocal.Shortened(5*time.Millisecond))
	check(e.t, err)
	var st events.FailoverState
	if out := res.LastOutput(); len(out) > 0 {
		if _, err := events.DecodeFailoverState(out); err != nil {
			e.t.Fatalf("output is not a valid FailoverState: %v\n%s", err, out)
		}
		check(e.t, json.Unmarshal(out, &st))
	}
	return res, st
}

func TestExecutionHappyPath(t *testing.T) {
	toolsDir(t)
	e := newE2E(t, 2)
	res, st := e.run(e.handlers())
	if res.Status != sfnlocal.StatusSucceeded {
		t.Fatalf("status %s %s %s", res.Status, res.Error, res.Cause)
	}
	want := "Terminate,FenceOutcome,AttachENI,AttachOutcome,LaunchStandby,Notify,FailoverDone"
	if got := strings.Join(res.Path(), ","); got != want {
		t.Errorf("path %s, want %s", got, want)
	}
	if st.Notify == nil || st.Notify.Outcome != events.OutcomeFailedOver || st.Attach.InstanceID != e.standbys[0] {
		t.Fatalf("output %+v", st)
	}
	eni, _ := e.acct.ENI(e.eni)
	if eni.Attachment == nil || eni.Attachment.InstanceID != e.standbys[0] {
		t.Errorf("ENI %+v", eni)
	}
	msgs := e.acct.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	t.Logf("execution output timeline (the Notify message body):\nSubject: %s\n%s", msgs[0].Subject, msgs[0].Message)
}

func TestExecutionRetriesTransientErrorFromTheLambda(t *testing.T) {
	toolsDir(t)
	e := newE2E(t, 2)
	h := e.handlers()
	var failed atomic.Int32
	realTerminate := h[StateTerminate]
	h[StateTerminate] = func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
		if failed.Add(1) == 1 {
			return nil, &failover.TransientError{Err: errInjected}
		}
		return realTerminate(ctx, in)
	}
	res, st := e.run(h)
	if res.Status != sfnlocal.StatusSucceeded || res.Count("StateRetried", StateTerminate) != 1 || res.Count("StateFailed", StateTerminate) != 1 {
		t.Fatalf("status %s, retries %d, events %+v", res.Status, res.Count("StateRetried", StateTerminate), res.Events)
	}
	for _, ev := range res.Events {
		if ev.Type == "StateFailed" && ev.Error != failover.ErrorTypeTransient {
			t.Errorf("failed with %q, want %q", ev.Error, failover.ErrorTypeTransient)
		}
	}
	if st.Notify.Outcome != events.OutcomeFailedOver {
		t.Errorf("notify %+v", st.Notify)
	}
}

type injected struct{}

func (injected) Error() string { return "injected: Lambda-level throttle" }

var errInjected = injected{}

func TestExecutionSlowPath(t *testing.T) {
	toolsDir(t)
	tests := []struct {
		name       string
		sick       bool // the new standby never reports healthy
		wantStatus string
		wantPath   string
		wantAtts   int
	}{
		{name: "new standby becomes healthy", wantStatus: sfnlocal.StatusSucceeded, wantAtts: 3,
			wantPath: "Terminate,FenceOutcome,AttachENI,AttachOutcome,LaunchStandbyForAttach,WaitForStandby,AttachENI,AttachOutcome,LaunchStandbyForAttach,WaitForStandby,AttachENI,AttachOutcome,LaunchStandby,Notify,FailoverDone"},
		{name: "attempts exhausted", sick: true, wantStatus: sfnlocal.StatusFailed, wantAtts: 3,
			wantPath: "Terminate,FenceOutcome,AttachENI,AttachOutcome,LaunchStandbyForAttach,WaitForStandby,AttachENI,AttachOutcome,LaunchStandbyForAttach,WaitForStandby,AttachENI,AttachOutcome,NotifyFailure,FailoverFailed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newE2E(t, 1) // HACoordinatorsCount=1: no standby at all
			e.newStandbysSick = tc.sick
			h := e.handlers()
			attach := h[StateAttachENI]
			first := true
			h[StateAttachENI] = func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
				if !first {
					e.advance(30 * time.Second) // the Wait state's 30 s, on the simulated clock
				}
				first = false
				return attach(ctx, in)
			}
			res, st := e.run(h)
			if res.Status != tc.wantStatus {
				t.Fatalf("status %s (%s %s)", res.Status, res.Error, res.Cause)
			}
			if got := strings.Join(res.Path(), ","); got != tc.wantPath {
				t.Errorf("path\n %s, want\n %s", got, tc.wantPath)
			}
			if st.Attach == nil || st.Attach.Attempts != tc.wantAtts {
				t.Errorf("attach %+v", st.Attach)
			}
			msgs := e.acct.Messages()
			if len(msgs) != 1 {
				t.Fatalf("%d messages", len(msgs))
			}
			if tc.wantStatus == sfnlocal.StatusFailed {
				if res.Error != "FailoverFailed" || !strings.Contains(msgs[0].Subject, "no healthy standby after 3 attempts") {
					t.Errorf("error %s, subject %q", res.Error, msgs[0].Subject)
				}
				if eni, _ := e.acct.ENI(e.eni); eni.Attachment != nil {
					t.Errorf("ENI attached to %s", eni.Attachment.InstanceID)
				}
			}
		})
	}
}

func TestExecutionCatchNotifiesFailure(t *testing.T) {
	toolsDir(t)
	e := newE2E(t, 2)
	// Terminate cannot read the ENI at all: every invocation ends in TransientError.
	e.acct.Inject(sim.Fault{Service: "ec2", Operation: "DescribeNetworkInterfaces", Caller: "terminate", Kind: sim.Throttle})
	res, st := e.run(e.handlers())
	if res.Status != sfnlocal.StatusFailed || res.Error != "FailoverFailed" {
		t.Fatalf("status %s error %s", res.Status, res.Error)
	}
	var d asl
	check(t, json.Unmarshal([]byte(Definition()), &d))
	if got, want := res.Count("StateRetried", StateTerminate), d.States[StateTerminate].Retry[0].MaxAttempts; got != want {
		t.Errorf("%d retries, want %d", got, want)
	}
	if res.Count("StateCaught", StateTerminate) != 1 || strings.Join(res.Path(), ",") != "Terminate,NotifyFailure,FailoverFailed" {
		t.Errorf("path %v", res.Path())
	}
	if st.Error == nil || st.Error.Error != failover.ErrorTypeTransient || st.Notify == nil || st.Notify.Outcome != events.OutcomeFailed {
		t.Fatalf("output %+v", st)
	}
	msgs := e.acct.Messages()
	if len(msgs) != 1 || !strings.Contains(msgs[0].Subject, "FAILOVER FAILED for "+e.active+": TransientError") || !strings.Contains(msgs[0].Message, "still failing after") {
		t.Errorf("messages %+v", msgs)
	}
	if inst, _ := e.acct.Instance(e.active); inst.State != "running" {
		t.Errorf("failed instance is %s", inst.State)
	}
}

// An SNS outage after a failover that worked must not make the execution FAILED (which
// would page "failover failed"): the success-path Notify's Catch keeps the error in
// notifyError and the execution succeeds.
func TestExecutionNotifyOutageAfterSuccessStillSucceeds(t *testing.T) {
	toolsDir(t)
	e := newE2E(t, 2)
	e.acct.Inject(sim.Fault{Service: "sns", Operation: "Publish", Caller: "notify", Kind: sim.Throttle})
	res, st := e.run(e.handlers())
	if res.Status != sfnlocal.StatusSucceeded {
		t.Fatalf("status %s %s %s", res.Status, res.Error, res.Cause)
	}
	want := "Terminate,FenceOutcome,AttachENI,AttachOutcome,LaunchStandby,Notify,FailoverDoneNotNotified"
	if got := strings.Join(res.Path(), ","); got != want {
		t.Errorf("path %s, want %s", got, want)
	}
	var d asl
	check(t, json.Unmarshal([]byte(Definition()), &d))
	if got, want := res.Count("StateRetried", StateNotify), d.States[StateNotify].Retry[0].MaxAttempts; got != want {
		t.Errorf("Notify retried %d times, want %d", got, want)
	}
	if res.Count("StateCaught", StateNotify) != 1 {
		t.Errorf("Notify caught %d times, want 1", res.Count("StateCaught", StateNotify))
	}
	if st.NotifyError == nil || st.NotifyError.Error != failover.ErrorTypeTransient || !strings.Contains(st.NotifyError.Cause, "Throttled") {
		t.Fatalf("notifyError %+v, want a TransientError caused by SNS throttling", st.NotifyError)
	}
	if st.Error != nil {
		t.Errorf("error %+v: the failover did not fail", st.Error)
	}
	if st.Attach == nil || st.Attach.Outcome != events.AttachAttached || st.Attach.InstanceID != e.standbys[0] || st.Launch == nil {
		t.Fatalf("output %+v", st)
	}
	if eni, _ := e.acct.ENI(e.eni); eni.Attachment == nil || eni.Attachment.InstanceID != e.standbys[0] {
		t.Errorf("ENI %+v", eni)
	}
	if msgs := e.acct.Messages(); len(msgs) != 0 {
		t.Errorf("%d messages published through a throttled SNS", len(msgs))
	}
}
