package healthcheck

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
)

// protectRecheck is how often the holder's scale-in protection is looked at while the
// holder stays the same (a change of holder is looked at at once).
const protectRecheck = time.Minute

// repairProtection makes sure the instance holding the ENI is protected from scale-in
// whenever the health check sees it: AttachENI protects the new active before it gets
// the ENI, but protection can still go missing (a failed call, an operator, a holder
// attached by hand), and an unprotected holder is what a scale-in may terminate (the
// default termination policy does not spare the newest instance). One
// DescribeAutoScalingGroups per protectRecheck or new holder; SetInstanceProtection only
// when it is missing. A failure is logged and tried again at the next evaluation.
func (h *Handler) repairProtection(ctx context.Context, ev *Evaluation) {
	if h.asg == nil || h.cfg.ASGName == "" || ev.Instance == "" || ev.Verdict.TriggersFailover() {
		return
	}
	h.leaseMu.Lock()
	fresh := h.protectedHolder == ev.Instance && h.clk.Now().Sub(h.protectedAt) < protectRecheck
	h.leaseMu.Unlock()
	if fresh {
		return
	}
	ev.Calls.Reads++
	out, err := h.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{h.cfg.ASGName}})
	if err != nil {
		h.log.WarnContext(ctx, "checking the holder's scale-in protection failed", "instance", ev.Instance, "error", err.Error())
		return
	}
	member, protected := false, false
	for _, g := range out.AutoScalingGroups {
		for _, i := range g.Instances {
			if aws.ToString(i.InstanceId) == ev.Instance {
				member, protected = true, aws.ToBool(i.ProtectedFromScaleIn)
			}
		}
	}
	if member && !protected {
		ev.Calls.Actions++
		_, err := h.asg.SetInstanceProtection(ctx, &autoscaling.SetInstanceProtectionInput{AutoScalingGroupName: aws.String(h.cfg.ASGName),
			InstanceIds: []string{ev.Instance}, ProtectedFromScaleIn: aws.Bool(true)})
		if err != nil {
			h.log.WarnContext(ctx, "repairing the holder's scale-in protection failed", "instance", ev.Instance, "error", err.Error())
			return
		}
		ev.ProtectionRepaired = true
		h.log.WarnContext(ctx, "the ENI holder was not protected from scale-in: protection repaired", "instance", ev.Instance)
	}
	h.leaseMu.Lock()
	h.protectedHolder, h.protectedAt = ev.Instance, h.clk.Now()
	h.leaseMu.Unlock()
}
