package healthcheck

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"

	"github.com/prestoha/coordinator-ha/internal/harness/sim"
	"github.com/prestoha/coordinator-ha/internal/signal"
)

// Problem 4 of issue 11: GetMetricData results carry a StatusCode per query. A query
// that failed (InternalError, no datapoints) inside a successful call was read as
// silence, and one such answer failed over a healthy single coordinator (no standby to
// vouch for it). It is an error now: nothing is decided on it.
func TestQueryErrorIsNotSilence(t *testing.T) {
	for _, kind := range []sim.FaultKind{sim.QueryError, sim.QueryPartial} {
		t.Run(kind.String(), func(t *testing.T) {
			w := newWorld(t)
			active := w.holder()
			for _, id := range w.poolIDs() {
				if id != active {
					must(t, w.acct.TerminateFromOutside(id)) // a single coordinator: no witness
				}
			}
			w.advance(5 * time.Second)
			h := w.handler(w.config())
			if ev, err := h.Evaluate(context.Background()); err != nil || ev.Action != ActionNone {
				t.Fatalf("before the fault: %s (%s), %v", ev.Action, ev.Reason, err)
			}
			w.acct.Inject(sim.Fault{Service: "cloudwatch", Operation: "GetMetricData", Caller: "healthcheck", Kind: kind, Times: 1})
			ev, err := h.Evaluate(context.Background())
			if err == nil || !strings.Contains(err.Error(), "incomplete") {
				t.Errorf("evaluation on a failed query: %v, want an error naming the incomplete query", err)
			}
			if ev.Action == ActionStarted || len(w.acct.Executions()) != 0 {
				t.Fatalf("a healthy single coordinator was failed over on one failed query: %s (%s)", ev.Verdict, ev.Reason)
			}
			if ev, err := h.Evaluate(context.Background()); err != nil || ev.Action != ActionNone {
				t.Errorf("after the fault: %s %s (%s), %v", ev.Verdict, ev.Action, ev.Reason, err)
			}
		})
	}
}

// singleCoordinator terminates every member but the active: no witness can vouch.
func singleCoordinator(t *testing.T, w *world) {
	t.Helper()
	for _, id := range w.poolIDs() {
		if id != w.holder() {
			must(t, w.acct.TerminateFromOutside(id))
		}
	}
}

// Problem 7 of issue 11: an agent clock running behind the Lambda's ate the grace
// window: a healthy active whose clock is 35 s behind was FAILED when no standby witness
// vouched for it. The skew is detected from arrivals, corrected within MaxClockSkew,
// and reported (AgentClockSkew per instance).
func TestAgentClockBehindIsNotFailure(t *testing.T) {
	w := newWorldWith(t, func(w *world) { w.skew = 35 * time.Second }) // every agent's clock, from its start
	active := w.holder()
	singleCoordinator(t, w)
	h := w.handler(w.config())
	sums := w.runUntil(h, w.clk.Now().Add(3*time.Minute))
	for _, s := range sums {
		if s.Verdicts["FAILED"] > 0 || len(s.ExecutionsStarted) > 0 {
			t.Fatalf("a healthy active with a clock 35 s behind: verdicts %v, started %v (last: %s)", s.Verdicts, s.ExecutionsStarted, s.Last.Reason)
		}
	}
	last := sums[len(sums)-1].Last
	var skew float64
	for _, j := range last.Coordinators {
		if j.InstanceID == active {
			skew = j.ClockSkewSeconds
		}
	}
	if last.Verdict != "HEALTHY" || skew < 10 || skew > 35 {
		t.Errorf("last verdict %s (%s), skew estimate %.0f s: want HEALTHY and a lower bound of the 35 s", last.Verdict, last.Reason, skew)
	}
	if maxSkew(w, active) < 10 {
		t.Errorf("no %s datapoint reports the skew", signal.MetricClockSkew)
	}

	// Bounded: when that host dies, its silence is still found, at most the estimate
	// later than with a correct clock.
	died := w.clk.Now()
	w.change(active, func(h *host) { h.hostDown = true })
	w.runUntil(h, died.Add(2*time.Minute))
	execs := w.acct.Executions()
	if len(execs) != 1 {
		t.Fatalf("%d executions after the skewed agent died, want 1", len(execs))
	}
	bound := DefaultGrace + DefaultIngestionDelay + DefaultCheckInterval + time.Duration(skew*float64(time.Second)) + agentGap
	if d := execs[0].StartDate.Sub(died); d > bound {
		t.Errorf("failover %s after the agent died, want within %s", d, bound)
	}
}

func maxSkew(w *world, id string) float64 {
	m := 0.0
	for _, d := range w.acct.Datapoints(signal.Namespace) {
		if d.MetricName == signal.MetricClockSkew && d.Dimensions[signal.DimInstance] == id && d.Max > m {
			m = d.Max
		}
	}
	return m
}

// Problem 5, the health check's half: missing scale-in protection on the holder is
// repaired whenever it is seen.
func TestHolderProtectionRepaired(t *testing.T) {
	w := newWorld(t)
	active := w.holder()
	_, err := w.acct.Clients("operator").AutoScaling.SetInstanceProtection(context.Background(), &autoscaling.SetInstanceProtectionInput{
		AutoScalingGroupName: aws.String(asgName), InstanceIds: []string{active}, ProtectedFromScaleIn: aws.Bool(false)})
	must(t, err)
	h := w.handler(w.config())
	w.acct.Inject(sim.Fault{Service: "autoscaling", Operation: "SetInstanceProtection", Caller: "healthcheck", Kind: sim.ServerError, Times: 1})
	for range 2 { // the first repair fails; the next evaluation tries again
		if _, err := h.Evaluate(context.Background()); err != nil {
			t.Fatal(err)
		}
		w.advance(DefaultCheckInterval)
	}
	g, _ := w.acct.ASG(asgName)
	for _, m := range g.Members {
		if m.InstanceID == active && !m.Protected {
			t.Fatalf("the holder %s is still unprotected from scale-in", active)
		}
	}
}
