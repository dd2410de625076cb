package sim

import (
	"context"
	"crypto/sha256"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/smithy-go"

	"github.com/prestoha/coordinator-ha/internal/awserr"
)

// Auto Scaling lifecycle states and health statuses the simulation uses.
const (
	lcPending     = "Pending"
	lcInService   = "InService"
	lcTerminating = "Terminating"

	healthy   = "Healthy"
	unhealthy = "Unhealthy"
)

func asgErr(format string, args ...any) error {
	return awserr.New(awserr.CodeValidationError, fmt.Sprintf(format, args...), smithy.FaultClient)
}

// ASG is a snapshot of an Auto Scaling group for assertions.
type ASG struct {
	Name              string
	SubnetID, AZ      string
	Min, Max, Desired int
	Suspended         bool
	Tags              map[string]string
	Members           []ASGMember
}

// launchTemplate is the group's launch template at a version. The model has one launch
// template per group, named after it, whose versions are opaque strings: what the
// operator's roll compares (a group launches the version in its own LaunchTemplate
// specification, and DescribeAutoScalingGroups shows, per instance, the version it was
// launched with, as the stack's group names a concrete version, not $Latest).
func (a *Account) launchTemplate(g *group, version string) *asgtypes.LaunchTemplateSpecification {
	sum := sha256.Sum256([]byte(a.accountID + "/" + g.name))
	return &asgtypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(fmt.Sprintf("lt-%x", sum[:9])),
		LaunchTemplateName: aws.String(g.name + "-lt"), Version: aws.String(version)}
}

// SetLaunchTemplateVersion is what a stack update that changes the coordinators' launch
// template does to the group: new launches use version, and the members keep the version
// they were launched with (Auto Scaling replaces no instance when its launch template
// changes; "Update Auto Scaling group instances", EC2 Auto Scaling user guide).
func (a *Account) SetLaunchTemplateVersion(groupName, version string) error {
	return a.setup(func(time.Time) error {
		g, ok := a.w.asgs[groupName]
		if !ok {
			return fmt.Errorf("sim: no group %s", groupName)
		}
		g.ltVersion = version
		return nil
	})
}

// ASGMember is one instance of a group as Auto Scaling sees it.
type ASGMember struct {
	InstanceID            string
	Lifecycle             string // Pending, InService, Terminating
	Health                string // Healthy, Unhealthy
	Protected             bool
	LaunchTemplateVersion string // the version it was launched with
}

// CreateAutoScalingGroup creates a group in spec.SubnetID and launches Desired
// instances (pending, then running), each tagged with the group's tags and
// aws:autoscaling:groupName.
func (a *Account) CreateAutoScalingGroup(spec ASGSpec) error {
	if spec.Name == "" {
		return fmt.Errorf("sim: group needs a name")
	}
	if spec.Min < 0 || spec.Min > spec.Max || spec.Desired < spec.Min || spec.Desired > spec.Max {
		return fmt.Errorf("sim: group %s: need 0 <= min (%d) <= desired (%d) <= max (%d)", spec.Name, spec.Min, spec.Desired, spec.Max)
	}
	return a.setup(func(now time.Time) error {
		if _, ok := a.w.asgs[spec.Name]; ok {
			return fmt.Errorf("sim: group %s exists", spec.Name)
		}
		s, ok := a.subnets[spec.SubnetID]
		if !ok {
			return fmt.Errorf("sim: no subnet %s", spec.SubnetID)
		}
		g := &group{
			name: spec.Name, subnetID: s.id, az: s.az, min: spec.Min, max: spec.Max, desired: spec.Desired,
			instanceType: spec.InstanceType, imageID: spec.ImageID, tags: cloneTags(spec.Tags), created: now,
			newInstancesProtected: spec.NewInstancesProtected, ltVersion: "1",
		}
		a.w.asgs[g.name] = g
		a.w.asgOrder = append(a.w.asgOrder, g.name)
		return a.reconcile(g, now)
	})
}

// SetASGSuspended suspends or resumes the group's Launch, Terminate, HealthCheck and
// ReplaceUnhealthy processes: while suspended, lost members are marked Unhealthy but
// neither terminated nor replaced. Resuming replaces them at once.
func (a *Account) SetASGSuspended(name string, suspended bool) error {
	return a.setup(func(now time.Time) error {
		g, ok := a.w.asgs[name]
		if !ok {
			return fmt.Errorf("sim: no group %s", name)
		}
		g.suspended = suspended
		if !suspended {
			for _, m := range slices.Clone(g.members) {
				if m.noticed && m.lifecycle != lcTerminating {
					a.replaceLost(g, m, now)
				}
			}
			return a.reconcile(g, now)
		}
		return nil
	})
}

// ASG returns a snapshot of the group, or false when there is none.
func (a *Account) ASG(name string) (ASG, bool) {
	var out ASG
	var ok bool
	a.read(func() {
		var g *group
		if g, ok = a.w.asgs[name]; ok {
			out = ASG{
				Name: g.name, SubnetID: g.subnetID, AZ: g.az, Min: g.min, Max: g.max, Desired: g.desired,
				Suspended: g.suspended, Tags: maps.Clone(g.tags),
			}
			for _, m := range g.members {
				out.Members = append(out.Members, ASGMember{InstanceID: m.instanceID, Lifecycle: m.lifecycle, Health: m.health, Protected: m.protected, LaunchTemplateVersion: m.ltVersion})
			}
		}
	})
	return out, ok
}

func (a *Account) memberOf(i *instance) *member {
	g := a.w.asgs[i.asg]
	if g == nil {
		return nil
	}
	return g.member(i.id)
}

func (g *group) member(id string) *member {
	for _, m := range g.members {
		if m.instanceID == id {
			return m
		}
	}
	return nil
}

func (g *group) removeMember(id string) {
	g.members = slices.DeleteFunc(g.members, func(m *member) bool { return m.instanceID == id })
}

// active counts members that count towards desired capacity.
func (g *group) active() int {
	n := 0
	for _, m := range g.members {
		if m.lifecycle != lcTerminating && m.health == healthy {
			n++
		}
	}
	return n
}

// reconcile launches instances until the group has desired healthy members (unless
// suspended). Callers hold the lock.
func (a *Account) reconcile(g *group, now time.Time) error {
	if g.suspended {
		return nil
	}
	for g.active() < g.desired {
		tags := cloneTags(g.tags)
		tags["aws:autoscaling:groupName"] = g.name
		id, err := a.launch(InstanceSpec{SubnetID: g.subnetID, InstanceType: g.instanceType, ImageID: g.imageID, Tags: tags}, g.name, now)
		if err != nil {
			return err
		}
		g.members = append(g.members, &member{instanceID: id, lifecycle: lcPending, health: healthy, protected: g.newInstancesProtected, ltVersion: g.ltVersion})
	}
	return nil
}

// noticeLost is the group's health check finding a member whose instance left running
// (terminated or stopped from outside): the member is marked Unhealthy and, unless the
// group is suspended, terminated and replaced.
func (a *Account) noticeLost(g *group, m *member, t time.Time) {
	m.noticed = true
	m.health = unhealthy
	if g.suspended || m.lifecycle == lcTerminating {
		return
	}
	a.replaceLost(g, m, t)
	_ = a.reconcile(g, t)
}

func (a *Account) replaceLost(g *group, m *member, t time.Time) {
	m.lifecycle = lcTerminating
	i, ok := a.w.instances[m.instanceID]
	if !ok || i.state == stateTerminated {
		g.removeMember(m.instanceID)
		return
	}
	a.beginTermination(i, t)
}

// lifecycleOf is a member's lifecycle state as AWS shows it: Terminating:Wait while a
// lifecycle hook holds it.
func lifecycleOf(w *world, m *member) string {
	if i, ok := w.instances[m.instanceID]; ok && m.lifecycle == lcTerminating && !i.hookUntil.IsZero() && i.state == stateRunning {
		return "Terminating:Wait"
	}
	return m.lifecycle
}

// asgClient implements awsapi.AutoScalingAPI for one caller.
type asgClient struct{ client }

func (c *asgClient) DescribeAutoScalingGroups(ctx context.Context, in *autoscaling.DescribeAutoScalingGroupsInput, _ ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
	return read(ctx, c.client, "DescribeAutoScalingGroups", in, c.a.describeGroups)
}

func (c *asgClient) TerminateInstanceInAutoScalingGroup(ctx context.Context, in *autoscaling.TerminateInstanceInAutoScalingGroupInput, _ ...func(*autoscaling.Options)) (*autoscaling.TerminateInstanceInAutoScalingGroupOutput, error) {
	return write(ctx, c.client, "TerminateInstanceInAutoScalingGroup", in, c.a.terminateInGroup)
}

func (c *asgClient) SetInstanceProtection(ctx context.Context, in *autoscaling.SetInstanceProtectionInput, _ ...func(*autoscaling.Options)) (*autoscaling.SetInstanceProtectionOutput, error) {
	return write(ctx, c.client, "SetInstanceProtection", in, ack[autoscaling.SetInstanceProtectionOutput](c.a.setProtection))
}

func (c *asgClient) SetDesiredCapacity(ctx context.Context, in *autoscaling.SetDesiredCapacityInput, _ ...func(*autoscaling.Options)) (*autoscaling.SetDesiredCapacityOutput, error) {
	return write(ctx, c.client, "SetDesiredCapacity", in, ack[autoscaling.SetDesiredCapacityOutput](c.a.setDesired))
}

// describeGroups implements DescribeAutoScalingGroups with AutoScalingGroupNames and
// the tag-key, tag-value and tag:<key> filters. Unknown names are simply absent, as in
// AWS.
func (a *Account) describeGroups(w *world, in *autoscaling.DescribeAutoScalingGroupsInput) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
	for _, f := range in.Filters {
		n := aws.ToString(f.Name)
		if n != "tag-key" && n != "tag-value" && !strings.HasPrefix(n, "tag:") {
			return nil, asgErr("Filter name %s is not supported", n)
		}
	}
	out := &autoscaling.DescribeAutoScalingGroupsOutput{}
	for _, name := range w.asgOrder {
		g := w.asgs[name]
		if len(in.AutoScalingGroupNames) > 0 && !slices.Contains(in.AutoScalingGroupNames, name) {
			continue
		}
		if !groupMatches(g, in.Filters) {
			continue
		}
		out.AutoScalingGroups = append(out.AutoScalingGroups, a.toASG(w, g))
	}
	return out, nil
}

func groupMatches(g *group, filters []asgtypes.Filter) bool {
	for _, f := range filters {
		n := aws.ToString(f.Name)
		ok := false
		for _, v := range f.Values {
			switch {
			case n == "tag-key":
				_, ok2 := g.tags[v]
				ok = ok || ok2
			case n == "tag-value":
				for _, tv := range g.tags {
					ok = ok || tv == v
				}
			default:
				tv, has := g.tags[strings.TrimPrefix(n, "tag:")]
				ok = ok || (has && tv == v)
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func (a *Account) toASG(w *world, g *group) asgtypes.AutoScalingGroup {
	out := asgtypes.AutoScalingGroup{
		AutoScalingGroupName: aws.String(g.name),
		AutoScalingGroupARN: aws.String(fmt.Sprintf("arn:aws:autoscaling:%s:%s:autoScalingGroup:%s:autoScalingGroupName/%s",
			a.region, a.accountID, "00000000-0000-4000-8000-000000000000", g.name)),
		AvailabilityZones: []string{g.az}, VPCZoneIdentifier: aws.String(g.subnetID),
		MinSize: aws.Int32(int32(g.min)), MaxSize: aws.Int32(int32(g.max)), DesiredCapacity: aws.Int32(int32(g.desired)),
		CreatedTime: aws.Time(g.created), HealthCheckType: aws.String("EC2"), DefaultCooldown: aws.Int32(300),
		NewInstancesProtectedFromScaleIn: aws.Bool(g.newInstancesProtected),
		LaunchTemplate:                   a.launchTemplate(g, g.ltVersion),
	}
	for _, k := range sortedKeys(g.tags) {
		out.Tags = append(out.Tags, asgtypes.TagDescription{
			Key: aws.String(k), Value: aws.String(g.tags[k]), PropagateAtLaunch: aws.Bool(true),
			ResourceId: aws.String(g.name), ResourceType: aws.String("auto-scaling-group"),
		})
	}
	if g.suspended {
		for _, p := range []string{"Launch", "Terminate", "HealthCheck", "ReplaceUnhealthy"} {
			out.SuspendedProcesses = append(out.SuspendedProcesses, asgtypes.SuspendedProcess{ProcessName: aws.String(p), SuspensionReason: aws.String("User suspended at sim")})
		}
	}
	for _, m := range g.members {
		it := asgtypes.Instance{
			InstanceId: aws.String(m.instanceID), LifecycleState: asgtypes.LifecycleState(lifecycleOf(w, m)),
			HealthStatus: aws.String(m.health), ProtectedFromScaleIn: aws.Bool(m.protected),
			AvailabilityZone: aws.String(g.az), LaunchTemplate: a.launchTemplate(g, m.ltVersion),
		}
		if i, ok := w.instances[m.instanceID]; ok {
			it.InstanceType, it.ImageId = aws.String(i.instanceType), aws.String(i.imageID)
		}
		out.Instances = append(out.Instances, it)
	}
	return out
}

// findMember finds the group and member of an instance id. The error is AWS's
// ValidationError for an instance no group manages.
func (a *Account) findMember(id string) (*group, *member, error) {
	for _, name := range a.w.asgOrder {
		g := a.w.asgs[name]
		if m := g.member(id); m != nil {
			return g, m, nil
		}
	}
	return nil, nil, asgErr("Instance Id not found - No managed instance found for instance ID: %s", id)
}

// terminateInGroup implements TerminateInstanceInAutoScalingGroup: the instance must be
// a member (else ValidationError); with ShouldDecrementDesiredCapacity the desired
// capacity drops, which may not go below MinSize (ValidationError); without it the group
// launches a replacement after Timings.ASGReplaceDelay. A member already Terminating is
// accepted again (no-op).
func (a *Account) terminateInGroup(in *autoscaling.TerminateInstanceInAutoScalingGroupInput) (*autoscaling.TerminateInstanceInAutoScalingGroupOutput, error) {
	id := aws.ToString(in.InstanceId)
	if id == "" {
		return nil, asgErr("1 validation error detected: Value null at 'instanceId' failed to satisfy constraint: Member must not be null")
	}
	if in.ShouldDecrementDesiredCapacity == nil {
		return nil, asgErr("1 validation error detected: Value null at 'shouldDecrementDesiredCapacity' failed to satisfy constraint: Member must not be null")
	}
	g, m, err := a.findMember(id)
	if err != nil {
		return nil, err
	}
	now := a.clk.Now()
	dec := *in.ShouldDecrementDesiredCapacity
	desc := fmt.Sprintf("Terminating EC2 instance: %s", id)
	if m.lifecycle != lcTerminating {
		if dec {
			if g.desired-1 < g.min {
				return nil, asgErr("Currently, desiredSize equals minSize (%d). Terminating instance without replacement will violate group's min size constraint. Either set shouldDecrementDesiredCapacity flag to false or lower group's min size.", g.min)
			}
			g.desired--
		} else {
			g.reconcileAt = now.Add(a.timings.ASGReplaceDelay)
		}
		m.lifecycle = lcTerminating
		if i, ok := a.w.instances[id]; ok && i.state == stateRunning && a.cons.TerminationHook > 0 {
			i.hookUntil = now.Add(a.cons.TerminationHook) // Terminating:Wait (Consistency.TerminationHook)
		} else if ok && i.state != stateTerminated {
			a.beginTermination(i, now)
		} else {
			g.removeMember(id)
		}
	}
	cause := "At " + now.UTC().Format(time.RFC3339) + " instance " + id + " taken out of service in response to a user request"
	if dec {
		cause += ", shrinking the capacity from " + fmt.Sprint(g.desired+1) + " to " + fmt.Sprint(g.desired) + "."
	} else {
		cause += "."
	}
	act := &asgtypes.Activity{
		ActivityId: aws.String(a.ids.uuid()), AutoScalingGroupName: aws.String(g.name), Description: aws.String(desc),
		Cause: aws.String(cause), StartTime: aws.Time(now), StatusCode: asgtypes.ScalingActivityStatusCodeInProgress,
		Progress: aws.Int32(0),
	}
	return &autoscaling.TerminateInstanceInAutoScalingGroupOutput{Activity: act}, nil
}

// setProtection implements SetInstanceProtection: the group must exist and every
// instance must be one of its InService members, else ValidationError.
func (a *Account) setProtection(in *autoscaling.SetInstanceProtectionInput) error {
	name := aws.ToString(in.AutoScalingGroupName)
	g, ok := a.w.asgs[name]
	if !ok {
		return asgErr("AutoScalingGroup name not found - AutoScalingGroup %s not found", name)
	}
	if in.ProtectedFromScaleIn == nil || len(in.InstanceIds) == 0 {
		return asgErr("1 validation error detected: InstanceIds and ProtectedFromScaleIn are required")
	}
	var ms []*member
	for _, id := range in.InstanceIds {
		m := g.member(id)
		if m == nil {
			return asgErr("The instance %s is not part of Auto Scaling group %s.", id, name)
		}
		if m.lifecycle != lcInService {
			return asgErr("The instance %s is not in InService or EnteringStandby or Standby.", id)
		}
		ms = append(ms, m)
	}
	for _, m := range ms {
		m.protected = *in.ProtectedFromScaleIn
	}
	return nil
}

// setDesired implements SetDesiredCapacity: the value must be within [MinSize,
// MaxSize] (ValidationError). Scale-out launches at once; scale-in terminates
// unprotected members (newest first) and never a protected one, so when too few are
// unprotected the group stays above the desired capacity.
func (a *Account) setDesired(in *autoscaling.SetDesiredCapacityInput) error {
	name := aws.ToString(in.AutoScalingGroupName)
	g, ok := a.w.asgs[name]
	if !ok {
		return asgErr("AutoScalingGroup name not found - AutoScalingGroup %s not found", name)
	}
	if in.DesiredCapacity == nil {
		return asgErr("1 validation error detected: Value null at 'desiredCapacity' failed to satisfy constraint: Member must not be null")
	}
	d := int(*in.DesiredCapacity)
	if d < g.min {
		return asgErr("New SetDesiredCapacity value %d is below min value %d for the AutoScalingGroup.", d, g.min)
	}
	if d > g.max {
		return asgErr("New SetDesiredCapacity value %d is above max value %d for the AutoScalingGroup.", d, g.max)
	}
	now := a.clk.Now()
	g.desired = d
	if g.suspended {
		return nil
	}
	excess := g.active() - d
	for idx := len(g.members) - 1; idx >= 0 && excess > 0; idx-- {
		m := g.members[idx]
		if m.protected || m.lifecycle == lcTerminating || m.health != healthy {
			continue
		}
		m.lifecycle = lcTerminating
		if i, ok := a.w.instances[m.instanceID]; ok {
			a.beginTermination(i, now)
		}
		excess--
	}
	return a.reconcile(g, now)
}
