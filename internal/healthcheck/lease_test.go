package healthcheck

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/awserr"
	"github.com/prestoha/coordinator-ha/internal/harness/sim"
	"github.com/prestoha/coordinator-ha/internal/signal"
)

// staleStates makes the health check's Step Functions reads lag by d, as the
// ListExecutions reference warns ("eventually consistent... may not reflect very recent
// updates"; DescribeExecution carries the same note).
func staleStates(w *world, d time.Duration) {
	w.acct.Inject(sim.Fault{Service: "states", Caller: "healthcheck", Kind: sim.StaleRead, Latency: d})
}

// Problem 1 of issue 11: ListExecutions does not yet show the execution started one
// check interval earlier. Before the lease, the next StartExecution collided, read that
// as "an earlier attempt ended" and started "-a2": two failovers of one failure at once.
func TestLeaseHoldsUnderStaleListing(t *testing.T) {
	w := newWorld(t)
	active := w.holder()
	w.change(active, func(h *host) { h.proc = signal.Unhealthy })
	w.advance(DefaultGrace + 2*DefaultCheckInterval)
	h := w.handler(w.config())
	ev, err := h.Evaluate(context.Background())
	if err != nil || ev.Action != ActionStarted {
		t.Fatalf("first evaluation: %s (%s), %v", ev.Action, ev.ActionDetail, err)
	}
	staleStates(w, time.Minute)
	for i := range 6 {
		w.advance(DefaultCheckInterval)
		hh := h
		if i%2 == 1 {
			hh = w.handler(w.config()) // a fresh sandbox: nothing cached
		}
		ev, err := hh.Evaluate(context.Background())
		if err != nil {
			t.Fatalf("evaluation %d: %v", i, err)
		}
		if ev.Action != ActionBlockedRunning {
			t.Errorf("evaluation %d with a stale listing: %s (%s), want %s", i, ev.Action, ev.ActionDetail, ActionBlockedRunning)
		}
	}
	if n := len(w.acct.Executions()); n != 1 {
		t.Fatalf("%d executions for one failure, want 1: %+v", n, w.acct.Executions())
	}
}

// Problem 1, the manual half: an operator's execution (the runbook: named with the next
// generation of the lease) and an automatic one exclude each other whoever comes first,
// even when every read the health check makes is stale.
func TestLeaseExcludesManualAndAutomatic(t *testing.T) {
	for _, manualFirst := range []bool{true, false} {
		w := newWorld(t)
		active := w.holder()
		w.change(active, func(h *host) { h.proc = signal.Unhealthy })
		w.advance(DefaultGrace + 2*DefaultCheckInterval)
		staleStates(w, time.Minute)
		manual := func() error {
			st := events.FailoverState{Cluster: cluster, ENIID: w.eni, FailedInstanceID: active, Verdict: events.VerdictManual,
				Reason: "operator", DetectedAt: w.clk.Now(), Lease: &events.Lease{Generation: 1, Holder: "manual/alice"}}
			in, _ := json.Marshal(st)
			_, err := w.acct.Clients("operator").SFN.StartExecution(context.Background(), &sfn.StartExecutionInput{
				StateMachineArn: aws.String(w.sm), Name: aws.String(events.LeaseName(cluster, 1)), Input: aws.String(string(in))})
			return err
		}
		if manualFirst {
			must(t, manual())
		}
		h := w.handler(w.config())
		ev, err := h.Evaluate(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if manualFirst && ev.Action != ActionBlockedRunning {
			t.Errorf("automatic after manual: %s (%s), want %s", ev.Action, ev.ActionDetail, ActionBlockedRunning)
		}
		if !manualFirst {
			if ev.Action != ActionStarted {
				t.Fatalf("automatic: %s (%s)", ev.Action, ev.ActionDetail)
			}
			if err := manual(); !awserr.IsAlreadyExists(err) {
				t.Errorf("manual after automatic: %v, want ExecutionAlreadyExists (the lease is taken)", err)
			}
		}
		if n := len(w.acct.Executions()); n != 1 {
			t.Errorf("manual first %v: %d executions, want 1", manualFirst, n)
		}
	}
}

// The next generation is taken only once the previous one ended: a FAILED attempt is
// retried under generation 2 (stale reads only delay that), never beside it.
func TestLeaseNextGenerationAfterEnd(t *testing.T) {
	w := newWorld(t)
	w.change(w.holder(), func(h *host) { h.proc = signal.Unhealthy })
	w.advance(DefaultGrace + 2*DefaultCheckInterval)
	h := w.handler(w.config())
	if ev, _ := h.Evaluate(context.Background()); ev.Action != ActionStarted {
		t.Fatalf("first: %s", ev.Action)
	}
	e := w.acct.Executions()[0]
	staleStates(w, 20*time.Second)
	must(t, w.acct.FinishExecution(e.ARN, "FAILED", `{"error":"x"}`))
	var got []Action
	for range 6 {
		w.advance(DefaultCheckInterval)
		ev, err := h.Evaluate(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ev.Action)
	}
	execs := w.acct.Executions()
	if len(execs) != 2 || execs[1].Name != events.LeaseName(cluster, 2) {
		t.Fatalf("executions %+v, want generation 2 after generation 1 ended (actions %v)", execs, got)
	}
	if !execs[1].StartDate.After(e.StopDate) && !execs[1].StartDate.Equal(e.StopDate) {
		t.Errorf("generation 2 started %s, before generation 1 ended %s", execs[1].StartDate, e.StopDate)
	}
}

// Problem 3 of issue 11: with the circuit breaker open, an ENI that no instance holds is
// still re-attached to a healthy standby (attaching fences nothing); a failover of a
// holder is still held back.
func TestBreakerSparesUnattachedWithHealthyStandby(t *testing.T) {
	w := newWorld(t)
	sfnc := w.acct.Clients("setup").SFN
	for i := range DefaultBreakerMax {
		st := events.FailoverState{Cluster: cluster, ENIID: w.eni, FailedInstanceID: "i-0000000000000000" + string(rune('1'+i)),
			Verdict: events.VerdictFailed, DetectedAt: w.clk.Now()}
		in, _ := json.Marshal(st)
		out, err := sfnc.StartExecution(context.Background(), &sfn.StartExecutionInput{StateMachineArn: aws.String(w.sm),
			Name: aws.String(events.LeaseName(cluster, i+1)), Input: aws.String(string(in))})
		must(t, err)
		must(t, w.acct.FinishExecution(aws.ToString(out.ExecutionArn), "FAILED", "{}"))
		w.advance(time.Second)
	}
	detach(t, w)
	h := w.handler(w.config())
	ev, err := h.Evaluate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if ev.Verdict != events.VerdictUnattached || ev.HealthyStandbys == 0 || ev.Action != ActionStarted || ev.BreakerCount != DefaultBreakerMax {
		t.Fatalf("verdict %s, %d healthy standbys, action %s (%s), breaker count %d: want UNATTACHED started past an open breaker",
			ev.Verdict, ev.HealthyStandbys, ev.Action, ev.ActionDetail, ev.BreakerCount)
	}
	// Without a healthy standby the attach path has nobody to attach to: the breaker holds.
	must(t, w.acct.FinishExecution(ev.ExecutionARN, "FAILED", "{}"))
	for _, id := range w.poolIDs() {
		w.change(id, func(h *host) { h.proc = signal.Unhealthy })
	}
	w.advance(time.Minute)
	ev, err = h.Evaluate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if ev.Action != ActionBlockedBreaker {
		t.Errorf("unattached without a healthy standby: %s (%s), want %s", ev.Action, ev.ActionDetail, ActionBlockedBreaker)
	}
}
