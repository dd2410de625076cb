package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/failover"
	"github.com/prestoha/coordinator-ha/internal/harness/asl"
	"github.com/prestoha/coordinator-ha/internal/harness/sim"
	"github.com/prestoha/coordinator-ha/internal/healthcheck"
	"github.com/prestoha/coordinator-ha/internal/statemachine"
)

// Options configure a campaign.
type Options struct {
	Cluster       string
	Faults        []string      // kinds to draw from; nil means FaultKinds
	MaxFaults     int           // per run, at least 1 (default 6)
	Bootstrap     time.Duration // before the first fault (default 4 min)
	FaultWindow   time.Duration // faults start within this window (default 8 min)
	Settle        time.Duration // after the heal (default 5 min)
	RecoveryBound time.Duration // the ENI holder is healthy for good this long after the last fault (default 15 min); the heal comes after it
	Log           io.Writer     // verbose log of one run (nil: none)
}

func (o Options) withDefaults() Options {
	if o.Cluster == "" {
		o.Cluster = "chaos"
	}
	if len(o.Faults) == 0 {
		o.Faults = FaultKinds
	}
	if o.MaxFaults <= 0 {
		o.MaxFaults = 6
	}
	if o.Bootstrap <= 0 {
		o.Bootstrap = 4 * time.Minute
	}
	if o.FaultWindow <= 0 {
		o.FaultWindow = 8 * time.Minute
	}
	if o.Settle <= 0 {
		o.Settle = 5 * time.Minute
	}
	if o.RecoveryBound <= 0 {
		o.RecoveryBound = 15 * time.Minute
	}
	return o
}

// Violation is a broken invariant, with the seed that reproduces it.
type Violation struct {
	Seed        uint64 `json:"seed"`
	Invariant   string `json:"invariant"`
	Description string `json:"description"`
	Replay      string `json:"replay,omitempty"` // the command that replays the run with a verbose log
}

// ExecSummary is one failover execution of a run.
type ExecSummary struct {
	Name     string   `json:"name"`
	Verdict  string   `json:"verdict"`
	Failed   string   `json:"failedInstance,omitempty"`
	Status   string   `json:"status"`
	Outcome  string   `json:"outcome,omitempty"`
	Error    string   `json:"error,omitempty"`
	States   []string `json:"states"`
	Retries  int      `json:"retries"`
	Timeline int      `json:"timelineEntries"`
}

// RunResult is one seeded run.
type RunResult struct {
	Seed        uint64         `json:"seed"`
	HACount     int            `json:"haCount"`
	Faults      []string       `json:"faults"` // "kind@offset target"
	FaultCounts map[string]int `json:"faultCounts"`
	Executions  []ExecSummary  `json:"executions"`
	BreakerOpen bool           `json:"breakerOpen"`
	// RecoveryExempt says why the recovery invariants did not apply ("" when they did).
	RecoveryExempt string         `json:"recoveryExempt,omitempty"`
	RecoveredIn    *time.Duration `json:"recoveredAfterLastFault,omitempty"`
	Violations     []Violation    `json:"violations"`
	AWSCalls       int            `json:"awsCalls"`
}

// runState is what the invariants need during a run (the gates and observe share it).
type runState struct {
	seed       uint64
	violations []Violation
	lastHolder string
	breakerAt  []time.Time // evaluations the breaker blocked
	log        *slog.Logger
}

type crashPlan struct {
	step  string // "" = the next step, whichever; else its Lambda (statemachine.Task.Lambda)
	after int    // calls before the crash
	name  string // error name Step Functions sees
}

func (r *runState) violate(inv, format string, a ...any) {
	r.violations = append(r.violations, Violation{Seed: r.seed, Invariant: inv, Description: fmt.Sprintf(format, a...)})
}

var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

const (
	subnetID = "subnet-0c0ffee000000000a"
	asgName  = "chaos-coordinators"
)

// campaign is one seeded run: the simulated world, the options, the product under test
// (health checks, step Lambdas, the interpreted state machine) and the state that the
// fault kinds (faultTable) and the invariants share. Every random draw comes from rng,
// in an order fixed by the seed, so a run replays exactly.
type campaign struct {
	o    Options
	rng  *rand.Rand
	log  *slog.Logger
	w    *world
	clk  *simClock
	acct *sim.Account
	rs   *runState
	res  RunResult

	hcCfg     healthcheck.Config
	sandboxes []*sandbox // the health check's Lambda sandboxes (schedule.go)
	realism   sim.Realism
	evals     []evalMark // every evaluation, for the evaluation-gap invariant
	doorbells int        // doorbell invocations the agents asked for
	// servedAtStart: whether the coordinator IP served when each execution started (an
	// attachment stuck attaching, or a guest still configuring it, serves nobody: no
	// witness could have reached the holder through it).
	servedAtStart map[string]bool
	latency       bool            // Step Functions transitions and step cold starts take time
	cons          sim.Consistency // the run's consistency model (eventual_consistency)
	machine       *asl.Machine
	resource      map[string]string      // Task state -> the Lambda its Resource names
	lambdas       map[string]*stepLambda // by statemachine.Task.Lambda
	queue         []sim.Execution        // started, not yet run
	execs         []execRecord
	defaults      sim.Timings
	heal          time.Time // every fault ends
	end           time.Time // the run ends (the heal plus Settle)
	recovery      recoveryWatch

	// What the fault kinds set.
	crash            *crashPlan
	keep             bool // KeepCoordinatorNode is set
	dupTicks         int  // schedule events still to be delivered twice
	overlapTicks     int  // ticks still to run a second, overlapping invocation
	standbyFailArmed bool
}

// stepLambda is one step Lambda: its handler behind a gate (crash faults, fence check).
type stepLambda struct {
	handler failover.Handler
	gate    *gate
}

// Run runs one seeded, reproducible campaign run and checks the invariants.
func Run(seed uint64, opts Options) RunResult {
	c := newCampaign(seed, opts)
	if err := c.setup(); err != nil {
		c.rs.violate("setup", "%v", err)
		c.res.Violations = c.rs.violations
		return c.res
	}
	c.start()
	c.loop(context.Background())
	return c.finish()
}

func newCampaign(seed uint64, opts Options) *campaign {
	o := opts.withDefaults()
	c := &campaign{o: o, rng: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)), res: RunResult{Seed: seed, FaultCounts: map[string]int{}},
		log: slog.New(slog.DiscardHandler), lambdas: map[string]*stepLambda{}, resource: map[string]string{}, servedAtStart: map[string]bool{}}
	if o.Log != nil {
		c.log = slog.New(slog.NewTextHandler(o.Log, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	c.rs = &runState{seed: seed, log: c.log}
	c.w = &world{rng: c.rng, hosts: map[string]*host{}, cfg: o, run: c.rs, realism: campaignRealism(),
		attachSeen: map[string]time.Time{}, ready: map[string]time.Time{}, imdsAt: map[string]time.Time{}}
	c.clk = &simClock{v: clock.NewVirtual(t0), w: c.w}
	c.w.clk = c.clk
	c.acct = sim.New(sim.Options{Clock: c.clk, Seed: int64(seed % (1 << 62))})
	c.w.acct = c.acct
	return c
}

// setup draws the pool size and the breaker, and builds the account, the state machine,
// the health checks and the step Lambdas.
func (c *campaign) setup() error {
	haCount := 3
	if c.rng.IntN(10) < 4 {
		haCount = 1 + c.rng.IntN(5)
	}
	c.res.HACount = haCount
	breakerMax := healthcheck.DefaultBreakerMax // half the runs allow more, so recovery is tested past a third failure
	if c.rng.IntN(2) == 0 {
		breakerMax = 4 + c.rng.IntN(5)
	}
	sm, topic, err := c.buildAccount(haCount)
	if err != nil {
		return err
	}
	if err := c.loadMachine(); err != nil {
		return err
	}
	c.hcCfg = healthcheck.Config{Cluster: c.o.Cluster, ENIID: c.w.eni, ASGName: asgName, HostRoleID: c.w.pool.HostRoleID, StateMachineARN: sm, TopicARN: topic,
		Grace: healthcheck.DefaultGrace, CheckInterval: healthcheck.DefaultCheckInterval, StartupBudget: healthcheck.DefaultStartupBudget,
		IngestionDelay: healthcheck.DefaultIngestionDelay, BreakerMax: breakerMax, BreakerWindow: healthcheck.DefaultBreakerWindow,
		HACount: haCount, MinHealthyReports: healthcheck.DefaultMinHealthyReports, Doorbell: true}
	c.realism = campaignRealism()
	return c.buildLambdas(haCount, topic)
}

// campaignRealism is sim.DefaultRealism without the static ENI configuration: the
// campaign draws the wider guest distribution of amazon-ec2-net-utils alone (tails to
// 20 s), since a host whose AMI does not run systemd-networkd boots without the static
// file (infra/coordinator/bootstrap.sh says so and goes on), and the invariants must
// hold on such a host too.
func campaignRealism() sim.Realism {
	r := sim.DefaultRealism()
	r.StaticENIConfig = false
	return r
}

// buildAccount creates the subnet, the coordinator ENI, the state machine, the topic and
// the Auto Scaling group of haCount coordinators; it returns the state machine's and the
// topic's ARNs.
func (c *campaign) buildAccount(haCount int) (sm, topic string, err error) {
	acct := c.acct
	acct.OnInstanceLaunched(func(id string) {
		h := c.w.hostOf(id)
		h.proc = prestoStarting
		h.readyAt = c.clk.Now().Add(acct.Timings().PendingToRunning + time.Duration(20+c.rng.IntN(70))*time.Second)
	})
	acct.OnStartExecution(func(e sim.Execution) {
		c.queue = append(c.queue, e)
		c.servedAtStart[e.Name] = c.w.serving()
	})
	acct.OnInvoke(c.ring)
	pool, err := sim.NewPool(acct, sim.PoolSpec{Cluster: c.o.Cluster, Coordinators: haCount, Max: haCount + 2,
		SubnetID: subnetID, ASGName: asgName, StateMachine: "chaos-failover", Topic: "chaos-failovers"})
	if err != nil {
		return "", "", fmt.Errorf("pool: %w", err)
	}
	c.w.eni = pool.ENIID
	// Every caller under the policy the stack synthesizes (permissions.Statements): each
	// agent as its own instance role session, each Lambda with its own role.
	pool.EnforcePolicies()
	c.w.pool = pool
	return pool.StateMachineARN, pool.TopicARN, nil
}

// loadMachine renders the real definition, each Task's Resource naming its Lambda
// (statemachine.Tasks), and parses it for the interpreter.
func (c *campaign) loadMachine() error {
	arns := map[string]string{}
	for _, t := range statemachine.Tasks {
		arns[t.Placeholder] = t.Lambda
	}
	def, err := statemachine.Render(arns)
	if err != nil {
		return fmt.Errorf("rendering the state machine: %w", err)
	}
	if c.machine, err = asl.Parse(def); err != nil {
		return fmt.Errorf("state machine: %w", err)
	}
	for name, s := range c.machine.States {
		if s.Type == "Task" {
			c.resource[name] = s.Resource
		}
	}
	return nil
}

func (c *campaign) newHealthCheck(keep bool) *healthcheck.Handler {
	cfg := c.hcCfg
	cfg.KeepCoordinator = keep
	cl := c.w.pool.ClientsOf(statemachine.HealthCheckLambda)
	h, err := healthcheck.New(cfg, healthcheck.Deps{AutoScaling: cl.AutoScaling, EC2: cl.EC2, CloudWatch: cl.CloudWatch, SFN: cl.SFN, SNS: cl.SNS, Clock: c.clk,
		Logger: c.log.With("component", statemachine.HealthCheckLambda)})
	if err != nil {
		panic(fmt.Sprintf("chaos: health check config: %v", err))
	}
	return h
}

// buildLambdas builds the step Lambdas of statemachine.Tasks, each calling the account
// through its gate under its own caller name.
func (c *campaign) buildLambdas(haCount int, topic string) error {
	fcfg := failover.Config{Cluster: c.o.Cluster, ENIID: c.w.eni, ASGName: asgName, HostRoleID: c.w.pool.HostRoleID, HACount: haCount, MinHealthyReports: 3,
		MaxAttachAttempts: failover.DefaultMaxAttachAttempts, TopicARN: topic}
	for _, t := range statemachine.Tasks {
		g := &gate{w: c.w, left: -1}
		cl := c.w.pool.ClientsOf(t.Lambda)
		s, err := failover.New(fcfg, failover.Deps{EC2: gateEC2{cl.EC2, g}, AutoScaling: gateASG{cl.AutoScaling, g},
			CloudWatch: gateCW{cl.CloudWatch, g}, SNS: gateSNS{cl.SNS, g}, Clock: c.clk, Log: c.log.With("component", t.Lambda), Jitter: c.rng.Float64})
		if err != nil {
			return fmt.Errorf("failover steps: %w", err)
		}
		c.lambdas[t.Lambda] = &stepLambda{handler: s.Handlers()[t.Step], gate: g}
	}
	return nil
}

// task serves a Task state with its step Lambda, crashing it half-way when a crash is
// armed for it.
func (c *campaign) task(ctx context.Context, state string, in events.FailoverState) (events.FailoverState, error) {
	fn := c.resource[state]
	l := c.lambdas[fn]
	if l == nil {
		return in, &asl.Error{Name: "States.TaskFailed", Cause: "no handler for resource " + fn}
	}
	if c.latency { // the state transition and, for a new sandbox, the cold start
		_ = c.clk.Sleep(ctx, c.realism.Transition(c.rng)+c.realism.ColdStart(c.rng))
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g := l.gate
	g.crashed, g.left, g.cancel = false, -1, cancel
	if cp := c.crash; cp != nil && (cp.step == "" || cp.step == fn) {
		g.left = cp.after
		c.crash = nil
		c.log.Info("chaos: step will crash", "state", state, "afterCalls", cp.after, "as", cp.name)
		out, err := l.handler(cctx, in)
		if g.crashed {
			return in, &asl.Error{Name: cp.name, Cause: fmt.Sprintf("%s crashed after %d AWS calls", state, cp.after)}
		}
		return out, err
	}
	return l.handler(cctx, in)
}

// start schedules the world on the simulated clock: the agents and the health check
// from the start, the bootstrap check, the planned faults, the heal and the recovery
// watch.
func (c *campaign) start() {
	o := c.o
	c.heal = t0.Add(o.Bootstrap + o.FaultWindow + o.RecoveryBound)
	c.end = c.heal.Add(o.Settle)
	c.w.every(t0.Add(time.Duration(c.rng.IntN(5000))*time.Millisecond), c.end, 5*time.Second, c.w.agentsTick)
	c.scheduleTicks()
	c.w.schedule(t0.Add(o.Bootstrap-time.Second), func() {
		if hd := c.w.holder(); hd == "" || c.w.hostOf(hd).proc != prestoUp {
			c.rs.violate("bootstrap", "the ENI was not on a healthy coordinator %s after start (holder %q)", o.Bootstrap, hd)
		}
	})
	c.defaults = c.acct.Timings()
	c.switchPerRun()
	plan := c.planFaults()
	c.acct.OnStartExecution(c.onStartExecution)
	for _, p := range plan {
		c.w.schedule(p.at, func() { c.inject(p.kind) })
	}
	c.w.schedule(c.heal, c.healAll)
	c.recovery = recoveryWatch{lastFault: plan[len(plan)-1].at}
	c.w.every(t0.Add(o.Bootstrap), c.end, 5*time.Second, c.watchRecovery)
}

// evaluate runs one evaluation and reports whether it was calm, as Handle reads it (a
// failed evaluation never is).
func (c *campaign) evaluate(h *healthcheck.Handler) (calm bool) {
	at := c.clk.Now()
	ev, err := h.Evaluate(context.Background())
	actionable := err != nil
	switch ev.Verdict {
	case events.VerdictFailed, events.VerdictGone, events.VerdictUnattached, events.VerdictSuspect:
		actionable = true
	}
	calm = ev.Calm && err == nil
	c.evals = append(c.evals, evalMark{at: at, calm: calm, actionable: actionable})
	if err != nil {
		c.log.Info("chaos: evaluation failed", "error", err)
	}
	if ev.Action == healthcheck.ActionBlockedBreaker {
		c.rs.breakerAt = append(c.rs.breakerAt, c.clk.Now())
	}
	if c.o.Log != nil && ev.Verdict != events.VerdictHealthy {
		c.log.Info("chaos: evaluation", "verdict", ev.Verdict, "instance", ev.Instance, "action", ev.Action, "reason", ev.Reason)
	}
	return calm
}

// loop lets time pass; executions the health check started run one at a time through
// the interpreted state machine (their steps' waits let the world go on).
func (c *campaign) loop(ctx context.Context) {
	for c.clk.Now().Before(c.end) || len(c.queue) > 0 {
		if len(c.queue) > 0 {
			e := c.queue[0]
			c.queue = c.queue[1:]
			c.execs = append(c.execs, c.runExecution(ctx, e))
			continue
		}
		if !c.clk.Now().Before(c.end) {
			break
		}
		_ = c.clk.Sleep(ctx, time.Second)
	}
}

type execRecord struct {
	exec   sim.Execution
	input  *events.FailoverState
	result asl.Result
}

func (c *campaign) runExecution(ctx context.Context, e sim.Execution) execRecord {
	rec := execRecord{exec: e}
	in, err := events.DecodeFailoverState([]byte(e.Input))
	if err != nil {
		c.rs.violate("execution-input", "execution %s started with an input the steps refuse: %v", e.Name, err)
		_ = c.acct.FinishExecution(e.ARN, "FAILED", "{}")
		return rec
	}
	rec.input = in
	c.log.Info("chaos: execution", "name", e.Name, "verdict", in.Verdict, "failed", in.FailedInstanceID)
	rec.result = asl.Run(ctx, c.machine, *in, asl.Env{Clock: c.clk, Jitter: c.rng.Float64, Task: c.task, Observe: c.w.observe})
	out, _ := json.Marshal(rec.result.Doc)
	if err := c.acct.FinishExecution(e.ARN, rec.result.Status, string(out)); err != nil {
		c.rs.violate("execution-end", "finishing %s: %v", e.Name, err)
	}
	var states []string
	for _, v := range rec.result.Visits {
		states = append(states, v.State+"="+v.Outcome)
	}
	c.log.Info("chaos: execution ended", "name", e.Name, "status", rec.result.Status, "error", rec.result.Error,
		"states", strings.Join(states, " "))
	return rec
}

// finish checks the invariants at the end of the run.
func (c *campaign) finish() RunResult {
	c.res.BreakerOpen = len(c.rs.breakerAt) > 0
	if !c.recovery.candidateSeen {
		c.res.RecoveryExempt = "no healthy coordinator to move the ENI to for 2 minutes within the bound after the last fault"
	}
	c.checkEnd()
	// Every caller runs under its synthesized policy: a refused call means the product
	// needs a permission it is not granted.
	for _, call := range c.acct.Calls() {
		if strings.Contains(call.Err, "is not authorized to perform") {
			c.rs.violate("iam", "IAM refused %s by %s: %s", call.Action(), call.Caller, call.Err)
			break
		}
	}
	c.res.AWSCalls = len(c.acct.Calls())
	c.res.Violations = c.rs.violations
	return c.res
}
