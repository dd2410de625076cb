package failover

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"

	"github.com/prestoha/coordinator-ha/internal/awserr"
)

type asgInstance struct {
	ID        string
	Lifecycle string // Pending, InService, Terminating, ...
	AZ        string
	Protected bool
}

// live reports whether a group member counts towards the pool: launching or in
// service, not on its way out.
func (i asgInstance) live() bool {
	l := i.Lifecycle
	return !strings.HasPrefix(l, "Terminat") && !strings.HasPrefix(l, "Detach") &&
		!strings.HasPrefix(l, "EnteringStandby") && l != "Standby"
}

type asgView struct {
	Name      string
	Desired   int32
	Min, Max  int32
	Instances []asgInstance
}

func (o *op) describeGroup() (asgView, error) {
	name := o.s.cfg.ASGName
	out, err := call(o, "describing Auto Scaling group "+name, func(ctx context.Context) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
		return o.s.d.AutoScaling.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
	})
	if err != nil {
		return asgView{}, err
	}
	for _, g := range out.AutoScalingGroups {
		if aws.ToString(g.AutoScalingGroupName) != name {
			continue
		}
		v := asgView{Name: name, Desired: aws.ToInt32(g.DesiredCapacity), Min: aws.ToInt32(g.MinSize), Max: aws.ToInt32(g.MaxSize)}
		for _, i := range g.Instances {
			v.Instances = append(v.Instances, asgInstance{
				ID: aws.ToString(i.InstanceId), Lifecycle: string(i.LifecycleState),
				AZ: aws.ToString(i.AvailabilityZone), Protected: aws.ToBool(i.ProtectedFromScaleIn),
			})
		}
		return v, nil
	}
	return asgView{}, permanent("Auto Scaling group %s does not exist", name)
}

// protect sets scale-in protection on the new active coordinator, so a later scale-in
// never picks the instance that holds the ENI.
func (o *op) protect(id string) error {
	_, err := call(o, "protecting "+id+" from scale-in", func(ctx context.Context) (*autoscaling.SetInstanceProtectionOutput, error) {
		return o.s.d.AutoScaling.SetInstanceProtection(ctx, &autoscaling.SetInstanceProtectionInput{
			AutoScalingGroupName: aws.String(o.s.cfg.ASGName),
			InstanceIds:          []string{id},
			ProtectedFromScaleIn: aws.Bool(true),
		})
	})
	if err != nil && awserr.Code(err) == awserr.CodeValidationError {
		return &notInGroupError{err}
	}
	return err
}

type notInGroupError struct{ error }

func (e *notInGroupError) Unwrap() error { return e.error }
