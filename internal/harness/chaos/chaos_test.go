package chaos

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/harness/sim"
	"github.com/prestoha/coordinator-ha/internal/statemachine"
)

// shortRuns is the campaign size in `make test`; CHAOS_RUNS overrides it.
const shortRuns = 200

// TestShortCampaign is the campaign that runs in `make test` (make chaos runs thousands).
func TestShortCampaign(t *testing.T) {
	runs := shortRuns
	if v, err := strconv.Atoi(os.Getenv("CHAOS_RUNS")); err == nil && v > 0 {
		runs = v
	}
	r := Campaign(runs, 1, 2, Options{})
	for _, v := range r.Violations {
		t.Errorf("violation (reproduce: go run ./drill chaos -seed %d) %s: %s", v.Seed, v.Invariant, v.Description)
	}
	t.Logf("%d runs, %d faults %v, %d executions %v, breaker open in %d runs, recovery after the last fault max %s, %.1fs",
		r.Runs, r.FaultsInjected.Total, r.FaultsInjected.ByKind, r.Executions, r.ByStatus, r.BreakerRuns, r.RecoveryMax, r.WallSeconds)
	if r.Executions == 0 || r.ByStatus["SUCCEEDED"] == 0 {
		t.Fatalf("the campaign ran no successful failover: it is not exercising anything")
	}
	for _, k := range FaultKinds {
		if r.FaultsInjected.ByKind[k] == 0 {
			t.Errorf("fault kind %s was never injected in %d runs", k, runs)
		}
	}
}

// TestRunIsReproducible: the same seed gives the same run, to the last AWS call.
func TestRunIsReproducible(t *testing.T) {
	for _, tc := range []struct {
		seed uint64
		opts Options
	}{{42, Options{}}, {7, Options{}}, {37, Options{Faults: CrashFocus, MaxFaults: 5}}} {
		a, _ := json.Marshal(Run(tc.seed, tc.opts))
		b, _ := json.Marshal(Run(tc.seed, tc.opts))
		if string(a) != string(b) {
			t.Errorf("seed %d differs between two runs:\n%s\n%s", tc.seed, a, b)
		}
	}
}

// TestInterpreterFollowsTheDefinition checks the ASL interpreter against the real
// definition's state graph: every state is reachable from StartAt, every Next, Default,
// Choice and Catch target exists, and scripted step outcomes take the paths the
// definition documents.
func TestInterpreterFollowsTheDefinition(t *testing.T) {
	def, err := statemachine.Render(map[string]string{statemachine.TerminateFunctionArn: "terminate",
		statemachine.AttachENIFunctionArn: "attacheni", statemachine.LaunchStandbyFunctionArn: "launchstandby", statemachine.NotifyFunctionArn: "notify"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := parseASL(def)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var walk func(string)
	walk = func(n string) {
		if seen[n] {
			return
		}
		s, ok := m.States[n]
		if !ok {
			t.Fatalf("transition to unknown state %q", n)
		}
		seen[n] = true
		for _, nx := range []string{s.Next, s.Default} {
			if nx != "" {
				walk(nx)
			}
		}
		for _, c := range s.Choices {
			walk(c.Next)
		}
		for _, c := range s.Catch {
			walk(c.Next)
		}
	}
	walk(m.StartAt)
	for n := range m.States {
		if !seen[n] {
			t.Errorf("state %s is unreachable", n)
		}
	}

	base := events.FailoverState{Cluster: "c", ENIID: "eni-0123456789abcdef0", FailedInstanceID: "i-0123456789abcdef0",
		Verdict: events.VerdictFailed, DetectedAt: t0}
	type script map[string][]func(events.FailoverState) (events.FailoverState, error)
	ok := func(f func(*events.FailoverState)) func(events.FailoverState) (events.FailoverState, error) {
		return func(s events.FailoverState) (events.FailoverState, error) {
			f(&s)
			s.AddEvent("x", "y", t0, "")
			return s, nil
		}
	}
	fail := func(name string) func(events.FailoverState) (events.FailoverState, error) {
		return func(s events.FailoverState) (events.FailoverState, error) {
			return s, &stepError{Name: name, Cause: "scripted"}
		}
	}
	fenced := ok(func(s *events.FailoverState) { s.Terminate = &events.TerminateResult{Outcome: events.TerminateFenced} })
	attached := ok(func(s *events.FailoverState) {
		s.Attach = &events.AttachResult{Outcome: events.AttachAttached, Attempts: 1, MaxAttempts: 3}
	})
	noStandby := func(n int) func(events.FailoverState) (events.FailoverState, error) {
		return ok(func(s *events.FailoverState) {
			s.Attach = &events.AttachResult{Outcome: events.AttachNoStandby, Attempts: n, MaxAttempts: 2}
		})
	}
	plain := ok(func(*events.FailoverState) {})
	tests := []struct {
		name   string
		steps  script
		status string
		path   []string
	}{
		{"happy path", script{"Terminate": {fenced}, "AttachENI": {attached}, "LaunchStandby": {plain}, "Notify": {plain}}, "SUCCEEDED",
			[]string{"Terminate", "FenceOutcome", "AttachENI", "AttachOutcome", "LaunchStandby", "Notify", statemachine.StateDone}},
		{"superseded", script{"Terminate": {ok(func(s *events.FailoverState) {
			s.Terminate = &events.TerminateResult{Outcome: events.TerminateSuperseded}
		})}, "Notify": {plain}}, "SUCCEEDED", []string{"Terminate", "FenceOutcome", "Notify", statemachine.StateDone}},
		{"transient error retried", script{"Terminate": {fail("TransientError"), fenced}, "AttachENI": {attached}, "LaunchStandby": {plain}, "Notify": {plain}}, "SUCCEEDED",
			[]string{"Terminate", "Terminate", "FenceOutcome", "AttachENI", "AttachOutcome", "LaunchStandby", "Notify", statemachine.StateDone}},
		{"permanent error caught", script{"Terminate": {fail("PermanentError")}, "NotifyFailure": {plain}}, "FAILED",
			[]string{"Terminate", "NotifyFailure", statemachine.StateFailed}},
		{"slow path then exhausted", script{"Terminate": {fenced}, "AttachENI": {noStandby(1), noStandby(2)}, "LaunchStandbyForAttach": {plain}, "NotifyFailure": {plain}}, "FAILED",
			[]string{"Terminate", "FenceOutcome", "AttachENI", "AttachOutcome", "LaunchStandbyForAttach", "WaitForStandby", "AttachENI", "AttachOutcome", "NotifyFailure", statemachine.StateFailed}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls := map[string]int{}
			task := func(_ context.Context, state string, in events.FailoverState) (events.FailoverState, error) {
				fs := tc.steps[state]
				if len(fs) == 0 {
					t.Fatalf("unscripted state %s", state)
				}
				i := min(calls[state], len(fs)-1)
				calls[state]++
				return fs[i](in)
			}
			clk := clock.NewVirtual(t0)
			r := runASL(context.Background(), m, clk, rand.New(rand.NewPCG(1, 2)), base, task, func() {})
			var path []string
			for _, v := range r.Visits {
				path = append(path, v.State)
			}
			if r.Status != tc.status || !slices.Equal(path, tc.path) {
				t.Fatalf("status %s path %v (%s %s); want %s %v", r.Status, path, r.Error, r.Cause, tc.status, tc.path)
			}
			if tc.status == "FAILED" && tc.name == "permanent error caught" && (r.Doc.Error == nil || r.Doc.Error.Error != "PermanentError") {
				t.Fatalf("Catch did not store the error at $.error: %+v", r.Doc.Error)
			}
		})
	}
}

// TestFenceCheckFires: the fence invariant catches an ENI moved while its previous holder
// still runs (the check must be able to fail, or it proves nothing).
func TestFenceCheckFires(t *testing.T) {
	clk := clock.NewVirtual(t0)
	acct := sim.New(sim.Options{Clock: clk})
	if err := acct.AddSubnet(subnetID, "us-east-1a", "10.0.1.0/24"); err != nil {
		t.Fatal(err)
	}
	eni, _ := acct.CreateNetworkInterface(subnetID, "", "coordinator", nil)
	a, _ := acct.LaunchInstance(sim.InstanceSpec{SubnetID: subnetID})
	b, _ := acct.LaunchInstance(sim.InstanceSpec{SubnetID: subnetID})
	clk.Advance(time.Minute)
	acct.Tick()
	rs := &runState{seed: 7}
	w := &world{acct: acct, eni: eni, run: rs}
	c := acct.Clients("setup")
	ctx := context.Background()
	g := gateEC2{c.EC2, &gate{w: w, left: -1}}
	out, err := g.AttachNetworkInterface(ctx, &ec2.AttachNetworkInterfaceInput{NetworkInterfaceId: aws.String(eni), InstanceId: aws.String(a), DeviceIndex: aws.Int32(1)})
	if err != nil || len(rs.violations) != 0 {
		t.Fatalf("first attach: %v %v", err, rs.violations)
	}
	clk.Advance(10 * time.Second)
	acct.Tick()
	if _, err := g.DetachNetworkInterface(ctx, &ec2.DetachNetworkInterfaceInput{AttachmentId: out.AttachmentId, Force: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if len(rs.violations) != 1 || rs.violations[0].Invariant != "fence" {
		t.Fatalf("detaching the ENI from a running instance was not caught: %+v", rs.violations)
	}
	clk.Advance(10 * time.Second)
	acct.Tick()
	if _, err := g.AttachNetworkInterface(ctx, &ec2.AttachNetworkInterfaceInput{NetworkInterfaceId: aws.String(eni), InstanceId: aws.String(b), DeviceIndex: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	if len(rs.violations) != 2 || rs.violations[1].Invariant != "fence" || rs.violations[1].Seed != 7 {
		t.Fatalf("moving the ENI off a running instance was not caught: %+v", rs.violations)
	}
}
