package failover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/awsapi"
	"github.com/prestoha/coordinator-ha/internal/awserr"
	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/config"
	"github.com/prestoha/coordinator-ha/internal/retry"
)

// Deps are the clients and tools the steps use. A step uses only the clients it needs:
// Terminate EC2 and AutoScaling; AttachENI EC2, AutoScaling and CloudWatch;
// LaunchStandby EC2 and AutoScaling; Notify SNS.
type Deps struct {
	EC2         awsapi.EC2API
	AutoScaling awsapi.AutoScalingAPI
	CloudWatch  awsapi.CloudWatchAPI
	SNS         awsapi.SNSAPI
	Clock       clock.Clock
	Log         *slog.Logger
	// Jitter returns a number in [0,1) for full-jitter backoff; nil uses math/rand/v2.
	Jitter func() float64
}

// Steps runs the failover steps. Each exported method has the shape of a Lambda
// handler: func(ctx, events.FailoverState) (events.FailoverState, error).
type Steps struct {
	d   Deps
	cfg Config
	t   Timing
}

// Handler is the shape of every step.
type Handler func(ctx context.Context, st events.FailoverState) (events.FailoverState, error)

// New checks the dependencies and returns the steps.
func New(cfg Config, d Deps) (*Steps, error) {
	if d.Clock == nil {
		d.Clock = clock.Real{}
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Jitter == nil {
		d.Jitter = rand.Float64
	}
	if cfg.Cluster == "" {
		return nil, errors.New("failover steps: missing cluster name")
	}
	if cfg.MinHealthyReports <= 0 {
		cfg.MinHealthyReports = DefaultMinHealthyReports
	}
	if cfg.MaxAttachAttempts <= 0 {
		cfg.MaxAttachAttempts = DefaultMaxAttachAttempts
	}
	return &Steps{d: d, cfg: cfg, t: cfg.Timing.withDefaults()}, nil
}

// Handlers returns the four steps by their state names (events.StepTerminate ...).
func (s *Steps) Handlers() map[string]Handler {
	return map[string]Handler{
		events.StepTerminate: s.Terminate,
		events.StepAttachENI: s.AttachENI,
		events.StepLaunch:    s.LaunchStandby,
		events.StepNotify:    s.Notify,
	}
}

// op is one invocation of one step: its context, deadline and logger.
type op struct {
	s        *Steps
	ctx      context.Context
	step     string
	deadline time.Time // on s.d.Clock
	log      *slog.Logger
}

func (o *op) now() time.Time { return o.s.d.Clock.Now() }

// run is the common frame of every step: copy and validate the document, bound the
// step's waits by the context deadline, run fn, and type the error for Step Functions.
func (s *Steps) run(ctx context.Context, step string, in events.FailoverState, fn func(*op, *events.FailoverState) error) (events.FailoverState, error) {
	st := clone(in)
	log := s.d.Log.With("step", step, "cluster", st.Cluster, "eni", st.ENIID, "failed_instance", st.FailedInstanceID)
	if err := s.validate(step, &st); err != nil {
		log.ErrorContext(ctx, "invalid input", "error", err)
		return st, &InvalidInputError{Err: fmt.Errorf("%s: %w", step, err)}
	}
	o := &op{s: s, ctx: ctx, step: step, log: log, deadline: s.deadline(ctx)}
	log.InfoContext(ctx, "step started", "budget", o.deadline.Sub(o.now()).String())
	if err := fn(o, &st); err != nil {
		err = classify(fmt.Errorf("%s: %w", step, err))
		log.ErrorContext(ctx, "step failed", "error_type", ErrorType(err), "error", err)
		return st, err
	}
	log.InfoContext(ctx, "step done")
	return st, nil
}

func (s *Steps) validate(step string, st *events.FailoverState) error {
	if err := st.Validate(); err != nil {
		return err
	}
	if st.Cluster != s.cfg.Cluster {
		return fmt.Errorf("state is for cluster %q, this function serves %q", st.Cluster, s.cfg.Cluster)
	}
	if s.cfg.ENIID != "" && st.ENIID != s.cfg.ENIID {
		return fmt.Errorf("state names ENI %s, the cluster's coordinator ENI is %s", st.ENIID, s.cfg.ENIID)
	}
	if step != events.StepNotify && s.cfg.ASGName == "" {
		return errors.New("no Auto Scaling group configured")
	}
	return nil
}

// deadline maps the context's wall-clock deadline, less the margin, onto the step's
// clock; without a deadline the default budget applies.
func (s *Steps) deadline(ctx context.Context) time.Time {
	if d, ok := clock.Deadline(ctx, s.d.Clock); ok {
		return d.Add(-s.t.DeadlineMargin)
	}
	return s.d.Clock.Now().Add(s.t.DefaultBudget)
}

// clone copies the document so appending to the timeline never writes into the
// caller's slice (a re-run on the same input must see the same input).
func clone(in events.FailoverState) events.FailoverState {
	out := in
	out.Timeline = slices.Clone(in.Timeline)
	if in.Attach != nil {
		a := *in.Attach
		a.Candidates = slices.Clone(in.Attach.Candidates)
		out.Attach = &a
	}
	return out
}

func (o *op) event(st *events.FailoverState, event, detail string) {
	st.AddEvent(o.step, event, o.now(), detail)
	o.log.InfoContext(o.ctx, event, "detail", detail)
}

// retryable reports whether an AWS error is worth another attempt inside the step:
// awserr's transient errors, and Auto Scaling's ScalingActivityInProgress.
func retryable(err error) bool {
	return awserr.Code(err) == awserr.CodeScalingActivityInProgress || awserr.IsTransient(err)
}

// policy is the step's retry policy for one AWS call: exponential backoff with full
// jitter, within the attempt budget and the step's deadline.
func (o *op) policy() retry.Policy {
	return retry.Policy{Attempts: o.s.t.APIAttempts, Base: o.s.t.BackoffBase, Max: o.s.t.BackoffMax,
		Deadline: o.deadline, Retryable: retryable, Jitter: o.s.d.Jitter}
}

// retried runs fn under the step's retry policy and turns giving up into the step's
// errors: TransientError when retrying ran out (attempts, time, the context), the
// error as it is for Stop, else the AWS error wrapped with what was being done.
func (o *op) retried(what string, p retry.Policy, fn func(context.Context) error) error {
	err := retry.Do(o.ctx, o.s.d.Clock, p, fn)
	var re *retry.Error
	if err == nil || !errors.As(err, &re) {
		return err
	}
	switch re.Reason {
	case retry.Stopped:
		return re.Err
	case retry.NotRetryable:
		return fmt.Errorf("%s: %w", what, re.Err)
	case retry.Exhausted:
		return &TransientError{Err: fmt.Errorf("%s: still failing after %d attempts: %w", what, re.Attempts, re.Err)}
	case retry.NoTimeLeft:
		return &TransientError{Err: fmt.Errorf("%s: no time left to retry: %w", what, re.Err)}
	}
	return &TransientError{Err: fmt.Errorf("%s: %w", what, re.Err)}
}

// call runs one AWS call, retrying throttling and server faults with exponential
// backoff and full jitter, within the attempt budget and the step's deadline.
func call[T any](o *op, what string, fn func(context.Context) (T, error)) (T, error) {
	var out T
	p := o.policy()
	p.OnRetry = func(attempt int, wait time.Duration, err error) {
		o.log.WarnContext(o.ctx, "retrying AWS call", "call", what, "attempt", attempt, "wait", wait.String(), "error", err)
	}
	err := o.retried(what, p, func(ctx context.Context) error {
		var err error
		out, err = fn(ctx)
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

// pause waits one poll interval, or fails with a TransientError naming what was being
// waited for when the step's deadline does not leave room for it.
func (o *op) pause(waitingFor string) error {
	if o.now().Add(o.s.t.PollInterval).After(o.deadline) {
		return transient("gave up waiting for %s: the step's time budget ran out", waitingFor)
	}
	if err := o.s.d.Clock.Sleep(o.ctx, o.s.t.PollInterval); err != nil {
		return &TransientError{Err: fmt.Errorf("waiting for %s: %w", waitingFor, err)}
	}
	return nil
}

// eniView is the part of an ENI the steps look at.
type eniView struct {
	ID           string
	Status       string // available, in-use, attaching, detaching, ...
	AZ           string
	SubnetID     string
	AttachmentID string
	AttachedTo   string // instance id, "" when not attached
	AttachStatus string // attaching, attached, detaching, detached
	DeviceIndex  int32
}

// holder is the instance the ENI is on or going to, "" when nobody holds it. An
// attachment that is detaching still counts: the instance may still have the IP.
func (e eniView) holder() string {
	if e.AttachedTo == "" || e.AttachStatus == string(ec2types.AttachmentStatusDetached) {
		return ""
	}
	return e.AttachedTo
}

func (e eniView) available() bool {
	return e.Status == string(ec2types.NetworkInterfaceStatusAvailable) && e.holder() == ""
}

func (e eniView) String() string {
	if e.holder() == "" {
		return fmt.Sprintf("%s %s", e.ID, e.Status)
	}
	return fmt.Sprintf("%s %s (%s on %s)", e.ID, e.Status, e.AttachStatus, e.AttachedTo)
}

func (o *op) describeENI(id string) (eniView, error) {
	out, err := call(o, "describing ENI "+id, func(ctx context.Context) (*ec2.DescribeNetworkInterfacesOutput, error) {
		return o.s.d.EC2.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{id}})
	})
	if err != nil {
		if awserr.IsNotFound(err) {
			return eniView{}, permanent("the coordinator ENI %s does not exist: %w", id, err)
		}
		return eniView{}, err
	}
	if len(out.NetworkInterfaces) != 1 {
		return eniView{}, permanent("describing ENI %s: got %d interfaces", id, len(out.NetworkInterfaces))
	}
	n := out.NetworkInterfaces[0]
	v := eniView{ID: id, Status: string(n.Status), AZ: aws.ToString(n.AvailabilityZone), SubnetID: aws.ToString(n.SubnetId)}
	if a := n.Attachment; a != nil {
		v.AttachmentID = aws.ToString(a.AttachmentId)
		v.AttachedTo = aws.ToString(a.InstanceId)
		v.AttachStatus = string(a.Status)
		v.DeviceIndex = aws.ToInt32(a.DeviceIndex)
	}
	return v, nil
}

// stateGone is the pseudo-state of an instance EC2 no longer knows.
const stateGone = "gone"

// fenced reports whether an instance state means it can no longer serve.
func fenced(state string) bool {
	return state == stateGone || state == string(ec2types.InstanceStateNameShuttingDown) ||
		state == string(ec2types.InstanceStateNameTerminated)
}

// describeInstance returns the instance, or nil when EC2 does not know it.
func (o *op) describeInstance(id string) (*ec2types.Instance, error) {
	out, err := call(o, "describing instance "+id, func(ctx context.Context) (*ec2.DescribeInstancesOutput, error) {
		return o.s.d.EC2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	})
	if err != nil {
		if awserr.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	for _, r := range out.Reservations {
		for i := range r.Instances {
			if aws.ToString(r.Instances[i].InstanceId) == id {
				return &r.Instances[i], nil
			}
		}
	}
	return nil, nil
}

// instanceStateConfirmed is the instance's state, where "gone" (EC2 answers
// InvalidInstanceID.NotFound) counts only once confirmed: EC2 also answers NotFound for
// ids it has only just created (eventual consistency), so an instance that still runs
// must not count as fenced on one such answer. NotFound is confirmed when every read for
// Timing.GoneConfirm (at least three) says so; any read that finds the instance wins.
func (o *op) instanceStateConfirmed(id string) (string, error) {
	inst, err := o.describeInstance(id)
	if err != nil || inst != nil {
		return instanceState(inst), err
	}
	first := o.now()
	for reads := 1; reads < 3 || o.now().Sub(first) < o.s.t.GoneConfirm; reads++ {
		if err := o.pause(fmt.Sprintf("%s to be confirmed gone (EC2 answers NotFound)", id)); err != nil {
			return "", err
		}
		if inst, err = o.describeInstance(id); err != nil || inst != nil {
			return instanceState(inst), err
		}
	}
	return stateGone, nil
}

func instanceState(inst *ec2types.Instance) string {
	if inst == nil {
		return stateGone
	}
	if inst.State == nil {
		return "unknown"
	}
	return string(inst.State.Name)
}

func tagValue(tags []ec2types.Tag, key string) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value)
		}
	}
	return ""
}

// tagRole sets the role tag on instances. Roles are informational (the ENI attachment
// is the truth), so callers treat a failure as a warning.
func (o *op) tagRole(role string, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := call(o, fmt.Sprintf("tagging %v %s", ids, role), func(ctx context.Context) (*ec2.CreateTagsOutput, error) {
		return o.s.d.EC2.CreateTags(ctx, &ec2.CreateTagsInput{
			Resources: ids,
			Tags:      []ec2types.Tag{{Key: aws.String(config.TagRole), Value: aws.String(role)}},
		})
	})
	return err
}
