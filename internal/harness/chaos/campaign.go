package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/config"
	"github.com/prestoha/coordinator-ha/internal/failover"
	"github.com/prestoha/coordinator-ha/internal/harness/asl"
	"github.com/prestoha/coordinator-ha/internal/harness/sim"
	"github.com/prestoha/coordinator-ha/internal/healthcheck"
	"github.com/prestoha/coordinator-ha/internal/statemachine"
)

// Fault kinds the campaign injects.
const (
	FaultPrestoExit        = "presto_exit"
	FaultPrestoHang        = "presto_hang"
	FaultPrestoSlow        = "presto_slow"
	FaultAgentDeath        = "agent_death"
	FaultHostSilence       = "host_silence"
	FaultTerminatedOutside = "terminated_outside"
	FaultCWPathCut         = "cw_path_cut"
	FaultPartition         = "partition"
	FaultThrottle          = "aws_throttle"
	Fault5xx               = "aws_5xx"
	FaultStaleReads        = "stale_reads"
	FaultLostReply         = "lost_reply"
	FaultENIStuck          = "eni_stuck_detaching"
	FaultASGSlow           = "asg_slow"
	FaultASGSuspended      = "asg_suspended"
	FaultStepCrash         = "step_crash"
	FaultDuplicateTick     = "duplicate_tick"
	FaultOverlappingTick   = "overlapping_tick"
	FaultStandbyFails      = "standby_fails_during_failover"
	FaultKeepFlip          = "keep_coordinator_flip"
)

// FaultKinds lists every fault kind.
var FaultKinds = []string{FaultPrestoExit, FaultPrestoHang, FaultPrestoSlow, FaultAgentDeath, FaultHostSilence,
	FaultTerminatedOutside, FaultCWPathCut, FaultPartition, FaultThrottle, Fault5xx, FaultStaleReads, FaultLostReply,
	FaultENIStuck, FaultASGSlow, FaultASGSuspended, FaultStepCrash, FaultDuplicateTick, FaultOverlappingTick,
	FaultStandbyFails, FaultKeepFlip}

// hostFaults make a coordinator really fail (a failover of it is justified); the
// agent-side faults alone must never cause one while a witness can vouch for it.
var hostFaults = map[string]bool{FaultPrestoExit: true, FaultPrestoHang: true, FaultPrestoSlow: true,
	FaultHostSilence: true, FaultTerminatedOutside: true, FaultStandbyFails: true}

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

// runState is what the invariants need during a run.
type runState struct {
	seed       uint64
	violations []Violation
	lastHolder string
	queue      []sim.Execution
	crash      *crashPlan
	keep       bool
	breakerAt  []time.Time // evaluations the breaker blocked
	log        *slog.Logger
}

type crashPlan struct {
	step  string // "" = the next step, whichever
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

// observe samples the account after every background event and every step: at most one
// attachment of the ENI, and who holds it.
func (w *world) observe() {
	e, ok := w.acct.ENI(w.eni)
	if !ok {
		w.run.violate("eni", "the coordinator ENI disappeared")
		return
	}
	n := 0
	for _, inst := range w.acct.Instances() {
		for _, a := range inst.Attachments {
			if a.ENIID == w.eni {
				n++
			}
		}
	}
	if n > 1 {
		w.run.violate("single-attachment", "the ENI shows %d attachments at %s", n, w.clk.Now().Format(time.TimeOnly))
	}
	if e.Attachment != nil {
		w.run.lastHolder = e.Attachment.InstanceID
	}
}

// Run runs one seeded, reproducible campaign run and checks the invariants.
func Run(seed uint64, opts Options) RunResult {
	o := opts.withDefaults()
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	res := RunResult{Seed: seed, FaultCounts: map[string]int{}}
	logger := slog.New(slog.DiscardHandler)
	if o.Log != nil {
		logger = slog.New(slog.NewTextHandler(o.Log, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	rs := &runState{seed: seed, log: logger}
	w := &world{rng: rng, hosts: map[string]*host{}, cfg: o, run: rs}
	clk := &simClock{v: clock.NewVirtual(t0), w: w}
	w.clk = clk
	acct := sim.New(sim.Options{Clock: clk, Seed: int64(seed % (1 << 62))})
	w.acct = acct
	ctx := context.Background()
	haCount := 3
	if rng.IntN(10) < 4 {
		haCount = 1 + rng.IntN(5)
	}
	res.HACount = haCount
	breakerMax := healthcheck.DefaultBreakerMax // half the runs allow more, so recovery is tested past a third failure
	if rng.IntN(2) == 0 {
		breakerMax = 4 + rng.IntN(5)
	}
	fatal := func(what string, err error) RunResult {
		rs.violate("setup", "%s: %v", what, err)
		res.Violations = rs.violations
		return res
	}
	if err := acct.AddSubnet(subnetID, "us-east-1a", "10.0.1.0/24"); err != nil {
		return fatal("subnet", err)
	}
	eni, err := acct.CreateNetworkInterface(subnetID, "", "coordinator", map[string]string{config.TagCluster: o.Cluster})
	if err != nil {
		return fatal("eni", err)
	}
	w.eni = eni
	acct.OnInstanceLaunched(func(id string) {
		h := w.hostOf(id)
		h.proc = prestoStarting
		h.readyAt = clk.Now().Add(acct.Timings().PendingToRunning + time.Duration(20+rng.IntN(70))*time.Second)
	})
	acct.OnStartExecution(func(e sim.Execution) { rs.queue = append(rs.queue, e) })
	sm := acct.CreateStateMachine("chaos-failover")
	topic := acct.CreateTopic("chaos-failovers")
	if err := acct.CreateAutoScalingGroup(sim.ASGSpec{Name: asgName, SubnetID: subnetID, Min: 0, Max: haCount + 2, Desired: haCount,
		Tags: map[string]string{config.TagCluster: o.Cluster}}); err != nil {
		return fatal("asg", err)
	}
	w.agent = acct.Clients("agent")

	def, err := statemachine.Render(map[string]string{
		statemachine.TerminateFunctionArn: "terminate", statemachine.AttachENIFunctionArn: "attacheni",
		statemachine.LaunchStandbyFunctionArn: "launchstandby", statemachine.NotifyFunctionArn: "notify"})
	if err != nil {
		return fatal("rendering the state machine", err)
	}
	machine, err := asl.Parse(def)
	if err != nil {
		return fatal("state machine", err)
	}

	hcCfg := healthcheck.Config{Cluster: o.Cluster, ENIID: eni, ASGName: asgName, StateMachineARN: sm, TopicARN: topic,
		Grace: healthcheck.DefaultGrace, CheckInterval: healthcheck.DefaultCheckInterval, StartupBudget: healthcheck.DefaultStartupBudget,
		IngestionDelay: healthcheck.DefaultIngestionDelay, BreakerMax: breakerMax, BreakerWindow: healthcheck.DefaultBreakerWindow,
		HACount: haCount, MinHealthyReports: healthcheck.DefaultMinHealthyReports}
	newHC := func(keep bool) *healthcheck.Handler {
		c := hcCfg
		c.KeepCoordinator = keep
		cl := acct.Clients("healthcheck")
		h, err := healthcheck.New(c, healthcheck.Deps{EC2: cl.EC2, CloudWatch: cl.CloudWatch, SFN: cl.SFN, SNS: cl.SNS, Clock: clk,
			Logger: logger.With("component", "healthcheck")})
		if err != nil {
			panic(fmt.Sprintf("chaos: health check config: %v", err))
		}
		return h
	}
	hc, hc2 := newHC(false), newHC(false)

	// The four step Lambdas, each behind a gate (crash faults, fence check).
	gates := map[string]*gate{}
	handlers := map[string]failover.Handler{}
	fcfg := failover.Config{Cluster: o.Cluster, ENIID: eni, ASGName: asgName, HACount: haCount, MinHealthyReports: 3,
		MaxAttachAttempts: failover.DefaultMaxAttachAttempts, TopicARN: topic}
	for _, step := range []string{"terminate", "attacheni", "launchstandby", "notify"} {
		g := &gate{w: w, left: -1}
		gates[step] = g
		cl := acct.Clients(step)
		s, err := failover.New(fcfg, failover.Deps{EC2: gateEC2{cl.EC2, g}, AutoScaling: gateASG{cl.AutoScaling, g},
			CloudWatch: gateCW{cl.CloudWatch, g}, SNS: gateSNS{cl.SNS, g}, Clock: clk, Log: logger.With("component", step), Jitter: rng.Float64})
		if err != nil {
			return fatal("failover steps", err)
		}
		hs := s.Handlers()
		switch step {
		case "terminate":
			handlers[step] = hs[events.StepTerminate]
		case "attacheni":
			handlers[step] = hs[events.StepAttachENI]
		case "launchstandby":
			handlers[step] = hs[events.StepLaunch]
		case "notify":
			handlers[step] = hs[events.StepNotify]
		}
	}
	resource := map[string]string{}
	for name, s := range machine.States {
		if s.Type == "Task" {
			resource[name] = s.Resource
		}
	}
	task := func(ctx context.Context, state string, in events.FailoverState) (events.FailoverState, error) {
		fn := resource[state]
		h, g := handlers[fn], gates[fn]
		if h == nil {
			return in, &asl.Error{Name: "States.TaskFailed", Cause: "no handler for resource " + fn}
		}
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		g.crashed, g.left, g.cancel = false, -1, cancel
		if c := rs.crash; c != nil && (c.step == "" || c.step == fn) {
			g.left = c.after
			rs.crash = nil
			logger.Info("chaos: step will crash", "state", state, "afterCalls", c.after, "as", c.name)
			out, err := h(cctx, in)
			if g.crashed {
				return in, &asl.Error{Name: c.name, Cause: fmt.Sprintf("%s crashed after %d AWS calls", state, c.after)}
			}
			return out, err
		}
		return h(cctx, in)
	}

	// The agents and the health check run on the simulated clock from the start.
	heal := t0.Add(o.Bootstrap + o.FaultWindow + o.RecoveryBound)
	end := heal.Add(o.Settle)
	w.every(t0.Add(time.Duration(rng.IntN(5000))*time.Millisecond), end, 5*time.Second, w.agentsTick)
	evaluate := func(h *healthcheck.Handler) {
		ev, err := h.Evaluate(ctx)
		if err != nil {
			logger.Info("chaos: evaluation failed", "error", err)
		}
		if ev.Action == healthcheck.ActionBlockedBreaker {
			rs.breakerAt = append(rs.breakerAt, clk.Now())
		}
		if o.Log != nil && ev.Verdict != events.VerdictHealthy {
			logger.Info("chaos: evaluation", "verdict", ev.Verdict, "instance", ev.Instance, "action", ev.Action, "reason", ev.Reason)
		}
	}
	dupTick, overlapTick := 0, 0
	w.every(t0.Add(10*time.Second), end, hcCfg.CheckInterval, func() {
		evaluate(hc)
		for ; dupTick > 0; dupTick-- {
			evaluate(hc) // the same schedule event delivered twice
		}
		for ; overlapTick > 0; overlapTick-- {
			evaluate(hc2) // a second invocation in another Lambda sandbox
		}
	})

	// Bootstrap check, then the faults.
	w.schedule(t0.Add(o.Bootstrap-time.Second), func() {
		if hd := w.holder(); hd == "" || w.hostOf(hd).proc != prestoUp {
			rs.violate("bootstrap", "the ENI was not on a healthy coordinator %s after start (holder %q)", o.Bootstrap, hd)
		}
	})
	nFaults := 1 + rng.IntN(o.MaxFaults)
	type planned struct {
		at   time.Time
		kind string
	}
	// Most runs centre on one real failure of the active coordinator at tf, with the other
	// faults around it, so the faults that matter only during a failover (a stuck detach,
	// a crashing step, a slow ASG, a standby failing) meet one.
	var plan []planned
	tf := t0.Add(o.Bootstrap + time.Duration(rng.Int64N(int64(o.FaultWindow)/2)))
	var primary []string
	for _, k := range o.Faults {
		if k == FaultPrestoExit || k == FaultHostSilence || k == FaultTerminatedOutside || k == FaultPrestoHang {
			primary = append(primary, k)
		}
	}
	for i := range nFaults {
		kind := o.Faults[rng.IntN(len(o.Faults))]
		at := t0.Add(o.Bootstrap + time.Duration(rng.Int64N(int64(o.FaultWindow))))
		if i == 0 && len(primary) > 0 && rng.IntN(10) < 8 {
			kind, at = primary[rng.IntN(len(primary))], tf
		} else if rng.IntN(10) < 6 {
			at = tf.Add(time.Duration(rng.Int64N(int64(4*time.Minute))) - time.Minute)
		}
		if first := t0.Add(o.Bootstrap); at.Before(first) {
			at = first // the bootstrap check sees a settled cluster before any fault
		}
		plan = append(plan, planned{at, kind})
	}
	sort.Slice(plan, func(i, j int) bool { return plan[i].at.Before(plan[j].at) })
	defaults := acct.Timings()
	pickHost := func(preferActive bool) *host {
		var ids []string
		for _, inst := range acct.Instances() {
			if inst.State == "running" && inst.ASG == asgName {
				ids = append(ids, inst.ID)
			}
		}
		if hd := w.holder(); hd != "" && (preferActive && rng.IntN(10) < 6 || len(ids) == 0) {
			return w.hostOf(hd)
		}
		if len(ids) == 0 {
			return nil
		}
		return w.hostOf(ids[rng.IntN(len(ids))])
	}
	healAt := func(d time.Duration) time.Time {
		t := clk.Now().Add(d)
		if t.After(heal) {
			t = heal
		}
		return t
	}
	randDur := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(rng.Int64N(int64(hi-lo)+1)) }
	callers := []string{"", "healthcheck", "terminate", "attacheni", "launchstandby", "notify", "agent"}
	services := []string{"", "ec2", "autoscaling", "cloudwatch", "states", "sns"}
	record := func(kind, target string) {
		res.FaultCounts[kind]++
		res.Faults = append(res.Faults, fmt.Sprintf("%s@%s %s", kind, clk.Now().Sub(t0).Round(time.Second), target))
		logger.Info("chaos: fault", "kind", kind, "target", target)
	}
	standbyFailArmed := false
	acct.OnStartExecution(func(sim.Execution) {
		if !standbyFailArmed {
			return
		}
		standbyFailArmed = false
		w.schedule(clk.Now().Add(randDur(time.Second, 20*time.Second)), func() {
			hd := w.holder()
			for _, inst := range acct.Instances() {
				if inst.State == "running" && inst.ID != hd && w.hostOf(inst.ID).proc == prestoUp {
					h := w.hostOf(inst.ID)
					h.faults[FaultStandbyFails] = true
					if rng.IntN(2) == 0 {
						h.proc = prestoDown
					} else {
						_ = acct.TerminateFromOutside(inst.ID)
					}
					logger.Info("chaos: standby failed during the failover", "instance", inst.ID)
					return
				}
			}
		})
	})
	for _, p := range plan {
		kind := p.kind
		w.schedule(p.at, func() {
			switch kind {
			case FaultPrestoExit, FaultPrestoHang, FaultPrestoSlow, FaultAgentDeath, FaultHostSilence, FaultCWPathCut:
				h := pickHost(true)
				if h == nil {
					return
				}
				h.faults[kind] = true
				record(kind, h.id)
				d := randDur(5*time.Second, 4*time.Minute)
				switch kind {
				case FaultPrestoExit:
					h.proc = prestoDown
					if rng.IntN(2) == 0 { // systemd restarts it
						w.schedule(healAt(d), func() {
							if h.proc == prestoDown {
								h.proc, h.readyAt = prestoStarting, clk.Now().Add(randDur(20*time.Second, 90*time.Second))
							}
						})
					}
				case FaultPrestoHang:
					h.proc = prestoHung
					w.schedule(healAt(d), func() {
						if h.proc == prestoHung {
							h.proc = prestoUp
						}
					})
				case FaultPrestoSlow:
					h.proc = prestoSlow
					w.schedule(healAt(d), func() {
						if h.proc == prestoSlow {
							h.proc = prestoUp
						}
					})
				case FaultAgentDeath:
					h.agentDead = true
					w.schedule(healAt(d), func() { h.agentDead = false })
				case FaultHostSilence:
					h.silent = true
					w.schedule(healAt(d), func() { h.silent = false })
				case FaultCWPathCut:
					h.cwCut = true
					w.schedule(healAt(d), func() { h.cwCut = false })
				}
			case FaultTerminatedOutside:
				h := pickHost(true)
				if h == nil {
					return
				}
				h.faults[kind] = true
				record(kind, h.id)
				_ = acct.TerminateFromOutside(h.id)
			case FaultPartition:
				h := pickHost(false)
				if h == nil {
					return
				}
				h.faults[kind] = true
				record(kind, h.id)
				h.cutFrom = true
				w.schedule(healAt(randDur(10*time.Second, 4*time.Minute)), func() { h.cutFrom = false })
			case FaultThrottle, Fault5xx, FaultStaleReads, FaultLostReply:
				f := sim.Fault{Caller: callers[rng.IntN(len(callers))], Times: 1 + rng.IntN(10)}
				switch kind {
				case FaultThrottle:
					f.Kind, f.Service = sim.Throttle, services[rng.IntN(len(services))]
				case Fault5xx:
					f.Kind, f.Service = sim.ServerError, services[rng.IntN(len(services))]
				case FaultStaleReads:
					f.Kind, f.Latency = sim.StaleRead, randDur(2*time.Second, 15*time.Second)
				case FaultLostReply:
					ops := []string{"AttachNetworkInterface", "DetachNetworkInterface", "TerminateInstanceInAutoScalingGroup", "SetDesiredCapacity", "CreateTags", "StartExecution"}
					f.Kind, f.Operation, f.Times = sim.LostReply, ops[rng.IntN(len(ops))], 1
				}
				record(kind, fmt.Sprintf("service=%q op=%q caller=%q times=%d", f.Service, f.Operation, f.Caller, f.Times))
				acct.Inject(f)
			case FaultENIStuck:
				d := randDur(20*time.Second, 3*time.Minute)
				record(kind, d.String())
				_ = acct.StickENIDetach(eni, d)
			case FaultASGSlow:
				t := acct.Timings()
				t.ASGReplaceDelay = randDur(time.Minute, 5*time.Minute)
				t.PendingToRunning = randDur(time.Minute, 3*time.Minute)
				record(kind, fmt.Sprintf("replace %s pending %s", t.ASGReplaceDelay, t.PendingToRunning))
				acct.SetTimings(t)
				w.schedule(healAt(randDur(time.Minute, 6*time.Minute)), func() { acct.SetTimings(defaults) })
			case FaultASGSuspended:
				record(kind, asgName)
				_ = acct.SetASGSuspended(asgName, true)
				w.schedule(healAt(randDur(time.Minute, 6*time.Minute)), func() { _ = acct.SetASGSuspended(asgName, false) })
			case FaultStepCrash:
				steps := []string{"", "terminate", "attacheni", "launchstandby", "notify"}
				names := []string{"Lambda.ServiceException", "Lambda.ServiceException", "Runtime.ExitError", "Sandbox.Timedout"}
				rs.crash = &crashPlan{step: steps[rng.IntN(len(steps))], after: 1 + rng.IntN(8), name: names[rng.IntN(len(names))]}
				record(kind, fmt.Sprintf("step=%q after=%d as %s", rs.crash.step, rs.crash.after, rs.crash.name))
			case FaultDuplicateTick:
				dupTick += 1 + rng.IntN(3)
				record(kind, "")
			case FaultOverlappingTick:
				overlapTick += 1 + rng.IntN(3)
				record(kind, "")
			case FaultStandbyFails:
				standbyFailArmed = true
				record(kind, "next failover")
			case FaultKeepFlip:
				rs.keep = !rs.keep
				hc = newHC(rs.keep)
				record(kind, fmt.Sprintf("KeepCoordinatorNode=%v", rs.keep))
				if rs.keep {
					w.schedule(healAt(randDur(30*time.Second, 5*time.Minute)), func() {
						if rs.keep {
							rs.keep = false
							hc = newHC(false)
						}
					})
				}
			}
		})
	}
	// The heal: every fault ends; processes that exited are restarted.
	w.schedule(heal, func() {
		acct.ClearFaults()
		acct.SetTimings(defaults)
		_ = acct.SetASGSuspended(asgName, false)
		rs.crash = nil
		standbyFailArmed = false
		if rs.keep {
			rs.keep = false
			hc = newHC(false)
		}
		ids := make([]string, 0, len(w.hosts))
		for id := range w.hosts {
			ids = append(ids, id)
		}
		sort.Strings(ids) // map order would make the random restart times differ between replays
		for _, id := range ids {
			h := w.hosts[id]
			h.agentDead, h.cwCut, h.silent, h.cutFrom = false, false, false, false
			switch h.proc {
			case prestoDown:
				h.proc, h.readyAt = prestoStarting, clk.Now().Add(randDur(20*time.Second, 90*time.Second))
			case prestoHung, prestoSlow:
				h.proc = prestoUp
			}
		}
		logger.Info("chaos: heal")
	})
	// When does the ENI holder become healthy for good? And was there, after the last
	// fault, a healthy coordinator to move it to for long enough (2 min) before the bound?
	// Without one, recovery is not expected of the product (it does not replace a standby
	// whose Presto is down, only missing instances).
	var healthySince *time.Time
	lastFault := plan[len(plan)-1].at
	candidateRun, candidateSeen := 0, false
	w.every(t0.Add(o.Bootstrap), end, 5*time.Second, func() {
		if now := clk.Now(); !now.Before(lastFault) && now.Before(lastFault.Add(o.RecoveryBound-time.Minute)) {
			found := false
			for _, inst := range acct.Instances() {
				if h := w.hosts[inst.ID]; h != nil && inst.State == "running" && h.proc == prestoUp && !h.silent && !h.agentDead && !h.cwCut {
					found = true
					break
				}
			}
			if found {
				candidateRun++
			} else {
				candidateRun = 0
			}
			if candidateRun >= 24 {
				candidateSeen = true
			}
		}
		hd := w.holder()
		ok := false
		if hd != "" {
			if inst, found := acct.Instance(hd); found && inst.State == "running" {
				e, _ := acct.ENI(eni)
				ok = e.Attachment != nil && e.Attachment.Status == "attached" && w.hostOf(hd).proc == prestoUp
			}
		}
		switch {
		case ok && healthySince == nil:
			t := clk.Now()
			healthySince = &t
		case !ok:
			healthySince = nil
		}
	})

	// The main loop: time passes; executions the health check started run one at a time
	// through the interpreted state machine (their steps' waits let the world go on).
	var execs []execRecord
	for clk.Now().Before(end) || len(rs.queue) > 0 {
		if len(rs.queue) > 0 {
			e := rs.queue[0]
			rs.queue = rs.queue[1:]
			execs = append(execs, w.runExecution(ctx, machine, e, task))
			continue
		}
		if !clk.Now().Before(end) {
			break
		}
		_ = clk.Sleep(ctx, time.Second)
	}

	// Invariants at the end of the run.
	res.BreakerOpen = len(rs.breakerAt) > 0
	if !candidateSeen {
		res.RecoveryExempt = "no healthy coordinator to move the ENI to for 2 minutes within the bound after the last fault"
	}
	w.checkEnd(&res, execs, healthySince, lastFault, hcCfg)
	res.AWSCalls = len(acct.Calls())
	res.Violations = rs.violations
	return res
}

type execRecord struct {
	exec   sim.Execution
	input  *events.FailoverState
	result asl.Result
}

func (w *world) runExecution(ctx context.Context, m *asl.Machine, e sim.Execution, task asl.TaskFunc) execRecord {
	rec := execRecord{exec: e}
	in, err := events.DecodeFailoverState([]byte(e.Input))
	if err != nil {
		w.run.violate("execution-input", "execution %s started with an input the steps refuse: %v", e.Name, err)
		_ = w.acct.FinishExecution(e.ARN, "FAILED", "{}")
		return rec
	}
	rec.input = in
	w.run.log.Info("chaos: execution", "name", e.Name, "verdict", in.Verdict, "failed", in.FailedInstanceID)
	rec.result = asl.Run(ctx, m, *in, asl.Env{Clock: w.clk, Jitter: w.rng.Float64, Task: task, Observe: w.observe})
	out, _ := json.Marshal(rec.result.Doc)
	if err := w.acct.FinishExecution(e.ARN, rec.result.Status, string(out)); err != nil {
		w.run.violate("execution-end", "finishing %s: %v", e.Name, err)
	}
	var states []string
	for _, v := range rec.result.Visits {
		states = append(states, v.State+"="+v.Outcome)
	}
	w.run.log.Info("chaos: execution ended", "name", e.Name, "status", rec.result.Status, "error", rec.result.Error,
		"states", strings.Join(states, " "))
	return rec
}

// taskStep maps a Task state to the timeline step name its handler writes.
func taskStep(state string) string {
	switch state {
	case "LaunchStandbyForAttach":
		return events.StepLaunch
	case "NotifyFailure":
		return events.StepNotify
	}
	return state
}

func (w *world) checkEnd(res *RunResult, execs []execRecord, healthySince *time.Time, lastFault time.Time, hc healthcheck.Config) {
	rs := w.run
	o := w.cfg
	// No execution left running.
	for _, e := range w.acct.Executions() {
		if e.Status == "RUNNING" {
			rs.violate("no-running-execution", "execution %s is still RUNNING at the end", e.Name)
		}
	}
	// Circuit breaker: never more than BreakerMax starts within one window.
	all := w.acct.Executions()
	for i, e := range all {
		n := 0
		for _, f := range all[:i+1] {
			if e.StartDate.Sub(f.StartDate) < hc.BreakerWindow {
				n++
			}
		}
		if n > hc.BreakerMax {
			rs.violate("circuit-breaker", "%d failovers started within %s up to %s (max %d)", n, hc.BreakerWindow, e.Name, hc.BreakerMax)
			break
		}
	}
	witnessImpaired := res.FaultCounts[FaultPartition] > 0 || res.FaultCounts[FaultHostSilence] > 0 ||
		res.FaultCounts[FaultAgentDeath] > 1 || res.FaultCounts[FaultCWPathCut] > 1 ||
		(res.FaultCounts[FaultAgentDeath] > 0 && res.FaultCounts[FaultCWPathCut] > 0) ||
		res.FaultCounts[FaultThrottle]+res.FaultCounts[Fault5xx] > 0 || res.HACount == 1
	fencedBy := map[string]string{} // failed instance -> the execution that fenced it
	for _, r := range execs {
		if r.input == nil {
			continue
		}
		in, rr := r.input, r.result
		var states []string
		for _, v := range rr.Visits {
			states = append(states, v.State)
		}
		sum := ExecSummary{Name: r.exec.Name, Verdict: string(in.Verdict), Failed: in.FailedInstanceID, Status: rr.Status,
			Error: rr.Error, States: states, Retries: rr.Retried, Timeline: len(rr.Doc.Timeline)}
		if rr.Doc.Notify != nil {
			sum.Outcome = rr.Doc.Notify.Outcome
		}
		res.Executions = append(res.Executions, sum)
		// Readable history: a timeline, and an entry from every step that completed.
		if len(rr.Doc.Timeline) == 0 {
			rs.violate("history", "execution %s has an empty timeline", r.exec.Name)
		}
		for _, st := range rr.Completed {
			step := taskStep(st)
			found := false
			for _, e := range rr.Doc.Timeline {
				if e.Step == step {
					found = true
					break
				}
			}
			if !found {
				rs.violate("history", "execution %s: state %s completed but the timeline has no %s entry", r.exec.Name, st, step)
			}
		}
		// No second failover for the same failure once one has fenced it (a new attempt
		// after one that ended without fencing is the health check's retry, and must not
		// be held back: the cluster would stay without a coordinator), and no failover
		// of a sound coordinator.
		if f := in.FailedInstanceID; f != "" {
			// A later attempt that finds the ENI moved (SUPERSEDED: possible when the
			// health check read a stale listing or a stale holder) acts on nothing; one that
			// fences or attaches again is a second failover.
			again := rr.Doc.Attach != nil || (rr.Doc.Terminate != nil && rr.Doc.Terminate.Outcome == events.TerminateFenced)
			if prev, ok := fencedBy[f]; ok && again {
				rs.violate("single-failover", "a second failover for %s (%s) after %s had fenced it", f, r.exec.Name, prev)
			}
			if t := rr.Doc.Terminate; t != nil && t.Outcome == events.TerminateFenced {
				fencedBy[f] = r.exec.Name
			}
			h := w.hostOf(f)
			real := false
			for k := range h.faults {
				if hostFaults[k] {
					real = true
				}
			}
			if !real && !witnessImpaired {
				kinds := make([]string, 0, len(h.faults))
				for k := range h.faults {
					kinds = append(kinds, k)
				}
				sort.Strings(kinds)
				rs.violate("false-failover", "%s failed over %s (verdict %s: %s) although its coordinator never failed (its faults: %v) and a witness could vouch for it",
					r.exec.Name, f, in.Verdict, in.Reason, kinds)
			}
		}
	}
	// Exactly one attachment once settled, on a healthy coordinator, within the bound.
	if res.BreakerOpen {
		return // the breaker stops acting by design; the breaker invariant covers this run
	}
	if res.RecoveryExempt != "" {
		return
	}
	e, _ := w.acct.ENI(w.eni)
	if e.Attachment == nil || e.Attachment.Status != "attached" {
		rs.violate("settled-attachment", "at the end (%s after the heal) the ENI is not attached (%+v)", o.Settle, e.Attachment)
		return
	}
	if healthySince == nil {
		rs.violate("recovery", "at the end the ENI holder %s is not a healthy running coordinator", e.Attachment.InstanceID)
		return
	}
	d := max(healthySince.Sub(lastFault), 0)
	res.RecoveredIn = &d
	if d > o.RecoveryBound {
		rs.violate("recovery", "the ENI holder %s became healthy for good only %s after the last fault (bound %s; the heal at the bound restarted what was down)",
			e.Attachment.InstanceID, d.Round(time.Second), o.RecoveryBound)
	}
}
