package failover

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/awserr"
	"github.com/prestoha/coordinator-ha/internal/config"
)

// Terminate fences the failed coordinator: it terminates the instance through its Auto
// Scaling group (desired capacity unchanged, so the group replaces it), confirms it is
// shutting down, force-detaches the ENI and confirms the ENI is available. It reports FENCED only when both are confirmed; SUPERSEDED when the
// ENI is on another instance (someone else moved it); NO_HOLDER for an UNATTACHED
// verdict once the ENI is available. It is idempotent: a re-run after a crash at any
// point finishes the job or reports it done.
func (s *Steps) Terminate(ctx context.Context, in events.FailoverState) (events.FailoverState, error) {
	return s.run(ctx, events.StepTerminate, in, s.terminate)
}

func (s *Steps) terminate(o *op, st *events.FailoverState) error {
	failed := st.FailedInstanceID
	if failed != "" {
		if err := s.refuseNonMember(o, st, failed); err != nil {
			return err
		}
	}
	eni, err := o.describeENI(st.ENIID)
	if err != nil {
		return err
	}
	if h := eni.holder(); h != "" && h != failed && eni.AttachStatus != "detaching" {
		o.superseded(st, eni)
		return nil
	}
	if failed == "" {
		eni, err = o.waitENIFree(st.ENIID, "")
		if err != nil {
			return err
		}
		if eni.holder() != "" {
			o.superseded(st, eni)
			return nil
		}
		st.Terminate = &events.TerminateResult{Outcome: events.TerminateNoHolder, ENIStatus: eni.Status, FencedAt: o.now().UTC()}
		o.event(st, "no-holder", fmt.Sprintf("verdict %s: no instance holds %s; it is available", st.Verdict, st.ENIID))
		return nil
	}

	// 1. Terminate the failed instance (idempotent) and confirm it is going away. NotFound
	// counts as gone only when confirmed (instanceStateConfirmed).
	state, err := o.instanceStateConfirmed(failed)
	if err != nil {
		return err
	}
	if state == stateGone {
		// Even a confirmed NotFound is only EC2's word: terminate it anyway (idempotent,
		// and NotFound is accepted), so that an instance that still runs is fenced.
		if _, err := o.terminateInstance(failed); err != nil {
			return err
		}
		o.event(st, "already-terminated", fmt.Sprintf("%s is gone (EC2 answers NotFound); terminated again to be sure", failed))
	} else if fenced(state) {
		o.event(st, "already-terminated", fmt.Sprintf("%s is %s", failed, state))
	} else {
		how, err := o.terminateInstance(failed)
		if err != nil {
			return err
		}
		o.event(st, "terminate-requested", fmt.Sprintf("%s was %s; terminated %s", failed, state, how))
		if state, err = o.waitInstanceFenced(st, failed, strings.HasPrefix(how, "through Auto Scaling")); err != nil {
			return err
		}
		o.event(st, "instance-"+state, fmt.Sprintf("%s is %s", failed, state))
	}
	if state != stateGone {
		if err := o.tagRole(config.RoleFenced, failed); err != nil {
			o.log.WarnContext(o.ctx, "could not tag the failed instance fenced", "error", err)
		}
	}

	// 2. Get the ENI off it and confirm it is available.
	eni, forced, err := o.detachFrom(st, failed, state)
	if err != nil {
		return err
	}
	if eni.holder() != "" {
		o.superseded(st, eni)
		return nil
	}
	st.Terminate = &events.TerminateResult{
		Outcome:       events.TerminateFenced,
		InstanceState: state,
		ENIStatus:     eni.Status,
		ForcedDetach:  forced,
		FencedAt:      o.now().UTC(),
	}
	o.event(st, "fenced", fmt.Sprintf("%s is %s and %s is available", failed, state, st.ENIID))
	return nil
}

func (o *op) superseded(st *events.FailoverState, eni eniView) {
	st.Terminate = &events.TerminateResult{
		Outcome:   events.TerminateSuperseded,
		ENIStatus: eni.Status,
		ENIHolder: eni.holder(),
		FencedAt:  o.now().UTC(),
	}
	want := "no instance"
	if st.FailedInstanceID != "" {
		want = st.FailedInstanceID
	}
	o.event(st, "superseded", fmt.Sprintf("%s is on %s, not %s: someone else moved it; nothing to fence", st.ENIID, eni.holder(), want))
}

// refuseNonMember refuses to fence an instance the cluster does not own: one that EC2
// still knows and that does not carry the tag aws:autoscaling:groupName = the group.
// Only Auto Scaling writes aws: tags, so nobody can make an instance the cluster's by
// tagging it, and a manual execution naming an outsider fails here, before any call
// that changes anything. (The tag outlives the group membership of a member that is
// being terminated, so a failed member that left the group is still fenced.)
func (s *Steps) refuseNonMember(o *op, st *events.FailoverState, id string) error {
	inst, err := o.describeInstance(id)
	if err != nil || inst == nil {
		return err // gone: nothing to terminate; the ENI checks below still apply
	}
	if g := tagValue(inst.Tags, config.TagASGName); g != s.cfg.ASGName {
		why := "it has no " + config.TagASGName + " tag"
		if g != "" {
			why = "it belongs to Auto Scaling group " + g
		}
		o.event(st, "refused", fmt.Sprintf("%s is not a member of Auto Scaling group %s (%s)", id, s.cfg.ASGName, why))
		return permanent("refusing to fence %s: it is not a coordinator of cluster %s, whose coordinators are the members of Auto Scaling group %s (%s); a tag anyone can add does not make an instance the cluster's",
			id, st.Cluster, s.cfg.ASGName, why)
	}
	return nil
}

// terminateInstance terminates the instance through its Auto Scaling group, without
// decrementing desired capacity. An instance that is no longer in the group (it left
// between the describe and the call) is not terminated through EC2: the control plane
// has no authority over instances outside the group.
func (o *op) terminateInstance(id string) (string, error) {
	member, err := o.inGroup(id)
	if err != nil {
		return "", err
	}
	if member {
		_, err := call(o, "terminating "+id+" in group "+o.s.cfg.ASGName, func(ctx context.Context) (*autoscaling.TerminateInstanceInAutoScalingGroupOutput, error) {
			return o.s.d.AutoScaling.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
				InstanceId:                     aws.String(id),
				ShouldDecrementDesiredCapacity: aws.Bool(false),
			})
		})
		if err == nil {
			return "through Auto Scaling group " + o.s.cfg.ASGName + " (desired capacity kept)", nil
		}
		if awserr.Code(err) != awserr.CodeValidationError && !awserr.IsNotFound(err) {
			return "", err
		}
		o.log.WarnContext(o.ctx, "instance left the group before it could be terminated", "error", err)
	}
	// Not (or no longer) in the group: if it is already on its way out, the caller's
	// wait confirms it; otherwise refuse rather than terminate it through EC2.
	inst, err := o.describeInstance(id)
	if err != nil {
		return "", err
	}
	state := instanceState(inst)
	if state == stateGone {
		// NotFound is only EC2's word (an instance it has only just created answers
		// NotFound too): terminate it through EC2 anyway. IAM allows that only on
		// instances Auto Scaling launched for this group, so this fences no outsider.
		return "through EC2 (EC2 answers NotFound)", o.terminateThroughEC2(id)
	}
	if !fenced(state) {
		return "", permanent("%s is %s and not a member of Auto Scaling group %s: not terminating it", id, state, o.s.cfg.ASGName)
	}
	return "already by its group (it left " + o.s.cfg.ASGName + ")", nil
}

// terminateThroughEC2 terminates a member of the group through EC2 (a NotFound is
// accepted). The policy allows ec2:TerminateInstances only on instances tagged
// aws:autoscaling:groupName = the group, a tag only Auto Scaling writes.
func (o *op) terminateThroughEC2(id string) error {
	_, err := call(o, "terminating "+id+" through EC2", func(ctx context.Context) (*ec2.TerminateInstancesOutput, error) {
		return o.s.d.EC2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
	})
	if err != nil && !awserr.IsNotFound(err) {
		return err
	}
	return nil
}

func (o *op) inGroup(id string) (bool, error) {
	g, err := o.describeGroup()
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(g.Instances, func(i asgInstance) bool { return i.ID == id }), nil
}

// waitInstanceFenced waits until the instance is shutting down or gone. A Terminating:Wait
// lifecycle hook on the group keeps an instance terminated through the group running
// until the hook is completed or times out (an hour by default); a failed coordinator
// has nothing to drain and the fence cannot wait for it, so once Timing.HookWait has
// passed with the instance still running, it is terminated through EC2, which no hook
// holds back.
func (o *op) waitInstanceFenced(st *events.FailoverState, id string, viaGroup bool) (string, error) {
	start := o.now()
	for {
		s, err := o.instanceStateConfirmed(id)
		if err != nil {
			return "", err
		}
		if fenced(s) {
			return s, nil
		}
		if viaGroup && o.now().Sub(start) >= o.s.t.HookWait {
			viaGroup = false
			if err := o.terminateThroughEC2(id); err != nil {
				return "", err
			}
			o.event(st, "terminate-through-ec2", fmt.Sprintf("%s was still %s %s after its group was told to terminate it (a Terminating:Wait lifecycle hook?): terminated through EC2", id, s, o.s.t.HookWait))
		}
		if err := o.pause(fmt.Sprintf("%s to shut down (it is %s)", id, s)); err != nil {
			return "", err
		}
	}
}

// detachFrom makes sure the ENI is no longer on the failed instance. It is called once
// the instance is confirmed shutting down or gone (instState), so it forces the detach at
// once: a graceful detach has nothing to gain from an instance that is going away, and
// Force's documented cost (a device index that may not be reusable until a stop/start)
// cannot matter to an instance that will never start again. Waiting for the graceful
// path would add the instance's whole shutdown to every failover. It returns the ENI
// once it is available or someone else holds it.
func (o *op) detachFrom(st *events.FailoverState, failed, instState string) (eniView, bool, error) {
	forced := false
	for {
		eni, err := o.describeENI(st.ENIID)
		if err != nil {
			return eni, forced, err
		}
		if eni.available() || (eni.holder() != "" && eni.holder() != failed && eni.AttachStatus != "detaching") {
			if forced {
				o.event(st, "eni-available", eni.String())
			}
			return eni, forced, nil
		}
		if eni.holder() == failed && !forced {
			if err := o.forceDetach(eni); err != nil {
				return eni, forced, err
			}
			forced = true
			o.event(st, "force-detach-requested", fmt.Sprintf("%s from %s: the instance is %s", eni.AttachmentID, failed, instState))
		}
		if err := o.pause(fmt.Sprintf("%s to become available (it is %s)", st.ENIID, eni)); err != nil {
			return eni, forced, err
		}
	}
}

func (o *op) forceDetach(eni eniView) error {
	_, err := call(o, fmt.Sprintf("force-detaching %s", eni.AttachmentID), func(ctx context.Context) (*ec2.DetachNetworkInterfaceOutput, error) {
		return o.s.d.EC2.DetachNetworkInterface(ctx, &ec2.DetachNetworkInterfaceInput{AttachmentId: aws.String(eni.AttachmentID), Force: aws.Bool(true)})
	})
	if err != nil && (awserr.IsNotFound(err) || awserr.IsInvalidState(err)) {
		return nil // already detached or detaching: the next look tells
	}
	return err
}

// waitENIFree waits while the ENI is detaching. It returns the ENI once it is
// available or attached/attaching to an instance other than except.
func (o *op) waitENIFree(id, except string) (eniView, error) {
	for {
		eni, err := o.describeENI(id)
		if err != nil {
			return eni, err
		}
		if eni.available() || (eni.holder() != "" && eni.holder() != except && eni.AttachStatus != "detaching") {
			return eni, nil
		}
		if err := o.pause(fmt.Sprintf("%s to become available (it is %s)", id, eni)); err != nil {
			return eni, err
		}
	}
}
