package sim

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
)

// UpdateAutoScalingGroup changes the group's MinSize, MaxSize and DesiredCapacity (the
// fields the product sets; others are refused so a test cannot rely on an unmodelled
// change). As in AWS: the sizes must satisfy min <= desired <= max after the update, a
// lower desired capacity scales in members not protected from scale-in (protected ones
// stay, whatever the desired capacity), and a lower MinSize without DesiredCapacity
// leaves the desired capacity alone.
func (c *asgClient) UpdateAutoScalingGroup(ctx context.Context, in *autoscaling.UpdateAutoScalingGroupInput, _ ...func(*autoscaling.Options)) (*autoscaling.UpdateAutoScalingGroupOutput, error) {
	if in == nil {
		in = &autoscaling.UpdateAutoScalingGroupInput{}
	}
	err := c.a.do(ctx, c.caller, "autoscaling", "UpdateAutoScalingGroup", true, func(w *world) error {
		name := aws.ToString(in.AutoScalingGroupName)
		g, ok := w.asgs[name]
		if !ok {
			return asgErr("AutoScalingGroup name not found - AutoScalingGroup %s not found", name)
		}
		if in.LaunchTemplate != nil || in.VPCZoneIdentifier != nil || in.HealthCheckType != nil || in.NewInstancesProtectedFromScaleIn != nil {
			return asgErr("sim: UpdateAutoScalingGroup models MinSize, MaxSize and DesiredCapacity only")
		}
		min, max, desired := g.min, g.max, g.desired
		if in.MinSize != nil {
			min = int(*in.MinSize)
		}
		if in.MaxSize != nil {
			max = int(*in.MaxSize)
		}
		if in.DesiredCapacity != nil {
			desired = int(*in.DesiredCapacity)
		}
		if min > max {
			return asgErr("Max bound, %d, must be greater than or equal to min bound, %d", max, min)
		}
		if desired < min || desired > max {
			return asgErr("Desired capacity:%d must be between the specified min size:%d and max size:%d", desired, min, max)
		}
		g.min, g.max = min, max
		return c.a.setDesired(&autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: in.AutoScalingGroupName, DesiredCapacity: aws.Int32(int32(desired))})
	})
	if err != nil {
		return nil, err
	}
	return &autoscaling.UpdateAutoScalingGroupOutput{}, nil
}
