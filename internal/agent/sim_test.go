package agent

import (
	"context"
	"testing"
	"time"

	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/harness/sim"
	"github.com/prestoha/coordinator-ha/internal/permissions"
	"github.com/prestoha/coordinator-ha/internal/signal"
)

// The publisher against the simulated account: injected throttling is retried, and what
// it wrote reads back through the health check's own query.
func TestPublisherAgainstSimulatedCloudWatch(t *testing.T) {
	clk := clock.NewVirtual(t0)
	acct := sim.New(sim.Options{Clock: clk})
	const id = "i-0123456789abcdef0"
	// The host role's policy as the stack writes it: reports into the caller's own namespace only.
	acct.SetPolicy("hosts", permissions.Statements(permissions.Agent, permissions.Resources{Partition: "aws", Region: "us-east-1",
		Account: acct.AccountID(), SecretARN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:k", SecretKeyARN: "arn:aws:kms:us-east-1:123456789012:key/k",
		StackID:                "arn:aws:cloudformation:us-east-1:123456789012:stack/s/00000000-0000-0000-0000-000000000000",
		HealthCheckFunctionARN: "arn:aws:lambda:us-east-1:123456789012:function:hc"}))
	cl := acct.ClientsAs(sim.Principal{Caller: "agent", RoleName: "hosts", Session: id})
	p := NewPublisher(cl.CloudWatch, clk, quietLogger(), 4096)
	if err := p.Flush(context.Background()); err != nil {
		t.Fatalf("an empty flush without a namespace: %v", err)
	}
	p.Add(signal.HealthDatum("prod", id, signal.Healthy, t0.Add(-time.Second)))
	if err := p.Flush(context.Background()); err != ErrNoNamespace {
		t.Fatalf("flush before the identity is known: %v, want ErrNoNamespace (samples kept)", err)
	}
	// Another host's namespace, or the shared one: IAM refuses, the batch is dropped.
	for _, ns := range []string{signal.ReportNamespace(acct.RoleID("hosts"), "i-0ffffffffffffffff"), signal.Namespace} {
		p.SetNamespace(ns)
		if err := p.Flush(context.Background()); err != nil || p.Stats().Rejected != 1 {
			t.Fatalf("flush into %s: %v, stats %+v: want the batch rejected (AccessDenied)", ns, err, p.Stats())
		}
		p.Add(signal.HealthDatum("prod", id, signal.Healthy, t0.Add(-time.Second)))
		p.mu.Lock()
		p.stats.Rejected = 0
		p.mu.Unlock()
	}
	p.take(MaxDatumsPerCall)
	ns, _, err := Identify(context.Background(), cl.STS)
	if err != nil || ns != signal.ReportNamespace(acct.RoleID("hosts"), id) {
		t.Fatalf("Identify = %s, %v", ns, err)
	}
	p.SetNamespace(ns)
	acct.ResetCalls()
	acct.Inject(sim.Fault{Service: "cloudwatch", Operation: "PutMetricData", Caller: "agent", Kind: sim.Throttle, Times: 2})
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
	in, err := signal.Query("prod", acct.RoleID("hosts"), []string{id}, t0, t0.Add(30*time.Second))
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
