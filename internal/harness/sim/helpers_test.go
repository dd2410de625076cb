package sim

import (
	"context"
	"testing"
	"time"

	"github.com/prestoha/coordinator-ha/internal/awserr"
	"github.com/prestoha/coordinator-ha/internal/clock"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type fixture struct {
	acct *Account
	clk  *clock.Virtual
	c    Clients
	ctx  context.Context
}

// newFixture returns an account with default timings and two subnets in two AZs:
// subnet-a (us-east-1a, 10.0.1.0/24) and subnet-b (us-east-1b, 10.0.2.0/24).
func newFixture(t *testing.T) *fixture {
	t.Helper()
	clk := clock.NewVirtual(t0)
	acct := New(Options{Clock: clk, Seed: 1})
	must(t, acct.AddSubnet("subnet-a", "us-east-1a", "10.0.1.0/24"))
	must(t, acct.AddSubnet("subnet-b", "us-east-1b", "10.0.2.0/24"))
	return &fixture{acct: acct, clk: clk, c: acct.Clients("test"), ctx: context.Background()}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want error %s, got success", code)
	}
	if got := awserr.Code(err); got != code {
		t.Fatalf("want error code %s, got %q (%v)", code, got, err)
	}
}

// launchRunning launches an instance in subnet and waits until it is running.
func (f *fixture) launchRunning(t *testing.T, subnet string) string {
	t.Helper()
	id, err := f.acct.LaunchInstance(InstanceSpec{SubnetID: subnet})
	must(t, err)
	f.clk.Advance(f.acct.Timings().PendingToRunning)
	if i, _ := f.acct.Instance(id); i.State != "running" {
		t.Fatalf("instance %s is %s, want running", id, i.State)
	}
	return id
}

func (f *fixture) newENI(t *testing.T, subnet string) string {
	t.Helper()
	id, err := f.acct.CreateNetworkInterface(subnet, "", "coordinator", map[string]string{"Role": "coordinator-eni"})
	must(t, err)
	return id
}
