package operator

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
)

// RollResult is what a roll did.
type RollResult struct {
	Version    string            `json:"launchTemplateVersion"`
	Replaced   map[string]string `json:"replaced"` // old instance -> its replacement
	Switchover *SwitchoverResult `json:"switchover,omitempty"`
	// MinHealthyStandbys is the fewest healthy standbys the roll saw at any look, and
	// HealthyStandbysBefore how many there were when it started.
	HealthyStandbysBefore int `json:"healthyStandbysBefore"`
	MinHealthyStandbys    int `json:"minHealthyStandbys"`
}

// Roll replaces every coordinator that does not run the group's launch template
// version: standbys first, then the active by a switchover. Each replacement is
// surge-first: the group's desired capacity is raised by one, the new member is waited
// for until it is a healthy standby, and only then is the old one terminated (with the
// desired capacity lowered back). Before the switchover one more standby is surged in,
// so the switchover itself does not leave the cluster without a healthy standby; the
// replacement the group then launches for the fenced active is terminated at once to
// bring the group back to its size. So the cluster never has fewer healthy standbys
// than when the roll started (the group's MaxSize is HACoordinatorsCount + 1: room for
// exactly one surge).
func (o *Operator) Roll(ctx context.Context, reason string) (*RollResult, error) {
	v, err := o.look(ctx, false)
	if err != nil {
		return nil, err
	}
	res := &RollResult{Version: v.Version, Replaced: map[string]string{}}
	var oldStandbys []string
	activeOld := false
	for _, m := range v.Members {
		if m.Lifecycle != "InService" || m.Version == v.Version {
			continue
		}
		if m.Active {
			activeOld = true
		} else {
			oldStandbys = append(oldStandbys, m.ID)
		}
	}
	if len(oldStandbys) == 0 && !activeOld {
		return nil, &NothingToDoError{Why: fmt.Sprintf("every coordinator runs launch template version %s", v.Version)}
	}
	if v.Holder == "" {
		return nil, fmt.Errorf("no instance holds the coordinator ENI: roll needs a serving cluster (see status)")
	}
	if v.Desired+1 > v.Max {
		return nil, fmt.Errorf("group %s has desired %d and MaxSize %d: no room to launch a replacement beside a member", o.Stack.ASGName, v.Desired, v.Max)
	}
	lv, err := o.walkLease(ctx)
	if err != nil {
		return nil, err
	}
	for _, e := range []*execution{lv.running, lv.foreign} {
		if e != nil {
			return nil, &FailoverRunningError{Execution: e.Name, Detail: "running since " + e.Start.UTC().Format(time.RFC3339)}
		}
	}
	desired := v.Desired
	res.HealthyStandbysBefore = len(o.healthyStandbys(v))
	res.MinHealthyStandbys = res.HealthyStandbysBefore
	o.progress("rolling %s to launch template version %s: %d standby(s) to replace%s; %d healthy standby(s) now",
		o.Stack.Cluster, v.Version, len(oldStandbys), map[bool]string{true: ", then the active by a switchover", false: ""}[activeOld], res.HealthyStandbysBefore)

	for _, old := range oldStandbys {
		nu, err := o.surge(ctx, desired, res)
		if err != nil {
			return res, err
		}
		if err := o.retire(ctx, old, res); err != nil {
			return res, err
		}
		res.Replaced[old] = nu
	}
	if activeOld {
		if _, err := o.surge(ctx, desired, res); err != nil {
			return res, err
		}
		old := v.Holder
		sw, err := o.Switchover(ctx, "", "roll to launch template version "+v.Version+": "+reason)
		res.Switchover = sw
		if err != nil {
			return res, fmt.Errorf("the switchover off %s: %w", old, err)
		}
		res.Replaced[old] = sw.NewActive
		if err := o.trim(ctx, desired, res); err != nil {
			return res, err
		}
	}
	o.progress("roll done: %d coordinator(s) replaced; healthy standbys never below %d (were %d)", len(res.Replaced), res.MinHealthyStandbys, res.HealthyStandbysBefore)
	return res, nil
}

// observe records the healthy standbys of a look.
func (o *Operator) observe(v *view, res *RollResult) {
	res.MinHealthyStandbys = min(res.MinHealthyStandbys, len(o.healthyStandbys(v)))
}

// surge raises the group to desired+1 and waits until a member launched for it is a
// healthy standby on the current version; it returns that member.
func (o *Operator) surge(ctx context.Context, desired int, res *RollResult) (string, error) {
	v, err := o.look(ctx, false)
	if err != nil {
		return "", err
	}
	known := map[string]bool{}
	for _, m := range v.Members {
		known[m.ID] = true
	}
	if _, err := o.c.AutoScaling.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String(o.Stack.ASGName),
		DesiredCapacity: aws.Int32(int32(desired + 1)), HonorCooldown: aws.Bool(false)}); err != nil {
		return "", fmt.Errorf("raising the desired capacity of %s to %d: %w", o.Stack.ASGName, desired+1, err)
	}
	o.progress("desired capacity %d -> %d: launching a coordinator on version %s", desired, desired+1, v.Version)
	deadline := o.clk.Now().Add(o.opt.WaitHealthy)
	var nu, said string
	for {
		if err := o.clk.Sleep(ctx, o.opt.Poll); err != nil {
			return "", err
		}
		v, err := o.look(ctx, false)
		if err != nil {
			return "", err
		}
		o.observe(v, res)
		for _, m := range v.Members {
			if !known[m.ID] && nu == "" {
				nu = m.ID
			}
		}
		if m := v.member(nu); m != nil {
			why := o.whyNotStandby(v, m)
			if why == "" {
				o.progress("%s is a healthy standby (%d consecutive healthy reports)", nu, m.Streak)
				return nu, nil
			}
			if why != said {
				o.progress("waiting for %s: %s", nu, why)
				said = why
			}
		}
		if o.clk.Now().After(deadline) {
			return "", fmt.Errorf("the new coordinator %q did not become a healthy standby within %s; the group's desired capacity stays %d (lower it when done)", nu, o.opt.WaitHealthy, desired+1)
		}
	}
}

// retire terminates an old standby through the group, lowering the desired capacity,
// and waits until EC2 shows it shutting down.
func (o *Operator) retire(ctx context.Context, id string, res *RollResult) error {
	if _, err := o.c.AutoScaling.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
		InstanceId: aws.String(id), ShouldDecrementDesiredCapacity: aws.Bool(true)}); err != nil {
		return fmt.Errorf("terminating the old standby %s: %w", id, err)
	}
	o.progress("terminating the old standby %s (desired capacity back down)", id)
	for {
		v, err := o.look(ctx, false)
		if err != nil {
			return err
		}
		o.observe(v, res)
		if m := v.member(id); m == nil || m.State == "shutting-down" || m.State == "terminated" {
			return nil
		}
		if err := o.clk.Sleep(ctx, o.opt.Poll); err != nil {
			return err
		}
	}
}

// trim brings the group back to desired after the switchover: the group replaces the
// fenced active (its termination kept the desired capacity), and that replacement is
// the one member too many. It is terminated as soon as the group lists it, with the
// desired capacity lowered; the group's own scale-in is never left to pick (it could
// pick a healthy standby).
func (o *Operator) trim(ctx context.Context, desired int, res *RollResult) error {
	deadline := o.clk.Now().Add(o.opt.WaitHealthy)
	for {
		v, err := o.look(ctx, false)
		if err != nil {
			return err
		}
		o.observe(v, res)
		var live []*member
		for _, m := range v.Members {
			if m.Lifecycle == "InService" || m.Lifecycle == "Pending" {
				live = append(live, m)
			}
		}
		if v.Desired <= desired {
			return nil
		}
		if len(live) > desired {
			// The surplus: not the holder, the least ready, then the newest.
			sort.SliceStable(live, func(i, j int) bool {
				a, b := live[i], live[j]
				if (o.whyNotStandby(v, a) == "") != (o.whyNotStandby(v, b) == "") {
					return o.whyNotStandby(v, a) != ""
				}
				return a.Launched.After(b.Launched)
			})
			for _, m := range live {
				if m.Active {
					continue
				}
				if _, err := o.c.AutoScaling.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
					InstanceId: aws.String(m.ID), ShouldDecrementDesiredCapacity: aws.Bool(true)}); err != nil {
					return fmt.Errorf("terminating the surplus coordinator %s: %w", m.ID, err)
				}
				o.progress("terminating the surplus coordinator %s (desired capacity back to %d)", m.ID, desired)
				break
			}
		}
		if o.clk.Now().After(deadline) {
			return fmt.Errorf("the group %s did not come back to %d members within %s", o.Stack.ASGName, desired, o.opt.WaitHealthy)
		}
		if err := o.clk.Sleep(ctx, o.opt.Poll); err != nil {
			return err
		}
	}
}
