package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/awsapi"
	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/config"
	"github.com/prestoha/coordinator-ha/internal/lease"
	"github.com/prestoha/coordinator-ha/internal/signal"
	"github.com/prestoha/coordinator-ha/internal/verdict"
)

// Timing constants of the evaluation loop.
const (
	// SchedulePeriod is the EventBridge schedule rate, rate(1 minute).
	SchedulePeriod = time.Minute
	// MaxTickSpacing bounds how far apart two invocations of the rate(1 minute) schedule
	// can start. EventBridge fires "within the minute", not on the second: spacings from
	// 8 s to 71 s have been reported (Zappa issue #806; Trek10 measured 25 s of delay on
	// average). 75 s leaves room above the largest reported.
	MaxTickSpacing = 75 * time.Second
	// TickStartAllowance is what an invocation may take from the tick to its first
	// evaluation: a cold start (provided.al2023 arm64, 36-44 ms init, maxday/lambda-perf)
	// and the first AWS calls, with a wide margin.
	TickStartAllowance = 5 * time.Second
	// LoopSpan is how long one invocation evaluates: longer than any tick spacing plus the
	// next invocation's start, so the next invocation's first evaluation always comes
	// before this one's last one. Invocations overlap by design (reserved concurrency 3:
	// three ticks can fall within one LoopSpan); the failover lease makes overlapping
	// evaluators safe. See the package doc, "No evaluation gap".
	LoopSpan = MaxTickSpacing + TickStartAllowance
	// DeadlineMargin is kept free before the Lambda's deadline for the last evaluation's
	// calls and the response.
	DeadlineMargin = 5 * time.Second
	// clockSkewPublishFloor: a skew estimate below it is not published (chrony keeps EC2
	// clocks far closer; the dashboard's alarm is at ClockSkewAlarm).
	clockSkewPublishFloor = time.Second
	// lookbackMargin widens the GetMetricData range beyond what the verdict needs.
	lookbackMargin = 10 * time.Second
)

// IAMActions are the AWS actions the health check calls: its least-privilege policy
// (resources: the ENI's and instances' Describe calls take "*"; StartExecution and
// ListExecutions the state machine; Publish the topic; PutMetricData is conditioned on
// cloudwatch:namespace = signal.Namespace). The tests check the calls against this list.
// The health check writes no report: its PutMetricData cannot reach a host's namespace.
var IAMActions = []string{
	"autoscaling:DescribeAutoScalingGroups",
	"autoscaling:SetInstanceProtection",
	"cloudwatch:GetMetricData",
	"cloudwatch:PutMetricData",
	"ec2:DescribeInstances",
	"ec2:DescribeNetworkInterfaces",
	"sns:Publish",
	"states:DescribeExecution",
	"states:ListExecutions",
	"states:StartExecution",
}

// ErrLoopRunning is returned by Handle when another evaluation loop is running in the
// same process (the stack also sets the Lambda's reserved concurrency to 1).
var ErrLoopRunning = errors.New("health check: another evaluation loop is running in this process")

// Deps are the health check's collaborators. Every field is required but AutoScaling
// (without it the holder's scale-in protection is not repaired: protect.go).
type Deps struct {
	AutoScaling awsapi.AutoScalingAPI
	EC2         awsapi.EC2API
	CloudWatch  awsapi.CloudWatchAPI
	SFN         awsapi.SFNAPI
	SNS         awsapi.SNSAPI
	Clock       clock.Clock
	Logger      *slog.Logger
}

// Handler is the health check. Build it once with New (at cold start) and call Handle
// per scheduled invocation, or Evaluate for a single evaluation.
type Handler struct {
	cfg    Config
	params verdict.Params
	ec2    awsapi.EC2API
	cw     awsapi.CloudWatchAPI
	sns    awsapi.SNSAPI
	clk    clock.Clock
	log    *slog.Logger
	period time.Duration
	loop   sync.Mutex // held by the running evaluation loop (TryLock)

	// The failover lease (lease.go): the highest generation seen, ended generations
	// (they never change), and this handler's token for events.Lease.Holder.
	skew *skewTracker // agent clock skew estimates (skew.go)
	asg  awsapi.AutoScalingAPI

	protectedHolder string    // the holder last seen protected (protect.go)
	protectedAt     time.Time // when

	leaseMu   sync.Mutex
	leaseTop  int
	lease     lease.Lease
	ended     map[int]lease.Exec
	tokenBase string
	starts    int
}

// New checks cfg and deps and returns a Handler.
func New(cfg Config, d Deps) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var missing []string
	for name, ok := range map[string]bool{"EC2": d.EC2 != nil, "CloudWatch": d.CloudWatch != nil, "SFN": d.SFN != nil,
		"SNS": d.SNS != nil, "Clock": d.Clock != nil, "Logger": d.Logger != nil} {
		if !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("health check: missing dependencies %v", missing)
	}
	return &Handler{cfg: cfg, params: cfg.Params(), ec2: d.EC2, cw: d.CloudWatch, sns: d.SNS,
		clk: d.Clock, log: d.Logger.With("cluster", cfg.Cluster, "eni", cfg.ENIID), period: LoopSpan,
		lease: lease.Lease{SFN: d.SFN, StateMachineARN: cfg.StateMachineARN, Cluster: cfg.Cluster},
		ended: map[int]lease.Exec{}, tokenBase: newToken(), skew: newSkewTracker(), asg: d.AutoScaling}, nil
}

// Config returns the handler's configuration.
func (h *Handler) Config() Config { return h.cfg }

// Action is what an evaluation did about the active coordinator's verdict.
type Action string

// Actions.
const (
	ActionNone           Action = "none"             // nothing called for
	ActionStarted        Action = "started"          // a failover execution was started
	ActionAlreadyHandled Action = "already-handled"  // every attempt's name for this failure was taken: maxAttempts executions ended without curing it
	ActionBlockedKeep    Action = "blocked-keep"     // KeepCoordinatorNode=yes
	ActionBlockedRunning Action = "blocked-running"  // another failover execution is running
	ActionBlockedBreaker Action = "blocked-breaker"  // circuit breaker open
	ActionAlerted        Action = "alerted"          // AGENT_LOST or PARTITIONED: alert, no failover
	ActionAlertDeduped   Action = "alert-suppressed" // the same alert was sent earlier in this invocation
)

// Calls counts the AWS calls of one evaluation by purpose.
type Calls struct {
	Reads   int `json:"reads"`   // DescribeInstances, DescribeNetworkInterfaces, GetMetricData (3 unless paged)
	Guards  int `json:"guards"`  // ListExecutions
	Actions int `json:"actions"` // StartExecution, Publish
	Metrics int `json:"metrics"` // PutMetricData of the health check's own metrics
}

// Total is the number of calls.
func (c Calls) Total() int { return c.Reads + c.Guards + c.Actions + c.Metrics }

// Judgement is the verdict on one pool member.
type Judgement struct {
	InstanceID         string          `json:"instanceId"`
	State              string          `json:"state"`
	AZ                 string          `json:"az,omitempty"`
	Active             bool            `json:"active"`
	Verdict            events.Verdict  `json:"verdict"`
	Reason             string          `json:"reason"`
	Evidence           events.Evidence `json:"evidence"`
	ConsecutiveHealthy int             `json:"consecutiveHealthy"`
	// ClockSkewSeconds is the estimated skew of the agent's clock (positive: behind the
	// health check's), a lower bound; its reports are judged corrected (skew.go).
	ClockSkewSeconds float64 `json:"clockSkewSeconds,omitempty"`
}

// Evaluation is the result of one evaluation.
type Evaluation struct {
	At        time.Time `json:"at"`
	ENIStatus string    `json:"eniStatus"`
	Holder    string    `json:"holder,omitempty"` // instance the ENI is attached to (in the pool or not)
	// Verdict is the active coordinator's verdict, or UNATTACHED; Instance is the active
	// coordinator (empty for UNATTACHED).
	Verdict         events.Verdict   `json:"verdict"`
	Instance        string           `json:"instance,omitempty"`
	Reason          string           `json:"reason"`
	Evidence        *events.Evidence `json:"evidence,omitempty"`
	Coordinators    []Judgement      `json:"coordinators"`
	HealthyStandbys int              `json:"healthyStandbys"`
	Action          Action           `json:"action"`
	ActionDetail    string           `json:"actionDetail,omitempty"`
	Execution       string           `json:"execution,omitempty"` // name of the execution started or collided with
	ExecutionARN    string           `json:"executionArn,omitempty"`
	BreakerCount    int              `json:"breakerCount,omitempty"` // executions started within the breaker window
	// ProtectionRepaired: the holder was found without scale-in protection and protected.
	ProtectionRepaired bool  `json:"protectionRepaired,omitempty"`
	Calls              Calls `json:"calls"`
	// Pause is the pause of automatic failover in force (pause.go), nil when none.
	Pause *Pause `json:"pause,omitempty"`
	// Tampered lists the members whose reports held what no agent writes (see
	// signal.Check), with what was found; those samples were set aside.
	Tampered map[string]string `json:"tampered,omitempty"`
	// Calm: nothing needs a fast look (see calm) and the agents ring the doorbell
	// (Config.Doorbell); the invocation may end here.
	Calm bool `json:"calm"`
}

// run is the state shared by the evaluations of one invocation.
type run struct {
	alerted map[string]bool // instance+verdict (or "breaker") already alerted on
}

func newRun() *run { return &run{alerted: map[string]bool{}} }

// Evaluate runs one evaluation: read, judge, act through the guards, publish metrics.
// It is what each step of Handle's loop does; the drill and chaos tests call it directly.
func (h *Handler) Evaluate(ctx context.Context) (Evaluation, error) {
	return h.evaluate(ctx, newRun())
}

func (h *Handler) evaluate(ctx context.Context, r *run) (Evaluation, error) {
	now := h.clk.Now()
	ev := Evaluation{At: now.UTC(), Action: ActionNone}

	// 1. Who holds the ENI.
	ev.Calls.Reads++
	eniOut, err := h.ec2.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{h.cfg.ENIID}})
	if err != nil {
		return ev, fmt.Errorf("describing coordinator ENI %s: %w", h.cfg.ENIID, err)
	}
	if len(eniOut.NetworkInterfaces) != 1 {
		return ev, fmt.Errorf("describing coordinator ENI %s: got %d interfaces", h.cfg.ENIID, len(eniOut.NetworkInterfaces))
	}
	eni := eniOut.NetworkInterfaces[0]
	ev.ENIStatus = string(eni.Status)
	ev.Pause = h.readPause(ctx, eni.TagSet, now) // pause.go
	var attachedAt time.Time
	// An attachment that is still detaching counts: the instance holds the ENI until it
	// is detached, and a failover must fence it (a shutting-down holder is GONE).
	if a := eni.Attachment; a != nil {
		ev.ENIStatus += "/" + string(a.Status)
		if a.Status != ec2types.AttachmentStatusDetached && aws.ToString(a.InstanceId) != "" {
			ev.Holder = aws.ToString(a.InstanceId)
			attachedAt = aws.ToTime(a.AttachTime)
		}
	}

	// 2. The pool: every coordinator of the cluster that is not terminated.
	pool, err := h.describePool(ctx, &ev.Calls)
	if err != nil {
		return ev, err
	}

	// 3. Every self-report and witness report in one GetMetricData, each member's from
	// its own namespace; what no agent writes is set aside as tampering.
	reports, err := h.fetchReports(ctx, pool, now, &ev.Calls)
	if err != nil {
		return ev, err
	}
	tampered := screenReports(reports)
	// Agent clocks: estimate each one's skew from arrivals and judge its reports
	// corrected, within MaxClockSkew (skew.go).
	skew := h.skew.observe(reports, now, h.params.IngestionDelay+h.params.PublishInterval)

	// Judge every member.
	witnesses := map[string][]signal.Sample{}
	for _, in := range pool {
		if in.id != ev.Holder && !verdict.Gone(in.state) {
			witnesses[in.id] = reports[in.id].Witness
		}
	}
	// A healthy agent's newest report may be a publish interval plus the ingestion
	// allowance old; reports within a batch are a probe interval apart.
	maxGap := h.params.IngestionDelay + h.params.PublishInterval + h.params.ReportInterval
	if h.params.IngestionDelay < 0 {
		maxGap = h.params.PublishInterval + h.params.ReportInterval
	}
	var active *Judgement
	for _, in := range pool {
		c := verdict.Coordinator{InstanceID: in.id, State: in.state, LaunchedAt: in.launched}
		var wit map[string][]signal.Sample
		if in.id == ev.Holder {
			c.HoldsENI, c.ENIAttachedAt = true, attachedAt
			wit = witnesses
		}
		res := verdict.Evaluate(verdict.Input{Coordinator: c, Self: reports[in.id].Health, Witnesses: wit, Now: now, Params: h.params})
		j := Judgement{InstanceID: in.id, State: in.state, AZ: in.az, Active: c.HoldsENI, Verdict: res.Verdict,
			Reason: res.Reason, Evidence: res.Evidence, ConsecutiveHealthy: verdict.ConsecutiveHealthy(reports[in.id].Health, now, maxGap),
			ClockSkewSeconds: skew.estimate[in.id].Seconds()}
		h.skewGuard(&j, skew, now)
		ev.Coordinators = append(ev.Coordinators, j)
		if !j.Active && j.Verdict == events.VerdictHealthy && in.state == verdict.StateRunning &&
			j.ConsecutiveHealthy >= h.cfg.MinHealthyReports && (in.az == "" || in.az == aws.ToString(eni.AvailabilityZone)) {
			ev.HealthyStandbys++
		}
	}
	for i := range ev.Coordinators {
		if ev.Coordinators[i].Active {
			active = &ev.Coordinators[i]
		}
	}
	if active != nil {
		metricsPathGuard(active, ev.Coordinators, reports)
		holdOnTampering(active, tampered)
		ev.Verdict, ev.Instance, ev.Reason = active.Verdict, active.InstanceID, active.Reason
		e := active.Evidence
		ev.Evidence = &e
	} else {
		ev.Verdict = events.VerdictUnattached
		e := events.Evidence{EC2State: "", WindowStart: now.UTC(), WindowEnd: now.UTC()}
		if ev.Holder == "" {
			ev.Reason = fmt.Sprintf("no instance holds the coordinator ENI (ENI %s)", ev.ENIStatus)
		} else {
			// Someone attached the IP to an instance this cluster does not manage. Taking
			// it back is not ours to decide: alert. (A terminated holder releases the ENI
			// within seconds; the next evaluation then sees UNATTACHED.)
			ev.Verdict = events.VerdictForeignHolder
			ev.Reason = fmt.Sprintf("the coordinator ENI is attached to %s, which is not a live coordinator of cluster %s", ev.Holder, h.cfg.Cluster)
			e.Note = "holder " + ev.Holder + " is not in the pool (tag " + config.TagASGName + "=" + h.cfg.ASGName + ")"
		}
		ev.Evidence = &e
	}
	for _, j := range ev.Coordinators {
		h.log.LogAttrs(ctx, levelOf(j.Verdict), "verdict",
			slog.String("instance", j.InstanceID), slog.Bool("active", j.Active), slog.String("state", j.State),
			slog.String("verdict", string(j.Verdict)), slog.String("reason", j.Reason),
			slog.Int("consecutiveHealthy", j.ConsecutiveHealthy), slog.Any("evidence", j.Evidence))
	}

	// Act, only through the guards; and keep the holder protected from scale-in.
	actErr := h.act(ctx, r, &ev)
	if err := h.alertTampering(ctx, r, &ev, tampered); err != nil && actErr == nil {
		actErr = err
	}
	h.repairProtection(ctx, &ev)

	ev.Calm = h.cfg.Doorbell && calm(&ev, now, h.params.PublishInterval+h.params.IngestionDelay+h.params.ReportInterval)

	// Our own metrics, one call; a failure is logged, never fatal.
	h.publishMetrics(ctx, &ev)

	h.log.LogAttrs(ctx, slog.LevelInfo, "evaluation",
		slog.String("instance", ev.Instance), slog.String("verdict", string(ev.Verdict)), slog.String("reason", ev.Reason),
		slog.String("holder", ev.Holder), slog.String("eniStatus", ev.ENIStatus), slog.Int("pool", len(pool)),
		slog.Int("healthyStandbys", ev.HealthyStandbys), slog.String("action", string(ev.Action)),
		slog.String("actionDetail", ev.ActionDetail), slog.String("execution", ev.Execution), slog.Bool("calm", ev.Calm),
		slog.Int("awsReads", ev.Calls.Reads), slog.Int("awsCalls", ev.Calls.Total()), slog.Any("evidence", ev.Evidence))
	return ev, actErr
}

// calm reports whether nothing needs a fast look: the active coordinator is HEALTHY (its
// latest self-report healthy and fresh), at least one standby witness reaches it through
// the ENI with a fresh report and every witness's latest report says so, no action or
// guard fired, and nothing was tampered with. Then every way the active can fail is seen first by a live agent
// (its own probe, or a witness's through the ENI IP), which rings the doorbell, and the
// next look can wait for the next tick (package doc, "Calm and suspect"). Without a
// witness that reaches the active (HACoordinatorsCount=1, standbys starting or down)
// nobody would ring: never calm, the invocation evaluates every check interval.
func calm(ev *Evaluation, now time.Time, fresh time.Duration) bool {
	if ev.Verdict != events.VerdictHealthy || ev.Action != ActionNone || len(ev.Tampered) > 0 || ev.Evidence == nil {
		return false
	}
	// Reports that are aging are the start of silence, which no agent rings for when the
	// active's agent (or its path to AWS) is what failed: the active's newest report, and
	// each reaching witness's, must be fresh (a publish interval, the ingestion allowance
	// and a probe interval).
	recent := func(t *time.Time) bool { return t != nil && now.Sub(*t) <= fresh }
	if !recent(ev.Evidence.SelfReports.LastReportAt) {
		return false
	}
	// The verdict says the latest self-report is healthy. Each witness's latest report
	// must reach the active: an earlier "cannot reach" in the window is history (a blip,
	// or a batch a host cut off from the network sent late); a failure that is still on
	// has its agent's latest report say so, and that agent rang.
	reaching := 0
	for _, w := range ev.Evidence.Witnesses {
		if w.LastReached == nil || !*w.LastReached {
			return false
		}
		if recent(w.LastReportAt) {
			reaching++
		}
	}
	return reaching > 0
}

// metricsPathGuard turns a FAILED-for-silence verdict on the active coordinator into
// AGENT_LOST when every standby that had been reporting went silent too. Silence on
// every host at once says the path to CloudWatch (or CloudWatch) is down, not the
// coordinator; failing over would fence a coordinator that no standby could be shown
// healthy enough to replace. A cluster without reporting standbys (HACoordinatorsCount=1,
// or standbys still starting) keeps the table's verdict: silence with no witness is FAILED.
func metricsPathGuard(active *Judgement, all []Judgement, reports map[string]*signal.Reports) {
	ev := active.Evidence
	if active.Verdict != events.VerdictFailed || (ev.SelfReports.LastReportAt != nil && !ev.SelfReports.LastReportAt.Before(ev.WindowStart)) {
		return
	}
	reporting := 0
	for _, j := range all {
		if j.Active || j.State != verdict.StateRunning || reports[j.InstanceID] == nil {
			continue
		}
		health := reports[j.InstanceID].Health
		if len(health) == 0 {
			continue // never reported in the lookback: starting, or its agent never ran
		}
		reporting++
		if !health[len(health)-1].At.Before(ev.WindowStart) {
			return // a standby still reports: the metrics path works, the verdict stands
		}
	}
	if reporting == 0 {
		return
	}
	active.Verdict = events.VerdictAgentLost
	active.Reason = fmt.Sprintf("every agent is silent (the active and %d standby(s) that had been reporting): the path to CloudWatch is down, not the coordinator; no failover (%s)", reporting, active.Reason)
}

func levelOf(v events.Verdict) slog.Level {
	switch v {
	case events.VerdictHealthy, events.VerdictStarting:
		return slog.LevelInfo
	case events.VerdictSuspect:
		return slog.LevelWarn
	}
	return slog.LevelError
}

// member is one pool instance as EC2 describes it.
type member struct {
	id, state, az string
	launched      time.Time
}

// describePool lists the cluster's coordinators in every state but terminated: the
// instances Auto Scaling launched for the cluster's group, found by the tag
// aws:autoscaling:groupName that only Auto Scaling can write (the cluster tag anyone
// can add is not proof of membership). The tag stays on a member that is shutting down
// after it left the group, so a failed active still counts as the cluster's.
func (h *Handler) describePool(ctx context.Context, calls *Calls) ([]member, error) {
	in := &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:" + config.TagASGName), Values: []string{h.cfg.ASGName}},
		{Name: aws.String("instance-state-name"), Values: []string{verdict.StatePending, verdict.StateRunning,
			verdict.StateShuttingDown, verdict.StateStopping, verdict.StateStopped}},
	}}
	var pool []member
	for {
		calls.Reads++
		out, err := h.ec2.DescribeInstances(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("describing coordinators of cluster %s: %w", h.cfg.Cluster, err)
		}
		for _, res := range out.Reservations {
			for _, i := range res.Instances {
				m := member{id: aws.ToString(i.InstanceId), launched: aws.ToTime(i.LaunchTime)}
				if i.State != nil {
					m.state = string(i.State.Name)
				}
				if i.Placement != nil {
					m.az = aws.ToString(i.Placement.AvailabilityZone)
				}
				pool = append(pool, m)
			}
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	sort.Slice(pool, func(i, j int) bool { return pool[i].id < pool[j].id })
	return pool, nil
}

// lookback is how far back the reports are read: the grace window plus the ingestion
// allowance, and at least the startup budget, so a long start is measured from its
// first starting report (a GetMetricData call costs per metric, not per datapoint).
func (h *Handler) lookback() time.Duration {
	d := h.cfg.Grace + h.cfg.IngestionDelay
	if h.cfg.StartupBudget > d {
		d = h.cfg.StartupBudget
	}
	return d + lookbackMargin
}

// fetchReports reads every pool member's self-reports and witness reports with one
// GetMetricData request (following NextToken).
func (h *Handler) fetchReports(ctx context.Context, pool []member, now time.Time, calls *Calls) (map[string]*signal.Reports, error) {
	var ids []string
	for _, m := range pool {
		if m.state != verdict.StateTerminated {
			ids = append(ids, m.id)
		}
	}
	out := map[string]*signal.Reports{}
	for _, m := range pool {
		out[m.id] = &signal.Reports{}
	}
	if len(ids) == 0 {
		return out, nil
	}
	if len(ids) > signal.MaxInstancesPerQuery {
		ids = ids[:signal.MaxInstancesPerQuery] // far beyond HACoordinatorsCount; the rest is reported as silent
	}
	in, err := signal.Query(h.cfg.Cluster, h.cfg.HostRoleID, ids, now.Add(-h.lookback()), now)
	if err != nil {
		return nil, err
	}
	var results []cwtypes.MetricDataResult
	for pages := cloudwatch.NewGetMetricDataPaginator(h.cw, in); pages.HasMorePages(); {
		calls.Reads++
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading health metrics of cluster %s: %w", h.cfg.Cluster, err)
		}
		results = append(results, page.MetricDataResults...)
	}
	if err := signal.CheckStatus(results); err != nil {
		return nil, fmt.Errorf("reading health metrics of cluster %s: %w", h.cfg.Cluster, err)
	}
	parsed, err := signal.Parse(ids, results)
	if err != nil {
		return nil, fmt.Errorf("reading health metrics of cluster %s: %w", h.cfg.Cluster, err)
	}
	for id, r := range parsed {
		out[id] = r
	}
	return out, nil
}

// publishMetrics writes the evaluation's metrics in one PutMetricData call.
func (h *Handler) publishMetrics(ctx context.Context, ev *Evaluation) {
	at := aws.Time(ev.At)
	cluster := []cwtypes.Dimension{{Name: aws.String(signal.DimCluster), Value: aws.String(h.cfg.Cluster)}}
	datum := func(name string, dims []cwtypes.Dimension, v float64) cwtypes.MetricDatum {
		return cwtypes.MetricDatum{MetricName: aws.String(name), Dimensions: dims, Timestamp: at, Value: aws.Float64(v),
			StorageResolution: aws.Int32(1), Unit: cwtypes.StandardUnitNone}
	}
	b := func(ok bool) float64 {
		if ok {
			return 1
		}
		return 0
	}
	// The active coordinator's verdict (or UNATTACHED) without InstanceId, so an alarm
	// survives a failover; each member's verdict with it. The event counts and the clock
	// skew are written only when they are not zero: a custom metric is billed for the
	// hours it receives data (CloudWatch pricing), their alarms treat missing data as not
	// breaching, and the dashboard reads a gap as zero.
	data := []cwtypes.MetricDatum{
		datum(signal.MetricVerdict, cluster, ev.Verdict.Code()),
		datum(signal.MetricHealthyStandbys, cluster, float64(ev.HealthyStandbys)),
	}
	for _, m := range []struct {
		name string
		v    float64
	}{
		{signal.MetricFailoversStarted, b(ev.Action == ActionStarted)},
		{signal.MetricBreakerOpen, b(ev.Action == ActionBlockedBreaker)},
		{signal.MetricGuardBlocked, b(ev.Action == ActionBlockedKeep || ev.Action == ActionBlockedRunning || ev.Action == ActionBlockedBreaker)},
		{signal.MetricTampering, float64(len(ev.Tampered))},
	} {
		if m.v != 0 || h.cfg.AllMetrics {
			data = append(data, datum(m.name, cluster, m.v))
		}
	}
	if ev.Pause != nil { // only while paused (pause.go)
		data = append(data, datum(config.MetricPaused, cluster, 1))
	}
	for _, j := range ev.Coordinators {
		data = append(data, datum(signal.MetricVerdict, signal.Dimensions(h.cfg.Cluster, j.InstanceID), j.Verdict.Code()))
		if math.Abs(j.ClockSkewSeconds) >= clockSkewPublishFloor.Seconds() || h.cfg.AllMetrics {
			data = append(data, datum(signal.MetricClockSkew, signal.Dimensions(h.cfg.Cluster, j.InstanceID), j.ClockSkewSeconds))
		}
	}
	if len(data) > 1000 {
		data = data[:1000]
	}
	ev.Calls.Metrics++
	if _, err := h.cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String(signal.Namespace), MetricData: data}); err != nil {
		h.log.WarnContext(ctx, "publishing health check metrics failed", "error", err.Error())
	}
}
