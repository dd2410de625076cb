package drill

import (
	"context"
	"sort"
	"testing"
	"time"
)

// TestRealisticFailovers runs every scenario of the demo under the unkind model
// (eventually consistent reads, late and early ticks over overlapping health-check
// sandboxes, Step Functions and Lambda latency, the guest OS configuring the moved ENI)
// with a few seeds each: each behaves as under today's model, and the health check's
// invocations never leave an evaluation gap while the cluster is not calm (every tick
// ran; none was throttled; after a calm evaluation the next look waits for a tick or a
// doorbell by design).
func TestRealisticFailovers(t *testing.T) {
	st := DefaultSettings()
	for _, sc := range Scenarios(st) {
		for run := range 2 {
			seed := runSeed(sc.Name, run)
			t.Run(sc.Name, func(t *testing.T) {
				var c *Cluster
				clk := runOptions{Simulated: true}.clock()
				var res = struct{ ok bool }{}
				onClock(clk, func() {
					var r2 = runOptions{Settings: st, Seed: seed, Simulated: true, FaultDelay: faultPhase(seed, st.Schedule), Realistic: true}
					var c2 *Cluster
					c2, rs, _ := playScenario(context.Background(), sc, r2, clk)
					c2.stop()
					c = c2
					res.ok = rs.OK
					if !rs.OK {
						t.Errorf("seed %d misbehaved: %v", seed, rs.Violations)
					}
					if rs.FailedOver != rs.ExpectFailover {
						t.Errorf("seed %d failed over %v, want %v", seed, rs.FailedOver, rs.ExpectFailover)
					}
				})
				if c == nil {
					return
				}
				c.Close()
				c.mu.Lock()
				inv := append([]invocation(nil), c.invocations...)
				c.mu.Unlock()
				sort.Slice(inv, func(i, j int) bool { return inv[i].Start.Before(inv[j].Start) })
				for i, v := range inv {
					if v.Err != nil && v.End.Sub(v.Start) == 0 {
						t.Errorf("seed %d: invocation %d was throttled: %v", seed, i, v.Err)
					}
					if i > 0 && v.Start.After(inv[i-1].End.Add(st.CheckInterval)) && !inv[i-1].End.IsZero() {
						last := inv[0]
						for _, w := range inv[:i] {
							if w.End.After(last.End) {
								last = w
							}
						}
						if latest := last.End; !last.EndedCalm && v.Start.Sub(latest) > st.CheckInterval {
							t.Errorf("seed %d: no invocation between %s and %s", seed, latest.Format(time.TimeOnly), v.Start.Format(time.TimeOnly))
						}
					}
				}
			})
		}
	}
}
