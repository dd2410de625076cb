package agent

import (
	"context"
	"testing"
	"time"

	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/harness/sim"
	"github.com/prestoha/coordinator-ha/internal/signal"
)

// The publisher against the simulated account: injected throttling is retried, and what
// it wrote reads back through the health check's own query.
func TestPublisherAgainstSimulatedCloudWatch(t *testing.T) {
	clk := clock.NewVirtual(t0)
	acct := sim.New(sim.Options{Clock: clk})
	acct.Inject(sim.Fault{Service: "cloudwatch", Operation: "PutMetricData", Caller: "agent", Kind: sim.Throttle, Times: 2})
	p := NewPublisher(acct.Clients("agent").CloudWatch, clk, quietLogger(), 4096)
	const id = "i-0123456789abcdef0"
	for i := range 6 {
		at := t0.Add(time.Duration(i) * 5 * time.Second)
		st := signal.Healthy
		if i == 3 {
			st = signal.Unhealthy
		}
		p.Add(signal.HealthDatum("prod", id, st, at), signal.WitnessDatum("prod", id, true, at))
	}
	ctx := context.Background()
	if err := p.Flush(ctx); err != nil {
		t.Fatalf("flush through two throttles: %v", err)
	}
	var puts, failed int
	for _, c := range acct.Calls() {
		if c.Caller == "agent" && c.Operation == "PutMetricData" {
			puts++
			if c.Err != "" {
				failed++
			}
		}
	}
	if puts != 3 || failed != 2 {
		t.Fatalf("PutMetricData calls %d (failed %d), want 3 with 2 throttled", puts, failed)
	}
	clk.Advance(time.Minute) // past ingestion
	in, err := signal.Query("prod", []string{id}, t0, t0.Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	out, err := acct.Clients("healthcheck").CloudWatch.GetMetricData(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	reps, err := signal.Parse([]string{id}, out.MetricDataResults)
	if err != nil {
		t.Fatal(err)
	}
	h, w := reps[id].Health, reps[id].Witness
	if len(h) != 6 || len(w) != 6 {
		t.Fatalf("read back %d health and %d witness samples, want 6 each", len(h), len(w))
	}
	for i, s := range h {
		want := 1.0
		if i == 3 {
			want = 0
		}
		if s.Value != want || !s.At.Equal(t0.Add(time.Duration(i)*5*time.Second)) {
			t.Fatalf("health sample %d = %+v", i, s)
		}
	}
}
