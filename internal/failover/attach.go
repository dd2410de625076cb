package failover

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/awserr"
	"github.com/prestoha/coordinator-ha/internal/config"
	"github.com/prestoha/coordinator-ha/internal/retry"
	"github.com/prestoha/coordinator-ha/internal/signal"
	"github.com/prestoha/coordinator-ha/internal/verdict"
)

// DeviceIndex is where the coordinator ENI goes on the new coordinator (0 is the
// instance's own primary interface).
const DeviceIndex = 1

// AttachENI moves the coordinator ENI to the best healthy standby. It never attaches
// unless the fence is confirmed: Terminate reported FENCED or NO_HOLDER, and right now
// the ENI is available and the failed instance is shutting down, terminated or gone.
// The standby must be a running InService member of the Auto Scaling group, in
// the ENI's Availability Zone, not the failed instance, and healthy for at least
// MinHealthyReports consecutive self-reports; the best has the longest healthy streak,
// then the longest uptime. Every candidate and why it was passed over is recorded.
// When none qualifies the outcome is NO_STANDBY with Attempts counted, and the state
// machine takes the slow path. A re-run after the ENI was attached to a running pool
// member reports ATTACHED without a second attach.
func (s *Steps) AttachENI(ctx context.Context, in events.FailoverState) (events.FailoverState, error) {
	return s.run(ctx, events.StepAttachENI, in, s.attach)
}

func (s *Steps) attach(o *op, st *events.FailoverState) error {
	res := &events.AttachResult{Attempts: 1, MaxAttempts: s.cfg.MaxAttachAttempts, Candidates: []events.Candidate{}}
	if st.Attach != nil {
		res.Attempts = st.Attach.Attempts + 1
	}

	if st.Terminate == nil || (st.Terminate.Outcome != events.TerminateFenced && st.Terminate.Outcome != events.TerminateNoHolder) {
		got := "no Terminate result"
		if st.Terminate != nil {
			got = "Terminate outcome " + st.Terminate.Outcome
		}
		o.event(st, "refused", "fence not confirmed: "+got)
		return fenceNotConfirmed("refusing to attach %s: the fence is not confirmed (%s)", st.ENIID, got)
	}

	// Terminate confirmed the fence; reads after it may still show the old state for a
	// while (EC2's eventual consistency). Wait until they agree, within the step's
	// budget, rather than fail the execution on one stale read.
	eni, attached, err := s.waitFenceVisible(o, st)
	if err != nil {
		return err
	}
	if attached {
		return s.alreadyAttached(o, st, res, eni)
	}

	cands, err := s.candidates(o, st, eni)
	if err != nil {
		return err
	}
	if err := honourTarget(o, st, cands); err != nil {
		return err
	}
	var chosen *candidate
	for _, c := range cands {
		if c.Rejected != "" {
			continue
		}
		if chosen != nil {
			c.Rejected = fmt.Sprintf("qualified; %s preferred (longer healthy streak or uptime)", chosen.InstanceID)
			continue
		}
		// Protected from scale-in before it gets the ENI: an unprotected holder is what a
		// scale-in may pick (the default termination policy does not spare the newest).
		s.protectFirst(o, st, c.InstanceID)
		attachmentID, err := s.attachTo(o, st.ENIID, c.InstanceID)
		if err != nil {
			var pe *PermanentError
			var te *TransientError
			if errors.As(err, &pe) || errors.As(err, &te) {
				return err
			}
			c.Rejected = "attach failed: " + err.Error()
			o.event(st, "attach-failed", fmt.Sprintf("%s: %v", c.InstanceID, err))
			continue
		}
		chosen = c
		res.AttachmentID = attachmentID
		o.event(st, "attach-requested", fmt.Sprintf("%s to %s at device index %d (%d consecutive healthy reports)", st.ENIID, c.InstanceID, DeviceIndex, c.HealthyReports))
	}
	for _, c := range cands {
		res.Candidates = append(res.Candidates, c.Candidate)
	}
	if chosen == nil {
		res.Outcome = events.AttachNoStandby
		st.Attach = res
		o.event(st, "no-standby", fmt.Sprintf("attempt %d of %d: no standby qualifies (%s)", res.Attempts, res.MaxAttempts, summarize(res.Candidates)))
		return nil
	}
	return s.finishAttach(o, st, res, chosen.InstanceID, cands)
}

// honourTarget narrows a planned switchover (TargetInstanceID set) to its target: the
// target must qualify exactly as any standby does (a running InService member in the
// ENI's Availability Zone, healthy for MinHealthyReports consecutive reports, its reports
// not tampered with), and every other candidate is passed over. A target that does not
// qualify is refused with a PermanentError before this step changes anything: the
// operator asked for that instance, and putting the coordinator elsewhere is not what was
// asked. (The execution then fails and notifies; the ENI is available, so the health
// check's next evaluation sees UNATTACHED and attaches it to the best healthy standby.)
func honourTarget(o *op, st *events.FailoverState, cands []*candidate) error {
	target := st.TargetInstanceID
	if target == "" {
		return nil
	}
	var found *candidate
	for _, c := range cands {
		if c.InstanceID == target {
			found = c
		} else if c.Rejected == "" {
			c.Rejected = "not the switchover target " + target
		}
	}
	why := "it is not a member of the pool"
	if found != nil {
		why = found.Rejected
	}
	if found == nil || found.Rejected != "" {
		o.event(st, "refused", fmt.Sprintf("switchover target %s does not qualify: %s", target, why))
		return permanent("refusing to attach %s to the switchover target %s: %s", st.ENIID, target, why)
	}
	o.event(st, "target", fmt.Sprintf("switchover: only %s is considered (%d consecutive healthy reports)", target, found.HealthyReports))
	return nil
}

// protectFirst protects the chosen standby from scale-in before it gets the ENI,
// retrying for Timing.ProtectWait. When SetInstanceProtection keeps failing the attach
// goes ahead unprotected: a cluster without a coordinator is worse than a coordinator a
// later scale-in could pick, and the protection is repaired whenever the holder is seen
// (a re-run of this step, and the health check at every look: protect.go there).
func (s *Steps) protectFirst(o *op, st *events.FailoverState, id string) {
	start := o.now()
	for {
		err := o.protect(id)
		if err == nil {
			o.event(st, "protected", fmt.Sprintf("%s is protected from scale-in before the attach", id))
			return
		}
		if _, ok := err.(*notInGroupError); ok {
			o.event(st, "protect-skipped", fmt.Sprintf("%s is not in group %s: %v", id, s.cfg.ASGName, err))
			return
		}
		if o.now().Sub(start) >= s.t.ProtectWait || o.pause("scale-in protection of "+id) != nil {
			o.event(st, "protect-failed", fmt.Sprintf("%s could not be protected from scale-in (%v): attaching anyway; the protection is repaired when the holder is next seen", id, err))
			return
		}
	}
}

// waitFenceVisible waits until the reads agree with the fence Terminate confirmed: the
// ENI is off the failed instance and available (or already on a pool member: attached
// is true), and the failed instance is shutting down, terminated or confirmed gone. A
// stale read (the ENI still shown on the failed instance, the instance still shown
// running) is waited out within the step's budget; only when the budget runs out is the
// fence reported not confirmed.
func (s *Steps) waitFenceVisible(o *op, st *events.FailoverState) (eniView, bool, error) {
	failed := st.FailedInstanceID
	waited := false
	for {
		eni, err := o.describeENI(st.ENIID)
		if err != nil {
			return eni, false, err
		}
		h := eni.holder()
		var why string
		switch {
		case h != "" && h != failed && eni.AttachStatus != "detaching":
			return eni, true, nil
		case h != "" && h != failed:
			why = fmt.Sprintf("%s is %s", st.ENIID, eni)
		case h != "" && h == failed:
			why = fmt.Sprintf("%s is %s on the failed instance %s", st.ENIID, eni.AttachStatus, failed)
		case !eni.available():
			why = fmt.Sprintf("%s is %s", st.ENIID, eni)
		case failed == "":
			return eni, false, nil
		default:
			state, err := o.instanceStateConfirmed(failed)
			if err != nil {
				return eni, false, err
			}
			if fenced(state) {
				if waited {
					o.event(st, "fence-visible", fmt.Sprintf("%s is available and %s is %s", st.ENIID, failed, state))
				}
				return eni, false, nil
			}
			why = fmt.Sprintf("the failed instance %s is %s", failed, state)
		}
		if !waited {
			o.event(st, "fence-not-visible", why+": Terminate confirmed the fence; waiting for the reads to agree")
			waited = true
		}
		if err := o.pause(why); err != nil {
			o.event(st, "refused", "fence not confirmed: "+why)
			return eni, false, fenceNotConfirmed("refusing to attach %s: %s (still, at the end of the step's budget)", st.ENIID, why)
		}
	}
}

// alreadyAttached handles a re-run after the ENI was attached: it is fine when the
// holder is a running pool member (finish protecting and tagging it), an error otherwise.
func (s *Steps) alreadyAttached(o *op, st *events.FailoverState, res *events.AttachResult, eni eniView) error {
	h := eni.holder()
	inst, err := o.describeInstance(h)
	if err != nil {
		return err
	}
	state := instanceState(inst)
	if inst == nil || tagValue(inst.Tags, config.TagASGName) != s.cfg.ASGName || state != string(ec2types.InstanceStateNameRunning) {
		return permanent("%s is %s to %s (%s), which is not a running member of group %s: not touching it", st.ENIID, eni.AttachStatus, h, state, s.cfg.ASGName)
	}
	o.event(st, "already-attached", fmt.Sprintf("%s is already %s to pool member %s; no second attach", st.ENIID, eni.AttachStatus, h))
	res.AttachmentID = eni.AttachmentID
	res.Candidates = append(res.Candidates, events.Candidate{InstanceID: h, AZ: eni.AZ, State: state})
	return s.finishAttach(o, st, res, h, nil)
}

// finishAttach waits for the attachment, protects and tags the new active coordinator.
func (s *Steps) finishAttach(o *op, st *events.FailoverState, res *events.AttachResult, id string, cands []*candidate) error {
	for {
		eni, err := o.describeENI(st.ENIID)
		if err != nil {
			return err
		}
		if eni.holder() != id {
			// Just attached: a read that does not show it yet may be stale (eventual
			// consistency); only one that still disagrees at the end of the budget counts.
			if err := o.pause(fmt.Sprintf("%s to show the attachment to %s (it shows %s)", st.ENIID, id, eni)); err != nil {
				return permanent("%s was to be attached to %s but is now %s", st.ENIID, id, eni)
			}
			continue
		}
		if eni.AttachStatus == string(ec2types.AttachmentStatusAttached) {
			res.AttachmentID = eni.AttachmentID
			res.DeviceIndex = eni.DeviceIndex
			break
		}
		if err := o.pause(fmt.Sprintf("%s to be attached to %s (it is %s)", st.ENIID, id, eni.AttachStatus)); err != nil {
			return err
		}
	}
	at := o.now().UTC()
	res.AttachedAt = &at
	res.InstanceID = id
	res.Outcome = events.AttachAttached
	st.Attach = res
	o.event(st, "attached", fmt.Sprintf("%s is attached to %s (%s, device index %d)", st.ENIID, id, res.AttachmentID, res.DeviceIndex))

	// Protection is repaired on every sight of the holder (a re-run, the already-attached
	// path): idempotent, and it was set before the attach on the normal path.
	if err := o.protect(id); err != nil {
		if _, ok := err.(*notInGroupError); !ok {
			return err
		}
		o.event(st, "protect-skipped", fmt.Sprintf("%s is not in group %s: %v", id, s.cfg.ASGName, err))
	} else if cands == nil {
		o.event(st, "protected", fmt.Sprintf("%s is protected from scale-in", id))
	}
	if err := o.tagRole(config.RoleActive, id); err != nil {
		o.log.WarnContext(o.ctx, "could not tag the new coordinator active", "instance", id, "error", err)
	}
	var standbys []string
	for _, c := range cands {
		if c.InstanceID != id && c.InstanceID != st.FailedInstanceID && c.State == string(ec2types.InstanceStateNameRunning) {
			standbys = append(standbys, c.InstanceID)
		}
	}
	if err := o.tagRole(config.RoleStandby, standbys...); err != nil {
		o.log.WarnContext(o.ctx, "could not tag standbys", "instances", standbys, "error", err)
	}
	return nil
}

// attachTo attaches the ENI at DeviceIndex. Whatever the call returns, the ENI is
// looked at before another try, so a reply lost after the attach happened never leads
// to a second attach.
func (s *Steps) attachTo(o *op, eniID, id string) (string, error) {
	var attachmentID string
	err := o.retried(fmt.Sprintf("attaching %s to %s", eniID, id), o.policy(), func(ctx context.Context) error {
		out, err := s.d.EC2.AttachNetworkInterface(ctx, &ec2.AttachNetworkInterfaceInput{
			DeviceIndex: aws.Int32(DeviceIndex), InstanceId: aws.String(id), NetworkInterfaceId: aws.String(eniID),
		})
		if err == nil {
			attachmentID = aws.ToString(out.AttachmentId)
			return nil
		}
		if awserr.IsContextDone(err) || ctx.Err() != nil {
			return err
		}
		eni, derr := o.describeENI(eniID)
		if derr != nil {
			return retry.Stop(derr)
		}
		switch h := eni.holder(); {
		case h == id:
			o.log.WarnContext(o.ctx, "attach reported an error but the ENI is on the standby", "instance", id, "error", err)
			attachmentID = eni.AttachmentID
			return nil
		case h != "":
			return retry.Stop(permanent("attaching %s to %s: someone else attached it to %s meanwhile: %w", eniID, id, h, err))
		}
		return err
	})
	if err != nil {
		return "", err
	}
	return attachmentID, nil
}

type candidate struct {
	events.Candidate
	launched time.Time
}

// candidates lists the pool and judges every member; qualified ones come first,
// best first. The pool is the Auto Scaling group's members, not a tag anyone can add:
// only a member InService can take the ENI (IAM would refuse an attach to an instance
// without the group's aws:autoscaling:groupName tag anyway).
func (s *Steps) candidates(o *op, st *events.FailoverState, eni eniView) ([]*candidate, error) {
	g, err := o.describeGroup()
	if err != nil {
		return nil, err
	}
	lifecycle := map[string]string{}
	var ids []string
	for _, m := range g.Instances {
		lifecycle[m.ID] = m.Lifecycle
		ids = append(ids, m.ID)
	}
	var out []ec2types.Instance
	if len(ids) > 0 {
		// A filter, not InstanceIds: a member EC2 does not list yet is simply absent
		// rather than failing the whole call with InvalidInstanceID.NotFound.
		out, err = call(o, "listing the coordinator pool", func(ctx context.Context) ([]ec2types.Instance, error) {
			var all []ec2types.Instance
			in := &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
				{Name: aws.String("instance-id"), Values: ids},
				{Name: aws.String("instance-state-name"), Values: []string{"pending", "running", "stopping", "stopped", "shutting-down"}},
			}}
			for {
				page, err := s.d.EC2.DescribeInstances(ctx, in)
				if err != nil {
					return nil, err
				}
				for _, r := range page.Reservations {
					all = append(all, r.Instances...)
				}
				if aws.ToString(page.NextToken) == "" {
					return all, nil
				}
				in.NextToken = page.NextToken
			}
		})
		if err != nil {
			return nil, err
		}
	}
	var cands []*candidate
	var healthIDs []string
	for _, inst := range out {
		c := &candidate{Candidate: events.Candidate{
			InstanceID: aws.ToString(inst.InstanceId),
			State:      instanceState(&inst),
		}, launched: aws.ToTime(inst.LaunchTime)}
		if inst.Placement != nil {
			c.AZ = aws.ToString(inst.Placement.AvailabilityZone)
		}
		switch {
		case c.InstanceID == st.FailedInstanceID:
			c.Rejected = "the failed instance"
		case lifecycle[c.InstanceID] != "InService":
			c.Rejected = fmt.Sprintf("not InService in group %s (%s)", s.cfg.ASGName, lifecycle[c.InstanceID])
		case c.State != string(ec2types.InstanceStateNameRunning):
			c.Rejected = "not running (" + c.State + ")"
		case c.AZ != eni.AZ:
			c.Rejected = fmt.Sprintf("in %s; the ENI is bound to %s", c.AZ, eni.AZ)
		default:
			healthIDs = append(healthIDs, c.InstanceID)
		}
		cands = append(cands, c)
	}
	if len(healthIDs) > 0 {
		reports, err := s.readHealth(o, st.Cluster, healthIDs)
		if err != nil {
			return nil, err
		}
		now := o.now()
		behind := map[string]time.Time{} // healthy streaks that end too long ago by our clock
		for _, c := range cands {
			r, ok := reports[c.InstanceID]
			if c.Rejected != "" || !ok {
				continue
			}
			if t := signal.Check(r); t.Found() {
				c.Rejected = "reports tampered with: " + t.String()
				o.log.ErrorContext(o.ctx, "report tampering: candidate passed over", "instance", c.InstanceID, "found", t.String())
				continue
			}
			c.HealthyReports = verdict.ConsecutiveHealthy(r.Health, now, s.t.HealthMaxGap)
			if c.HealthyReports < s.cfg.MinHealthyReports {
				c.Rejected = fmt.Sprintf("%d consecutive healthy reports, needs %d", c.HealthyReports, s.cfg.MinHealthyReports)
				if newest := newestReport(r.Health); !newest.IsZero() && verdict.ConsecutiveHealthy(r.Health, newest, s.t.HealthMaxGap) >= s.cfg.MinHealthyReports {
					behind[c.InstanceID] = newest
				}
			}
		}
		if len(behind) > 0 && !anyQualified(cands) {
			if err := s.clockBehind(o, st, cands, behind); err != nil {
				return nil, err
			}
		}
	}
	sort.SliceStable(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if (a.Rejected == "") != (b.Rejected == "") {
			return a.Rejected == ""
		}
		if a.HealthyReports != b.HealthyReports {
			return a.HealthyReports > b.HealthyReports
		}
		if !a.launched.Equal(b.launched) {
			return a.launched.Before(b.launched)
		}
		return a.InstanceID < b.InstanceID
	})
	return cands, nil
}

// readHealth reads the candidates' self-reports with one GetMetricData call (paged). A
// query that did not complete (its own StatusCode) is not a standby without reports: the
// read is repeated, within the step's budget.
func (s *Steps) readHealth(o *op, cluster string, ids []string) (map[string]*signal.Reports, error) {
	for {
		now := o.now()
		in, err := signal.Query(cluster, s.cfg.HostRoleID, ids, now.Add(-s.t.HealthLookback), now)
		if err != nil {
			return nil, err
		}
		var results []cwtypes.MetricDataResult
		for pages := cloudwatch.NewGetMetricDataPaginator(s.d.CloudWatch, in); pages.HasMorePages(); {
			page, err := call(o, "reading standby health", func(ctx context.Context) (*cloudwatch.GetMetricDataOutput, error) {
				return pages.NextPage(ctx) // a failed page is asked for again: the paginator moves on only on success
			})
			if err != nil {
				return nil, err
			}
			results = append(results, page.MetricDataResults...)
		}
		err = signal.CheckStatus(results)
		if err == nil {
			return signal.Parse(ids, results)
		}
		o.log.WarnContext(o.ctx, "standby health read incomplete; reading again", "error", err)
		if perr := o.pause("a complete read of standby health (" + err.Error() + ")"); perr != nil {
			return nil, perr
		}
	}
}

// clockBehind handles standbys whose healthy streak ends too long ago by our clock: an
// agent whose clock runs behind stamps its reports in the past (issue 11, problem 7). It
// is alive if reports keep arriving: the health reads are repeated for up to two report
// gaps, and a candidate whose newest report moved on qualifies with the streak that ends
// at it. Only when no candidate qualified otherwise.
func (s *Steps) clockBehind(o *op, st *events.FailoverState, cands []*candidate, behind map[string]time.Time) error {
	ids := make([]string, 0, len(behind))
	for id := range behind {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	start := o.now()
	for o.now().Sub(start) < 2*s.t.HealthMaxGap {
		if err := o.pause("new reports of standbys whose clocks may run behind"); err != nil {
			return nil
		}
		reports, err := s.readHealth(o, st.Cluster, ids)
		if err != nil {
			return err
		}
		found := false
		for _, c := range cands {
			was, ok := behind[c.InstanceID]
			r := reports[c.InstanceID]
			if !ok || r == nil {
				continue
			}
			newest := newestReport(r.Health)
			if !newest.After(was) {
				continue
			}
			if n := verdict.ConsecutiveHealthy(r.Health, newest, s.t.HealthMaxGap); n >= s.cfg.MinHealthyReports {
				c.HealthyReports, c.Rejected, found = n, "", true
				o.event(st, "clock-behind", fmt.Sprintf("%s keeps reporting, stamped %s behind this clock: its agent's clock runs behind; %d consecutive healthy reports",
					c.InstanceID, o.now().Sub(newest).Round(time.Second), n))
			}
		}
		if found {
			sort.SliceStable(cands, func(i, j int) bool { return cands[i].Rejected == "" && cands[j].Rejected != "" })
			return nil
		}
	}
	return nil
}

func newestReport(h []signal.Sample) time.Time {
	var t time.Time
	for _, x := range h {
		if x.At.After(t) {
			t = x.At
		}
	}
	return t
}

func anyQualified(cands []*candidate) bool {
	for _, c := range cands {
		if c.Rejected == "" {
			return true
		}
	}
	return false
}

func summarize(cs []events.Candidate) string {
	if len(cs) == 0 {
		return "the pool has no other members"
	}
	var parts []string
	for _, c := range cs {
		parts = append(parts, c.InstanceID+": "+c.Rejected)
	}
	return strings.Join(parts, "; ")
}
