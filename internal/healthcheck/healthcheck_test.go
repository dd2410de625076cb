package healthcheck

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/harness/sim"
	"github.com/prestoha/coordinator-ha/internal/signal"
)

func TestDetection(t *testing.T) {
	cases := []struct {
		name    string
		fault   func(w *world, id string)
		verdict events.Verdict
	}{
		{name: "process exit", verdict: events.VerdictFailed,
			fault: func(w *world, id string) { w.change(id, func(h *host) { h.proc = signal.Unhealthy }) }},
		{name: "host unresponsive", verdict: events.VerdictFailed,
			fault: func(w *world, id string) { w.change(id, func(h *host) { h.hostDown = true }) }},
		{name: "instance terminated", verdict: events.VerdictGone,
			fault: func(w *world, id string) { must(w.t, w.acct.TerminateFromOutside(id)) }},
		{name: "instance stopped", verdict: events.VerdictGone,
			fault: func(w *world, id string) { must(w.t, w.acct.StopInstance(id)) }},
	}
	for _, tc := range cases {
		// The fault strikes inside the second invocation, at several phases relative to
		// the agents' reports (every 5 s) and the evaluations (every 10 s).
		for _, offset := range []time.Duration{60 * time.Second, 61 * time.Second, 64 * time.Second, 66 * time.Second, 69 * time.Second, 77 * time.Second, 99 * time.Second} {
			t.Run(fmt.Sprintf("%s/at+%s", tc.name, offset), func(t *testing.T) {
				w := newWorld(t)
				h := w.handler(w.config())
				active := w.holder()
				fault := w.clk.Now().Add(offset)
				w.schedule(fault, func() { tc.fault(w, active) })
				sums := w.runUntil(h, fault.Add(3*time.Minute))

				execs := w.acct.Executions()
				if len(execs) != 1 {
					t.Fatalf("%d executions, want 1: %+v", len(execs), execs)
				}
				e := execs[0]
				delay := e.StartDate.Sub(fault)
				bound := DefaultGrace + DefaultCheckInterval + DefaultIngestionDelay
				if delay < 0 || delay > bound {
					t.Errorf("failover started %s after the fault, want within %s", delay, bound)
				}
				t.Logf("%s: %s detected and failover started %s after the fault (bound %s)", tc.name, tc.verdict, delay, bound)
				if want := events.LeaseName(cluster, 1); e.Name != want || e.Caller != "healthcheck" {
					t.Errorf("execution %s by %s, want %s by healthcheck", e.Name, e.Caller, want)
				}
				st, err := events.DecodeFailoverState([]byte(e.Input))
				if err != nil {
					t.Fatalf("execution input: %v\n%s", err, e.Input)
				}
				if st.Verdict != tc.verdict || st.FailedInstanceID != active || st.ENIID != w.eni || st.Cluster != cluster || st.Reason == "" {
					t.Errorf("input %+v", st)
				}
				if st.Evidence == nil || len(st.Timeline) != 1 || st.Timeline[0].Step != events.StepDetect || st.Timeline[0].Event != "detected" {
					t.Errorf("input lacks evidence or the Detect timeline entry: %s", e.Input)
				}
				started := 0
				for _, s := range sums {
					started += len(s.ExecutionsStarted)
				}
				if started != 1 {
					t.Errorf("summaries report %d executions started, want 1", started)
				}
			})
		}
	}
}

func TestNoFailover(t *testing.T) {
	cases := []struct {
		name    string
		fault   func(w *world, active, standby string)
		seen    events.Verdict // must be seen at least once
		alerts  bool
		healthy bool // back to HEALTHY at the end
	}{
		{name: "GC pause shorter than grace", seen: events.VerdictSuspect, healthy: true,
			fault: func(w *world, active, _ string) {
				w.change(active, func(h *host) { h.proc = signal.Unhealthy })
				w.schedule(w.clk.Now().Add(20*time.Second), func() { w.change(active, func(h *host) { h.proc = signal.Healthy }) })
			}},
		{name: "agent lost, witness reaches the coordinator", seen: events.VerdictAgentLost, alerts: true,
			fault: func(w *world, active, _ string) { w.change(active, func(h *host) { h.agentDown = true }) }},
		{name: "partitioned", seen: events.VerdictPartitioned, alerts: true,
			fault: func(w *world, active, _ string) { w.change(active, func(h *host) { h.partitioned = true }) }},
		{name: "every agent silent: CloudWatch path down", seen: events.VerdictAgentLost, alerts: true,
			fault: func(w *world, _, _ string) {
				for _, id := range w.poolIDs() {
					w.change(id, func(h *host) { h.agentDown = true })
				}
			}},
		{name: "standby dies", seen: events.VerdictHealthy,
			fault: func(w *world, _, standby string) { w.change(standby, func(h *host) { h.hostDown = true }) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			h := w.handler(w.config())
			active := w.holder()
			standby := w.poolIDs()[1]
			if standby == active {
				standby = w.poolIDs()[0]
			}
			w.schedule(w.clk.Now().Add(67*time.Second), func() { tc.fault(w, active, standby) })
			sums := w.runUntil(h, w.clk.Now().Add(4*time.Minute))
			if n := len(w.acct.Executions()); n != 0 {
				t.Fatalf("%d executions started, want none", n)
			}
			seen := map[events.Verdict]int{}
			for _, s := range sums {
				for v, n := range s.Verdicts {
					seen[v] += n
				}
			}
			if seen[tc.seen] == 0 || seen[events.VerdictFailed] > 0 || seen[events.VerdictGone] > 0 {
				t.Errorf("verdicts %v, want %s and never FAILED or GONE", seen, tc.seen)
			}
			msgs := w.acct.Messages()
			if tc.alerts {
				// at most one alert per invocation; at least one overall
				if len(msgs) == 0 || len(msgs) > len(sums) {
					t.Errorf("%d alerts over %d invocations, want 1..%d", len(msgs), len(sums), len(sums))
				}
				for _, m := range msgs {
					if !strings.Contains(m.Subject, string(tc.seen)) || !strings.Contains(m.Message, active) {
						t.Errorf("alert %q does not name %s and %s: %s", m.Subject, tc.seen, active, m.Message)
					}
				}
			} else if len(msgs) != 0 {
				t.Errorf("alerts %+v, want none", msgs)
			}
			last := sums[len(sums)-1].Last
			if tc.healthy && last.Verdict != events.VerdictHealthy {
				t.Errorf("last verdict %s (%s), want HEALTHY", last.Verdict, last.Reason)
			}
			if dead := tc.name == "standby dies" || strings.HasPrefix(tc.name, "every agent"); (last.HealthyStandbys == 0) != dead {
				t.Errorf("healthy standbys %d at the end (standby dead: %v)", last.HealthyStandbys, dead)
			}
			t.Logf("verdicts %v, %d alerts over %d invocations", seen, len(msgs), len(sums))
		})
	}
}

func TestKeepCoordinatorNode(t *testing.T) {
	w := newWorld(t)
	cfg := w.config()
	cfg.KeepCoordinator = true
	h := w.handler(cfg)
	active := w.holder()
	w.schedule(w.clk.Now().Add(7*time.Second), func() { w.change(active, func(h *host) { h.proc = signal.Unhealthy }) })
	sums := w.runUntil(h, w.clk.Now().Add(3*time.Minute))
	if n := len(w.acct.Executions()); n != 0 {
		t.Fatalf("%d executions with KeepCoordinatorNode=yes", n)
	}
	for _, op := range w.callsBy("healthcheck") {
		if op == "ListExecutions" || op == "StartExecution" {
			t.Errorf("called %s with KeepCoordinatorNode=yes", op)
		}
	}
	blocked := 0
	for _, s := range sums {
		blocked += s.Actions[ActionBlockedKeep]
	}
	if blocked == 0 {
		t.Errorf("no evaluation reports %s: %+v", ActionBlockedKeep, sums)
	}
	if got := maxDatum(w, signal.MetricGuardBlocked); got != 1 {
		t.Errorf("%s max %v, want 1", signal.MetricGuardBlocked, got)
	}
	if !strings.Contains(w.logs.String(), "KeepCoordinatorNode") {
		t.Error("the blocked failover is not in the logs")
	}
}

// maxDatum is the largest value the health check published for a Cluster-only metric.
func maxDatum(w *world, name string) float64 {
	m := -1.0
	for _, d := range w.acct.Datapoints(signal.Namespace) {
		if d.MetricName == name && d.Dimensions[signal.DimInstance] == "" && d.Max > m {
			m = d.Max
		}
	}
	return m
}

func TestSecondTriggerStartsNothing(t *testing.T) {
	w := newWorld(t)
	h := w.handler(w.config())
	active := w.holder()
	w.change(active, func(h *host) { h.proc = signal.Unhealthy })
	first := w.invoke(h) // detects within the minute (grace 30 + ingestion)
	if len(first.ExecutionsStarted) != 1 {
		t.Fatalf("first invocation started %v, want one execution", first.ExecutionsStarted)
	}
	if first.Actions[ActionBlockedRunning] == 0 {
		t.Errorf("later evaluations of the same invocation were not held back: %v", first.Actions)
	}
	second := w.invoke(h) // a second invocation while the execution runs
	if len(second.ExecutionsStarted) != 0 || second.Actions[ActionBlockedRunning] != second.Evaluations {
		t.Errorf("second invocation: started %v, actions %v", second.ExecutionsStarted, second.Actions)
	}
	execs := w.acct.Executions()
	if len(execs) != 1 {
		t.Fatalf("%d executions, want 1", len(execs))
	}
	// The execution ends without moving the ENI (Terminate crashed before the fence and
	// the Catch ended it FAILED); the same failure is still there. That must not leave
	// the cluster without a coordinator: a second attempt takes the next generation of
	// the lease.
	must(t, w.acct.FinishExecution(execs[0].ARN, "FAILED", `{"error":"test"}`))
	ev, err := h.Evaluate(context.Background())
	if err != nil {
		t.Fatalf("evaluate after the execution ended: %v", err)
	}
	if want := events.LeaseName(cluster, 2); ev.Action != ActionStarted || ev.Execution != want {
		t.Errorf("action %s (%s) on %s, want %s on %s", ev.Action, ev.ActionDetail, ev.Execution, ActionStarted, want)
	}
	if n := len(w.acct.Executions()); n != 2 {
		t.Errorf("%d executions, want 2 (the failed attempt and its retry)", n)
	}
	// While the retry runs, nothing else starts.
	ev, err = h.Evaluate(context.Background())
	if err != nil || ev.Action != ActionBlockedRunning {
		t.Errorf("evaluation during the retry: %s, %v", ev.Action, err)
	}
}

func TestSucceededAttemptIsNotRetried(t *testing.T) {
	w := newWorld(t)
	h := w.handler(w.config())
	w.change(w.holder(), func(h *host) { h.proc = signal.Unhealthy })
	w.invoke(h)
	execs := w.acct.Executions()
	if len(execs) != 1 {
		t.Fatalf("%d executions, want 1", len(execs))
	}
	// The execution says it succeeded, yet the instance still shows as the holder (a
	// stale read, or an operator moved the ENI back): not another failover.
	must(t, w.acct.FinishExecution(execs[0].ARN, "SUCCEEDED", `{}`))
	ev, err := h.Evaluate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if ev.Action != ActionAlreadyHandled || len(w.acct.Executions()) != 1 {
		t.Fatalf("action %s (%s) with %d executions, want %s and still 1", ev.Action, ev.ActionDetail, len(w.acct.Executions()), ActionAlreadyHandled)
	}
}

func TestFailedAttemptsAreBounded(t *testing.T) {
	w := newWorld(t)
	cfg := w.config()
	cfg.BreakerMax = 100 // only the attempt bound applies
	h := w.handler(cfg)
	w.change(w.holder(), func(h *host) { h.proc = signal.Unhealthy })
	w.invoke(h)
	for i := 0; i < 15; i++ {
		for _, e := range w.acct.Executions() {
			if e.Status == "RUNNING" {
				must(t, w.acct.FinishExecution(e.ARN, "FAILED", `{"error":"test"}`))
			}
		}
		if _, err := h.Evaluate(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(w.acct.Executions()); n != maxAttempts {
		t.Fatalf("%d executions for one failure, want the bound %d", n, maxAttempts)
	}
	found := false
	for _, m := range w.acct.Messages() {
		found = found || strings.Contains(m.Subject, "attempts ended without curing it")
	}
	if !found {
		t.Errorf("no alert when the attempts ran out: %+v", w.acct.Messages())
	}
}

func TestCircuitBreaker(t *testing.T) {
	for _, tc := range []struct {
		name  string
		age   time.Duration // how long ago the earlier failovers started
		block bool
	}{
		{name: "three failovers in the window", age: 20 * time.Minute, block: true},
		{name: "three failovers before the window", age: 61 * time.Minute, block: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			sfnc := w.acct.Clients("setup").SFN
			for i, id := range []string{"i-00000000000000001", "i-00000000000000002", "i-00000000000000003"} {
				st := events.FailoverState{Cluster: cluster, ENIID: w.eni, FailedInstanceID: id, Verdict: events.VerdictFailed, DetectedAt: w.clk.Now()}
				in, _ := json.Marshal(st)
				out, err := sfnc.StartExecution(context.Background(), &sfn.StartExecutionInput{StateMachineArn: aws.String(w.sm),
					Name: aws.String(events.LeaseName(cluster, i+1)), Input: aws.String(string(in))})
				must(t, err)
				must(t, w.acct.FinishExecution(aws.ToString(out.ExecutionArn), "SUCCEEDED", "{}"))
				w.advance(time.Duration(i+1) * time.Second)
			}
			w.advance(tc.age)
			w.advance(w.clk.Now().Truncate(time.Minute).Add(time.Minute).Sub(w.clk.Now()))
			h := w.handler(w.config())
			active := w.holder()
			w.change(active, func(h *host) { h.proc = signal.Unhealthy })
			sums := w.runUntil(h, w.clk.Now().Add(2*time.Minute))
			started := len(w.acct.Executions()) - 3
			if tc.block {
				if started != 0 {
					t.Fatalf("%d executions started with the breaker open", started)
				}
				blocked := 0
				for _, s := range sums {
					blocked += s.Actions[ActionBlockedBreaker]
				}
				if blocked == 0 {
					t.Errorf("no evaluation reports %s", ActionBlockedBreaker)
				}
				if got := maxDatum(w, signal.MetricBreakerOpen); got != 1 {
					t.Errorf("%s max %v, want 1", signal.MetricBreakerOpen, got)
				}
				msgs := w.acct.Messages()
				if len(msgs) == 0 || len(msgs) > len(sums) || !strings.Contains(msgs[0].Subject, "circuit breaker") {
					t.Errorf("breaker alerts %+v over %d invocations, want 1 per invocation", msgs, len(sums))
				}
				if last := sums[len(sums)-1].Last; last.BreakerCount != 3 {
					t.Errorf("breaker count %d, want 3", last.BreakerCount)
				}
			} else if started != 1 {
				t.Errorf("%d executions started, want 1 (the old failovers are outside the window)", started)
			}
		})
	}
}

func TestUnattached(t *testing.T) {
	t.Run("nobody holds the ENI", func(t *testing.T) {
		w := newWorld(t)
		detach(t, w)
		h := w.handler(w.config())
		ev, err := h.Evaluate(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		checkAttachPath(t, w, ev, "no instance holds")
	})
	t.Run("holder is not in the pool", func(t *testing.T) {
		w := newWorld(t)
		detach(t, w)
		stranger, err := w.acct.LaunchInstance(sim.InstanceSpec{SubnetID: subnetID, Tags: map[string]string{"Name": "someone else"}})
		must(t, err)
		w.advance(sim.DefaultTimings().PendingToRunning + time.Second)
		w.attach(stranger)
		w.advance(5 * time.Second)
		h := w.handler(w.config())
		for i := 0; i < 3; i++ { // evaluations of one invocation: one alert, no execution
			ev, err := h.Evaluate(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if ev.Verdict != events.VerdictForeignHolder || ev.Holder != stranger || ev.Action != ActionAlerted {
				t.Fatalf("verdict %s holder %s action %s (%s), want FOREIGN_HOLDER on %s, alerted", ev.Verdict, ev.Holder, ev.Action, ev.Reason, stranger)
			}
		}
		if n := len(w.acct.Executions()); n != 0 {
			t.Fatalf("%d executions started for an ENI held outside the pool, want none", n)
		}
		msgs := w.acct.Messages()
		if len(msgs) == 0 || !strings.Contains(msgs[0].Subject, string(events.VerdictForeignHolder)) || !strings.Contains(msgs[0].Subject, stranger) {
			t.Fatalf("alerts %+v, want one naming FOREIGN_HOLDER and %s", msgs, stranger)
		}
	})
}

func detach(t *testing.T, w *world) {
	t.Helper()
	e, _ := w.acct.ENI(w.eni)
	_, err := w.acct.Clients("setup").EC2.DetachNetworkInterface(context.Background(), &ec2.DetachNetworkInterfaceInput{
		AttachmentId: aws.String(e.Attachment.ID)})
	must(t, err)
	w.advance(10 * time.Second)
	if w.holder() != "" {
		t.Fatalf("ENI still attached to %s", w.holder())
	}
}

func checkAttachPath(t *testing.T, w *world, ev Evaluation, reason string) {
	t.Helper()
	if ev.Verdict != events.VerdictUnattached || ev.Action != ActionStarted {
		t.Fatalf("verdict %s, action %s (%s), want UNATTACHED and started", ev.Verdict, ev.Action, ev.ActionDetail)
	}
	if !strings.Contains(ev.Reason, reason) {
		t.Errorf("reason %q does not mention %q", ev.Reason, reason)
	}
	execs := w.acct.Executions()
	if len(execs) != 1 || execs[0].Name != events.LeaseName(cluster, 1) {
		t.Fatalf("executions %+v, want one, generation 1 of the lease", execs)
	}
	st, err := events.DecodeFailoverState([]byte(execs[0].Input))
	if err != nil {
		t.Fatal(err)
	}
	if st.Verdict != events.VerdictUnattached || st.FailedInstanceID != "" {
		t.Errorf("input %+v, want UNATTACHED without a failed instance", st)
	}
	if ev.HealthyStandbys != 2 {
		t.Errorf("healthy standbys %d, want both coordinators", ev.HealthyStandbys)
	}
}

func TestCallsPerEvaluation(t *testing.T) {
	w := newWorld(t)
	h := w.handler(w.config())
	if _, err := h.Evaluate(context.Background()); err != nil { // the first one also checks the holder's protection
		t.Fatal(err)
	}
	w.acct.ResetCalls()
	ev, err := h.Evaluate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if ev.Verdict != events.VerdictHealthy || ev.HealthyStandbys != 1 || len(ev.Coordinators) != 2 {
		t.Errorf("verdict %s (%s), %d healthy standbys, %d coordinators", ev.Verdict, ev.Reason, ev.HealthyStandbys, len(ev.Coordinators))
	}
	ops := w.callsBy("healthcheck")
	want := []string{"DescribeNetworkInterfaces", "DescribeInstances", "GetMetricData", "PutMetricData"}
	if !slices.Equal(ops, want) {
		t.Errorf("calls %v, want %v", ops, want)
	}
	if ev.Calls.Reads != 3 || ev.Calls.Total() != len(ops) {
		t.Errorf("counted %+v (total %d), recorded %d", ev.Calls, ev.Calls.Total(), len(ops))
	}
	t.Logf("one evaluation: %d reads, %d calls in all (%v)", ev.Calls.Reads, ev.Calls.Total(), ops)

	// Metrics: the verdict of each member and of the cluster, in that one call.
	var perInstance int
	for _, d := range w.acct.Datapoints(signal.Namespace) {
		if d.MetricName == signal.MetricVerdict && d.Dimensions[signal.DimInstance] != "" {
			perInstance++
			if d.Max != events.VerdictHealthy.Code() {
				t.Errorf("verdict metric of %s = %v", d.Dimensions[signal.DimInstance], d.Max)
			}
		}
	}
	if perInstance != 4 || maxDatum(w, signal.MetricHealthyStandbys) != 1 { // two evaluations, two members
		t.Errorf("%d per-instance verdict datapoints, healthy standbys %v", perInstance, maxDatum(w, signal.MetricHealthyStandbys))
	}
}

func TestHandleLoop(t *testing.T) {
	w := newWorld(t)
	h := w.handler(w.config())
	start := w.clk.Now()
	s, err := h.Handle(context.Background(), scheduleEvent(start))
	if err != nil {
		t.Fatal(err)
	}
	// One evaluation every check interval within the schedule period.
	n := int(LoopSpan / DefaultCheckInterval)
	if s.Evaluations != n || s.Verdicts[events.VerdictHealthy] != n || s.Errors != 0 {
		t.Errorf("summary %+v, want %d healthy evaluations", s, n)
	}
	if got, want := w.clk.Now().Sub(start), time.Duration(n-1)*DefaultCheckInterval; got != want {
		t.Errorf("the loop ran for %s of simulated time, want %s", got, want)
	}
	looks := 1 + int((LoopSpan-DefaultCheckInterval)/protectRecheck) // at the holder's scale-in protection
	if s.AWSCalls != n*4+looks {
		t.Errorf("%d AWS calls, want %d (and %d looks at the holder's scale-in protection)", s.AWSCalls, n*4+looks, looks)
	}

	// Near the Lambda deadline: one evaluation, then stop.
	ctx, cancel := context.WithTimeout(context.Background(), DeadlineMargin+DefaultCheckInterval/2)
	defer cancel()
	s, err = h.Handle(ctx, scheduleEvent(w.clk.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if s.Evaluations != 1 {
		t.Errorf("%d evaluations with the deadline %s away, want 1", s.Evaluations, DeadlineMargin+DefaultCheckInterval/2)
	}
}

func TestHandleRefusesWithoutAWSCalls(t *testing.T) {
	w := newWorld(t)
	h := w.handler(w.config())
	w.acct.ResetCalls()

	for _, tc := range []struct {
		name string
		ev   events.ScheduleEvent
		want string
	}{
		{name: "empty event", ev: events.ScheduleEvent{}, want: "missing id"},
		{name: "no time", ev: events.ScheduleEvent{ID: "x"}, want: "missing time"},
	} {
		_, err := h.Handle(context.Background(), tc.ev)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "schedule event") {
			t.Errorf("%s: error %v, want one naming %q", tc.name, err, tc.want)
		}
	}

	h.loop.Lock() // a loop is running in this process
	_, err := h.Handle(context.Background(), scheduleEvent(w.clk.Now()))
	h.loop.Unlock()
	if !errors.Is(err, ErrLoopRunning) {
		t.Errorf("second loop: %v, want ErrLoopRunning", err)
	}

	cfg := w.config()
	cfg.ENIID = "eni-bad"
	cfg.Grace = time.Second
	c := w.acct.Clients("healthcheck")
	if _, err := New(cfg, Deps{EC2: c.EC2, CloudWatch: c.CloudWatch, SFN: c.SFN, SNS: c.SNS, Clock: w.clk, Logger: nil}); err == nil ||
		!strings.Contains(err.Error(), "not an ENI id") || !strings.Contains(err.Error(), "grace") {
		t.Errorf("bad config: %v", err)
	}
	if _, err := New(w.config(), Deps{Clock: w.clk}); err == nil || !strings.Contains(err.Error(), "missing dependencies") {
		t.Errorf("missing deps: %v", err)
	}
	if calls := w.acct.Calls(); len(calls) != 0 {
		t.Errorf("AWS calls made: %+v", calls)
	}
}

func TestLogsExplainDecisions(t *testing.T) {
	w := newWorld(t)
	h := w.handler(w.config())
	active := w.holder()
	w.change(active, func(h *host) { h.proc = signal.Unhealthy })
	w.invoke(h)
	if len(w.acct.Executions()) != 1 {
		t.Fatal("no failover")
	}
	var started, verdicts int
	sc := bufio.NewScanner(strings.NewReader(w.logs.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line is not JSON: %s", sc.Text())
		}
		if line["cluster"] != cluster {
			t.Errorf("log line without the cluster: %s", sc.Text())
		}
		switch line["msg"] {
		case "failover started":
			started++
			for _, k := range []string{"instance", "verdict", "reason", "evidence", "execution"} {
				if line[k] == nil || line[k] == "" {
					t.Errorf("failover log line lacks %s: %s", k, sc.Text())
				}
			}
		case "verdict":
			verdicts++
			if line["instance"] == nil || line["evidence"] == nil || line["reason"] == nil {
				t.Errorf("verdict line lacks instance, reason or evidence: %s", sc.Text())
			}
		}
	}
	if started != 1 || verdicts == 0 {
		t.Errorf("%d failover lines and %d verdict lines", started, verdicts)
	}
}

func TestAWSErrors(t *testing.T) {
	t.Run("a throttled read fails one evaluation, not the invocation", func(t *testing.T) {
		w := newWorld(t)
		h := w.handler(w.config())
		w.acct.Inject(sim.Fault{Service: "cloudwatch", Operation: "GetMetricData", Caller: "healthcheck", Kind: sim.Throttle, Times: 1})
		s := w.invoke(h)
		n := int(LoopSpan / DefaultCheckInterval)
		if s.Errors != 1 || s.Evaluations != n || s.Verdicts[events.VerdictHealthy] != n-1 || !strings.Contains(s.LastError, "reading health metrics") {
			t.Errorf("summary %+v", s)
		}
	})
	t.Run("every evaluation failing fails the invocation", func(t *testing.T) {
		w := newWorld(t)
		h := w.handler(w.config())
		w.acct.Inject(sim.Fault{Service: "ec2", Operation: "DescribeNetworkInterfaces", Caller: "healthcheck", Kind: sim.ServerError})
		s, err := h.Handle(context.Background(), scheduleEvent(w.clk.Now()))
		all := fmt.Sprintf("all %d evaluations failed", int(LoopSpan/DefaultCheckInterval))
		if err == nil || !strings.Contains(err.Error(), all) || !strings.Contains(err.Error(), w.eni) {
			t.Errorf("error %v, summary %+v", err, s)
		}
		for _, op := range w.callsBy("healthcheck") {
			if op != "DescribeNetworkInterfaces" {
				t.Errorf("called %s after the ENI could not be read", op)
			}
		}
	})
	t.Run("a lost StartExecution reply does not start a second failover", func(t *testing.T) {
		w := newWorld(t)
		h := w.handler(w.config())
		w.acct.Inject(sim.Fault{Service: "states", Operation: "StartExecution", Caller: "healthcheck", Kind: sim.LostReply, Times: 1})
		w.change(w.holder(), func(h *host) { h.hostDown = true })
		sums := w.runUntil(h, w.clk.Now().Add(2*time.Minute))
		if n := len(w.acct.Executions()); n != 1 {
			t.Fatalf("%d executions, want 1", n)
		}
		errs := 0
		for _, s := range sums {
			errs += s.Errors
		}
		if errs != 1 {
			t.Errorf("%d evaluation errors, want the one lost reply", errs)
		}
	})
}

// TestLeaseWalkIsShort: with a long history, the lease walk reads one page of the
// listing and describes only the newest generation and the free one.
func TestLeaseWalkIsShort(t *testing.T) {
	w := newWorld(t)
	sfnc := w.acct.Clients("setup").SFN
	for i := range 250 { // old history, three pages of listing
		out, err := sfnc.StartExecution(context.Background(), &sfn.StartExecutionInput{StateMachineArn: aws.String(w.sm),
			Name: aws.String(events.LeaseName(cluster, i+1)), Input: aws.String("{}")})
		must(t, err)
		must(t, w.acct.FinishExecution(aws.ToString(out.ExecutionArn), "SUCCEEDED", "{}"))
	}
	w.advance(2 * time.Hour)
	h := w.handler(w.config())
	must(t, w.acct.TerminateFromOutside(w.holder()))
	w.acct.ResetCalls()
	ev, err := h.Evaluate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if ev.Action != ActionStarted || ev.BreakerCount != 0 || ev.Execution != events.LeaseName(cluster, 251) {
		t.Errorf("action %s on %s, breaker count %d, want started on generation 251 with 0 in the window", ev.Action, ev.Execution, ev.BreakerCount)
	}
	count := map[string]int{}
	for _, op := range w.callsBy("healthcheck") {
		count[op]++
	}
	if count["ListExecutions"] != 1 || count["DescribeExecution"] > 4 || ev.Calls.Guards != count["ListExecutions"]+count["DescribeExecution"] {
		t.Errorf("calls %v (guards counted %d), want one listing and a few describes", count, ev.Calls.Guards)
	}
}

// TestIAMActions runs a failover and an alert and checks that the health check called
// exactly the actions of IAMActions.
func TestIAMActions(t *testing.T) {
	w := newWorld(t)
	h := w.handler(w.config())
	active := w.holder()
	_, err := w.acct.Clients("operator").AutoScaling.SetInstanceProtection(context.Background(), &autoscaling.SetInstanceProtectionInput{
		AutoScalingGroupName: aws.String(asgName), InstanceIds: []string{active}, ProtectedFromScaleIn: aws.Bool(false)})
	must(t, err) // autoscaling:SetInstanceProtection: the repair
	w.change(active, func(h *host) { h.agentDown = true })
	w.runUntil(h, w.clk.Now().Add(2*time.Minute)) // AGENT_LOST: sns:Publish
	w.change(active, func(h *host) { h.agentDown, h.hostDown = false, true })
	w.runUntil(h, w.clk.Now().Add(2*time.Minute)) // FAILED: states:*
	if len(w.acct.Executions()) != 1 || len(w.acct.Messages()) == 0 {
		t.Fatalf("%d executions and %d messages, want a failover and an alert", len(w.acct.Executions()), len(w.acct.Messages()))
	}
	if got := w.acct.Actions("healthcheck"); !slices.Equal(got, IAMActions) {
		t.Errorf("actions called %v, IAMActions %v", got, IAMActions)
	}
}
