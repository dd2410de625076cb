package teardown

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"

	"github.com/prestoha/coordinator-ha/internal/awsapi"
	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/harness/sim"
)

const (
	group  = "coord-asg"
	subnet = "subnet-0aaaaaaaaaaaaaaa1"
)

// stack is a deployed cluster in the simulated account: a group of 3 with min 3 (as the
// stack makes it), the ENI attached to the active, which is protected from scale-in (as
// AttachENI leaves it).
type stack struct {
	t        *testing.T
	clk      *clock.Virtual
	acct     *sim.Account
	eni      string
	active   string
	timeline []string
}

func deploy(t *testing.T) *stack {
	t.Helper()
	clk := clock.NewVirtual(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	acct := sim.New(sim.Options{Clock: clk, Seed: 7})
	s := &stack{t: t, clk: clk, acct: acct}
	pool, err := sim.NewPool(acct, sim.PoolSpec{Cluster: "td", Coordinators: 3, Min: 3, Max: 4, SubnetID: subnet, ASGName: group,
		AttachActive: true, Warmup: time.Minute, Wait: s.advance})
	must(t, err)
	s.eni, s.active = pool.ENIID, pool.Active()
	ctx := context.Background()
	_, err = acct.Clients("attacheni").AutoScaling.SetInstanceProtection(ctx, &autoscaling.SetInstanceProtectionInput{
		AutoScalingGroupName: aws.String(group), InstanceIds: []string{s.active}, ProtectedFromScaleIn: aws.Bool(true)})
	must(t, err)
	s.advance(10 * time.Second)
	return s
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (s *stack) advance(d time.Duration) { s.clk.Advance(d); s.acct.Tick() }

func (s *stack) note(format string, args ...any) {
	s.timeline = append(s.timeline, fmt.Sprintf("%s %s", s.clk.Now().Format("15:04:05"), fmt.Sprintf(format, args...)))
}

func (s *stack) asg(caller string) awsapi.AutoScalingTeardownAPI {
	c, ok := s.acct.Clients(caller).AutoScaling.(awsapi.AutoScalingTeardownAPI)
	if !ok {
		s.t.Fatal("the simulated Auto Scaling client lacks UpdateAutoScalingGroup")
	}
	return c
}

// cfnDeletesGroup is CloudFormation deleting the group: it sets every size to 0 and
// waits (here up to wait) for the members to go. It reports whether the group emptied.
func (s *stack) cfnDeletesGroup(wait time.Duration) bool {
	_, err := s.asg("cloudformation").UpdateAutoScalingGroup(context.Background(), &autoscaling.UpdateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(group), MinSize: aws.Int32(0), MaxSize: aws.Int32(0), DesiredCapacity: aws.Int32(0)})
	must(s.t, err)
	for end := s.clk.Now().Add(wait); s.clk.Now().Before(end); s.advance(15 * time.Second) {
		if g, _ := s.acct.ASG(group); len(g.Members) == 0 {
			return true
		}
	}
	return false
}

func (s *stack) eniAvailable() bool {
	e, _ := s.acct.ENI(s.eni)
	return e.Status == "available"
}

// TestDeleteWithoutTeardownHangs is the failure the delete-time step exists for: the
// protected active survives CloudFormation's deletion of the group, and the ENI stays
// in use, so neither it nor the security groups can be deleted.
func TestDeleteWithoutTeardownHangs(t *testing.T) {
	s := deploy(t)
	if s.cfnDeletesGroup(30 * time.Minute) {
		t.Fatal("the group emptied with a protected member: the simulated account does not model scale-in protection")
	}
	g, _ := s.acct.ASG(group)
	if len(g.Members) != 1 || g.Members[0].InstanceID != s.active || !g.Members[0].Protected {
		t.Fatalf("members %+v, want the protected active alone", g.Members)
	}
	if s.eniAvailable() {
		t.Fatal("the ENI is available while the active still runs")
	}
}

// straggler is a clock whose first sleep runs the failover steps that were still running
// when the control plane was deleted: LaunchStandby raises the desired capacity and
// AttachENI protects the newcomer.
type straggler struct {
	*clock.Virtual
	s    *stack
	done bool
}

func (c *straggler) Sleep(ctx context.Context, d time.Duration) error {
	if !c.done {
		c.done = true
		_, err := c.s.acct.Clients("launchstandby").AutoScaling.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{
			AutoScalingGroupName: aws.String(group), DesiredCapacity: aws.Int32(1)})
		must(c.s.t, err)
		c.s.advance(time.Minute) // the newcomer comes InService
		g, _ := c.s.acct.ASG(group)
		for _, m := range g.Members {
			if !strings.HasPrefix(m.Lifecycle, "Terminat") {
				_, err := c.s.acct.Clients("attacheni").AutoScaling.SetInstanceProtection(ctx, &autoscaling.SetInstanceProtectionInput{
					AutoScalingGroupName: aws.String(group), InstanceIds: []string{m.InstanceID}, ProtectedFromScaleIn: aws.Bool(true)})
				must(c.s.t, err)
				c.s.note("straggling steps: LaunchStandby raised the desired capacity to 1, AttachENI protected %s", m.InstanceID)
			}
		}
	}
	err := c.Virtual.Sleep(ctx, d)
	c.s.acct.Tick()
	return err
}

// TestSimulatedDelete: the stack's delete in CloudFormation's order. The control plane
// goes first (it depends on the custom resource), then the custom resource's Delete
// (Release) removes the protection and empties the group, then CloudFormation deletes
// the group at once, then the ENI (now detached: available) and the security groups.
func TestSimulatedDelete(t *testing.T) {
	s := deploy(t)
	s.note("CloudFormation deletes the control plane: schedule rule, Lambdas, state machine (they depend on the custom resource)")

	r := &Releaser{AutoScaling: s.asg("teardown"), Clock: &straggler{Virtual: s.clk, s: s}, Log: slog.New(slog.DiscardHandler),
		Budget: 10 * time.Minute}
	phys, data, err := r.Handler(context.Background(), cfn.Event{RequestType: cfn.RequestDelete, PhysicalResourceID: group,
		ResourceProperties: map[string]any{PropGroupName: group}})
	must(t, err)
	s.note("custom resource Delete answered: physical id %s, %v", phys, data)
	g, _ := s.acct.ASG(group)
	if len(g.Members) != 0 {
		t.Fatalf("members left after Release: %+v", g.Members)
	}
	if !s.eniAvailable() {
		t.Fatal("the ENI is still attached after the group emptied")
	}
	s.note("group empty; ENI %s available", s.eni)

	start := s.clk.Now()
	if !s.cfnDeletesGroup(time.Minute) || s.clk.Now().Sub(start) > 0 {
		t.Fatal("CloudFormation's deletion of the group had to wait")
	}
	s.note("CloudFormation deletes the group (empty), the launch template, the ENI and the security groups")

	// The order, from the simulated account's own record of the calls.
	var order []string
	for _, c := range s.acct.Calls() {
		if c.Service == "autoscaling" && c.Caller != "setup" &&
			c.Operation != "DescribeAutoScalingGroups" {
			order = append(order, c.Caller+" "+c.Operation)
		}
	}
	want := []string{
		"attacheni SetInstanceProtection",       // deployed: the active protected
		"teardown SetInstanceProtection",        // pass 1: the active unprotected
		"teardown UpdateAutoScalingGroup",       // pass 1: min and desired 0: every member goes
		"launchstandby SetDesiredCapacity",      // a straggling LaunchStandby launches a member
		"attacheni SetInstanceProtection",       // a straggling AttachENI protects it
		"teardown SetInstanceProtection",        // pass 2: unprotected
		"teardown UpdateAutoScalingGroup",       // pass 2: 0 again, so the group lets it go
		"cloudformation UpdateAutoScalingGroup", // CloudFormation deletes the group, which is already empty
	}
	if strings.Join(order, "\n") != strings.Join(want, "\n") {
		t.Errorf("call order:\n%s\nwant:\n%s", strings.Join(order, "\n"), strings.Join(want, "\n"))
	}
	for _, l := range s.timeline {
		t.Log(l)
	}
}

// TestHandlerCreateUpdate: Create and Update name the group as the physical id (a new
// group makes CloudFormation delete the old resource, that is release the old group) and
// touch nothing.
func TestHandlerCreateUpdate(t *testing.T) {
	s := deploy(t)
	r := &Releaser{AutoScaling: s.asg("teardown"), Clock: s.clk, Log: slog.New(slog.DiscardHandler)}
	for _, rt := range []cfn.RequestType{cfn.RequestCreate, cfn.RequestUpdate} {
		phys, _, err := r.Handler(context.Background(), cfn.Event{RequestType: rt, ResourceProperties: map[string]any{PropGroupName: group}})
		if err != nil || phys != group {
			t.Errorf("%s: physical id %q, %v", rt, phys, err)
		}
	}
	if _, _, err := r.Handler(context.Background(), cfn.Event{RequestType: cfn.RequestCreate}); err == nil {
		t.Error("Create without the group name succeeded")
	}
	// A Delete of a resource whose create never answered does nothing.
	if _, _, err := r.Handler(context.Background(), cfn.Event{RequestType: cfn.RequestDelete, PhysicalResourceID: "x"}); err != nil {
		t.Error(err)
	}
	for _, c := range s.acct.Calls() {
		if c.Caller == "teardown" {
			t.Errorf("Create/Update/empty Delete called %s", c.Operation)
		}
	}
}

// TestReleaseDeadline: a group that cannot empty (its members are stuck) is answered
// before the deadline, with the members left.
func TestReleaseDeadline(t *testing.T) {
	s := deploy(t)
	s.acct.Inject(sim.Fault{Service: "autoscaling", Operation: "UpdateAutoScalingGroup", Caller: "teardown", Kind: sim.Throttle})
	r := &Releaser{AutoScaling: s.asg("teardown"), Clock: s.clk, Log: slog.New(slog.DiscardHandler), Budget: 2 * time.Minute}
	deadline := s.clk.Now().Add(2 * time.Minute)
	res := r.Release(context.Background(), group)
	if res.Gone || s.clk.Now().After(deadline.Add(-DefaultMargin)) || res.Passes < 2 {
		t.Errorf("result %+v at %s, want an answer before %s after several passes", res, s.clk.Now(), deadline.Add(-DefaultMargin))
	}
}
