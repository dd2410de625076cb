package drill

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/harness/drill/report"
	"github.com/prestoha/coordinator-ha/internal/signal"
)

// Scenario is one kind of coordinator failure.
type Scenario struct {
	Name           string
	Description    string
	ExpectFailover bool
	HACount        int  // 0: Settings.Coordinators
	Keep           bool // KeepCoordinatorNode=yes
	// HolderDown: the ENI holder is expected to be down at the end (KeepCoordinatorNode=yes
	// leaves a failed coordinator in place, by design).
	HolderDown bool
	// Planned: an operator's action, not a failure (the switchover scenario). The bench,
	// which measures unplanned failovers, leaves it out.
	Planned bool
	// Fault breaks the active coordinator (the instance holding the ENI), or, for a
	// planned scenario, is the operator's action.
	Fault func(c *Cluster, active *Host) error
}

// Scenarios returns every scenario, in the demo's order.
func Scenarios(st Settings) []Scenario {
	return []Scenario{
		{Name: "host-unresponsive", ExpectFailover: true,
			Description: "the host stops answering anything: Presto hangs and the agent stops reporting",
			Fault:       func(_ *Cluster, h *Host) error { h.Server.Hang(0); h.KillAgent(); return nil }},
		{Name: "instance-gone", ExpectFailover: true,
			Description: "the instance is terminated outside the control plane (spot reclaim, retirement, operator)",
			Fault:       func(c *Cluster, h *Host) error { return c.Acct.TerminateFromOutside(h.ID) }},
		{Name: "process-exit", ExpectFailover: true,
			Description: "the Presto process exits: connection refused, the agent reports unhealthy",
			Fault:       func(_ *Cluster, h *Host) error { h.Server.Exit(); return nil }},
		{Name: "process-hang", ExpectFailover: true,
			Description: fmt.Sprintf("Presto accepts connections but answers nothing for %s (longer than the %s grace)", 10*st.Grace, st.Grace),
			Fault:       func(_ *Cluster, h *Host) error { h.Server.Hang(10 * st.Grace); return nil }},
		{Name: "short-pause", ExpectFailover: false,
			Description: fmt.Sprintf("a %s stall (a long GC pause), shorter than the %s grace", shortPause(st), st.Grace),
			Fault:       func(_ *Cluster, h *Host) error { h.Server.Pause(shortPause(st)); return nil }},
		{Name: "agent-crash", ExpectFailover: false,
			Description: "the active's agent dies; the coordinator is fine and the standbys still reach it",
			Fault:       func(_ *Cluster, h *Host) error { h.KillAgent(); return nil }},
		{Name: "keep-coordinator-node", ExpectFailover: false, Keep: true, HolderDown: true,
			Description: "the Presto process exits while KeepCoordinatorNode=yes: verdicts only, no action",
			Fault:       func(_ *Cluster, h *Host) error { h.Server.Exit(); return nil }},
		{Name: "single-coordinator", ExpectFailover: true, HACount: 1,
			Description: "HACoordinatorsCount=1 and the Presto process exits: the slow path launches a new coordinator, then attaches",
			Fault:       func(_ *Cluster, h *Host) error { h.Server.Exit(); return nil }},
		{Name: "switchover", ExpectFailover: true, Planned: true,
			Description: "a planned switchover with the operator command (coordinator-ha switchover): the IP moves to the best healthy standby through the failover lease; the old active is fenced and replaced",
			Fault:       func(c *Cluster, _ *Host) error { return c.switchover() }},
	}
}

// ScenarioNames lists the scenario names.
func ScenarioNames() []string {
	var n []string
	for _, s := range Scenarios(DefaultSettings()) {
		n = append(n, s.Name)
	}
	return n
}

// selectScenarios picks scenarios by name (all when names is empty).
func selectScenarios(st Settings, names []string, onlyFailover bool) ([]Scenario, error) {
	all := Scenarios(st)
	if len(names) == 0 {
		var out []Scenario
		for _, s := range all {
			if !onlyFailover || (s.ExpectFailover && !s.Planned) {
				out = append(out, s)
			}
		}
		return out, nil
	}
	var out []Scenario
	for _, n := range names {
		i := slices.IndexFunc(all, func(s Scenario) bool { return s.Name == n })
		if i < 0 {
			return nil, fmt.Errorf("unknown scenario %q (known: %v)", n, ScenarioNames())
		}
		out = append(out, all[i])
	}
	return out, nil
}

// runOptions tune one scenario run.
type runOptions struct {
	Settings Settings
	Seed     int64
	// Simulated runs on simulated time (clock.Sim), deterministic whatever the
	// machine's load; otherwise on the compressed wall clock (Settings.Speed).
	Simulated bool
	// Pace shows simulated time at up to Pace times the wall clock (0: as fast as the
	// machine allows).
	Pace float64
	// FaultDelay waits this long after the warm-up before the fault, so that runs meet
	// the agents' and the health check's cycles at different phases.
	FaultDelay time.Duration
	Progress   func(format string, a ...any) // nil: quiet
	// Trino runs real Trino in network namespaces at real time (see trino.go).
	Trino *TrinoOptions
	// Realistic runs under the unkind model (clusterSpec.Realistic).
	Realistic bool
	// WithoutStaticENI: the unkind model without the static ENI configuration
	// (clusterSpec.WithoutStaticENI).
	WithoutStaticENI bool
}

// clock returns a new drill clock for one run.
func (o runOptions) clock() drillTime {
	if o.Trino != nil {
		return realTime{}
	}
	if o.Simulated {
		s := clock.NewSim(simStart)
		if o.Pace > 0 {
			s.SetPace(o.Pace)
		}
		return simTime{s}
	}
	return newDrillClock(time.Now().UTC().Truncate(time.Second), o.Settings.Speed)
}

// onClock runs f on clk: on simulated time as the one participant that starts all the
// others, waiting until it returns; directly on the compressed wall clock.
func onClock(clk drillTime, f func()) {
	if s, ok := clk.(simTime); ok {
		done := make(chan struct{})
		s.Go(func() { defer close(done); f() })
		<-done
		return
	}
	f()
}

// runScenario builds a fresh cluster, injects the fault and returns what happened.
func runScenario(ctx context.Context, sc Scenario, o runOptions) (res report.Scenario, stats runStats) {
	wallStart := time.Now()
	clk := o.clock()
	var c *Cluster
	onClock(clk, func() {
		c, res, stats = playScenario(ctx, sc, o, clk)
		c.stop()
	})
	if c != nil {
		c.Close()
	}
	res.WallSeconds = time.Since(wallStart).Seconds()
	return res, stats
}

// playScenario is one scenario on clk: the cluster (returned for the caller to close),
// the warm-up, the fault and the outcome.
func playScenario(ctx context.Context, sc Scenario, o runOptions, clk drillTime) (c *Cluster, res report.Scenario, stats runStats) {
	st := o.Settings
	ha := sc.HACount
	if ha == 0 {
		ha = st.Coordinators
	}
	res = report.Scenario{Name: sc.Name, Description: sc.Description, ExpectFailover: sc.ExpectFailover, Seed: o.Seed, Simulated: o.Simulated}
	fail := func(format string, a ...any) (*Cluster, report.Scenario, runStats) {
		res.Violations = append(res.Violations, fmt.Sprintf(format, a...))
		res.OK = false
		return c, res, stats
	}
	c, err := newCluster(ctx, clusterSpec{Name: "drill-" + sc.Name, HACount: ha, Keep: sc.Keep, Seed: o.Seed, Settings: st, Simulated: o.Simulated, Realistic: o.Realistic, WithoutStaticENI: o.WithoutStaticENI, Trino: o.Trino}, clk)
	if err != nil {
		return fail("building the cluster: %v", err)
	}
	c.report = o.Progress
	c.start()
	if err := c.startControlPlane(); err != nil {
		return fail("starting the control plane: %v", err)
	}
	drillStart := c.Clock.Now()

	// Warm-up: the pool comes up, the health check finds the ENI unattached and its
	// execution attaches it to a healthy coordinator (the product's own first start);
	// then every coordinator has been healthy for a whole grace window and clients are
	// served.
	if sc.Keep {
		// With KeepCoordinatorNode=yes the health check never acts, not even to attach the
		// ENI at first start: the operator attaches it.
		c.progress("  %s  launching %d coordinators; KeepCoordinatorNode=yes, so the operator attaches ENI %s (%s)", c.stamp(), ha, c.ENIID, c.ENIIP)
		if _, err := c.AttachInitial(ctx); err != nil {
			return fail("attaching the ENI at start-up: %v", err)
		}
	} else {
		c.progress("  %s  launching %d coordinators; the health check will attach ENI %s (%s)", c.stamp(), ha, c.ENIID, c.ENIIP)
	}
	if err := c.waitWarm(ctx, ha); err != nil {
		return fail("warming up: %v", err)
	}
	if o.FaultDelay > 0 {
		if err := c.Clock.Sleep(ctx, o.FaultDelay); err != nil {
			return fail("interrupted: %v", err)
		}
	}
	active, _ := c.Holder()
	stats.warmEnd = c.Clock.Now()
	c.setWarm(stats.warmEnd)
	stats.costBefore = c.costSnapshot()
	initial := map[string]bool{}
	for _, h := range c.Hosts() {
		initial[h.ID] = true
	}
	h := c.Host(active)
	res.FailedInstance = active

	// The fault.
	res.FaultAt = c.Clock.Now()
	c.setFault(res.FaultAt)
	if err := sc.Fault(c, h); err != nil {
		return fail("injecting the fault: %v", err)
	}
	c.progress("  %s  FAULT %s on %s: %s", c.stamp(), sc.Name, active, sc.Description)
	stats.costAtFault = c.costSnapshot()

	// Wait for the outcome.
	observe := st.Grace + st.IngestionAllow + 2*st.Schedule + st.PublishInterval
	limit := res.FaultAt.Add(8 * time.Minute)
	if ha == 1 {
		limit = res.FaultAt.Add(15 * time.Minute)
	}
	for {
		now := c.Clock.Now()
		if now.After(limit) {
			c.progress("  %s  gave up waiting", c.stamp())
			break
		}
		execs := c.executionsSince(res.FaultAt)
		if sc.ExpectFailover || len(execs) > 0 {
			if len(execs) > 0 && c.done(execs, active, initial) {
				break
			}
		} else if now.Sub(res.FaultAt) >= observe {
			break
		}
		if err := c.Clock.Sleep(ctx, time.Second); err != nil {
			return fail("interrupted: %v", err)
		}
	}
	// Let a second trigger for the same failure show itself, if there is one: one more
	// schedule period after the outcome.
	if sc.ExpectFailover {
		_ = c.Clock.Sleep(ctx, st.CheckInterval*2)
	}
	res.DrillSeconds = c.Clock.Now().Sub(drillStart).Seconds()
	c.collect(&res, active, initial, sc)
	stats.costEnd = c.costSnapshot()
	for _, e := range c.executionsSince(res.FaultAt) {
		stats.transitions += e.Transitions
	}
	return c, res, stats
}

// runStats are what the bench needs beyond the report.
type runStats struct {
	warmEnd                          time.Time
	costBefore, costAtFault, costEnd costSnapshot
	transitions                      int // state transitions of the failover execution(s)
}

// waitWarm waits until every coordinator has been healthy for a grace window plus
// the ingestion allowance and a publish interval, the ENI has been attached (and the
// start-up execution done) for a publish interval plus the ingestion allowance, and
// clients are served through the coordinator IP.
func (c *Cluster) waitWarm(ctx context.Context, ha int) error {
	st := c.spec.Settings
	need := st.Grace + st.IngestionAllow + st.PublishInterval
	needAttached := st.PublishInterval + st.IngestionAllow
	deadline := c.Clock.Now().Add(20 * time.Minute)
	var healthySince, attachedSince time.Time
	for c.Clock.Now().Before(deadline) {
		if err := c.trinoDead(); err != nil {
			return err
		}
		now := c.Clock.Now()
		hosts := c.Hosts()
		healthy := len(hosts) >= ha
		for _, h := range hosts {
			obs := h.Agent().Last()
			if obs.Probes == 0 || obs.Self.Status != signal.Healthy {
				healthy = false
			}
		}
		holder, status := c.Holder()
		attached := holder != "" && status == "attached"
		for _, e := range c.Executions() {
			select {
			case <-e.done:
			default:
				attached = false // the start-up execution is still running
			}
		}
		healthySince = since(healthySince, healthy, now)
		attachedSince = since(attachedSince, attached, now)
		_, served := c.Watcher.FirstHealthy(now.Add(-5*time.Second), "")
		if served && healthy && attached && now.Sub(healthySince) >= need && now.Sub(attachedSince) >= needAttached {
			c.progress("  %s  warm: every coordinator healthy for %s, ENI on %s, clients served", c.stamp(), now.Sub(healthySince).Round(time.Second), holder)
			return nil
		}
		if err := c.Clock.Sleep(ctx, time.Second); err != nil {
			return err
		}
	}
	return fmt.Errorf("the cluster did not become healthy within 20 minutes")
}

// since tracks since when a condition has held: zero while it does not.
func since(t time.Time, cond bool, now time.Time) time.Time {
	switch {
	case !cond:
		return time.Time{}
	case t.IsZero():
		return now
	}
	return t
}

// done reports whether the failover has played out: the executions ended, clients are
// served by another coordinator, and the pool has a replacement running.
func (c *Cluster) done(execs []*execRun, failed string, initial map[string]bool) bool {
	for _, e := range execs {
		select {
		case <-e.done:
		default:
			return false
		}
	}
	if _, ok := c.Watcher.FirstHealthy(c.faultAt(), failed); !ok {
		// a failed execution will not make anyone serve; stop waiting for it
		for _, e := range execs {
			if e.Status != "SUCCEEDED" {
				return true
			}
		}
		return false
	}
	_, ok := c.replacedAt(initial)
	return ok
}

func (c *Cluster) faultAt() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fault
}

// replacedAt is when the first instance launched after the warm-up became running.
func (c *Cluster) replacedAt(initial map[string]bool) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ch := range c.stateLog {
		if ch.To == "running" && !initial[ch.InstanceID] && ch.At.After(c.fault) {
			return ch.At, true
		}
	}
	return time.Time{}, false
}

// collect fills the result and checks the invariants.
func (c *Cluster) collect(res *report.Scenario, failed string, initial map[string]bool, sc Scenario) {
	fault := res.FaultAt
	var execs []*execRun
	for _, e := range c.Executions() {
		if e.StartedAt.Before(fault) {
			res.Observed = append(res.Observed, fmt.Sprintf("start-up: execution %s (%s) attached the ENI to %s: %s",
				e.Exec.Name, e.Input.Verdict, attachedTo(e), e.Status))
			continue
		}
		execs = append(execs, e)
	}
	res.Executions = len(execs)

	c.mu.Lock()
	res.MaxAttachments = c.maxAttached
	res.Samples = c.samples
	res.Violations = append(res.Violations, c.violations...)
	attachLog := append([]attachObs(nil), c.attachLog...)
	c.mu.Unlock()

	attachingAt := c.collectMove(res, failed, initial, attachLog)
	c.collectExecutions(res, execs, failed, attachingAt, sc.ExpectFailover)
	res.Observed = append(res.Observed, c.notes()...)
	res.Observed = append(res.Observed, c.observed()...)
	res.StandbyNoise, res.Observed = c.standbyNoise(failed, initial, res.Observed)
	c.collectEnd(res, sc)
	if c.trino != nil {
		c.collectTrino(res, failed)
	}
	res.OK = len(res.Violations) == 0
	if res.Verdict == "" {
		res.Verdict = c.verdictPath()
	}
}

// collectMove finds when the ENI moved off the failed instance (observed, not reported
// by the steps), checks the fence, and returns when the ENI started to move.
func (c *Cluster) collectMove(res *report.Scenario, failed string, initial map[string]bool, attachLog []attachObs) time.Time {
	fault := res.FaultAt
	since := func(t time.Time) *float64 { return report.Seconds(t.Sub(fault)) }
	holder, _ := c.Holder()
	res.NewHolder = holder
	var movedAt, attachingAt time.Time
	for _, a := range attachLog {
		if a.At.Before(fault) || a.InstanceID == "" || a.InstanceID == failed {
			continue
		}
		if attachingAt.IsZero() {
			attachingAt = a.At
		}
		if a.Status == "attached" {
			movedAt = a.At
			break
		}
	}
	res.FailedOver = !movedAt.IsZero()
	if !res.FailedOver {
		return attachingAt
	}
	res.ENIAttachedS = since(movedAt)
	// the fence: the failed instance was down and off the ENI before the ENI moved
	if s := c.stateAt(failed, attachingAt); s != "shutting-down" && s != "terminated" && s != "stopping" && s != "stopped" {
		res.Violations = append(res.Violations, fmt.Sprintf("the ENI started moving to %s while %s was %q (not fenced)", holder, failed, s))
	}
	if s, ok := c.Watcher.FirstHealthy(fault, failed); ok {
		res.ServingS = since(s.At)
	}
	if t, ok := c.replacedAt(initial); ok {
		res.StandbyReplacedS = since(t)
	}
	return attachingAt
}

// collectExecutions checks the executions started after the fault: one per failure,
// succeeded, on the instance that failed, its fence before the move.
func (c *Cluster) collectExecutions(res *report.Scenario, execs []*execRun, failed string, attachingAt time.Time, expect bool) {
	since := func(t time.Time) *float64 { return report.Seconds(t.Sub(res.FaultAt)) }
	byFailure := map[string]int{}
	for _, e := range execs {
		byFailure[e.Input.FailedInstanceID+"/"+e.Input.ENIID]++
	}
	for k, n := range byFailure {
		if n > 1 {
			res.Violations = append(res.Violations, fmt.Sprintf("%d executions for the same failure %s", n, k))
		}
	}
	if len(execs) > 1 {
		res.Violations = append(res.Violations, fmt.Sprintf("%d executions for one fault", len(execs)))
	}
	if len(execs) == 0 {
		return
	}
	e := execs[0]
	res.Execution = e.Exec.Name
	res.ExecutionStatus = e.Status
	res.Verdict = string(e.Input.Verdict)
	res.DetectS = since(e.Input.DetectedAt)
	if e.Output != nil {
		res.Timeline = e.Output.Timeline
		if t := e.Output.Terminate; t != nil && !t.FencedAt.IsZero() {
			res.FencedS = since(t.FencedAt)
			if res.FailedOver && t.FencedAt.After(attachingAt) {
				res.Violations = append(res.Violations, fmt.Sprintf("Terminate reported the fence at %s, after the ENI started moving at %s", t.FencedAt.Format(time.TimeOnly), attachingAt.Format(time.TimeOnly)))
			}
		}
	} else {
		res.Timeline = e.Input.Timeline
	}
	if e.Status != "SUCCEEDED" {
		res.Violations = append(res.Violations, fmt.Sprintf("execution %s ended %s: %v %s %s", e.Exec.Name, e.Status, e.Err, e.ErrName, e.Cause))
	}
	if expect && e.Input.FailedInstanceID != "" && e.Input.FailedInstanceID != failed {
		res.Violations = append(res.Violations, fmt.Sprintf("the execution failed over %s, the fault was on %s", e.Input.FailedInstanceID, failed))
	}
}

// collectEnd checks the end state: exactly one attachment, on a healthy coordinator
// (or, with KeepCoordinatorNode=yes, still on the failed one), and a failover exactly
// when one was expected.
func (c *Cluster) collectEnd(res *report.Scenario, sc Scenario) {
	holder, status := c.Holder()
	switch {
	case holder == "" || status != "attached":
		res.Violations = append(res.Violations, fmt.Sprintf("at the end the ENI is not attached (holder %q, status %q)", holder, status))
	default:
		hst := c.Host(holder)
		if hst == nil {
			res.Violations = append(res.Violations, "at the end the ENI is on "+holder+", which runs no coordinator")
			break
		}
		r := c.probeHost(hst)
		healthy := r.Status == signal.Healthy
		// after a short pause the old holder must be healthy again; after a failover the new one
		switch {
		case sc.HolderDown && !healthy:
			res.Observed = append(res.Observed, fmt.Sprintf("at the end the ENI is still on %s, which is down, as KeepCoordinatorNode=yes asks", holder))
		case sc.HolderDown:
			res.Violations = append(res.Violations, fmt.Sprintf("at the end the ENI holder %s is healthy, but the fault should have left it down", holder))
		case !healthy:
			res.Violations = append(res.Violations, fmt.Sprintf("at the end the ENI holder %s is not healthy: %s %s", holder, r.Status, r.Reason))
		}
	}
	if res.FailedOver != sc.ExpectFailover {
		want := "no failover"
		if sc.ExpectFailover {
			want = "a failover"
		}
		res.Violations = append(res.Violations, fmt.Sprintf("expected %s, failed over: %v", want, res.FailedOver))
	}
	if res.MaxAttachments > 1 {
		res.Violations = append(res.Violations, fmt.Sprintf("up to %d ENI attachments at once", res.MaxAttachments))
	}
	// Every caller runs under the policy the stack synthesizes: a refused call means
	// the product needs a permission it is not granted (or called outside its authority).
	for _, call := range c.Acct.Calls() {
		if strings.Contains(call.Err, "is not authorized to perform") {
			res.Violations = append(res.Violations, fmt.Sprintf("IAM refused %s by %s: %s", call.Action(), call.Caller, call.Err))
			break
		}
	}
}

func attachedTo(e *execRun) string {
	if e.Output != nil && e.Output.Attach != nil && e.Output.Attach.InstanceID != "" {
		return e.Output.Attach.InstanceID
	}
	return "nobody"
}

func (c *Cluster) executionsSince(t time.Time) []*execRun {
	var out []*execRun
	for _, e := range c.Executions() {
		if !e.StartedAt.Before(t) {
			out = append(out, e)
		}
	}
	return out
}

// standbyNoise finds self-reports other than healthy from the coordinators that were
// running at the fault, other than the faulted one, between the warm-up and the end.
func (c *Cluster) standbyNoise(failed string, initial map[string]bool, obs []string) (int, []string) {
	fault := c.faultAt()
	warm := c.warmAt()
	n := 0
	for _, d := range c.Acct.Datapoints("") {
		id := d.Dimensions[signal.DimInstance]
		if d.Namespace != c.Pool.ReportNamespace(id) || d.MetricName != signal.MetricHealth || id == failed || !initial[id] || d.Timestamp.Before(warm) {
			continue
		}
		if d.Min != float64(signal.Healthy) || d.Max != float64(signal.Healthy) {
			n++
			if n <= 5 {
				obs = append(obs, fmt.Sprintf("T%+.1fs %s reported %v (a healthy coordinator: machine noise)", d.Timestamp.Sub(fault).Seconds(), id, d.Min))
			}
		}
	}
	for _, r := range c.Logs() {
		if id := r.Attrs["instanceId"]; r.Msg == "probe" && r.Attrs["status"] != "healthy" && id != failed && initial[id] && !r.At.Before(warm) {
			obs = append(obs, fmt.Sprintf("T%+.1fs agent on %s: %s %s", r.At.Sub(fault).Seconds(), r.Attrs["instanceId"], r.Attrs["status"], r.Attrs["reason"]))
		}
	}
	return n, obs
}

// shortPause is the stall of the short-pause scenario: 10 s (GC stalls of about 9 s are
// reported, see aws-facts.md), or half the grace window when that is shorter.
func shortPause(st Settings) time.Duration { return min(10*time.Second, st.Grace/2) }
