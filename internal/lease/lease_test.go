package lease

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/harness/sim"
)

// The protocol on the simulated account: two starters of one generation, exactly one
// takes it; the walk finds the running holder, then (once it ended) the next free
// generation; a running execution under another name is reported by Hint.
func TestLeaseSerializesStarters(t *testing.T) {
	ctx := context.Background()
	acct := sim.New(sim.Options{Clock: clock.NewVirtual(time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC))})
	sm := acct.CreateStateMachine("prod-failover")
	l := Lease{SFN: acct.Clients("starter").SFN, StateMachineARN: sm, Cluster: "prod"}
	state := events.FailoverState{Cluster: "prod", ENIID: "eni-0123456789abcdef0", Verdict: events.VerdictFailed, FailedInstanceID: "i-0aaaaaaaaaaaaaaa1"}

	walk := func() View {
		t.Helper()
		hint, foreign, err := l.Hint(ctx)
		if err != nil || foreign != nil {
			t.Fatalf("hint: %v, foreign %+v", err, foreign)
		}
		v, err := l.Walk(hint, func(gen int) (*Exec, error) { return l.Describe(ctx, gen) })
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := walk(); v.Next != 1 || v.Running != nil {
		t.Fatalf("empty state machine: %+v, want generation 1 free", v)
	}
	first, ok, err := l.Start(ctx, 1, state, "a")
	if err != nil || !ok || first.Name != "prod-failover-000001" || !first.Running() || first.FailedInstanceID() != "i-0aaaaaaaaaaaaaaa1" {
		t.Fatalf("first starter: %+v, %v, %v", first, ok, err)
	}
	if e, ok, err := l.Start(ctx, 1, state, "b"); err != nil || ok || e != nil {
		t.Fatalf("second starter of the same generation: %+v, %v, %v; want not taken", e, ok, err)
	}
	if v := walk(); v.Running == nil || v.Running.Name != first.Name {
		t.Fatalf("walk while it runs: %+v, want the running holder", v)
	}
	if err := acct.FinishExecution(first.ARN, "SUCCEEDED", "{}"); err != nil {
		t.Fatal(err)
	}
	if v := walk(); v.Next != 2 || v.Running != nil {
		t.Fatalf("walk after it ended: %+v, want generation 2 free", v)
	}
	if _, err := acct.Clients("operator").SFN.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(sm), Name: aws.String("by-hand")}); err != nil {
		t.Fatal(err)
	}
	if _, foreign, err := l.Hint(ctx); err != nil || foreign == nil || foreign.Name != "by-hand" || !foreign.Running() {
		t.Fatalf("hint with a running execution under another name: %+v, %v", foreign, err)
	}
}
