package chaos

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/harness/sim"
	"github.com/prestoha/coordinator-ha/internal/healthcheck"
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

// TestFaultTable: every kind has one entry that can inject it, a primary kind is a real
// failure, a host fault ends (early or at the heal), and the fault mixes name known kinds.
func TestFaultTable(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range faultTable {
		if seen[k.name] {
			t.Errorf("fault kind %s has two entries", k.name)
		}
		seen[k.name] = true
		if k.inject == nil {
			t.Errorf("fault kind %s cannot be injected", k.name)
		}
		if k.primary && (!k.real || k.target != activeHost) {
			t.Errorf("primary fault kind %s must be a real failure of the active coordinator", k.name)
		}
		if k.target == noHost && k.healHost != nil {
			t.Errorf("fault kind %s hits no host but heals hosts", k.name)
		}
	}
	for _, k := range CrashFocus {
		if !seen[k] {
			t.Errorf("CrashFocus names unknown kind %s", k)
		}
	}
	if len(FaultKinds) != len(faultTable) {
		t.Errorf("FaultKinds has %d kinds, the table %d", len(FaultKinds), len(faultTable))
	}
}

// TestNewInvariantsFire: the one-at-a-time, evaluation-gap and holder-gap checks can
// fail (else they prove nothing).
func TestNewInvariantsFire(t *testing.T) {
	c := newCampaign(9, Options{})
	if err := c.setup(); err != nil {
		t.Fatal(err)
	}
	sfnc := c.acct.Clients("operator").SFN
	for _, name := range []string{"a", "b"} { // two executions at once
		if _, err := sfnc.StartExecution(context.Background(), &sfn.StartExecutionInput{StateMachineArn: aws.String(c.hcCfg.StateMachineARN), Name: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
	}
	c.checkOneAtATime()
	// A calm or alert-only evaluation may wait up to LoopSpan for the next; one that could
	// decide a failover only one check interval: the gap after the third is too long.
	i := c.hcCfg.CheckInterval
	c.evals = []evalMark{{t0, true, false}, {t0.Add(healthcheck.LoopSpan), false, false}, {t0.Add(healthcheck.LoopSpan + i), false, true},
		{t0.Add(healthcheck.LoopSpan + 3*i), false, true}}
	c.checkEvaluationGap()
	if len(c.rs.violations) != 2 {
		t.Fatalf("violations %+v, want one-at-a-time and the gap after the failover-deciding evaluation", c.rs.violations)
	}
	// No holder while a healthy standby exists, for longer than the bound.
	for _, inst := range c.acct.Instances() {
		c.w.hostOf(inst.ID).proc = prestoUp
	}
	c.clk.v.Set(t0.Add(3 * time.Minute))
	c.acct.Tick()
	for range 60 {
		c.watchHolderGap()
		c.clk.v.Set(c.clk.Now().Add(5 * time.Second))
		c.acct.Tick()
	}
	got := map[string]bool{}
	for _, v := range c.rs.violations {
		got[v.Invariant] = true
	}
	for _, inv := range []string{"one-at-a-time", "evaluation-gap", "holder-gap"} {
		if !got[inv] {
			t.Errorf("invariant %s did not fire: %+v", inv, c.rs.violations)
		}
	}
}
