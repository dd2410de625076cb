package chaos

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/prestoha/coordinator-ha/internal/awsapi"
)

// gate sits between one step's handler and the simulated account. It crashes the step
// half-way (after a set number of calls the invocation's context is cancelled, as when the
// Lambda's process dies: what was done stays done) and checks the fence on every attach.
type gate struct {
	w       *world
	left    int // calls until the crash; <0: no crash armed
	crashed bool
	cancel  context.CancelFunc
}

func (g *gate) after() {
	if g.left < 0 || g.crashed {
		return
	}
	g.left--
	if g.left <= 0 {
		g.crashed = true
		g.cancel()
	}
}

type gateEC2 struct {
	awsapi.EC2API
	g *gate
}

func (c gateEC2) DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, o ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	defer c.g.after()
	return c.EC2API.DescribeInstances(ctx, in, o...)
}

func (c gateEC2) DescribeNetworkInterfaces(ctx context.Context, in *ec2.DescribeNetworkInterfacesInput, o ...func(*ec2.Options)) (*ec2.DescribeNetworkInterfacesOutput, error) {
	defer c.g.after()
	return c.EC2API.DescribeNetworkInterfaces(ctx, in, o...)
}

// AttachNetworkInterface checks the fence: the ENI may reach a new instance only when the
// instance that held it before is shutting down or terminated.
func (c gateEC2) AttachNetworkInterface(ctx context.Context, in *ec2.AttachNetworkInterfaceInput, o ...func(*ec2.Options)) (*ec2.AttachNetworkInterfaceOutput, error) {
	defer c.g.after()
	w := c.g.w
	prev, target := w.run.lastHolder, aws.ToString(in.InstanceId)
	var unfenced string
	if prev != "" && prev != target {
		if inst, ok := w.acct.Instance(prev); ok && inst.State != "shutting-down" && inst.State != "terminated" {
			unfenced = fmt.Sprintf("the ENI was attached to %s while its previous holder %s was still %s (not fenced)", target, prev, inst.State)
		}
	}
	out, err := c.EC2API.AttachNetworkInterface(ctx, in, o...)
	if err == nil && unfenced != "" {
		w.run.violate("fence", "%s", unfenced)
	}
	if err == nil {
		w.run.lastHolder = target
	}
	return out, err
}

// DetachNetworkInterface checks that the ENI leaves an instance only once that instance
// is fenced (shutting down or terminated).
func (c gateEC2) DetachNetworkInterface(ctx context.Context, in *ec2.DetachNetworkInterfaceInput, o ...func(*ec2.Options)) (*ec2.DetachNetworkInterfaceOutput, error) {
	defer c.g.after()
	w := c.g.w
	var unfenced string
	if e, ok := w.acct.ENI(w.eni); ok && e.Attachment != nil && e.Attachment.ID == aws.ToString(in.AttachmentId) {
		if inst, ok := w.acct.Instance(e.Attachment.InstanceID); ok && inst.State != "shutting-down" && inst.State != "terminated" {
			unfenced = fmt.Sprintf("the ENI was detached from %s while it was still %s (not fenced)", inst.ID, inst.State)
		}
	}
	out, err := c.EC2API.DetachNetworkInterface(ctx, in, o...)
	if err == nil && unfenced != "" {
		w.run.violate("fence", "%s", unfenced)
	}
	return out, err
}

func (c gateEC2) TerminateInstances(ctx context.Context, in *ec2.TerminateInstancesInput, o ...func(*ec2.Options)) (*ec2.TerminateInstancesOutput, error) {
	defer c.g.after()
	return c.EC2API.TerminateInstances(ctx, in, o...)
}

func (c gateEC2) CreateTags(ctx context.Context, in *ec2.CreateTagsInput, o ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error) {
	defer c.g.after()
	return c.EC2API.CreateTags(ctx, in, o...)
}

type gateASG struct {
	awsapi.AutoScalingAPI
	g *gate
}

func (c gateASG) DescribeAutoScalingGroups(ctx context.Context, in *autoscaling.DescribeAutoScalingGroupsInput, o ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
	defer c.g.after()
	return c.AutoScalingAPI.DescribeAutoScalingGroups(ctx, in, o...)
}

func (c gateASG) TerminateInstanceInAutoScalingGroup(ctx context.Context, in *autoscaling.TerminateInstanceInAutoScalingGroupInput, o ...func(*autoscaling.Options)) (*autoscaling.TerminateInstanceInAutoScalingGroupOutput, error) {
	defer c.g.after()
	return c.AutoScalingAPI.TerminateInstanceInAutoScalingGroup(ctx, in, o...)
}

func (c gateASG) SetInstanceProtection(ctx context.Context, in *autoscaling.SetInstanceProtectionInput, o ...func(*autoscaling.Options)) (*autoscaling.SetInstanceProtectionOutput, error) {
	defer c.g.after()
	return c.AutoScalingAPI.SetInstanceProtection(ctx, in, o...)
}

func (c gateASG) SetDesiredCapacity(ctx context.Context, in *autoscaling.SetDesiredCapacityInput, o ...func(*autoscaling.Options)) (*autoscaling.SetDesiredCapacityOutput, error) {
	defer c.g.after()
	return c.AutoScalingAPI.SetDesiredCapacity(ctx, in, o...)
}

type gateCW struct {
	awsapi.CloudWatchAPI
	g *gate
}

func (c gateCW) PutMetricData(ctx context.Context, in *cloudwatch.PutMetricDataInput, o ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error) {
	defer c.g.after()
	return c.CloudWatchAPI.PutMetricData(ctx, in, o...)
}

func (c gateCW) GetMetricData(ctx context.Context, in *cloudwatch.GetMetricDataInput, o ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error) {
	defer c.g.after()
	return c.CloudWatchAPI.GetMetricData(ctx, in, o...)
}

type gateSNS struct {
	awsapi.SNSAPI
	g *gate
}

func (c gateSNS) Publish(ctx context.Context, in *sns.PublishInput, o ...func(*sns.Options)) (*sns.PublishOutput, error) {
	defer c.g.after()
	return c.SNSAPI.Publish(ctx, in, o...)
}
