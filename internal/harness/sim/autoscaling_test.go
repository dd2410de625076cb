package sim

import (
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/prestoha/coordinator-ha/internal/awserr"
)

func (f *fixture) newGroup(t *testing.T, min, max, desired int) []string {
	t.Helper()
	must(t, f.acct.CreateAutoScalingGroup(ASGSpec{
		Name: "coord", SubnetID: "subnet-a", Min: min, Max: max, Desired: desired,
		Tags: map[string]string{"Cluster": "c1", "Role": "coordinator"},
	}))
	f.clk.Advance(30 * time.Second)
	return f.members(t)
}

// members returns the group's members that count (not Terminating).
func (f *fixture) members(t *testing.T) []string {
	t.Helper()
	g, ok := f.acct.ASG("coord")
	if !ok {
		t.Fatal("no group")
	}
	var ids []string
	for _, m := range g.Members {
		if m.Lifecycle != "Terminating" {
			ids = append(ids, m.InstanceID)
		}
	}
	return ids
}

func TestGroupLaunchesDesiredAndTagsInstances(t *testing.T) {
	f := newFixture(t)
	ids := f.newGroup(t, 1, 4, 2)
	if len(ids) != 2 {
		t.Fatalf("members %v", ids)
	}
	out, err := f.c.AutoScaling.DescribeAutoScalingGroups(f.ctx, &autoscaling.DescribeAutoScalingGroupsInput{
		Filters: []asgtypes.Filter{{Name: aws.String("tag:Cluster"), Values: []string{"c1"}}}})
	must(t, err)
	if len(out.AutoScalingGroups) != 1 {
		t.Fatalf("groups %d", len(out.AutoScalingGroups))
	}
	g := out.AutoScalingGroups[0]
	if *g.DesiredCapacity != 2 || *g.MinSize != 1 || *g.MaxSize != 4 || len(g.Instances) != 2 {
		t.Fatalf("group %+v", g)
	}
	for _, m := range g.Instances {
		if m.LifecycleState != asgtypes.LifecycleStateInService || *m.HealthStatus != "Healthy" || *m.AvailabilityZone != "us-east-1a" {
			t.Fatalf("member %+v", m)
		}
	}
	i, _ := f.acct.Instance(ids[0])
	if i.Tags["Cluster"] != "c1" || i.Tags["aws:autoscaling:groupName"] != "coord" || i.ASG != "coord" {
		t.Fatalf("tags %v", i.Tags)
	}
	out, err = f.c.AutoScaling.DescribeAutoScalingGroups(f.ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"other"}})
	must(t, err)
	if len(out.AutoScalingGroups) != 0 {
		t.Fatal("unknown group name returned a group")
	}
}

// AWS: the group's health check notices a member terminated from outside and launches
// a replacement; a suspended group does not.
func TestGroupReplacesMemberTerminatedFromOutside(t *testing.T) {
	for _, suspended := range []bool{false, true} {
		f := newFixture(t)
		ids := f.newGroup(t, 1, 3, 2)
		must(t, f.acct.SetASGSuspended("coord", suspended))
		must(t, f.acct.TerminateFromOutside(ids[0]))
		f.clk.Advance(9 * time.Second)
		if got := f.members(t); len(got) != 2 || got[0] != ids[0] {
			t.Fatalf("suspended=%v: before the delay the group still counts the lost member: %v", suspended, got)
		}
		f.clk.Advance(time.Second)
		got := f.members(t)
		if suspended {
			g, _ := f.acct.ASG("coord")
			if len(got) != 2 || g.Members[0].Health != "Unhealthy" {
				t.Fatalf("suspended group replaced or dropped: %+v", g.Members)
			}
			if len(f.acct.Instances()) != 2 {
				t.Fatal("suspended group launched")
			}
			// Resuming replaces at once.
			must(t, f.acct.SetASGSuspended("coord", false))
			got = f.members(t)
		}
		if len(got) != 2 || slices.Contains(got, ids[0]) || !slices.Contains(got, ids[1]) {
			t.Fatalf("suspended=%v: members after replacement %v", suspended, got)
		}
		f.clk.Advance(30 * time.Second)
		if i, _ := f.acct.Instance(got[1]); i.State != "running" {
			t.Fatalf("replacement is %s", i.State)
		}
	}
}

// A stopped member is unhealthy for an EC2 health check: the group terminates and
// replaces it.
func TestGroupReplacesStoppedMember(t *testing.T) {
	f := newFixture(t)
	ids := f.newGroup(t, 1, 3, 1)
	must(t, f.acct.StopInstance(ids[0]))
	f.clk.Advance(10 * time.Second)
	if i, _ := f.acct.Instance(ids[0]); i.State != "shutting-down" {
		t.Fatalf("stopped member is %s, want shutting-down", i.State)
	}
	if got := f.members(t); len(got) != 1 || got[0] == ids[0] {
		t.Fatalf("members %v", got)
	}
}

// AWS: TerminateInstanceInAutoScalingGroup without decrement replaces the instance;
// with decrement lowers desired capacity, which may not go below MinSize.
func TestTerminateInstanceInAutoScalingGroup(t *testing.T) {
	f := newFixture(t)
	ids := f.newGroup(t, 1, 3, 2)
	_, err := f.c.AutoScaling.TerminateInstanceInAutoScalingGroup(f.ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
		InstanceId: &ids[0], ShouldDecrementDesiredCapacity: aws.Bool(false)})
	must(t, err)
	if i, _ := f.acct.Instance(ids[0]); i.State != "shutting-down" {
		t.Fatalf("instance %s", i.State)
	}
	g, _ := f.acct.ASG("coord")
	if g.Members[0].Lifecycle != "Terminating" {
		t.Fatalf("member %+v", g.Members[0])
	}
	// Repeating is harmless.
	_, err = f.c.AutoScaling.TerminateInstanceInAutoScalingGroup(f.ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
		InstanceId: &ids[0], ShouldDecrementDesiredCapacity: aws.Bool(false)})
	must(t, err)
	f.clk.Advance(10 * time.Second)
	got := f.members(t)
	if len(got) != 2 || slices.Contains(got, ids[0]) {
		t.Fatalf("after replace delay: %v", got)
	}
	f.clk.Advance(30 * time.Second)
	// Decrement: 2 -> 1 is fine, 1 -> 0 violates MinSize=1.
	_, err = f.c.AutoScaling.TerminateInstanceInAutoScalingGroup(f.ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
		InstanceId: &got[0], ShouldDecrementDesiredCapacity: aws.Bool(true)})
	must(t, err)
	f.clk.Advance(time.Minute)
	if g, _ := f.acct.ASG("coord"); g.Desired != 1 || len(f.members(t)) != 1 {
		t.Fatalf("desired %d members %v", g.Desired, f.members(t))
	}
	_, err = f.c.AutoScaling.TerminateInstanceInAutoScalingGroup(f.ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
		InstanceId: &got[1], ShouldDecrementDesiredCapacity: aws.Bool(true)})
	wantCode(t, err, awserr.CodeValidationError)
	// An instance no group manages.
	lone := f.launchRunning(t, "subnet-a")
	_, err = f.c.AutoScaling.TerminateInstanceInAutoScalingGroup(f.ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
		InstanceId: &lone, ShouldDecrementDesiredCapacity: aws.Bool(false)})
	wantCode(t, err, awserr.CodeValidationError)
}

// AWS: SetInstanceProtection needs a member of the group in service; scale-in never
// removes a protected instance while unprotected ones exist, and stays above desired
// when all are protected. SetDesiredCapacity must be within [MinSize, MaxSize].
func TestProtectionAndDesiredCapacity(t *testing.T) {
	f := newFixture(t)
	ids := f.newGroup(t, 0, 4, 3)
	lone := f.launchRunning(t, "subnet-a")
	protect := func(ids ...string) error {
		_, err := f.c.AutoScaling.SetInstanceProtection(f.ctx, &autoscaling.SetInstanceProtectionInput{
			AutoScalingGroupName: aws.String("coord"), InstanceIds: ids, ProtectedFromScaleIn: aws.Bool(true)})
		return err
	}
	wantCode(t, protect(lone), awserr.CodeValidationError)
	must(t, protect(ids[2])) // the newest: the one scale-in would pick first
	setDesired := func(n int32) error {
		_, err := f.c.AutoScaling.SetDesiredCapacity(f.ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("coord"), DesiredCapacity: &n})
		return err
	}
	wantCode(t, setDesired(5), awserr.CodeValidationError)
	wantCode(t, setDesired(-1), awserr.CodeValidationError)
	must(t, setDesired(1))
	if got := f.members(t); !slices.Equal(got, []string{ids[2]}) {
		t.Fatalf("after scale-in to 1: %v, want only the protected %s", got, ids[2])
	}
	must(t, setDesired(0))
	if got := f.members(t); !slices.Equal(got, []string{ids[2]}) {
		t.Fatalf("all protected: the group must stay above desired, got %v", got)
	}
	must(t, setDesired(2))
	if got := f.members(t); len(got) != 2 {
		t.Fatalf("scale-out: %v", got)
	}
	// Pending members cannot be protected yet.
	wantCode(t, protect(f.members(t)[1]), awserr.CodeValidationError)
}
