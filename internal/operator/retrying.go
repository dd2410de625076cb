package operator

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/prestoha/coordinator-ha/internal/awsapi"
	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/retry"
)

// Every call the command makes is retried on throttling and server faults
// (awserr.IsTransient) with exponential backoff and full jitter on the command's clock
// (internal/retry, as the steps do), on top of the SDK's own retries: a rate-limited
// account must not end a switchover's wait or a roll half-way. Every call it makes is
// safe to repeat: reads; CreateTags, DeleteTags and SetDesiredCapacity are idempotent;
// StartExecution with the same name and input returns the execution already started
// (the input carries the starter's token, so a lost reply is not a second start); a
// repeated TerminateInstanceInAutoScalingGroup of a member already terminating fails
// without lowering the desired capacity again.
var callPolicy = retry.Policy{Attempts: 6, Base: 250 * time.Millisecond, Max: 8 * time.Second}

type retrier struct{ clk clock.Clock }

// do runs one call with retries; a call that is not retried, or is cancelled, returns
// its own error unchanged.
func do[T any](ctx context.Context, r retrier, fn func(context.Context) (T, error)) (T, error) {
	var out T
	err := retry.Do(ctx, r.clk, callPolicy, func(ctx context.Context) error {
		var err error
		out, err = fn(ctx)
		return err
	})
	var re *retry.Error
	if errors.As(err, &re) && re.Reason != retry.Exhausted {
		return out, re.Err
	}
	return out, err
}

func withRetries(c Clients, clk clock.Clock) Clients {
	r := retrier{clk}
	return Clients{CloudFormation: rCFN{c.CloudFormation, r}, EC2: rEC2{c.EC2, r}, AutoScaling: rASG{c.AutoScaling, r},
		CloudWatch: rCW{c.CloudWatch, r}, SFN: rSFN{c.SFN, r}, STS: rSTS{c.STS, r}}
}

type rCFN struct {
	awsapi.CloudFormationAPI
	r retrier
}

func (c rCFN) DescribeStacks(ctx context.Context, in *cloudformation.DescribeStacksInput, o ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	return do(ctx, c.r, func(ctx context.Context) (*cloudformation.DescribeStacksOutput, error) {
		return c.CloudFormationAPI.DescribeStacks(ctx, in, o...)
	})
}

type rEC2 struct {
	awsapi.OperatorEC2API
	r retrier
}

func (c rEC2) DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, o ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	return do(ctx, c.r, func(ctx context.Context) (*ec2.DescribeInstancesOutput, error) {
		return c.OperatorEC2API.DescribeInstances(ctx, in, o...)
	})
}

func (c rEC2) DescribeNetworkInterfaces(ctx context.Context, in *ec2.DescribeNetworkInterfacesInput, o ...func(*ec2.Options)) (*ec2.DescribeNetworkInterfacesOutput, error) {
	return do(ctx, c.r, func(ctx context.Context) (*ec2.DescribeNetworkInterfacesOutput, error) {
		return c.OperatorEC2API.DescribeNetworkInterfaces(ctx, in, o...)
	})
}

func (c rEC2) CreateTags(ctx context.Context, in *ec2.CreateTagsInput, o ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error) {
	return do(ctx, c.r, func(ctx context.Context) (*ec2.CreateTagsOutput, error) {
		return c.OperatorEC2API.CreateTags(ctx, in, o...)
	})
}

func (c rEC2) DeleteTags(ctx context.Context, in *ec2.DeleteTagsInput, o ...func(*ec2.Options)) (*ec2.DeleteTagsOutput, error) {
	return do(ctx, c.r, func(ctx context.Context) (*ec2.DeleteTagsOutput, error) {
		return c.OperatorEC2API.DeleteTags(ctx, in, o...)
	})
}

type rASG struct {
	awsapi.AutoScalingAPI
	r retrier
}

func (c rASG) DescribeAutoScalingGroups(ctx context.Context, in *autoscaling.DescribeAutoScalingGroupsInput, o ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
	return do(ctx, c.r, func(ctx context.Context) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
		return c.AutoScalingAPI.DescribeAutoScalingGroups(ctx, in, o...)
	})
}

func (c rASG) SetDesiredCapacity(ctx context.Context, in *autoscaling.SetDesiredCapacityInput, o ...func(*autoscaling.Options)) (*autoscaling.SetDesiredCapacityOutput, error) {
	return do(ctx, c.r, func(ctx context.Context) (*autoscaling.SetDesiredCapacityOutput, error) {
		return c.AutoScalingAPI.SetDesiredCapacity(ctx, in, o...)
	})
}

func (c rASG) TerminateInstanceInAutoScalingGroup(ctx context.Context, in *autoscaling.TerminateInstanceInAutoScalingGroupInput, o ...func(*autoscaling.Options)) (*autoscaling.TerminateInstanceInAutoScalingGroupOutput, error) {
	return do(ctx, c.r, func(ctx context.Context) (*autoscaling.TerminateInstanceInAutoScalingGroupOutput, error) {
		return c.AutoScalingAPI.TerminateInstanceInAutoScalingGroup(ctx, in, o...)
	})
}

type rCW struct {
	awsapi.CloudWatchAPI
	r retrier
}

func (c rCW) GetMetricData(ctx context.Context, in *cloudwatch.GetMetricDataInput, o ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error) {
	return do(ctx, c.r, func(ctx context.Context) (*cloudwatch.GetMetricDataOutput, error) {
		return c.CloudWatchAPI.GetMetricData(ctx, in, o...)
	})
}

type rSFN struct {
	awsapi.SFNAPI
	r retrier
}

func (c rSFN) StartExecution(ctx context.Context, in *sfn.StartExecutionInput, o ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	return do(ctx, c.r, func(ctx context.Context) (*sfn.StartExecutionOutput, error) {
		return c.SFNAPI.StartExecution(ctx, in, o...)
	})
}

func (c rSFN) ListExecutions(ctx context.Context, in *sfn.ListExecutionsInput, o ...func(*sfn.Options)) (*sfn.ListExecutionsOutput, error) {
	return do(ctx, c.r, func(ctx context.Context) (*sfn.ListExecutionsOutput, error) {
		return c.SFNAPI.ListExecutions(ctx, in, o...)
	})
}

func (c rSFN) DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, o ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	return do(ctx, c.r, func(ctx context.Context) (*sfn.DescribeExecutionOutput, error) {
		return c.SFNAPI.DescribeExecution(ctx, in, o...)
	})
}

type rSTS struct {
	awsapi.STSAPI
	r retrier
}

func (c rSTS) GetCallerIdentity(ctx context.Context, in *sts.GetCallerIdentityInput, o ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error) {
	return do(ctx, c.r, func(ctx context.Context) (*sts.GetCallerIdentityOutput, error) {
		return c.STSAPI.GetCallerIdentity(ctx, in, o...)
	})
}
