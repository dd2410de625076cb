package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/prestoha/coordinator-ha/internal/awsapi"
	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/probe"
	"github.com/prestoha/coordinator-ha/internal/signal"
)

// roleTimeout bounds one role check (IMDS answers in milliseconds).
const roleTimeout = 5 * time.Second

// Deps are the agent's collaborators. CloudWatch is required; the rest default to the
// production choices (wall clock, IMDS, an HTTP client built from the TLS options).
type Deps struct {
	CloudWatch awsapi.CloudWatchAPI
	// STS tells the agent its aws:userid and so its report namespace
	// (signal.HostNamespace). Required unless Namespace is set.
	STS awsapi.STSAPI
	// Namespace, when set, is used as is instead of asking STS (the stdout dry run).
	Namespace string
	Clock     clock.Clock
	Role      RoleSource
	// Doorbell, when set, is rung when this agent sees the active coordinator fail
	// (doorbell.go). Without it the health check finds the failure on its next tick.
	Doorbell Doorbell
	// HTTPClient, when set, is used for both probes as is (it must not follow redirects).
	HTTPClient *http.Client
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Agent probes, learns its role and publishes. Build it with New, start it with Run.
type Agent struct {
	cfg     Config
	clock   clock.Clock
	sts     awsapi.STSAPI
	role    RoleSource
	log     *slog.Logger
	self    *probe.Prober
	witness *probe.Prober
	pub     *Publisher
	bell    Doorbell

	mu        sync.Mutex
	current   Role
	haveRole  bool
	last      Observation
	lastStamp time.Time // the latest self-report's timestamp (stampAfter)
}

// Observation is the latest round of probes, for logs, tests and the drill.
type Observation struct {
	At         time.Time
	Role       Role
	Self       probe.Result
	Witness    *probe.Result // nil on the active (it does not witness itself)
	Reached    bool
	Probes     int // rounds so far
	RoleChecks int // role checks so far
}

// New validates cfg and wires the agent.
func New(cfg Config, deps Deps) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("agent configuration: %w", err)
	}
	if deps.CloudWatch == nil {
		return nil, errors.New("agent: Deps.CloudWatch is required")
	}
	if deps.STS == nil && deps.Namespace == "" {
		return nil, errors.New("agent: Deps.STS is required to learn the report namespace (or set Deps.Namespace)")
	}
	a := &Agent{cfg: cfg, clock: deps.Clock, sts: deps.STS, role: deps.Role, log: deps.Logger, bell: deps.Doorbell}
	if a.clock == nil {
		a.clock = clock.Real{}
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	a.log = a.log.With("cluster", cfg.Cluster)
	if a.role == nil {
		a.role = NewIMDSRole(cfg.ENIID, cfg.IMDSEndpoint)
	}
	client := deps.HTTPClient
	if client == nil {
		c, err := probe.NewHTTPClient(cfg.TLS())
		if err != nil {
			return nil, fmt.Errorf("agent probe TLS: %w", err)
		}
		client = c
	}
	wurl, err := cfg.WitnessURL()
	if err != nil {
		return nil, err
	}
	a.self = probe.New(cfg.ProbeURL, client, cfg.ProbeTimeout, a.clock)
	a.witness = probe.New(wurl, client, cfg.ProbeTimeout, a.clock)
	a.pub = NewPublisher(deps.CloudWatch, a.clock, a.log, cfg.MaxBuffered)
	if w := cfg.WitnessTLSWarning(); w != "" {
		a.log.Warn("TLS settings cannot verify a coordinator at the ENI IP", "detail", w)
	}
	a.pub.SetNamespace(deps.Namespace)
	return a, nil
}

// Publisher returns the agent's publisher (its stats tell what was sent and dropped).
func (a *Agent) Publisher() *Publisher { return a.pub }

// Last returns the latest observation.
func (a *Agent) Last() Observation {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last
}

// Run probes every ProbeInterval, re-checks the role every RoleInterval and hands the
// samples to a flusher: at once when a sample is urgent (not healthy, a witness that
// cannot reach the active, anything that differs from the round before, a new role),
// otherwise after at most PublishInterval (StandbyPublish on a standby); and rings the
// doorbell when the active coordinator fails. It goes on until ctx ends. Then it flushes what is
// left within ShutdownTimeout and returns nil; it returns an error only when the final
// flush could not send everything.
func (a *Agent) Run(ctx context.Context) error {
	kick := clock.NewKick(a.clock)
	waitFlusher := clock.Start(a.clock, func() {
		for kick.Wait(ctx) == nil {
			if a.pub.Namespace() == "" {
				a.identify(ctx)
			}
			if err := a.pub.Flush(ctx); err != nil && ctx.Err() == nil {
				st := a.pub.Stats()
				a.log.Warn("publishing samples failed, keeping them for the next flush", "err", err, "buffered", st.Buffered, "dropped", st.Dropped)
			}
		}
	})
	a.log.Info("agent started", "probeUrl", a.self.URL(), "witnessUrl", a.witness.URL(), "eniId", a.cfg.ENIID,
		"probeInterval", a.cfg.ProbeInterval.String(), "publishInterval", a.cfg.PublishInterval.String(), "standbyPublishInterval", a.cfg.StandbyPublish.String(), "doorbell", a.cfg.Doorbell, "publish", a.cfg.Publish)

	// The role check never delays a health sample: once a role is known, each due check
	// runs on its own goroutine while the probes go on with the last known role, and its
	// answer counts from the next round (a change in the middle of a round could not be
	// told apart from the round's own view). Only the very first check, before any sample
	// can be attributed, is waited for.
	var roleBusy, ringBusy atomic.Bool
	waitRole := func() {} // replaced by each asynchronous check
	waitRing := func() {} // replaced by each ring
	var bell Bell
	var lastRole Role
	now := a.clock.Now()
	nextProbe, nextFlush, nextRole := now, now.Add(a.cfg.StandbyPublish), now
	for ctx.Err() == nil {
		a.mu.Lock()
		role, have := a.current, a.haveRole
		a.mu.Unlock()
		if !a.clock.Now().Before(nextRole) {
			switch {
			case !have:
				if a.refreshRole(ctx) {
					nextRole = nextRole.Add(a.cfg.RoleInterval)
					a.mu.Lock()
					role, have = a.current, a.haveRole
					a.mu.Unlock()
				} else {
					nextRole = nextRole.Add(a.cfg.ProbeInterval) // no role yet or IMDS failing: retry soon
				}
			case roleBusy.CompareAndSwap(false, true):
				nextRole = nextRole.Add(a.cfg.RoleInterval)
				waitRole = clock.Start(a.clock, func() {
					defer roleBusy.Store(false)
					a.refreshRole(ctx) // on failure the last known role stays; the next check is a RoleInterval away
				})
			}
		}
		urgent, ring := false, ""
		if have {
			urgent, ring = a.round(ctx, role)
			urgent = urgent || role != lastRole
			lastRole = role
		}
		now = a.clock.Now()
		if urgent || !now.Before(nextFlush) {
			kick.Send() // a flush running now leaves a kick pending: the next one takes these samples too
			nextFlush = now.Add(a.cfg.publishInterval(role.HoldsENI))
		}
		if bell.Due(ring, now) && a.bell != nil && ringBusy.CompareAndSwap(false, true) {
			rangAt := now // the loop moves now on while the ring runs
			waitRing = clock.Start(a.clock, func() {
				defer ringBusy.Store(false)
				rctx, cancel := clock.WithTimeout(ctx, a.clock, roleTimeout)
				defer cancel()
				if err := a.bell.Ring(rctx, role.InstanceID, ring); err != nil {
					if ctx.Err() == nil {
						a.log.Warn("ringing the health check failed; ringing again at the next probe", "err", err, "reason", ring)
					}
					return
				}
				bell.Rang(rangAt)
				a.log.Info("rang the health check", "reason", ring)
			})
		}
		nextProbe = advance(nextProbe, now, a.cfg.ProbeInterval)
		if err := a.clock.Sleep(ctx, nextProbe.Sub(now)); err != nil {
			break
		}
	}
	// Wait on the clock (a simulated clock must see it) for the flusher, which stops with
	// ctx, and for a role check still running, which ends with ctx too.
	waitFlusher()
	waitRole()
	waitRing()

	// Final flush with its own deadline: the run context has ended.
	fctx, cancel := clock.WithTimeout(context.WithoutCancel(ctx), a.clock, a.cfg.ShutdownTimeout)
	defer cancel()
	if a.pub.Namespace() == "" {
		a.identify(fctx)
	}
	err := a.pub.Flush(fctx)
	st := a.pub.Stats()
	a.log.Info("agent stopped", "sent", st.Sent, "dropped", st.Dropped, "rejected", st.Rejected, "unsent", st.Buffered)
	if err != nil {
		return fmt.Errorf("final flush left %d samples unsent: %w", st.Buffered, err)
	}
	return nil
}

// publishInterval is how long healthy, unchanged samples may wait on the active or on
// a standby.
func (c Config) publishInterval(active bool) time.Duration {
	if active {
		return c.PublishInterval
	}
	return c.StandbyPublish
}

// advance returns the first tick after now on the grid next + k*step (missed ticks are
// skipped rather than run back to back).
func advance(next, now time.Time, step time.Duration) time.Time {
	next = next.Add(step)
	if !next.After(now) {
		next = next.Add((now.Sub(next)/step + 1) * step)
	}
	return next
}

// identify asks STS who the agent is and sets the publisher's namespace to
// signal.HostNamespace of that aws:userid: the one namespace the host's credentials may
// write and the health check reads for this instance. On failure the samples stay
// buffered and the next flush asks again.
func (a *Agent) identify(ctx context.Context) {
	ictx, cancel := clock.WithTimeout(ctx, a.clock, roleTimeout)
	defer cancel()
	ns, out, err := Identify(ictx, a.sts)
	if err != nil {
		if ctx.Err() == nil {
			a.log.Warn("asking STS who this host is failed; samples stay buffered", "err", err)
		}
		return
	}
	userID := aws.ToString(out.UserId)
	a.mu.Lock()
	instanceID := a.current.InstanceID
	a.mu.Unlock()
	if _, session, _ := strings.Cut(userID, ":"); instanceID != "" && session != instanceID {
		// Not this instance's role session (credentials from elsewhere): the health check
		// reads this instance's reports from <role id>:<instance id> and will not see these.
		a.log.Error("the AWS credentials are not this instance's role session: the health check will not read these reports",
			"userId", userID, "instanceId", instanceID, "arn", aws.ToString(out.Arn))
	}
	a.pub.SetNamespace(ns)
	a.log.Info("report namespace", "namespace", ns, "arn", aws.ToString(out.Arn))
}

// Identify asks STS who the caller is and returns its report namespace
// (signal.HostNamespace of its aws:userid) with STS's answer.
func Identify(ctx context.Context, client awsapi.STSAPI) (string, *sts.GetCallerIdentityOutput, error) {
	out, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", nil, fmt.Errorf("asking STS for the caller identity: %w", err)
	}
	if aws.ToString(out.UserId) == "" {
		return "", nil, fmt.Errorf("STS answered no UserId (arn %s)", aws.ToString(out.Arn))
	}
	return signal.HostNamespace(aws.ToString(out.UserId)), out, nil
}

// refreshRole asks the role source; on failure the last known role stays.
func (a *Agent) refreshRole(ctx context.Context) bool {
	rctx, cancel := clock.WithTimeout(ctx, a.clock, roleTimeout)
	defer cancel()
	r, err := a.role.Role(rctx)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.last.RoleChecks++
	if err != nil {
		if ctx.Err() == nil {
			a.log.Warn("role check failed, keeping the last known role", "err", err, "instanceId", a.current.InstanceID, "holdsEni", a.current.HoldsENI)
		}
		return false
	}
	if !a.haveRole || r != a.current {
		a.log.Info("role", "instanceId", r.InstanceID, "holdsEni", r.HoldsENI, "eniId", a.cfg.ENIID)
	}
	a.current, a.haveRole = r, true
	return true
}

// stampAfter returns the timestamp for a self-report probed at t: t, or one second after
// the previous self-report when the host's clock stepped back to or before it. Two
// self-reports in one second are what a second writer with this host's credentials
// leaves (the health check alerts on it, and AttachENI passes over such a standby), so
// the agent never writes them itself; after a step back its stamps run up to the step
// ahead of its clock for a few probes, until the clock catches up.
func (a *Agent) stampAfter(t time.Time) time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.lastStamp = NextStamp(a.lastStamp, t)
	return a.lastStamp
}

// NextStamp is the timestamp of a self-report probed at t after one stamped last (zero:
// none): t, unless t falls in or before last's second; then the start of the second
// after last's.
func NextStamp(last, t time.Time) time.Time {
	if next := last.Truncate(time.Second).Add(time.Second); !last.IsZero() && t.Before(next) {
		return next
	}
	return t
}

// Bell decides when to ring: when a failure of the active coordinator starts, and again
// after DoorbellRepeat while it goes on (or at the next probe after a failed ring). The
// zero value is ready; the chaos campaign's simulated agents ring by it too.
type Bell struct {
	mu     sync.Mutex
	ringAt time.Time // last successful ring of the current failure; zero: none yet
	active bool      // a failure is going on
}

// Due reports whether a ring is due for this round's reason ("" when nothing is wrong).
func (b *Bell) Due(reason string, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if reason == "" {
		b.active, b.ringAt = false, time.Time{}
		return false
	}
	b.active = true
	return b.ringAt.IsZero() || now.Sub(b.ringAt) >= DoorbellRepeat
}

// Rang records a successful ring made at at.
func (b *Bell) Rang(at time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.active {
		b.ringAt = at
	}
}

// round runs the self probe and, on a standby, the witness probe at the same time, and
// queues one datum each with the time its probe finished. It reports whether the round
// is urgent (to be sent at once) and, when the active coordinator fails in it, why (the
// doorbell's reason): the active's own probe failing, or a standby's probe through the
// ENI IP.
func (a *Agent) round(ctx context.Context, role Role) (urgent bool, ring string) {
	var (
		self, wit         probe.Result
		selfAt, witnessAt time.Time
	)
	probes := []func(){func() {
		self = a.self.Probe(ctx)
		selfAt = a.clock.Now()
	}}
	witness := !role.HoldsENI
	if witness {
		probes = append(probes, func() {
			wit = a.witness.Probe(ctx)
			witnessAt = a.clock.Now()
		})
	}
	clock.Parallel(a.clock, probes...) // the witness probe beside the self probe
	if ctx.Err() != nil {
		return false, "" // shutting down: a probe cut short says nothing about the coordinator
	}
	selfAt = a.stampAfter(selfAt)
	ds := []cwtypes.MetricDatum{signal.HealthDatum(a.cfg.Cluster, role.InstanceID, self.Status, selfAt)}
	obs := Observation{At: selfAt, Role: role, Self: self}
	if witness {
		ds = append(ds, signal.WitnessDatum(a.cfg.Cluster, role.InstanceID, wit.Answered, witnessAt))
		obs.Witness, obs.Reached = &wit, wit.Answered
	}
	a.pub.Add(ds...)

	a.mu.Lock()
	prev := a.last
	obs.Probes, obs.RoleChecks = prev.Probes+1, prev.RoleChecks
	a.last = obs
	a.mu.Unlock()

	changed := prev.Probes == 0 || prev.Self.Status != self.Status || prev.Self.Reason != self.Reason ||
		(prev.Witness == nil) != (obs.Witness == nil) || prev.Reached != obs.Reached
	level := slog.LevelDebug
	if changed {
		level = slog.LevelInfo
	}
	attrs := []any{"instanceId", role.InstanceID, "holdsEni", role.HoldsENI, "status", self.Status.String(), "latencyMs", self.Latency.Milliseconds()}
	if self.Reason != "" {
		attrs = append(attrs, "reason", self.Reason)
	}
	if self.Info != nil && self.Info.Version() != "" {
		attrs = append(attrs, "version", self.Info.Version())
	}
	if witness {
		attrs = append(attrs, "witnessReached", wit.Answered)
		if !wit.Answered {
			attrs = append(attrs, "witnessReason", wit.Reason)
		}
	}
	a.log.Log(ctx, level, "probe", attrs...)

	switch {
	case role.HoldsENI && self.Status != signal.Healthy:
		ring = "the active coordinator's own probe: " + self.Status.String()
		if self.Reason != "" {
			ring += ": " + self.Reason
		}
	case witness && !wit.Answered:
		ring = "the coordinator does not answer at the ENI IP"
		if wit.Reason != "" {
			ring += ": " + wit.Reason
		}
	}
	return changed || ring != "" || self.Status != signal.Healthy, ring
}
