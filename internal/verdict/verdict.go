package verdict

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/signal"
)

// Defaults of Params. The health check's configuration uses the same values.
const (
	DefaultGrace          = 20 * time.Second
	DefaultStartupBudget  = 10 * time.Minute
	DefaultIngestionDelay = 10 * time.Second
	DefaultReportInterval = 5 * time.Second
	// DefaultPublishInterval is how long an agent may hold samples while nothing is
	// wrong before it sends them; it sends at once when a sample is not all healthy or
	// differs from the one before (internal/agent).
	DefaultPublishInterval = 10 * time.Second
)

// EC2 instance states (ec2types.InstanceStateName values).
const (
	StatePending      = "pending"
	StateRunning      = "running"
	StateShuttingDown = "shutting-down"
	StateTerminated   = "terminated"
	StateStopping     = "stopping"
	StateStopped      = "stopped"
	StateMissing      = "missing" // Evidence.EC2State of an instance EC2 does not know
)

// Gone reports whether an EC2 state means the instance cannot serve any more.
func Gone(state string) bool {
	switch state {
	case StateShuttingDown, StateTerminated, StateStopping, StateStopped, StateMissing, "":
		return true
	}
	return false
}

// Params are the tunables of the verdict. Zero fields take the defaults.
type Params struct {
	// Grace is how long a coordinator must be failing (unhealthy, or silent without a
	// witness that reaches it) before it is FAILED.
	Grace time.Duration
	// StartupBudget is how long a coordinator may be starting.
	StartupBudget time.Duration
	// IngestionDelay is how long a report may take to become visible in CloudWatch, plus
	// how far an agent's clock may run behind the health check's. Reports younger than
	// Now-IngestionDelay may be missing and their absence is never counted as silence.
	// Zero takes the default; a negative value means no allowance.
	IngestionDelay time.Duration
	// ReportInterval is the agents' probe cadence (one sample per interval).
	ReportInterval time.Duration
	// PublishInterval is the longest an agent may hold healthy samples before sending
	// them (a standby's; the active's is shorter). Silence is judged against
	// Grace+IngestionDelay, so PublishInterval plus one ReportInterval must stay within
	// Grace (the health check's configuration enforces it): a live agent's reports are
	// then in by the time its silence is established. A witness that has not been heard
	// from since the active's next report was due, but whose newest report is younger
	// than PublishInterval+2*IngestionDelay+ReportInterval, is pending: its batch may be
	// late in CloudWatch, and a silent active waits for it as SUSPECT. (Every agent sends
	// at once when it cannot reach the active, so a dead active is never waited on for a
	// live witness.)
	PublishInterval time.Duration
}

// DefaultParams returns the defaults.
func DefaultParams() Params {
	return Params{Grace: DefaultGrace, StartupBudget: DefaultStartupBudget,
		IngestionDelay: DefaultIngestionDelay, ReportInterval: DefaultReportInterval, PublishInterval: DefaultPublishInterval}
}

func (p Params) withDefaults() Params {
	d := DefaultParams()
	if p.Grace <= 0 {
		p.Grace = d.Grace
	}
	if p.StartupBudget <= 0 {
		p.StartupBudget = d.StartupBudget
	}
	switch {
	case p.IngestionDelay == 0:
		p.IngestionDelay = d.IngestionDelay
	case p.IngestionDelay < 0:
		p.IngestionDelay = 0
	}
	if p.ReportInterval <= 0 {
		p.ReportInterval = d.ReportInterval
	}
	if p.PublishInterval <= 0 {
		p.PublishInterval = d.PublishInterval
	}
	return p
}

// Coordinator is what EC2 says about one coordinator instance.
type Coordinator struct {
	InstanceID string
	// State is the EC2 state name; empty, or Missing set, when EC2 does not know the instance.
	State   string
	Missing bool
	// HoldsENI is true for the active coordinator (the coordinator ENI is attached to it).
	HoldsENI bool
	// ENIAttachedAt is when the ENI was attached to it (with HoldsENI). Witness reports
	// taken before it probed a different instance and are ignored.
	ENIAttachedAt time.Time
	// LaunchedAt is the instance's launch time (zero when unknown).
	LaunchedAt time.Time
}

// Input is everything the verdict depends on. The samples are those of signal.Parse.
// The caller should look back at least Grace+IngestionDelay, and the startup budget to
// judge a long start exactly (a starting run whose beginning is not visible is measured
// from the launch time).
type Input struct {
	Coordinator Coordinator
	// Self is the coordinator's own reports (signal.MetricHealth).
	Self []signal.Sample
	// Witnesses maps each standby's instance id to its witness reports
	// (signal.MetricWitness). Only used when the coordinator holds the ENI.
	Witnesses map[string][]signal.Sample
	Now       time.Time
	Params    Params
}

// Result is a verdict with its evidence and a reason a person can read.
type Result struct {
	Verdict  events.Verdict
	Reason   string
	Evidence events.Evidence
}

// report is a sample with its decoded status.
type report struct {
	at     time.Time
	status signal.Status
}

// Evaluate judges one coordinator. It is a pure function of in.
func Evaluate(in Input) Result {
	p := in.Params.withDefaults()
	now := in.Now
	c := in.Coordinator
	windowEnd := now.Add(-p.IngestionDelay)
	windowStart := windowEnd.Add(-p.Grace)

	state := c.State
	if c.Missing || state == "" {
		state = StateMissing
	}
	self := decode(in.Self, now)
	ev := events.Evidence{
		EC2State:    state,
		WindowStart: windowStart.UTC(),
		WindowEnd:   windowEnd.UTC(),
		SelfReports: summarize(self, windowStart),
	}
	var wit witnessView
	if c.HoldsENI {
		alive := aliveAfter(self, p.ReportInterval)
		wit = witnesses(in.Witnesses, now, windowStart, c.ENIAttachedAt, alive)
		wit.pending = pendingWitnesses(in.Witnesses, now, alive, p.PublishInterval+2*p.IngestionDelay+p.ReportInterval)
		ev.Witnesses = wit.reports
		if !c.ENIAttachedAt.IsZero() {
			ev.Note = "witness reports count from the ENI attach time " + c.ENIAttachedAt.UTC().Format(time.RFC3339)
		}
	}
	res := Result{Evidence: ev}
	set := func(v events.Verdict, format string, args ...any) Result {
		res.Verdict = v
		res.Reason = fmt.Sprintf(format, args...)
		return res
	}

	// GONE: the instance cannot serve whatever its agent says.
	if Gone(state) {
		return set(events.VerdictGone, "instance is %s", state)
	}

	var last *report
	if len(self) > 0 {
		last = &self[len(self)-1]
	}
	silent := last == nil || last.at.Before(windowStart)

	// A freshly launched instance that has not been healthy yet is starting, whether its
	// agent is still silent, its HTTP port refuses, or Trino says starting.
	if !c.LaunchedAt.IsZero() && now.Sub(c.LaunchedAt) < p.StartupBudget && !healthySince(self, c.LaunchedAt) &&
		(silent || last.status != signal.Starting) {
		return set(events.VerdictStarting, "launched %s ago and not healthy yet (startup budget %s)",
			round(now.Sub(c.LaunchedAt)), p.StartupBudget)
	}

	if silent {
		since := "no self-report in the lookback"
		if last != nil {
			since = "last self-report at " + last.at.UTC().Format(time.RFC3339)
		}
		if !c.HoldsENI {
			return set(events.VerdictFailed, "silent for the whole %s grace window (%s); standby, no witnesses", p.Grace, since)
		}
		if len(wit.reached) > 0 {
			return set(events.VerdictAgentLost, "silent for the whole %s grace window (%s) but witness %s reached it: the agent or its path to CloudWatch is down",
				p.Grace, since, strings.Join(wit.reached, ", "))
		}
		if len(wit.pending) > 0 && !wit.heardAfterAlive {
			return set(events.VerdictSuspect, "silent for the whole %s grace window (%s); waiting for the reports of witness %s, which is still reporting but not since then",
				p.Grace, since, strings.Join(wit.pending, ", "))
		}
		if len(wit.reports) == 0 {
			return set(events.VerdictFailed, "silent for the whole %s grace window (%s) and no witness reports", p.Grace, since)
		}
		return set(events.VerdictFailed, "silent for the whole %s grace window (%s) and %d witness(es) cannot reach it",
			p.Grace, since, len(wit.reports))
	}

	run := trailingRun(self)
	first := self[run]
	switch last.status {
	case signal.Starting:
		from, what := first.at, "first starting report"
		if run == 0 && !c.LaunchedAt.IsZero() && c.LaunchedAt.Before(from) {
			from, what = c.LaunchedAt, "launch"
		}
		elapsed := now.Sub(from)
		if elapsed > p.StartupBudget {
			return set(events.VerdictFailed, "starting for %s since its %s, beyond the startup budget %s", round(elapsed), what, p.StartupBudget)
		}
		return set(events.VerdictStarting, "starting for %s since its %s (startup budget %s)", round(elapsed), what, p.StartupBudget)
	case signal.Unhealthy:
		// Measured on the agent's own clock: immune to skew, and a report that has not
		// arrived yet can only make the span shorter.
		span := last.at.Sub(first.at)
		if span >= p.Grace {
			return set(events.VerdictFailed, "self-reports unhealthy for %s (grace %s): %d unhealthy report(s) since %s, none healthy since",
				round(span), p.Grace, len(self)-run, first.at.UTC().Format(time.RFC3339))
		}
		return set(events.VerdictSuspect, "self-reports unhealthy for %s of the %s grace window (since %s)",
			round(span), p.Grace, first.at.UTC().Format(time.RFC3339))
	}

	// Latest report healthy.
	if c.HoldsENI && wit.allUnreachedThroughout(windowStart, p.ReportInterval) {
		return set(events.VerdictPartitioned, "healthy by its own reports but all %d witness(es) cannot reach it through the ENI throughout the %s window",
			len(wit.reports), p.Grace)
	}
	if n := ev.SelfReports.Unhealthy + ev.SelfReports.Starting; n > 0 {
		return set(events.VerdictHealthy, "latest self-report healthy (recovered after %d unhealthy or starting report(s) in the window)", n)
	}
	return set(events.VerdictHealthy, "latest self-report healthy")
}

// decode clamps future timestamps (an agent clock running ahead) to now, decodes the
// values and sorts by time. A value no agent writes counts as unhealthy.
func decode(samples []signal.Sample, now time.Time) []report {
	out := make([]report, 0, len(samples))
	for _, s := range samples {
		at := s.At
		if at.After(now) {
			at = now
		}
		st, _ := signal.StatusOf(s.Value)
		out = append(out, report{at: at, status: st})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].at.Before(out[j].at) })
	return out
}

// trailingRun returns the index of the first report of the run of reports with the
// latest report's status at the end of rs (len(rs) > 0).
func trailingRun(rs []report) int {
	i := len(rs) - 1
	for i > 0 && rs[i-1].status == rs[len(rs)-1].status {
		i--
	}
	return i
}

func healthySince(rs []report, t time.Time) bool {
	for _, r := range rs {
		if r.status == signal.Healthy && !r.at.Before(t) {
			return true
		}
	}
	return false
}

// summarize counts the reports at or after windowStart and finds the latest report and
// the latest healthy report in everything seen.
func summarize(rs []report, windowStart time.Time) events.ReportSummary {
	var s events.ReportSummary
	for _, r := range rs {
		at := r.at.UTC()
		s.LastReportAt = &at
		if r.status == signal.Healthy {
			s.LastHealthyAt = &at
		}
		if r.at.Before(windowStart) {
			continue
		}
		switch r.status {
		case signal.Healthy:
			s.Healthy++
		case signal.Starting:
			s.Starting++
		default:
			s.Unhealthy++
		}
	}
	return s
}

// witnessView is what the present witnesses said inside the window.
type witnessView struct {
	reports  []events.WitnessReport // present witnesses only, sorted by instance id
	reached  []string               // witnesses that reached it after the agent's next report was due
	earliest time.Time              // earliest counted witness report
	// anyReached: some witness reached it inside the window at all.
	anyReached bool
	// heardAfterAlive: some witness reported (either way) after aliveAfter.
	heardAfterAlive bool
	// pending: witnesses still reporting whose reports after aliveAfter are not in yet.
	pending []string
}

// aliveAfter is the time after which a witness's "reached" says more than the agent's own
// last report: the moment the agent's next report was due. A host that died right after
// its agent's last report may still have answered a witness before that moment.
func aliveAfter(self []report, interval time.Duration) time.Time {
	if len(self) == 0 {
		return time.Time{}
	}
	return self[len(self)-1].at.Add(interval)
}

// witnesses summarizes the witness reports taken at or after the window start and the
// ENI's attach time. A witness counts as having reached the coordinator when it did so
// after aliveAfter.
func witnesses(all map[string][]signal.Sample, now, windowStart, attachedAt, aliveAfter time.Time) witnessView {
	from := windowStart
	if attachedAt.After(from) {
		from = attachedAt
	}
	ids := make([]string, 0, len(all))
	for id := range all {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var v witnessView
	for _, id := range ids {
		w := events.WitnessReport{InstanceID: id}
		alive := false
		for _, s := range all[id] {
			at := s.At
			if at.After(now) {
				at = now
			}
			if at.Before(from) {
				continue
			}
			if at.After(aliveAfter) {
				v.heardAfterAlive = true
			}
			if s.Value >= 1 {
				w.Reached++
				if at.After(aliveAfter) {
					alive = true
				}
			} else {
				w.Unreached++
			}
			if w.LastReportAt == nil || !at.Before(*w.LastReportAt) {
				u, reached := at.UTC(), s.Value >= 1
				w.LastReportAt, w.LastReached = &u, &reached
			}
			if v.earliest.IsZero() || at.Before(v.earliest) {
				v.earliest = at
			}
		}
		if w.Reached+w.Unreached == 0 {
			continue
		}
		v.reports = append(v.reports, w)
		if w.Reached > 0 {
			v.anyReached = true
		}
		if alive {
			v.reached = append(v.reached, id)
		}
	}
	return v
}

// pendingWitnesses returns the witnesses (sorted) that have not reported since
// aliveAfter but whose newest report is at most due old: agents hold healthy samples
// for up to Params.PublishInterval, and CloudWatch can show them late, so their reports
// since aliveAfter may still be on the way.
func pendingWitnesses(all map[string][]signal.Sample, now, aliveAfter time.Time, due time.Duration) []string {
	if aliveAfter.IsZero() {
		return nil
	}
	var out []string
	for id, ss := range all {
		var newest time.Time
		for _, s := range ss {
			at := s.At
			if at.After(now) {
				at = now
			}
			if at.After(newest) {
				newest = at
			}
		}
		if !newest.IsZero() && !newest.After(aliveAfter) && now.Sub(newest) <= due {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// allUnreachedThroughout reports whether there are present witnesses, none of them
// reached the coordinator, and their reports cover the window from its start (within
// one report interval), so a partition that began inside the window, or witness
// reports that only started after the ENI moved, do not count yet.
func (v witnessView) allUnreachedThroughout(windowStart time.Time, interval time.Duration) bool {
	return len(v.reports) > 0 && !v.anyReached && !v.earliest.After(windowStart.Add(interval))
}

// ConsecutiveHealthy counts the healthy reports at the end of samples (the agent's
// self-reports): the latest must be no older than maxGap before now, and each counted
// report must follow the previous one within maxGap. A starting or unhealthy report, or
// a gap, ends the count. Future timestamps are clamped to now. A caller that allows for
// ingestion delay passes maxGap of at least the ingestion allowance plus one interval.
func ConsecutiveHealthy(samples []signal.Sample, now time.Time, maxGap time.Duration) int {
	rs := decode(samples, now)
	n := 0
	next := now
	for i := len(rs) - 1; i >= 0; i-- {
		r := rs[i]
		if r.status != signal.Healthy || next.Sub(r.at) > maxGap {
			break
		}
		n++
		next = r.at
	}
	return n
}

func round(d time.Duration) time.Duration { return d.Round(time.Second) }
