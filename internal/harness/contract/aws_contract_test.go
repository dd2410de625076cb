//go:build contract

package contract

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/agent"
	"github.com/prestoha/coordinator-ha/internal/awsapi"
	"github.com/prestoha/coordinator-ha/internal/awserr"
	"github.com/prestoha/coordinator-ha/internal/config"
	"github.com/prestoha/coordinator-ha/internal/signal"
)

const cluster = "contract"

// contractRoleID stands for the hosts' role id in the report namespaces.
const contractRoleID = "AROACONTRACTHOSTROLE1"

// fixture is a small coordinator cluster built in moto with the setup calls the stack
// (CloudFormation) would make; only the calls through awsapi are under test.
type fixture struct {
	vpcID, subnetID, az string
	asgName             string
	eniID               string
	instances           []string
}

func newFixture(t *testing.T, c clients) fixture {
	t.Helper()
	ctx := testContext(t)
	var f fixture
	vpc, err := c.EC2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.40.0.0/16")})
	if err != nil {
		t.Fatalf("setup: CreateVpc: %v", err)
	}
	f.vpcID = aws.ToString(vpc.Vpc.VpcId)
	f.az = region + "a"
	sub, err := c.EC2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String("10.40.1.0/24"), AvailabilityZone: aws.String(f.az)})
	if err != nil {
		t.Fatalf("setup: CreateSubnet: %v", err)
	}
	f.subnetID = aws.ToString(sub.Subnet.SubnetId)

	imgs, err := c.EC2.DescribeImages(ctx, &ec2.DescribeImagesInput{})
	if err != nil || len(imgs.Images) == 0 {
		t.Fatalf("setup: DescribeImages found no AMI in moto: %v", err)
	}
	lt, err := c.EC2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String("contract-coordinator"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: imgs.Images[0].ImageId, InstanceType: ec2types.InstanceTypeM6gLarge},
	})
	if err != nil {
		t.Fatalf("setup: CreateLaunchTemplate: %v", err)
	}
	f.asgName = "contract-coordinators"
	_, err = c.AutoScaling.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(f.asgName),
		LaunchTemplate:       &astypes.LaunchTemplateSpecification{LaunchTemplateId: lt.LaunchTemplate.LaunchTemplateId, Version: aws.String("$Latest")},
		MinSize:              aws.Int32(1), MaxSize: aws.Int32(6), DesiredCapacity: aws.Int32(3),
		VPCZoneIdentifier: aws.String(f.subnetID),
		Tags: []astypes.Tag{
			{Key: aws.String(config.TagCluster), Value: aws.String(cluster), PropagateAtLaunch: aws.Bool(true)},
			{Key: aws.String(config.TagRole), Value: aws.String(config.RoleStandby), PropagateAtLaunch: aws.Bool(true)},
		},
	})
	if err != nil {
		t.Fatalf("setup: CreateAutoScalingGroup: %v", err)
	}
	eni, err := c.EC2.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{
		SubnetId:    sub.Subnet.SubnetId,
		Description: aws.String("coordinator ENI"),
		TagSpecifications: []ec2types.TagSpecification{{
			ResourceType: ec2types.ResourceTypeNetworkInterface,
			Tags:         []ec2types.Tag{{Key: aws.String(config.TagCluster), Value: aws.String(cluster)}},
		}},
	})
	if err != nil {
		t.Fatalf("setup: CreateNetworkInterface: %v", err)
	}
	f.eniID = aws.ToString(eni.NetworkInterface.NetworkInterfaceId)
	return f
}

// coordinatorFilters are the filters the health check uses to list the coordinator pool:
// the aws:autoscaling:groupName tag that only Auto Scaling writes (moto writes it on the
// instances a group launches, as AWS does), and the live states.
func coordinatorFilters() []ec2types.Filter {
	return []ec2types.Filter{
		{Name: aws.String("tag:" + config.TagASGName), Values: []string{"contract-coordinators"}},
		{Name: aws.String("instance-state-name"), Values: []string{"pending", "running", "shutting-down", "stopping", "stopped"}},
	}
}

func TestEC2AndAutoScalingContract(t *testing.T) {
	m := requireMoto(t)
	m.reset(t)
	defer m.dumpLogs(t)
	c := m.clients()
	f := newFixture(t, c)
	ctx := testContext(t)

	// Only the awsapi interfaces from here on: the exact methods the code may call.
	var ec2api awsapi.EC2API = c.EC2
	var asapi awsapi.AutoScalingAPI = c.AutoScaling

	contractPool(ctx, t, &f, ec2api, asapi)
	active, standby := f.instances[0], f.instances[1]
	att := contractAttach(ctx, t, &f, ec2api, asapi, active)
	contractFenceAndMove(ctx, t, &f, ec2api, asapi, active, standby, att)
}

// contractPool: DescribeAutoScalingGroups and DescribeInstances as the health check and
// the steps read the pool; it fills f.instances.
func contractPool(ctx context.Context, t *testing.T, f *fixture, ec2api awsapi.EC2API, asapi awsapi.AutoScalingAPI) {
	t.Helper()
	// DescribeAutoScalingGroups: the pool, its desired capacity and its instances.
	groups, err := asapi.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{f.asgName}})
	if err != nil {
		t.Fatalf("DescribeAutoScalingGroups: %v", err)
	}
	if len(groups.AutoScalingGroups) != 1 {
		t.Fatalf("DescribeAutoScalingGroups: %d groups, want 1", len(groups.AutoScalingGroups))
	}
	g := groups.AutoScalingGroups[0]
	if aws.ToInt32(g.DesiredCapacity) != 3 || len(g.Instances) != 3 {
		t.Fatalf("group: desired %d, %d instances; want 3 and 3", aws.ToInt32(g.DesiredCapacity), len(g.Instances))
	}
	for _, in := range g.Instances {
		if !events.ValidInstanceID(aws.ToString(in.InstanceId)) {
			t.Errorf("group instance id %q does not have the shape events.ValidInstanceID accepts", aws.ToString(in.InstanceId))
		}
		if in.LifecycleState == "" || aws.ToString(in.AvailabilityZone) == "" {
			t.Errorf("group instance %s lacks a lifecycle state or AZ: %+v", aws.ToString(in.InstanceId), in)
		}
		f.instances = append(f.instances, aws.ToString(in.InstanceId))
	}
	slices.Sort(f.instances)

	// DescribeInstances with the tag filters the code uses finds exactly the pool, with
	// the fields verdicts and candidate selection read.
	out, err := ec2api.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: coordinatorFilters()})
	if err != nil {
		t.Fatalf("DescribeInstances with filters: %v", err)
	}
	var found []string
	for _, r := range out.Reservations {
		for _, in := range r.Instances {
			found = append(found, aws.ToString(in.InstanceId))
			if in.State == nil || in.State.Name == "" {
				t.Errorf("instance %s has no state", aws.ToString(in.InstanceId))
			}
			if aws.ToString(in.SubnetId) != f.subnetID || in.Placement == nil || aws.ToString(in.Placement.AvailabilityZone) != f.az {
				t.Errorf("instance %s: subnet %q AZ %v; want %s in %s", aws.ToString(in.InstanceId), aws.ToString(in.SubnetId), in.Placement, f.subnetID, f.az)
			}
			if !hasTag(in.Tags, config.TagCluster, cluster) || !hasTag(in.Tags, config.TagASGName, f.asgName) {
				t.Errorf("instance %s lacks the propagated tag %s=%s or Auto Scaling's %s=%s: %v", aws.ToString(in.InstanceId), config.TagCluster, cluster, config.TagASGName, f.asgName, in.Tags)
			}
		}
	}
	slices.Sort(found)
	if !slices.Equal(found, f.instances) {
		t.Fatalf("DescribeInstances by tag found %v, want the group's %v", found, f.instances)
	}
	// AttachENI lists the group's members by an instance-id filter (a member EC2 does not
	// list yet is absent rather than an error).
	members, err := ec2api.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("instance-id"), Values: append([]string{"i-0000000000000dead"}, f.instances...)},
		{Name: aws.String("instance-state-name"), Values: []string{"pending", "running", "stopping", "stopped", "shutting-down"}}}})
	if err != nil {
		t.Fatalf("DescribeInstances by instance-id filter: %v", err)
	}
	if n := func() (n int) {
		for _, r := range members.Reservations {
			n += len(r.Instances)
		}
		return
	}(); n != len(f.instances) {
		t.Errorf("DescribeInstances by instance-id filter found %d instances, want the group's %d", n, len(f.instances))
	}
	other, err := ec2api.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{{Name: aws.String("tag:" + config.TagASGName), Values: []string{"another-group"}}}})
	if err != nil {
		t.Fatalf("DescribeInstances for another cluster: %v", err)
	}
	if len(other.Reservations) != 0 {
		t.Errorf("the tag filter does not isolate clusters: %d reservations for another cluster", len(other.Reservations))
	}
	byID, err := ec2api.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: f.instances[:1]})
	if err != nil || len(byID.Reservations) != 1 || len(byID.Reservations[0].Instances) != 1 {
		t.Fatalf("DescribeInstances by id: %v %+v", err, byID)
	}
	_, err = ec2api.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{"i-0000000000000dead"}})
	if err == nil || !awserr.IsNotFound(err) {
		t.Errorf("DescribeInstances of a missing instance: got %v (code %q); the steps rely on awserr.IsNotFound", err, awserr.Code(err))
	}
}

// contractAttach: the ENI attached to the active at device index 1, its role tag and its
// scale-in protection, as AttachENI does them.
func contractAttach(ctx context.Context, t *testing.T, f *fixture, ec2api awsapi.EC2API, asapi awsapi.AutoScalingAPI, active string) *ec2.AttachNetworkInterfaceOutput {
	t.Helper()
	// DescribeNetworkInterfaces: the ENI, free.
	eni := describeENI(t, ec2api, f.eniID)
	if eni.Status != ec2types.NetworkInterfaceStatusAvailable || eni.Attachment != nil {
		t.Fatalf("new ENI: status %s attachment %+v; want available and none", eni.Status, eni.Attachment)
	}
	if aws.ToString(eni.AvailabilityZone) != f.az || aws.ToString(eni.SubnetId) != f.subnetID || aws.ToString(eni.PrivateIpAddress) == "" {
		t.Errorf("ENI: AZ %q subnet %q IP %q; the code needs all three", aws.ToString(eni.AvailabilityZone), aws.ToString(eni.SubnetId), aws.ToString(eni.PrivateIpAddress))
	}
	if !events.ValidENIID(f.eniID) {
		t.Errorf("ENI id %q does not have the shape events.ValidENIID accepts", f.eniID)
	}

	// AttachNetworkInterface at device index 1, as AttachENI does.
	att, err := ec2api.AttachNetworkInterface(ctx, &ec2.AttachNetworkInterfaceInput{
		NetworkInterfaceId: aws.String(f.eniID), InstanceId: aws.String(active), DeviceIndex: aws.Int32(1),
	})
	if err != nil {
		t.Fatalf("AttachNetworkInterface: %v", err)
	}
	if aws.ToString(att.AttachmentId) == "" {
		t.Fatalf("AttachNetworkInterface returned no attachment id")
	}
	eni = describeENI(t, ec2api, f.eniID)
	if eni.Attachment == nil || aws.ToString(eni.Attachment.InstanceId) != active || aws.ToString(eni.Attachment.AttachmentId) != aws.ToString(att.AttachmentId) {
		t.Fatalf("after attach: attachment %+v; want instance %s attachment %s", eni.Attachment, active, aws.ToString(att.AttachmentId))
	}
	if eni.Status != ec2types.NetworkInterfaceStatusInUse || aws.ToInt32(eni.Attachment.DeviceIndex) != 1 {
		t.Errorf("after attach: status %s device index %d; want in-use and 1", eni.Status, aws.ToInt32(eni.Attachment.DeviceIndex))
	}
	// The holder is found by filtering on the attachment, as the health check does.
	holders, err := ec2api.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{Filters: []ec2types.Filter{
		{Name: aws.String("attachment.instance-id"), Values: []string{active}},
	}})
	if err != nil {
		t.Fatalf("DescribeNetworkInterfaces by attachment.instance-id: %v", err)
	}
	if !slices.ContainsFunc(holders.NetworkInterfaces, func(n ec2types.NetworkInterface) bool { return aws.ToString(n.NetworkInterfaceId) == f.eniID }) {
		t.Errorf("filter attachment.instance-id=%s does not find the ENI", active)
	}

	// CreateTags: roles, as AttachENI and Terminate write them.
	if _, err := ec2api.CreateTags(ctx, &ec2.CreateTagsInput{
		Resources: []string{active},
		Tags:      []ec2types.Tag{{Key: aws.String(config.TagRole), Value: aws.String(config.RoleActive)}},
	}); err != nil {
		t.Fatalf("CreateTags: %v", err)
	}
	roles, err := ec2api.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:" + config.TagCluster), Values: []string{cluster}},
		{Name: aws.String("tag:" + config.TagRole), Values: []string{config.RoleActive}},
	}})
	if err != nil || len(roles.Reservations) != 1 || aws.ToString(roles.Reservations[0].Instances[0].InstanceId) != active {
		t.Errorf("DescribeInstances by role tag after CreateTags: %v %+v; want exactly %s", err, roles, active)
	}

	// SetInstanceProtection: the active coordinator is protected from scale-in.
	if _, err := asapi.SetInstanceProtection(ctx, &autoscaling.SetInstanceProtectionInput{
		AutoScalingGroupName: aws.String(f.asgName), InstanceIds: []string{active}, ProtectedFromScaleIn: aws.Bool(true),
	}); err != nil {
		t.Fatalf("SetInstanceProtection: %v", err)
	}
	g := describeGroup(t, asapi, f.asgName)
	for _, in := range g.Instances {
		if want := aws.ToString(in.InstanceId) == active; aws.ToBool(in.ProtectedFromScaleIn) != want {
			t.Errorf("instance %s ProtectedFromScaleIn=%v, want %v", aws.ToString(in.InstanceId), aws.ToBool(in.ProtectedFromScaleIn), want)
		}
	}

	return att
}

// contractFenceAndMove: the fence (terminate through the group, forced detach) and the
// ENI moved to the standby, as Terminate and AttachENI do them.
func contractFenceAndMove(ctx context.Context, t *testing.T, f *fixture, ec2api awsapi.EC2API, asapi awsapi.AutoScalingAPI, active, standby string, att *ec2.AttachNetworkInterfaceOutput) {
	t.Helper()
	// The fence: TerminateInstanceInAutoScalingGroup without lowering the capacity, then
	// DetachNetworkInterface (forced), as Terminate does. moto does not require the
	// instance to be gone before the detach, nor does it model "detaching": AWS's strict
	// ENI rules are checked against internal/sim, not here.
	if _, err := asapi.SetInstanceProtection(ctx, &autoscaling.SetInstanceProtectionInput{
		AutoScalingGroupName: aws.String(f.asgName), InstanceIds: []string{active}, ProtectedFromScaleIn: aws.Bool(false),
	}); err != nil {
		t.Fatalf("SetInstanceProtection(false): %v", err)
	}
	term, err := asapi.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
		InstanceId: aws.String(active), ShouldDecrementDesiredCapacity: aws.Bool(false),
	})
	if err != nil {
		t.Fatalf("TerminateInstanceInAutoScalingGroup: %v", err)
	}
	if term.Activity == nil || aws.ToString(term.Activity.ActivityId) == "" {
		t.Errorf("TerminateInstanceInAutoScalingGroup returned no activity: %+v", term)
	}
	st, err := ec2api.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{active}})
	if err != nil {
		t.Fatalf("DescribeInstances of the terminated instance: %v", err)
	}
	if s := st.Reservations[0].Instances[0].State.Name; s != ec2types.InstanceStateNameShuttingDown && s != ec2types.InstanceStateNameTerminated {
		t.Errorf("terminated instance state %s, want shutting-down or terminated", s)
	}
	if _, err := ec2api.DetachNetworkInterface(ctx, &ec2.DetachNetworkInterfaceInput{
		AttachmentId: att.AttachmentId, Force: aws.Bool(true),
	}); err != nil {
		t.Fatalf("DetachNetworkInterface: %v", err)
	}
	eni := describeENI(t, ec2api, f.eniID)
	if eni.Status != ec2types.NetworkInterfaceStatusAvailable {
		t.Errorf("after detach: ENI status %s, want available", eni.Status)
	}
	if eni.Attachment != nil && aws.ToString(eni.Attachment.InstanceId) == active && eni.Attachment.Status == ec2types.AttachmentStatusAttached {
		t.Errorf("after detach: still attached to %s", active)
	}
	_, err = ec2api.DetachNetworkInterface(ctx, &ec2.DetachNetworkInterfaceInput{AttachmentId: att.AttachmentId})
	t.Logf("second detach of the same attachment (a retried step): err=%v code=%q", err, awserr.Code(err))

	// The ENI moves to the standby.
	if _, err := ec2api.AttachNetworkInterface(ctx, &ec2.AttachNetworkInterfaceInput{
		NetworkInterfaceId: aws.String(f.eniID), InstanceId: aws.String(standby), DeviceIndex: aws.Int32(1),
	}); err != nil {
		t.Fatalf("AttachNetworkInterface to the standby: %v", err)
	}
	if eni = describeENI(t, ec2api, f.eniID); eni.Attachment == nil || aws.ToString(eni.Attachment.InstanceId) != standby {
		t.Fatalf("ENI after the move: %+v, want attached to %s", eni.Attachment, standby)
	}

	// SetDesiredCapacity: LaunchStandby brings the pool back.
	if _, err := asapi.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{
		AutoScalingGroupName: aws.String(f.asgName), DesiredCapacity: aws.Int32(4), HonorCooldown: aws.Bool(false),
	}); err != nil {
		t.Fatalf("SetDesiredCapacity: %v", err)
	}
	if g := describeGroup(t, asapi, f.asgName); aws.ToInt32(g.DesiredCapacity) != 4 {
		t.Errorf("desired capacity %d after SetDesiredCapacity(4)", aws.ToInt32(g.DesiredCapacity))
	}
}

func describeENI(t *testing.T, api awsapi.EC2API, id string) ec2types.NetworkInterface {
	t.Helper()
	out, err := api.DescribeNetworkInterfaces(testContext(t), &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{id}})
	if err != nil {
		t.Fatalf("DescribeNetworkInterfaces(%s): %v", id, err)
	}
	if len(out.NetworkInterfaces) != 1 {
		t.Fatalf("DescribeNetworkInterfaces(%s): %d interfaces", id, len(out.NetworkInterfaces))
	}
	return out.NetworkInterfaces[0]
}

func describeGroup(t *testing.T, api awsapi.AutoScalingAPI, name string) astypes.AutoScalingGroup {
	t.Helper()
	out, err := api.DescribeAutoScalingGroups(testContext(t), &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
	if err != nil || len(out.AutoScalingGroups) != 1 {
		t.Fatalf("DescribeAutoScalingGroups(%s): %v", name, err)
	}
	return out.AutoScalingGroups[0]
}

func hasTag(tags []ec2types.Tag, k, v string) bool {
	return slices.ContainsFunc(tags, func(t ec2types.Tag) bool { return aws.ToString(t.Key) == k && aws.ToString(t.Value) == v })
}

func TestCloudWatchHealthSignalContract(t *testing.T) {
	m := requireMoto(t)
	m.reset(t)
	defer m.dumpLogs(t)
	ctx := testContext(t)
	var cw awsapi.CloudWatchAPI = m.clients().CloudWatch

	ids := []string{"i-0aaaaaaaaaaaaaaa1", "i-0bbbbbbbbbbbbbbb2"}
	now := time.Now().UTC().Truncate(time.Second)
	// The agent of ids[0] reports healthy, then starting, then unhealthy; the standby
	// ids[1] reports healthy and witnesses that it reached the active.
	put := []struct {
		id string
		s  signal.Status
		at time.Duration
	}{{ids[0], signal.Healthy, -30 * time.Second}, {ids[0], signal.Starting, -20 * time.Second}, {ids[0], signal.Unhealthy, -10 * time.Second}, {ids[1], signal.Healthy, -25 * time.Second}}
	// Each host writes into its own namespace (signal.ReportNamespace); moto does not
	// evaluate the IAM condition, the simulated account does.
	for _, p := range put {
		if _, err := cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{
			Namespace:  aws.String(signal.ReportNamespace(contractRoleID, p.id)),
			MetricData: []cwtypes.MetricDatum{signal.HealthDatum(cluster, p.id, p.s, now.Add(p.at))},
		}); err != nil {
			t.Fatalf("PutMetricData(HealthDatum %s %s): %v", p.id, p.s, err)
		}
	}
	// A batch, as the agent sends when it catches up.
	if _, err := cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{
		Namespace: aws.String(signal.ReportNamespace(contractRoleID, ids[1])),
		MetricData: []cwtypes.MetricDatum{
			signal.WitnessDatum(cluster, ids[1], true, now.Add(-24*time.Second)),
			signal.WitnessDatum(cluster, ids[1], false, now.Add(-14*time.Second)),
		},
	}); err != nil {
		t.Fatalf("PutMetricData(WitnessDatum batch): %v", err)
	}

	q, err := signal.Query(cluster, contractRoleID, ids, now.Add(-60*time.Second), now)
	if err != nil {
		t.Fatalf("signal.Query: %v", err)
	}
	out, err := cw.GetMetricData(ctx, q)
	if err != nil {
		t.Fatalf("GetMetricData(signal.Query): %v", err)
	}
	all := out.MetricDataResults
	for out.NextToken != nil {
		q.NextToken = out.NextToken
		if out, err = cw.GetMetricData(ctx, q); err != nil {
			t.Fatalf("GetMetricData next page: %v", err)
		}
		all = append(all, out.MetricDataResults...)
	}
	// Every query carries its own StatusCode; a complete answer passes signal.CheckStatus
	// (which turns InternalError or PartialData into an error, never silence).
	for _, r := range all {
		if r.StatusCode != cwtypes.StatusCodeComplete {
			t.Errorf("query %s: StatusCode %q, want Complete", aws.ToString(r.Id), r.StatusCode)
		}
	}
	if err := signal.CheckStatus(all); err != nil {
		t.Errorf("signal.CheckStatus of moto's complete answer: %v", err)
	}
	reports, err := signal.Parse(ids, all)
	if err != nil {
		t.Fatalf("signal.Parse of moto's answer: %v", err)
	}
	assertSamples(t, "health "+ids[0], reports[ids[0]].Health, now, []time.Duration{-30 * time.Second, -20 * time.Second, -10 * time.Second}, []float64{1, 2, 0})
	assertSamples(t, "health "+ids[1], reports[ids[1]].Health, now, []time.Duration{-25 * time.Second}, []float64{1})
	assertSamples(t, "witness "+ids[1], reports[ids[1]].Witness, now, []time.Duration{-24 * time.Second, -14 * time.Second}, []float64{1, 0})
	// SampleCount per second (the tampering check): one sample in each second written.
	assertSamples(t, "health count "+ids[0], reports[ids[0]].HealthCounts, now, []time.Duration{-30 * time.Second, -20 * time.Second, -10 * time.Second}, []float64{1, 1, 1})
	if tp := signal.Check(reports[ids[0]]); tp.Found() {
		t.Errorf("honest reports read back from moto flagged as tampering: %s", tp)
	}
	if n := len(reports[ids[0]].Witness); n != 0 {
		t.Errorf("witness %s: %d samples, want 0", ids[0], n)
	}
	for _, s := range reports[ids[0]].Health {
		if _, ok := signal.StatusOf(s.Value); !ok {
			t.Errorf("value %v read back is not a status", s.Value)
		}
	}
}

func assertSamples(t *testing.T, what string, got []signal.Sample, now time.Time, at []time.Duration, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d samples %v, want %d", what, len(got), got, len(want))
		return
	}
	for i := range got {
		if !got[i].At.Equal(now.Add(at[i])) || got[i].Value != want[i] {
			t.Errorf("%s sample %d: %v=%v, want %v=%v", what, i, got[i].At, got[i].Value, now.Add(at[i]), want[i])
		}
	}
}

func TestStepFunctionsContract(t *testing.T) {
	m := requireMoto(t)
	m.reset(t)
	defer m.dumpLogs(t)
	ctx := testContext(t)
	c := m.clients()

	// The state machine is created with the sfn client directly (the stack owns it);
	// only StartExecution, ListExecutions and DescribeExecution are under test.
	sm, err := c.SFN.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name:       aws.String("contract-failover"),
		Definition: aws.String(`{"StartAt":"Wait","States":{"Wait":{"Type":"Wait","Seconds":600,"End":true}}}`),
		RoleArn:    aws.String("arn:aws:iam::123456789012:role/contract-failover"),
		Type:       sfntypes.StateMachineTypeStandard,
	})
	if err != nil {
		t.Fatalf("setup: CreateStateMachine: %v", err)
	}
	var api awsapi.SFNAPI = c.SFN

	detected := time.Date(2026, 11, 24, 10, 0, 40, 0, time.UTC)
	st := events.FailoverState{
		Cluster: cluster, ENIID: "eni-0a1b2c3d4e5f60718", FailedInstanceID: "i-0123456789abcdef0",
		Verdict: events.VerdictFailed, Reason: "contract test", DetectedAt: detected,
		Lease: &events.Lease{Generation: 1, Holder: "healthcheck/contract"},
	}
	st.AddEvent(events.StepDetect, "detected", detected, "verdict FAILED")
	input, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	name := events.LeaseName(st.Cluster, 1) // generation 1 of the cluster's failover lease
	start, err := api.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Name: aws.String(name), Input: aws.String(string(input))})
	if err != nil {
		t.Fatalf("StartExecution(%s): %v", name, err)
	}
	if aws.ToString(start.ExecutionArn) == "" || start.StartDate == nil {
		t.Fatalf("StartExecution answer lacks the ARN or start date: %+v", start)
	}

	// A second starter of the same lease generation (a different input: its own lease
	// holder) must not start a second failover. AWS answers ExecutionAlreadyExists; the
	// lease (internal/lease) relies on awserr.IsAlreadyExists recognising
	// that answer.
	st2 := st
	st2.Reason = "a later tick"
	st2.Lease = &events.Lease{Generation: 1, Holder: "manual/operator"}
	input2, _ := json.Marshal(st2)
	dup, err := api.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Name: aws.String(name), Input: aws.String(string(input2))})
	switch {
	case err != nil && !awserr.IsAlreadyExists(err):
		t.Errorf("duplicate StartExecution: %v (code %q) is not classified by awserr.IsAlreadyExists", err, awserr.Code(err))
	case err == nil && aws.ToString(dup.ExecutionArn) != aws.ToString(start.ExecutionArn):
		t.Errorf("duplicate StartExecution started a second execution %s", aws.ToString(dup.ExecutionArn))
	default:
		t.Logf("duplicate StartExecution: err=%v (code %q)", err, awserr.Code(err))
	}

	// ListExecutions: "is one running?" and the circuit breaker's history.
	running, err := api.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: sm.StateMachineArn, StatusFilter: sfntypes.ExecutionStatusRunning, MaxResults: 100})
	if err != nil {
		t.Fatalf("ListExecutions(RUNNING): %v", err)
	}
	if len(running.Executions) != 1 || aws.ToString(running.Executions[0].Name) != name || running.Executions[0].StartDate == nil {
		t.Fatalf("ListExecutions(RUNNING): %+v; want exactly %s with a start date", running.Executions, name)
	}
	all, err := api.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: sm.StateMachineArn})
	if err != nil || len(all.Executions) != 1 {
		t.Fatalf("ListExecutions(all): %v %+v", err, all)
	}

	// DescribeExecution: its input is the failover document, readable again.
	desc, err := api.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: start.ExecutionArn})
	if err != nil {
		t.Fatalf("DescribeExecution: %v", err)
	}
	if desc.Status != sfntypes.ExecutionStatusRunning || aws.ToString(desc.Name) != name {
		t.Errorf("DescribeExecution: status %s name %s", desc.Status, aws.ToString(desc.Name))
	}
	got, err := events.DecodeFailoverState([]byte(aws.ToString(desc.Input)))
	if err != nil {
		t.Fatalf("the execution's input does not decode as a failover state: %v", err)
	}
	if got.FailedInstanceID != st.FailedInstanceID || !got.DetectedAt.Equal(detected) || len(got.Timeline) != 1 {
		t.Errorf("execution input round trip: %+v", got)
	}
	_, err = api.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(aws.ToString(start.ExecutionArn) + "-missing")})
	if err == nil || !awserr.IsNotFound(err) {
		t.Errorf("DescribeExecution of a missing execution: %v (code %q); want awserr.IsNotFound", err, awserr.Code(err))
	}
}

func TestSNSPublishContract(t *testing.T) {
	m := requireMoto(t)
	m.reset(t)
	defer m.dumpLogs(t)
	ctx := testContext(t)
	c := m.clients()
	topic, err := c.SNS.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("contract-failovers")})
	if err != nil {
		t.Fatalf("setup: CreateTopic: %v", err)
	}
	var api awsapi.SNSAPI = c.SNS
	msg, _ := json.MarshalIndent(events.FailoverState{Cluster: cluster, Verdict: events.VerdictGone}, "", "  ")
	out, err := api.Publish(ctx, &sns.PublishInput{
		TopicArn: topic.TopicArn,
		Subject:  aws.String("[contract] coordinator failed over: i-0123456789abcdef0 -> i-0fedcba9876543210"),
		Message:  aws.String(string(msg)),
	})
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if aws.ToString(out.MessageId) == "" {
		t.Errorf("Publish returned no message id")
	}
	// SNS rejects subjects longer than 100 characters; the notifier must keep under it.
	_, err = api.Publish(ctx, &sns.PublishInput{TopicArn: topic.TopicArn, Subject: aws.String(longSubject()), Message: aws.String("x")})
	if err == nil {
		t.Errorf("Publish accepted a 101-character subject; the notifier's subject limit is built on AWS rejecting it")
	}
}

func longSubject() string {
	b := make([]byte, 101)
	for i := range b {
		b[i] = 's'
	}
	return string(b)
}

// The agent's identity call: STS GetCallerIdentity answers the account, an ARN and a
// UserId, and Identify turns the UserId into the report namespace.
func TestSTSCallerIdentityContract(t *testing.T) {
	m := requireMoto(t)
	m.reset(t)
	defer m.dumpLogs(t)
	ctx := testContext(t)
	var client awsapi.STSAPI = m.clients().STS
	ns, out, err := agent.Identify(ctx, client)
	if err != nil {
		t.Fatalf("GetCallerIdentity: %v", err)
	}
	if aws.ToString(out.Account) == "" || !strings.HasPrefix(aws.ToString(out.Arn), "arn:aws:") {
		t.Errorf("identity %+v", out)
	}
	if ns != signal.HostNamespace(aws.ToString(out.UserId)) || !strings.HasPrefix(ns, signal.Namespace+"/") {
		t.Errorf("namespace %s for user id %s", ns, aws.ToString(out.UserId))
	}
	// CloudWatch accepts the namespace (its characters and length).
	if _, err := m.clients().CloudWatch.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String(ns),
		MetricData: []cwtypes.MetricDatum{signal.HealthDatum(cluster, "i-0aaaaaaaaaaaaaaa1", signal.Healthy, time.Now())}}); err != nil {
		t.Errorf("PutMetricData into %s: %v", ns, err)
	}
}
