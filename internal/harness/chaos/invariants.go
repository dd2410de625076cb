package chaos

import (
	"slices"
	"sort"
	"time"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/healthcheck"
	"github.com/prestoha/coordinator-ha/internal/statemachine"
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
		if a := e.Attachment; a.Status == "attached" {
			if _, seen := w.attachSeen[a.ID]; !seen {
				now := w.clk.Now()
				w.attachSeen[a.ID], w.ready[a.ID], w.imdsAt[a.ID] = now, now, now
				if w.guestDelay {
					w.ready[a.ID] = now.Add(w.realism.GuestConfig(w.rng))
				}
				if w.imdsLag {
					w.imdsAt[a.ID] = now.Add(w.realism.IMDSLag(w.rng))
				}
			}
		}
	}
}

// serving reports whether the coordinator IP answers on its holder: attached, and the
// guest OS has configured the moved ENI (guest_config_delay).
func (w *world) serving() bool {
	e, ok := w.acct.ENI(w.eni)
	if !ok || e.Attachment == nil || e.Attachment.Status != "attached" {
		return false
	}
	r, seen := w.ready[e.Attachment.ID]
	return seen && !r.After(w.clk.Now())
}

// knowsItHolds reports whether the holder's agent has learnt from instance metadata that
// its host holds the ENI (imds_lag).
func (w *world) knowsItHolds(id string) bool {
	e, ok := w.acct.ENI(w.eni)
	if !ok || e.Attachment == nil || e.Attachment.InstanceID != id {
		return false
	}
	t, seen := w.imdsAt[e.Attachment.ID]
	return seen && !t.After(w.clk.Now())
}

// recoveryWatch follows, every 5 s from the bootstrap on, when the ENI holder becomes
// healthy for good, and whether after the last fault there was a healthy coordinator to
// move the ENI to for long enough (2 min) before the bound. Without one, recovery is not
// expected of the product (it does not replace a standby whose Presto is down, only
// missing instances).
type recoveryWatch struct {
	// holder-gap: since when the ENI has had no holder while a healthy standby existed,
	// and whether KeepCoordinatorNode was set meanwhile (then nothing may act).
	gapStart    time.Time
	gapKeep     bool
	gapViolated bool
	hostHealthy map[string]time.Time // per host: healthy (running, up, reporting) since

	lastFault     time.Time
	healthySince  *time.Time
	candidateRun  int // consecutive samples with a healthy candidate
	candidateSeen bool
}

// holderGapBound is "one check interval plus one failover": the longest the ENI may
// stay without a holder while a healthy standby exists. One failover under the unkind
// model: the fence (a lifecycle hook costs HookWait), stale reads waited out, an
// attachment stuck attaching (up to a minute), the protection retried, Step Functions'
// Retry backoff after a step error.
const holderGapBound = 3 * time.Minute

func (c *campaign) watchRecovery() {
	c.watchHolderGap()
	r := &c.recovery
	if now := c.clk.Now(); !now.Before(r.lastFault) && now.Before(r.lastFault.Add(c.o.RecoveryBound-time.Minute)) {
		found := false
		for _, inst := range c.acct.Instances() {
			if h := c.w.hosts[inst.ID]; h != nil && inst.State == "running" && h.proc == prestoUp && !h.silent && !h.agentDead && !h.cwCut {
				found = true
				break
			}
		}
		if found {
			r.candidateRun++
		} else {
			r.candidateRun = 0
		}
		if r.candidateRun >= 24 {
			r.candidateSeen = true
		}
	}
	hd := c.w.holder()
	ok := false
	if hd != "" {
		if inst, found := c.acct.Instance(hd); found && inst.State == "running" {
			ok = c.w.serving() && c.w.hostOf(hd).proc == prestoUp
		}
	}
	switch {
	case ok && r.healthySince == nil:
		t := c.clk.Now()
		r.healthySince = &t
	case !ok:
		r.healthySince = nil
	}
}

// watchHolderGap: never without an ENI holder, while a healthy standby exists, for
// longer than one check interval plus one failover (holderGapBound), unless
// KeepCoordinatorNode held every action back meanwhile.
func (c *campaign) watchHolderGap() {
	r := &c.recovery
	if r.hostHealthy == nil {
		r.hostHealthy = map[string]time.Time{}
	}
	now := c.clk.Now()
	standby := false
	for _, inst := range c.acct.Instances() {
		h := c.w.hosts[inst.ID]
		if h == nil || inst.State != "running" || h.proc != prestoUp || h.silent || h.agentDead || h.cwCut {
			delete(r.hostHealthy, inst.ID)
			continue
		}
		since, ok := r.hostHealthy[inst.ID]
		if !ok {
			r.hostHealthy[inst.ID] = now
			continue
		}
		// Healthy long enough for AttachENI's consecutive reports (3 at 5 s, plus ingestion).
		if now.Sub(since) >= 30*time.Second {
			standby = true
		}
	}
	e, _ := c.acct.ENI(c.w.eni)
	if e.Attachment != nil || !standby {
		r.gapStart, r.gapKeep = time.Time{}, false
		return
	}
	if r.gapStart.IsZero() {
		r.gapStart = now
	}
	r.gapKeep = r.gapKeep || c.keep
	if bound := c.hcCfg.CheckInterval + holderGapBound; !r.gapViolated && !r.gapKeep && now.Sub(r.gapStart) > bound {
		r.gapViolated = true
		c.rs.violate("holder-gap", "no instance has held the ENI since %s (%s) while a healthy standby existed (bound %s)",
			r.gapStart.Format(time.TimeOnly), now.Sub(r.gapStart), bound)
	}
}

// checkOneAtATime: at most one failover execution of the cluster runs at any time (the
// lease), whoever started it.
func (c *campaign) checkOneAtATime() {
	all := c.acct.Executions()
	for i, a := range all {
		for _, b := range all[i+1:] {
			aEnd, bEnd := a.StopDate, b.StopDate
			forever := c.clk.Now().Add(24 * time.Hour) // still running: no end yet
			if a.Status == "RUNNING" {
				aEnd = forever
			}
			if b.Status == "RUNNING" {
				bEnd = forever
			}
			if a.StartDate.Before(bEnd) && b.StartDate.Before(aEnd) {
				c.rs.violate("one-at-a-time", "executions %s (%s to %s) and %s (%s to %s) ran at the same time",
					a.Name, a.StartDate.Format(time.TimeOnly), aEnd.Format(time.TimeOnly), b.Name, b.StartDate.Format(time.TimeOnly), bEnd.Format(time.TimeOnly))
				return
			}
		}
	}
}

// evalMark is one evaluation: when, whether it was calm, and whether its verdict could
// lead to a failover.
type evalMark struct {
	at         time.Time
	calm       bool
	actionable bool // FAILED, GONE, UNATTACHED or SUSPECT (on its way to FAILED); or the evaluation failed
}

// checkEvaluationGap: after an evaluation whose verdict could lead to a failover, the
// next one, across invocations and sandboxes, comes within one check interval, whatever
// the spacing of the schedule's ticks; after any other (calm, or HEALTHY, AGENT_LOST or
// PARTITIONED, which only alert), within healthcheck.LoopSpan (the next tick; a failure
// in between rings the doorbell). Healthcheck package doc, "Calm and suspect".
func (c *campaign) checkEvaluationGap() {
	ts := slices.Clone(c.evals)
	slices.SortStableFunc(ts, func(a, b evalMark) int { return a.at.Compare(b.at) })
	for i := 1; i < len(ts); i++ {
		bound, what := healthcheck.LoopSpan, "calm or alert-only"
		if ts[i-1].actionable {
			bound, what = c.hcCfg.CheckInterval, "failover-deciding"
		}
		if gap := ts[i].at.Sub(ts[i-1].at); gap > bound {
			c.rs.violate("evaluation-gap", "no evaluation between %s and %s (%s, the bound after a %s evaluation is %s)",
				ts[i-1].at.Format(time.TimeOnly), ts[i].at.Format(time.TimeOnly), gap, what, bound)
			return
		}
	}
}

// checkEnd checks the invariants at the end of the run.
func (c *campaign) checkEnd() {
	c.checkOneAtATime()
	c.checkEvaluationGap()
	for _, e := range c.acct.Executions() {
		if e.Status == "RUNNING" {
			c.rs.violate("no-running-execution", "execution %s is still RUNNING at the end", e.Name)
		}
	}
	c.checkBreaker()
	fencedBy := map[string]string{} // failed instance -> the execution that fenced it
	witnessImpaired := c.witnessesImpaired()
	for _, r := range c.execs {
		if r.input == nil {
			continue
		}
		c.summarize(r)
		c.checkHistory(r)
		c.checkFailover(r, fencedBy, witnessImpaired)
	}
	c.checkRecovery()
}

// checkBreaker: no failover of an instance started with BreakerMax or more executions
// already started within the window. Re-attaching an ENI nobody holds (UNATTACHED) is
// exempt from the breaker when a healthy standby waits, so it is not held to the count
// itself, but it counts for the others, as the health check counts it.
func (c *campaign) checkBreaker() {
	all := c.acct.Executions()
	for i, e := range all {
		if in, err := events.DecodeFailoverState([]byte(e.Input)); err == nil && in.Verdict == events.VerdictUnattached {
			continue
		}
		n := 0
		for _, f := range all[:i+1] {
			if e.StartDate.Sub(f.StartDate) < c.hcCfg.BreakerWindow {
				n++
			}
		}
		if n > c.hcCfg.BreakerMax {
			c.rs.violate("circuit-breaker", "%d failovers started within %s up to %s (max %d)", n, c.hcCfg.BreakerWindow, e.Name, c.hcCfg.BreakerMax)
			return
		}
	}
}

// witnessesImpaired: the run's faults blinded the witnesses (their witnessCost adds up
// to 2 or more) or there were none (a pool of one), which excuses a false failover.
func (c *campaign) witnessesImpaired() bool {
	cost := 0
	for _, k := range faultTable {
		cost += k.witnessCost * c.res.FaultCounts[k.name]
	}
	return cost >= 2 || c.res.HACount == 1
}

func (c *campaign) summarize(r execRecord) {
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
	c.res.Executions = append(c.res.Executions, sum)
}

// checkHistory: a readable history, a timeline with an entry from every step that
// completed.
func (c *campaign) checkHistory(r execRecord) {
	rr := r.result
	if len(rr.Doc.Timeline) == 0 {
		c.rs.violate("history", "execution %s has an empty timeline", r.exec.Name)
	}
	for _, st := range rr.Completed {
		task, _ := statemachine.TaskForState(st)
		found := false
		for _, e := range rr.Doc.Timeline {
			if e.Step == task.Step {
				found = true
				break
			}
		}
		if !found {
			c.rs.violate("history", "execution %s: state %s completed but the timeline has no %s entry", r.exec.Name, st, task.Step)
		}
	}
}

// checkFailover: no second failover for the same failure once one has fenced it (a new
// attempt after one that ended without fencing is the health check's retry, and must not
// be held back: the cluster would stay without a coordinator), and no failover of a
// sound coordinator.
func (c *campaign) checkFailover(r execRecord, fencedBy map[string]string, witnessImpaired bool) {
	in, rr := r.input, r.result
	f := in.FailedInstanceID
	if f == "" {
		return
	}
	// Exactly one execution acts per failure: one fences the failed instance (asks for its
	// termination or forces the ENI off it) and one moves the ENI to a standby. A later
	// attempt that finds the ENI moved (SUPERSEDED, after a stale read) acts on nothing;
	// one that completes what an earlier attempt left undone (it fenced, then a step
	// crashed before the attach) fences nothing again and attaches once: that is the
	// retry the cluster needs. Fencing again, or attaching again after an attach, is a
	// second failover.
	fenced, attached := false, rr.Doc.Attach != nil && rr.Doc.Attach.Outcome == events.AttachAttached
	for _, e := range rr.Doc.Timeline {
		if e.Step == events.StepTerminate && (e.Event == "terminate-requested" || e.Event == "force-detach-requested") {
			fenced = true
		}
	}
	if prev, ok := fencedBy[f]; ok && fenced {
		c.rs.violate("single-failover", "a second failover for %s (%s) fenced it again after %s had fenced it", f, r.exec.Name, prev)
	}
	if prev, ok := fencedBy["attached/"+f]; ok && attached {
		c.rs.violate("single-failover", "a second failover for %s (%s) moved the ENI again after %s had moved it", f, r.exec.Name, prev)
	}
	if fenced {
		fencedBy[f] = r.exec.Name
	}
	if attached {
		fencedBy["attached/"+f] = r.exec.Name
	}
	h := c.w.hostOf(f)
	for name := range h.faults {
		if k, ok := kindOf(name); ok && k.real {
			return
		}
	}
	if witnessImpaired {
		return
	}
	if !c.servedAtStart[r.exec.Name] {
		// The IP did not serve when the failover started (its attachment still attaching,
		// or the guest still configuring it): no witness could reach the holder through
		// it, and a holder that is silent too is FAILED by the design's table.
		return
	}
	if ev := in.Evidence; ev != nil && len(ev.Witnesses) == 0 && in.Verdict == events.VerdictFailed {
		// No standby was there to witness (the others were down, starting or not yet
		// replaced): the design's table fails over a silent coordinator then.
		return
	}
	kinds := make([]string, 0, len(h.faults))
	for k := range h.faults {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	c.rs.violate("false-failover", "%s failed over %s (verdict %s: %s) although its coordinator never failed (its faults: %v) and a witness could vouch for it",
		r.exec.Name, f, in.Verdict, in.Reason, kinds)
}

// checkRecovery: exactly one attachment once settled, on a healthy coordinator, within
// the bound; not when the breaker held a failover back (that is its job; the breaker
// invariant covers the run) or no healthy candidate was there to move the ENI to.
func (c *campaign) checkRecovery() {
	if c.res.BreakerOpen || c.res.RecoveryExempt != "" {
		return
	}
	e, _ := c.acct.ENI(c.w.eni)
	if e.Attachment == nil || e.Attachment.Status != "attached" {
		c.rs.violate("settled-attachment", "at the end (%s after the heal) the ENI is not attached (%+v)", c.o.Settle, e.Attachment)
		return
	}
	hs := c.recovery.healthySince
	if hs == nil {
		c.rs.violate("recovery", "at the end the ENI holder %s is not a healthy running coordinator", e.Attachment.InstanceID)
		return
	}
	d := max(hs.Sub(c.recovery.lastFault), 0)
	c.res.RecoveredIn = &d
	if d > c.o.RecoveryBound {
		c.rs.violate("recovery", "the ENI holder %s became healthy for good only %s after the last fault (bound %s; the heal at the bound restarted what was down)",
			e.Attachment.InstanceID, d.Round(time.Second), c.o.RecoveryBound)
	}
}
