package teardown

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"

	"github.com/prestoha/coordinator-ha/internal/awsapi"
)

// PropGroupName is the custom resource's property naming the group to release.
const PropGroupName = "AutoScalingGroupName"

// ResourceType is the custom resource's type in the template.
const ResourceType = "Custom::CoordinatorTeardown"

// Defaults of Releaser.
const (
	DefaultPoll = 10 * time.Second
	// DefaultMargin is kept before the Lambda deadline to answer CloudFormation: a
	// custom resource that never answers holds the delete for an hour.
	DefaultMargin = 20 * time.Second
	// protectionBatch is SetInstanceProtection's limit of instance ids per call.
	protectionBatch = 50
)

// Clock is what Release needs of a clock (internal/clock.Real, or a virtual one).
type Clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

// Releaser lets a coordinator group go.
type Releaser struct {
	AutoScaling awsapi.AutoScalingTeardownAPI
	Clock       Clock
	Log         *slog.Logger
	Poll        time.Duration // between passes; DefaultPoll when zero
	Margin      time.Duration // kept before the deadline; DefaultMargin when zero
	// Budget, when set, is how long Release may take from its start, by Clock (tests on
	// a virtual clock); otherwise the deadline is ctx's (the Lambda's).
	Budget time.Duration
}

// Result says what Release did and saw.
type Result struct {
	Group       string
	Unprotected []string // instances whose scale-in protection was removed
	Passes      int
	Remaining   int  // members still in the group when Release returned
	Gone        bool // the group has no member (or does not exist)
}

// Release removes the scale-in protection of every member and sets the group's minimum
// and desired capacity to 0, pass after pass, until the group has no member left or
// ctx's deadline (less the margin) comes. Each pass repeats both, because a failover
// step still running when the control plane was deleted could protect a standby or raise
// the desired capacity once more. Errors of a pass (throttling, eventual consistency) are
// logged and the next pass retries; Release never fails a stack delete: when the group
// does not empty in time, CloudFormation's own deletion of the group takes over.
func (r *Releaser) Release(ctx context.Context, group string) Result {
	poll, margin := r.Poll, r.Margin
	if poll == 0 {
		poll = DefaultPoll
	}
	if margin == 0 {
		margin = DefaultMargin
	}
	log := r.Log.With("group", group)
	res := Result{Group: group}
	deadline, hasDeadline := ctx.Deadline()
	if r.Budget > 0 {
		deadline, hasDeadline = r.Clock.Now().Add(r.Budget), true
	}
	seen := map[string]bool{}
	for {
		res.Passes++
		remaining, err := r.pass(ctx, group, seen, &res)
		if err != nil {
			log.Warn("teardown pass failed; retrying", "pass", res.Passes, "error", err)
		} else {
			res.Remaining = remaining
			if remaining == 0 {
				res.Gone = true
				log.Info("group released: no member left", "passes", res.Passes, "unprotected", res.Unprotected)
				return res
			}
		}
		if hasDeadline && r.Clock.Now().Add(poll+margin).After(deadline) {
			log.Warn("deadline near: answering CloudFormation with members left; its deletion of the group takes over",
				"remaining", res.Remaining, "unprotected", res.Unprotected)
			return res
		}
		if err := r.Clock.Sleep(ctx, poll); err != nil {
			return res
		}
	}
}

// pass is one round: describe; remove the scale-in protection of every member; then, while
// the sizes are not 0 or a member is not yet terminating, set MinSize and DesiredCapacity
// to 0 (again: setting them after the protection is gone makes the group act on every
// member, and a straggling LaunchStandby may have raised the desired capacity). It
// returns the members left.
func (r *Releaser) pass(ctx context.Context, group string, seen map[string]bool, res *Result) (int, error) {
	out, err := r.AutoScaling.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{group}})
	if err != nil {
		return 0, fmt.Errorf("describing group %s: %w", group, err)
	}
	if len(out.AutoScalingGroups) == 0 {
		return 0, nil // already gone
	}
	g := out.AutoScalingGroups[0]
	var protected []string
	staying := false
	for _, i := range g.Instances {
		if aws.ToBool(i.ProtectedFromScaleIn) {
			protected = append(protected, aws.ToString(i.InstanceId))
		}
		if !strings.HasPrefix(string(i.LifecycleState), "Terminat") {
			staying = true
		}
	}
	for start := 0; start < len(protected); start += protectionBatch {
		batch := protected[start:min(start+protectionBatch, len(protected))]
		if _, err := r.AutoScaling.SetInstanceProtection(ctx, &autoscaling.SetInstanceProtectionInput{
			AutoScalingGroupName: aws.String(group), InstanceIds: batch, ProtectedFromScaleIn: aws.Bool(false),
		}); err != nil {
			return 0, fmt.Errorf("removing scale-in protection of %v in %s: %w", batch, group, err)
		}
		for _, id := range batch {
			if !seen[id] {
				seen[id] = true
				res.Unprotected = append(res.Unprotected, id)
			}
		}
	}
	if staying || aws.ToInt32(g.MinSize) != 0 || aws.ToInt32(g.DesiredCapacity) != 0 {
		if _, err := r.AutoScaling.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
			AutoScalingGroupName: aws.String(group), MinSize: aws.Int32(0), DesiredCapacity: aws.Int32(0),
		}); err != nil {
			return 0, fmt.Errorf("setting min and desired capacity of %s to 0: %w", group, err)
		}
	}
	return len(g.Instances), nil
}

// Handler is the custom resource's handler, for cfn.LambdaWrap. Create and Update do
// nothing and return the group's name as the physical id, so that a replaced group gets
// a Delete for the old one (with its old name) after the update. Delete releases the
// group and never fails.
func (r *Releaser) Handler(ctx context.Context, ev cfn.Event) (string, map[string]any, error) {
	group, _ := ev.ResourceProperties[PropGroupName].(string)
	switch ev.RequestType {
	case cfn.RequestCreate, cfn.RequestUpdate:
		if group == "" {
			return "", nil, fmt.Errorf("teardown: property %s is required", PropGroupName)
		}
		return group, nil, nil
	case cfn.RequestDelete:
		if group == "" {
			// A create that failed before answering: nothing was set up.
			return ev.PhysicalResourceID, nil, nil
		}
		res := r.Release(ctx, group)
		return ev.PhysicalResourceID, map[string]any{"Remaining": res.Remaining, "Unprotected": len(res.Unprotected)}, nil
	}
	return ev.PhysicalResourceID, nil, fmt.Errorf("teardown: unknown request type %q", ev.RequestType)
}
