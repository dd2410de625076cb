package chaos

import (
	"fmt"
	"sort"
	"time"

	"github.com/prestoha/coordinator-ha/internal/harness/sim"
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

	// AWS as its documentation describes it (issue 11). Per-run kinds (perRun > 0) are
	// switched on at the start for the whole run; the others are injected like any fault.
	FaultEventual      = "eventual_consistency"     // per run: sim.DefaultConsistency (stale EC2 and Step Functions reads, NotFound for new instances, stuck attaches, CloudWatch tail)
	FaultLateTicks     = "late_ticks"               // per run: rate(1 minute) ticks spaced 8 to 71 s (sim.Realism.Ticks)
	FaultLatency       = "sfn_lambda_latency"       // per run: state transitions and step cold starts take time
	FaultGuestDelay    = "guest_config_delay"       // per run: a moved ENI serves only once the guest configured it (1-3 s, tail 20 s)
	FaultIMDSLag       = "imds_lag"                 // per run: a new holder's agent learns it holds the ENI up to 30 s late
	FaultListLag       = "list_executions_lag"      // Step Functions reads of the health check up to a minute stale
	FaultEC2Stale      = "ec2_stale_after_mutation" // EC2 and Auto Scaling reads up to 20 s stale, half of them
	FaultNotFound      = "instance_not_found"       // DescribeInstances answers NotFound for an instance that exists
	FaultQueryError    = "metric_query_error"       // GetMetricData queries answer InternalError with no data
	FaultQueryPartial  = "metric_query_partial"     // GetMetricData queries answer PartialData
	FaultProtectFails  = "protect_fails"            // SetInstanceProtection fails
	FaultCWTail        = "cw_visibility_tail"       // a third of the datapoints become visible up to 20 s late
	FaultLifecycleHook = "lifecycle_hook"           // a Terminating:Wait hook holds instances the group terminates
	FaultAttachStuck   = "attach_stuck"             // attachments stay "attaching" up to a minute, half of them
	FaultClockSkew     = "clock_skew"               // an agent's clock is 5 to 35 s off, either way
)

// target says which coordinator a fault kind hits.
type target int

const (
	noHost     target = iota // the account, a step or the schedule, not one host
	activeHost               // a running coordinator, the ENI holder 6 times in 10
	anyHost                  // any running coordinator
)

// faultKind is one entry of the fault table: everything the campaign knows about a kind.
// Adding a kind is adding an entry (and its name constant). How often a kind is drawn is
// how often it appears in Options.Faults (CrashFocus lists step_crash three times).
type faultKind struct {
	name   string
	target target
	// primary kinds are real failures of the active coordinator: most runs centre on one.
	primary bool
	// real: the coordinator it hits really fails, so a failover of it is justified.
	real bool
	// witnessCost is how much the kind blinds the witnesses that vouch for a sound
	// coordinator: a run whose faults cost 2 or more (or a pool of one) excuses a
	// failover of a coordinator that never failed (the false-failover invariant).
	witnessCost int
	// inject injects the fault at its planned time, on h (nil for noHost kinds), draws
	// what it needs, schedules its own end if it has one (before the heal: healAt), and
	// returns what it hit for the run's fault list.
	inject func(c *campaign, h *host) string
	// heal and healHost end it at the heal, in table order: heal once for the run,
	// healHost on every host in id order after every heal. nil: nothing to end.
	heal     func(c *campaign)
	healHost func(c *campaign, h *host)
	// perRun: the kind is not drawn as a fault; it is switched on at the start for the
	// whole run with this probability (its inject runs then, on no host).
	perRun float64
}

// faultTable lists every fault kind, in the order of FaultKinds.
var faultTable = []faultKind{
	{name: FaultPrestoExit, target: activeHost, primary: true, real: true, inject: prestoExit,
		healHost: restartExited}, // any exited Presto, also a failed standby's, restarts at the heal
	{name: FaultPrestoHang, target: activeHost, primary: true, real: true,
		inject:   timedHostFault(5*time.Second, 4*time.Minute, func(h *host) { h.proc = prestoHung }, resumeHung),
		healHost: resumeHung},
	{name: FaultPrestoSlow, target: activeHost, real: true,
		inject:   timedHostFault(5*time.Second, 4*time.Minute, func(h *host) { h.proc = prestoSlow }, resumeSlow),
		healHost: resumeSlow},
	{name: FaultAgentDeath, target: activeHost, witnessCost: 1,
		inject:   timedHostFault(5*time.Second, 4*time.Minute, func(h *host) { h.agentDead = true }, reviveAgent),
		healHost: reviveAgent},
	{name: FaultHostSilence, target: activeHost, primary: true, real: true, witnessCost: 2,
		inject:   timedHostFault(5*time.Second, 4*time.Minute, func(h *host) { h.silent = true }, endSilence),
		healHost: endSilence},
	{name: FaultTerminatedOutside, target: activeHost, primary: true, real: true,
		inject: func(c *campaign, h *host) string { _ = c.acct.TerminateFromOutside(h.id); return h.id }},
	{name: FaultCWPathCut, target: activeHost, witnessCost: 1,
		inject:   timedHostFault(5*time.Second, 4*time.Minute, func(h *host) { h.cwCut = true }, reconnectCW),
		healHost: reconnectCW},
	{name: FaultPartition, target: anyHost, witnessCost: 2,
		inject:   timedHostFault(10*time.Second, 4*time.Minute, func(h *host) { h.cutFrom = true }, endPartition),
		healHost: endPartition},
	{name: FaultThrottle, witnessCost: 2, heal: clearAWSFaults,
		inject: awsFault(func(c *campaign, f *sim.Fault) { f.Kind, f.Service = sim.Throttle, c.pick(services) })},
	{name: Fault5xx, witnessCost: 2, heal: clearAWSFaults,
		inject: awsFault(func(c *campaign, f *sim.Fault) { f.Kind, f.Service = sim.ServerError, c.pick(services) })},
	{name: FaultStaleReads, heal: clearAWSFaults,
		inject: awsFault(func(c *campaign, f *sim.Fault) {
			f.Kind, f.Latency = sim.StaleRead, c.randDur(2*time.Second, 15*time.Second)
		})},
	{name: FaultLostReply, heal: clearAWSFaults,
		inject: awsFault(func(c *campaign, f *sim.Fault) { f.Kind, f.Operation, f.Times = sim.LostReply, c.pick(lostReplyOps), 1 })},
	{name: FaultENIStuck, inject: func(c *campaign, _ *host) string { // ends by itself (StickENIDetach's d)
		d := c.randDur(20*time.Second, 3*time.Minute)
		_ = c.acct.StickENIDetach(c.w.eni, d)
		return d.String()
	}},
	{name: FaultASGSlow, inject: asgSlow, heal: func(c *campaign) { c.acct.SetTimings(c.defaults) }},
	{name: FaultASGSuspended, inject: asgSuspend, heal: func(c *campaign) { _ = c.acct.SetASGSuspended(asgName, false) }},
	{name: FaultStepCrash, inject: stepCrash, heal: func(c *campaign) { c.crash = nil }},
	{name: FaultDuplicateTick, inject: func(c *campaign, _ *host) string { c.dupTicks += 1 + c.rng.IntN(3); return "" }},
	{name: FaultOverlappingTick, inject: func(c *campaign, _ *host) string { c.overlapTicks += 1 + c.rng.IntN(3); return "" }},
	{name: FaultStandbyFails, real: true, // the standby it fails is marked in failAStandby
		inject: func(c *campaign, _ *host) string { c.standbyFailArmed = true; return "next failover" },
		heal:   func(c *campaign) { c.standbyFailArmed = false }},
	{name: FaultKeepFlip, inject: keepFlip, heal: endKeep},

	{name: FaultEventual, perRun: 0.85, inject: func(c *campaign, _ *host) string {
		c.cons = sim.DefaultConsistency()
		c.acct.SetConsistency(c.cons)
		return c.cons.String()
	}},
	{name: FaultLateTicks, perRun: 0.75, inject: func(*campaign, *host) string { return "sim.Realism ticks" }},
	{name: FaultLatency, perRun: 0.75, inject: func(c *campaign, _ *host) string { c.latency = true; return "" }},
	{name: FaultGuestDelay, perRun: 0.75, inject: func(c *campaign, _ *host) string { c.w.guestDelay = true; return "" }},
	{name: FaultIMDSLag, perRun: 0.75, inject: func(c *campaign, _ *host) string { c.w.imdsLag = true; return "" }},
	{name: FaultListLag, heal: clearAWSFaults, inject: awsFault(func(c *campaign, f *sim.Fault) {
		f.Kind, f.Service, f.Caller, f.Latency = sim.StaleRead, "states", "healthcheck", c.randDur(5*time.Second, time.Minute)
	})},
	{name: FaultEC2Stale, heal: restoreConsistency, inject: func(c *campaign, _ *host) string {
		cons := c.cons
		cons.EC2ReadLag, cons.EC2ReadLagP = c.randDur(5*time.Second, 20*time.Second), 0.5
		c.acct.SetConsistency(cons)
		return cons.EC2ReadLag.String()
	}},
	{name: FaultNotFound, heal: clearAWSFaults, inject: awsFault(func(c *campaign, f *sim.Fault) {
		f.Kind, f.Service, f.Operation = sim.NotFound, "ec2", "DescribeInstances"
	})},
	{name: FaultQueryError, witnessCost: 2, heal: clearAWSFaults, inject: awsFault(func(c *campaign, f *sim.Fault) {
		f.Kind, f.Service, f.Operation = sim.QueryError, "cloudwatch", "GetMetricData"
	})},
	{name: FaultQueryPartial, witnessCost: 2, heal: clearAWSFaults, inject: awsFault(func(c *campaign, f *sim.Fault) {
		f.Kind, f.Service, f.Operation = sim.QueryPartial, "cloudwatch", "GetMetricData"
	})},
	{name: FaultProtectFails, heal: clearAWSFaults, inject: func(c *campaign, _ *host) string {
		f := sim.Fault{Kind: sim.ServerError, Service: "autoscaling", Operation: "SetInstanceProtection", Caller: c.pick([]string{"", "attacheni", "healthcheck"})}
		if c.rng.IntN(2) == 0 {
			f.Times = 1 + c.rng.IntN(20)
		}
		c.acct.Inject(f)
		return fmt.Sprintf("caller=%q times=%d", f.Caller, f.Times)
	}},
	{name: FaultCWTail, heal: restoreConsistency, inject: func(c *campaign, _ *host) string {
		cons := c.cons
		cons.MetricTailP, cons.MetricTailMax = 0.3, 20*time.Second
		c.acct.SetConsistency(cons)
		return ""
	}},
	{name: FaultLifecycleHook, heal: restoreConsistency, inject: func(c *campaign, _ *host) string {
		cons := c.cons
		cons.TerminationHook = c.randDur(time.Minute, time.Hour)
		c.acct.SetConsistency(cons)
		return cons.TerminationHook.String()
	}},
	{name: FaultAttachStuck, heal: restoreConsistency, inject: func(c *campaign, _ *host) string {
		cons := c.cons
		cons.AttachStuckP, cons.AttachStuckMax = 0.5, c.randDur(30*time.Second, time.Minute)
		c.acct.SetConsistency(cons)
		return cons.AttachStuckMax.String()
	}},
	{name: FaultClockSkew, target: anyHost, healHost: func(_ *campaign, h *host) { h.skew = 0 },
		inject: func(c *campaign, h *host) string {
			h.skew = c.randDur(5*time.Second, 35*time.Second)
			if c.rng.IntN(2) == 0 {
				h.skew = -h.skew
			}
			return fmt.Sprintf("%s %s", h.id, h.skew)
		}},
}

// restoreConsistency ends a change of the consistency model: back to the run's own.
func restoreConsistency(c *campaign) { c.acct.SetConsistency(c.cons) }

// switchPerRun switches on, for the whole run, the per-run kinds the run draws.
func (c *campaign) switchPerRun() {
	for _, k := range faultTable {
		if k.perRun > 0 && c.rng.Float64() < k.perRun && c.wanted(k.name) {
			c.record(k.name, k.inject(c, nil))
		}
	}
}

// wanted: the run's options allow the kind (Options.Faults lists it, or lists nothing
// but the drawn kinds' defaults).
func (c *campaign) wanted(name string) bool {
	for _, f := range c.o.Faults {
		if f == name {
			return true
		}
	}
	return false
}

// FaultKinds lists every fault kind.
var FaultKinds = func() []string {
	out := make([]string, len(faultTable))
	for i, k := range faultTable {
		out[i] = k.name
	}
	return out
}()

func kindOf(name string) (*faultKind, bool) {
	for i := range faultTable {
		if faultTable[i].name == name {
			return &faultTable[i], true
		}
	}
	return nil, false
}

// Who and what the account-wide faults hit: any caller (the step Lambdas by their names
// in statemachine.Tasks), any service, and the AWS calls whose reply a lost reply drops.
var (
	callers = func() []string {
		out := []string{""}
		out = append(out, statemachine.Lambdas...) // the health check, then the steps
		return append(out, "agent")
	}()
	services     = []string{"", "ec2", "autoscaling", "cloudwatch", "states", "sns"}
	lostReplyOps = []string{"AttachNetworkInterface", "DetachNetworkInterface", "TerminateInstanceInAutoScalingGroup", "SetDesiredCapacity", "CreateTags", "StartExecution"}
	// crashSteps: "" is whichever step runs next.
	crashSteps = func() []string {
		out := []string{""}
		for _, t := range statemachine.Tasks {
			out = append(out, t.Lambda)
		}
		return out
	}()
	crashNames = []string{"Lambda.ServiceException", "Lambda.ServiceException", "Runtime.ExitError", "Sandbox.Timedout"}
)

// inject injects one planned fault of kind name (a kind the table lacks is ignored).
func (c *campaign) inject(name string) {
	k, ok := kindOf(name)
	if !ok {
		return
	}
	var h *host
	if k.target != noHost {
		if h = c.pickHost(k.target == activeHost); h == nil {
			return
		}
		h.faults[k.name] = true
	}
	c.record(k.name, k.inject(c, h))
}

func (c *campaign) record(kind, target string) {
	c.res.FaultCounts[kind]++
	c.res.Faults = append(c.res.Faults, fmt.Sprintf("%s@%s %s", kind, c.clk.Now().Sub(t0).Round(time.Second), target))
	c.log.Info("chaos: fault", "kind", kind, "target", target)
}

// healAll is the heal: every fault ends, processes that exited are restarted.
func (c *campaign) healAll() {
	for _, k := range faultTable {
		if k.heal != nil {
			k.heal(c)
		}
	}
	ids := make([]string, 0, len(c.w.hosts))
	for id := range c.w.hosts {
		ids = append(ids, id)
	}
	sort.Strings(ids) // map order would make the random restart times differ between replays
	for _, id := range ids {
		for _, k := range faultTable {
			if k.healHost != nil {
				k.healHost(c, c.w.hosts[id])
			}
		}
	}
	c.log.Info("chaos: heal")
}

// timedHostFault applies a host fault and ends it after a random lo..hi (at the heal at
// the latest).
func timedHostFault(lo, hi time.Duration, apply func(*host), end func(*campaign, *host)) func(*campaign, *host) string {
	return func(c *campaign, h *host) string {
		d := c.randDur(lo, hi)
		apply(h)
		c.w.schedule(c.healAt(d), func() { end(c, h) })
		return h.id
	}
}

// prestoExit stops Presto; half the time systemd restarts it after a while.
func prestoExit(c *campaign, h *host) string {
	d := c.randDur(5*time.Second, 4*time.Minute)
	h.proc = prestoDown
	if c.rng.IntN(2) == 0 {
		c.w.schedule(c.healAt(d), func() { restartExited(c, h) })
	}
	return h.id
}

func restartExited(c *campaign, h *host) {
	if h.proc == prestoDown {
		h.proc, h.readyAt = prestoStarting, c.clk.Now().Add(c.randDur(20*time.Second, 90*time.Second))
	}
}

func resumeHung(_ *campaign, h *host) {
	if h.proc == prestoHung {
		h.proc = prestoUp
	}
}

func resumeSlow(_ *campaign, h *host) {
	if h.proc == prestoSlow {
		h.proc = prestoUp
	}
}

func reviveAgent(_ *campaign, h *host)  { h.agentDead = false }
func endSilence(_ *campaign, h *host)   { h.silent = false }
func reconnectCW(_ *campaign, h *host)  { h.cwCut = false }
func endPartition(_ *campaign, h *host) { h.cutFrom = false }

// awsFault injects a sim.Fault on a random caller for 1 to 10 calls, shaped by shape.
func awsFault(shape func(*campaign, *sim.Fault)) func(*campaign, *host) string {
	return func(c *campaign, _ *host) string {
		f := sim.Fault{Caller: c.pick(callers), Times: 1 + c.rng.IntN(10)}
		shape(c, &f)
		c.acct.Inject(f)
		return fmt.Sprintf("service=%q op=%q caller=%q times=%d", f.Service, f.Operation, f.Caller, f.Times)
	}
}

func clearAWSFaults(c *campaign) { c.acct.ClearFaults() }

func asgSlow(c *campaign, _ *host) string {
	t := c.acct.Timings()
	t.ASGReplaceDelay = c.randDur(time.Minute, 5*time.Minute)
	t.PendingToRunning = c.randDur(time.Minute, 3*time.Minute)
	c.acct.SetTimings(t)
	c.w.schedule(c.healAt(c.randDur(time.Minute, 6*time.Minute)), func() { c.acct.SetTimings(c.defaults) })
	return fmt.Sprintf("replace %s pending %s", t.ASGReplaceDelay, t.PendingToRunning)
}

func asgSuspend(c *campaign, _ *host) string {
	_ = c.acct.SetASGSuspended(asgName, true)
	c.w.schedule(c.healAt(c.randDur(time.Minute, 6*time.Minute)), func() { _ = c.acct.SetASGSuspended(asgName, false) })
	return asgName
}

// stepCrash arms a crash of the next step (or of one named step): its context is
// cancelled after N AWS calls and Step Functions sees the error name drawn.
func stepCrash(c *campaign, _ *host) string {
	c.crash = &crashPlan{step: c.pick(crashSteps), after: 1 + c.rng.IntN(8), name: c.pick(crashNames)}
	return fmt.Sprintf("step=%q after=%d as %s", c.crash.step, c.crash.after, c.crash.name)
}

// keepFlip flips KeepCoordinatorNode (a new health-check configuration); set, it is
// cleared again after a while.
func keepFlip(c *campaign, _ *host) string {
	c.keep = !c.keep
	c.newConfig()
	desc := fmt.Sprintf("KeepCoordinatorNode=%v", c.keep)
	if c.keep {
		c.w.schedule(c.healAt(c.randDur(30*time.Second, 5*time.Minute)), func() { endKeep(c) })
	}
	return desc
}

func endKeep(c *campaign) {
	if c.keep {
		c.keep = false
		c.newConfig()
	}
}

// onStartExecution fails a healthy standby shortly after an execution starts, once per
// armed standby_fails.
func (c *campaign) onStartExecution(sim.Execution) {
	if !c.standbyFailArmed {
		return
	}
	c.standbyFailArmed = false
	c.w.schedule(c.clk.Now().Add(c.randDur(time.Second, 20*time.Second)), c.failAStandby)
}

func (c *campaign) failAStandby() {
	hd := c.w.holder()
	for _, inst := range c.acct.Instances() {
		if inst.State == "running" && inst.ID != hd && c.w.hostOf(inst.ID).proc == prestoUp {
			h := c.w.hostOf(inst.ID)
			h.faults[FaultStandbyFails] = true
			if c.rng.IntN(2) == 0 {
				h.proc = prestoDown
			} else {
				_ = c.acct.TerminateFromOutside(inst.ID)
			}
			c.log.Info("chaos: standby failed during the failover", "instance", inst.ID)
			return
		}
	}
}

// plannedFault is one fault of the run's plan.
type plannedFault struct {
	at   time.Time
	kind string
}

// planFaults draws the run's faults. Most runs centre on one real failure of the
// active coordinator at tf, with the other faults around it, so the faults that matter
// only during a failover (a stuck detach, a crashing step, a slow ASG, a standby
// failing) meet one.
func (c *campaign) planFaults() []plannedFault {
	o := c.o
	nFaults := 1 + c.rng.IntN(o.MaxFaults)
	tf := t0.Add(o.Bootstrap + time.Duration(c.rng.Int64N(int64(o.FaultWindow)/2)))
	var primary []string
	for _, name := range o.Faults {
		if k, ok := kindOf(name); ok && k.primary {
			primary = append(primary, name)
		}
	}
	var drawable []string
	for _, name := range o.Faults {
		if k, ok := kindOf(name); ok && k.perRun == 0 {
			drawable = append(drawable, name)
		}
	}
	if len(drawable) == 0 {
		return []plannedFault{{at: t0.Add(o.Bootstrap), kind: ""}}
	}
	var plan []plannedFault
	for i := range nFaults {
		kind := c.pick(drawable)
		at := t0.Add(o.Bootstrap + time.Duration(c.rng.Int64N(int64(o.FaultWindow))))
		if i == 0 && len(primary) > 0 && c.rng.IntN(10) < 8 {
			kind, at = c.pick(primary), tf
		} else if c.rng.IntN(10) < 6 {
			at = tf.Add(time.Duration(c.rng.Int64N(int64(4*time.Minute))) - time.Minute)
		}
		if first := t0.Add(o.Bootstrap); at.Before(first) {
			at = first // the bootstrap check sees a settled cluster before any fault
		}
		plan = append(plan, plannedFault{at, kind})
	}
	sort.Slice(plan, func(i, j int) bool { return plan[i].at.Before(plan[j].at) })
	return plan
}

// pickHost picks a running coordinator of the pool: the ENI holder 6 times in 10 when
// preferActive (or when no other runs), else any; nil when none runs.
func (c *campaign) pickHost(preferActive bool) *host {
	var ids []string
	for _, inst := range c.acct.Instances() {
		if inst.State == "running" && inst.ASG == asgName {
			ids = append(ids, inst.ID)
		}
	}
	if hd := c.w.holder(); hd != "" && (preferActive && c.rng.IntN(10) < 6 || len(ids) == 0) {
		return c.w.hostOf(hd)
	}
	if len(ids) == 0 {
		return nil
	}
	return c.w.hostOf(ids[c.rng.IntN(len(ids))])
}

// healAt is d from now, but no later than the heal.
func (c *campaign) healAt(d time.Duration) time.Time {
	t := c.clk.Now().Add(d)
	if t.After(c.heal) {
		t = c.heal
	}
	return t
}

func (c *campaign) randDur(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(c.rng.Int64N(int64(hi-lo)+1))
}

func (c *campaign) pick(list []string) string { return list[c.rng.IntN(len(list))] }
