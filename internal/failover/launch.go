package failover

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/awserr"
	"github.com/prestoha/coordinator-ha/internal/config"
)

// LaunchStandby makes sure the pool returns to HACoordinatorsCount: it raises the
// group's desired capacity when it is lower, waits up to Timing.LaunchWait (less when
// the step's deadline comes first) for the replacement to appear (the group replaces a
// terminated member by itself, since Terminate kept desired capacity), reports live and
// new members and tags every live member other than the ENI holder role=standby. When EC2 does not know a member the
// group reports yet (eventual consistency right after a launch), it looks again a few
// poll intervals later and, when that lasts, returns a TransientError. Idempotent.
func (s *Steps) LaunchStandby(ctx context.Context, in events.FailoverState) (events.FailoverState, error) {
	return s.run(ctx, events.StepLaunch, in, s.launch)
}

func (s *Steps) launch(o *op, st *events.FailoverState) error {
	want := int32(s.cfg.HACount)
	if want < 1 {
		return &InvalidInputError{Err: fmt.Errorf("%s is not set", config.EnvHACount)}
	}
	g, err := o.describeGroup()
	if err != nil {
		return err
	}
	res := &events.LaunchResult{Outcome: events.LaunchAtCapacity, NewInstanceIDs: []string{}, TaggedStandby: []string{}}
	if g.Desired < want {
		if want > g.Max {
			return permanent("group %s has MaxSize %d, below HACoordinatorsCount %d", g.Name, g.Max, want)
		}
		_, err := call(o, fmt.Sprintf("setting desired capacity of %s to %d", g.Name, want), func(ctx context.Context) (*autoscaling.SetDesiredCapacityOutput, error) {
			return s.d.AutoScaling.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{
				AutoScalingGroupName: aws.String(g.Name), DesiredCapacity: aws.Int32(want), HonorCooldown: aws.Bool(false),
			})
		})
		if err != nil {
			return err
		}
		res.Outcome = events.LaunchRequested
		o.event(st, "capacity-raised", fmt.Sprintf("desired capacity of %s %d -> %d", g.Name, g.Desired, want))
	}

	// Wait (bounded by LaunchWait and the step's deadline) for the pool to have its
	// members again. A group slower than that is reported (REQUESTED, Live below the
	// count), not failed: the group keeps launching, and a TransientError here would
	// only make every retry wait and fail the same way.
	waitUntil := o.now().Add(s.t.LaunchWait)
	if o.deadline.Before(waitUntil) {
		waitUntil = o.deadline
	}
	var live []asgInstance
	for {
		if g, err = o.describeGroup(); err != nil {
			return err
		}
		live = live[:0]
		for _, i := range g.Instances {
			if i.live() && i.ID != st.FailedInstanceID {
				live = append(live, i)
			}
		}
		if int32(len(live)) >= want || !o.now().Add(s.t.PollInterval).Before(waitUntil) {
			break
		}
		if err := o.pause(fmt.Sprintf("group %s to have %d live members (it has %d)", g.Name, want, len(live))); err != nil {
			return err
		}
	}
	res.DesiredCapacity = g.Desired
	res.Live = int32(len(live))
	if res.Live < want {
		res.Outcome = events.LaunchRequested
	}

	holder := ""
	if len(live) > 0 {
		eni, err := o.describeENI(st.ENIID)
		if err != nil {
			return err
		}
		holder = eni.holder()
	}
	insts, err := s.describeMany(o, live)
	if err != nil {
		return err
	}
	var toTag []string
	for _, m := range live {
		inst := insts[m.ID]
		isNew := strings.HasPrefix(m.Lifecycle, "Pending") || (inst != nil && !aws.ToTime(inst.LaunchTime).Before(st.DetectedAt))
		if isNew {
			res.NewInstanceIDs = append(res.NewInstanceIDs, m.ID)
			res.Outcome = events.LaunchRequested
		}
		if m.ID == holder || inst == nil {
			continue
		}
		if tagValue(inst.Tags, config.TagRole) != config.RoleStandby {
			toTag = append(toTag, m.ID)
		}
	}
	if err := o.tagRole(config.RoleStandby, toTag...); err != nil {
		o.log.WarnContext(o.ctx, "could not tag standbys", "instances", toTag, "error", err)
	} else {
		res.TaggedStandby = append(res.TaggedStandby, toTag...)
	}
	st.Launch = res
	o.event(st, "pool-checked", fmt.Sprintf("group %s: desired %d, %d of %d live, new %v, tagged standby %v",
		g.Name, res.DesiredCapacity, res.Live, want, res.NewInstanceIDs, res.TaggedStandby))
	return nil
}

// notFoundAttempts is how many times LaunchStandby describes the group's members when
// EC2 answers NotFound for one of them (one poll interval apart) before it gives up
// with a TransientError.
const notFoundAttempts = 5

func (s *Steps) describeMany(o *op, members []asgInstance) (map[string]*ec2types.Instance, error) {
	out := map[string]*ec2types.Instance{}
	if len(members) == 0 {
		return out, nil
	}
	ids := make([]string, 0, len(members))
	for _, m := range members {
		ids = append(ids, m.ID)
	}
	slices.Sort(ids)
	what := fmt.Sprintf("describing %v", ids)
	var page *ec2.DescribeInstancesOutput
	for attempt := 1; ; attempt++ {
		var err error
		page, err = call(o, what, func(ctx context.Context) (*ec2.DescribeInstancesOutput, error) {
			return s.d.EC2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids})
		})
		if err == nil {
			break
		}
		if !awserr.IsNotFound(err) {
			return nil, err
		}
		// The group reports members EC2 does not know yet (eventual consistency between
		// Auto Scaling and EC2 right after a launch): look again shortly, and leave it to
		// the state machine's Retry when it lasts.
		if attempt >= notFoundAttempts {
			return nil, &TransientError{Err: fmt.Errorf("EC2 does not know every member group %s reports, after %d looks: %w", s.cfg.ASGName, attempt, err)}
		}
		o.log.WarnContext(o.ctx, "EC2 does not know a group member yet; looking again", "instances", ids, "attempt", attempt, "error", err)
		if err := o.pause(what + " (EC2 does not know every group member yet)"); err != nil {
			return nil, err
		}
	}
	for _, r := range page.Reservations {
		for i := range r.Instances {
			out[aws.ToString(r.Instances[i].InstanceId)] = &r.Instances[i]
		}
	}
	return out, nil
}
