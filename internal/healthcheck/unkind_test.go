package healthcheck

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prestoha/coordinator-ha/internal/harness/sim"
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
