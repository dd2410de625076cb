package operator

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"

	"github.com/prestoha/coordinator-ha/internal/awserr"
)

// RollResult is what a roll did.
type RollResult struct {
	Version  string   `json:"launchTemplateVersion"`
	Retired  []string `json:"retired"` // old members terminated or switched off, in order
	Launched []string `json:"launched"`
	// Switchover is the switchover off the old active, if the roll made one.
	Switchover *SwitchoverResult `json:"switchover,omitempty"`
	// HealthyStandbysBefore is how many healthy standbys there were when the roll
	// started, MinHealthyStandbys the fewest it saw at any look.
	HealthyStandbysBefore int `json:"healthyStandbysBefore"`
	MinHealthyStandbys    int `json:"minHealthyStandbys"`
}

// Roll replaces every coordinator that does not run the group's launch template
// version: standbys first, then the active by a switchover, surge-first.
//
// It is a loop over what the cluster looks like now, not a script, so that an
// automatic failover in the middle (which fences a member without lowering the desired
// capacity, and moves the IP to a standby that may be an old one) is simply more of the
// same state. With D the group's desired capacity at the start, each look does one
// thing, in this order:
//   - a failover is running: wait for it (the roll never acts beside one);
//   - nothing old is left: bring the group back to D, terminating the surplus member
//     (never the holder; the least ready, then the newest) with the desired capacity
//     lowered, never leaving the choice to the group's scale-in, which could pick a
//     healthy standby;
//   - a member on the current version is not yet a healthy standby: wait for it;
//   - fewer than D+1 live members: surge (desired D+1);
//   - an old standby: terminate it through the group, lowering the desired capacity
//     (unhealthy old standbys first);
//   - only the active is old: switch over to the best healthy standby (the group then
//     replaces the fenced active, and that member is the surplus above).
//
// An old standby is terminated, and the switchover made, only when every other live
// member is the holder or a healthy standby and there are D+1 of them, so the cluster
// never has fewer healthy standbys than at the start. The group's MaxSize
// (HACoordinatorsCount + 1) leaves room for exactly this one surge.
func (o *Operator) Roll(ctx context.Context, reason string) (*RollResult, error) {
	v, err := o.look(ctx, false)
	if err != nil {
		return nil, err
	}
	res := &RollResult{Version: v.Version, Retired: []string{}, Launched: []string{}}
	if len(oldMembers(v)) == 0 {
		return nil, &NothingToDoError{Why: fmt.Sprintf("every coordinator runs launch template version %s", v.Version)}
	}
	if v.Holder == "" {
		return nil, fmt.Errorf("no instance holds the coordinator ENI: roll needs a serving cluster (see status)")
	}
	d := v.Desired
	if d+1 > v.Max {
		return nil, fmt.Errorf("group %s has desired %d and MaxSize %d: no room to launch a replacement beside a member", o.Stack.ASGName, d, v.Max)
	}
	if running, err := o.runningFailover(ctx); err != nil || running != nil {
		if err != nil {
			return nil, err
		}
		return nil, &FailoverRunningError{Execution: running.Name, Detail: "running since " + running.Start.UTC().Format(time.RFC3339)}
	}
	res.HealthyStandbysBefore = len(o.healthyStandbys(v))
	res.MinHealthyStandbys = res.HealthyStandbysBefore
	o.progress("rolling %s to launch template version %s: %d old coordinator(s); %d healthy standby(s) now; the group stays between %d and %d",
		o.Stack.Cluster, v.Version, len(oldMembers(v)), res.HealthyStandbysBefore, d, d+1)

	known := map[string]bool{}
	for _, m := range v.Members {
		known[m.ID] = true
	}
	deadline := o.clk.Now().Add(o.opt.WaitHealthy)
	acted := func() { deadline = o.clk.Now().Add(o.opt.WaitHealthy) }
	said := ""
	say := func(format string, a ...any) {
		if s := fmt.Sprintf(format, a...); s != said {
			o.progress("%s", s)
			said = s
		}
	}
	failures := 0
	for first := true; ; first = false {
		if !first {
			if o.clk.Now().After(deadline) {
				return res, fmt.Errorf("roll: no progress for %s (last: %s); the group's desired capacity may stay above %d: run roll again, or lower it", o.opt.WaitHealthy, said, d)
			}
			if err := o.clk.Sleep(ctx, o.opt.Poll); err != nil {
				return res, err
			}
			nv, err := o.look(ctx, false)
			if err != nil {
				// A throttled or failed read (after the SDK's own retries) is looked at
				// again; only a run of them, or another error, ends the roll.
				if failures++; failures >= maxReadFailures || !awserr.IsTransient(err) {
					return res, err
				}
				o.progress("reading the cluster failed (%v); reading again", err)
				continue
			}
			failures, v = 0, nv
		}
		res.MinHealthyStandbys = min(res.MinHealthyStandbys, len(o.healthyStandbys(v)))
		for _, m := range v.Members {
			if !known[m.ID] {
				known[m.ID] = true
				res.Launched = append(res.Launched, m.ID)
			}
		}
		if e, err := o.runningFailover(ctx); err != nil {
			return res, err
		} else if e != nil {
			say("waiting for failover %s to end", e.Name)
			continue
		}
		live, old, pending := o.rollState(v)
		holderOld := false
		if h := v.member(v.Holder); h != nil && h.Version != v.Version {
			holderOld = true
		}
		switch {
		case len(old) == 0 && !holderOld:
			if v.Desired <= d && len(live) <= d {
				o.progress("roll done: %d coordinator(s) replaced; healthy standbys never below %d (were %d)", len(res.Retired), res.MinHealthyStandbys, res.HealthyStandbysBefore)
				return res, nil
			}
			if len(live) <= d {
				if err := o.setDesired(ctx, d); err != nil {
					return res, err
				}
				acted()
				continue
			}
			victim := o.surplus(v, live)
			if victim == nil {
				say("waiting: %d live members, none of them may go", len(live))
				continue
			}
			if err := o.terminate(ctx, victim.ID, fmt.Sprintf("the surplus coordinator %s (%s) goes: desired capacity back to %d", victim.ID, readiness(o, v, victim), v.Desired-1)); err != nil {
				return res, err
			}
			acted()
		case len(pending) > 0:
			say("waiting for %s: %s", pending[0].ID, o.whyNotStandby(v, pending[0]))
		case len(live) <= d:
			if v.Desired < d+1 {
				if err := o.setDesired(ctx, d+1); err != nil {
					return res, err
				}
				o.progress("desired capacity %d -> %d: launching a coordinator on version %s", v.Desired, d+1, v.Version)
				acted()
			} else {
				say("waiting for the group to launch a coordinator (%d live, desired %d)", len(live), v.Desired)
			}
		case len(old) > 0:
			m := old[0]
			if err := o.terminate(ctx, m.ID, fmt.Sprintf("the old standby %s (version %s, %s) goes: desired capacity back to %d", m.ID, m.Version, readiness(o, v, m), v.Desired-1)); err != nil {
				return res, err
			}
			res.Retired = append(res.Retired, m.ID)
			acted()
		default: // only the active is old, and a healthy standby on the current version waits
			from := v.Holder
			sw, err := o.Switchover(ctx, "", "roll to launch template version "+v.Version+": "+reason)
			var running *FailoverRunningError
			if errors.As(err, &running) {
				say("the switchover waits: %v", err)
				continue
			}
			res.Switchover = sw
			if err != nil {
				return res, fmt.Errorf("the switchover off %s: %w", from, err)
			}
			res.Retired = append(res.Retired, from)
			acted()
		}
	}
}

// oldMembers are the live members not on the group's launch template version.
func oldMembers(v *view) []*member {
	var out []*member
	for _, m := range v.Members {
		if (m.Lifecycle == "InService" || m.Lifecycle == "Pending") && m.Version != v.Version {
			out = append(out, m)
		}
	}
	return out
}

// rollState sorts the live members (InService or Pending): old standbys (unhealthy
// first), and members on the current version that are not (yet) healthy standbys.
func (o *Operator) rollState(v *view) (live, old, pending []*member) {
	for _, m := range v.Members {
		if m.Lifecycle != "InService" && m.Lifecycle != "Pending" {
			continue
		}
		live = append(live, m)
		switch {
		case m.Active:
		case m.Version != v.Version:
			old = append(old, m)
		case o.whyNotStandby(v, m) != "":
			pending = append(pending, m)
		}
	}
	sort.SliceStable(old, func(i, j int) bool {
		return (o.whyNotStandby(v, old[i]) != "") && (o.whyNotStandby(v, old[j]) == "")
	})
	return live, old, pending
}

// surplus picks the member to remove when the group is above its size: never the
// holder; the least ready first, then the newest.
func (o *Operator) surplus(v *view, live []*member) *member {
	var cands []*member
	for _, m := range live {
		if !m.Active {
			cands = append(cands, m)
		}
	}
	sort.SliceStable(cands, func(i, j int) bool {
		a, b := o.whyNotStandby(v, cands[i]) == "", o.whyNotStandby(v, cands[j]) == ""
		if a != b {
			return !a
		}
		return cands[i].Launched.After(cands[j].Launched)
	})
	if len(cands) == 0 {
		return nil
	}
	return cands[0]
}

func readiness(o *Operator, v *view, m *member) string {
	if why := o.whyNotStandby(v, m); why != "" {
		return why
	}
	return "a healthy standby"
}

func (o *Operator) runningFailover(ctx context.Context) (*execution, error) {
	lv, err := o.walkLease(ctx)
	if err != nil {
		return nil, err
	}
	if lv.running != nil {
		return lv.running, nil
	}
	return lv.foreign, nil
}

func (o *Operator) setDesired(ctx context.Context, n int) error {
	if _, err := o.c.AutoScaling.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String(o.Stack.ASGName),
		DesiredCapacity: aws.Int32(int32(n)), HonorCooldown: aws.Bool(false)}); err != nil {
		return fmt.Errorf("setting the desired capacity of %s to %d: %w", o.Stack.ASGName, n, err)
	}
	return nil
}

// terminate terminates a member through the group, lowering the desired capacity.
func (o *Operator) terminate(ctx context.Context, id, why string) error {
	if _, err := o.c.AutoScaling.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
		InstanceId: aws.String(id), ShouldDecrementDesiredCapacity: aws.Bool(true)}); err != nil {
		return fmt.Errorf("terminating %s: %w", id, err)
	}
	o.progress("%s", why)
	return nil
}
