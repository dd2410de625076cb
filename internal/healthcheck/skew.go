package healthcheck

import (
	"fmt"
	"sync"
	"time"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/signal"
)

// Agent clock skew: detected, bounded, corrected for, reported.
//
// Every report carries the agent's own timestamp (the probe's time), and the verdict
// judges silence by it: a report whose newest timestamp is older than the grace window
// is silence. An agent whose clock runs 35 s behind the Lambda's therefore looks silent
// while it reports every 5 s, and with no standby to vouch for it a healthy
// coordinator was FAILED (issue 11, problem 7). CloudWatch keeps no arrival time, so
// skew is measured from arrivals between evaluations:
//
//   - Behind: a report stamped T that the previous evaluation (at P) did not see, and
//     this one does, was put after P minus the visibility allowance (the ingestion
//     allowance plus one report interval of batching). Its agent's clock was then behind
//     by at least P - T - allowance. That lower bound, the largest over the last
//     skewWindow arrivals, is the estimate. A sound clock gives 0 or less.
//   - Ahead: a report stamped after now came from a clock at least that far ahead.
//
// Correction shifts that agent's reports (self and witness) by the estimate, at most
// MaxClockSkew: a lower bound of the real skew, so a dead agent is never judged later
// than it would be with a correct clock, plus at most MaxClockSkew. An estimate beyond
// the bound is reported (reason, log, metric) and corrected only up to it.
//
// Until an instance has been seen by two evaluations nothing is known about its clock:
// a FAILED-for-silence verdict whose newest report is younger than the grace window
// plus MaxClockSkew waits one check interval as SUSPECT ("clock not calibrated yet").
// That costs one check interval on the health check's cold start only.
//
// A clock that steps back does not reuse timestamps: the agent stamps each self-report
// at least one second after the previous one (agent.NextStamp), so a step back shows as
// a few reports stamped ahead of the agent's clock until it catches up. A steady skew is
// measured at once.
//
// Every evaluation publishes signal.MetricClockSkew per instance (seconds, positive:
// behind); the dashboard graphs it and an alarm fires beyond ClockSkewAlarm.

// MaxClockSkew bounds the correction (and the cold-start wait).
const MaxClockSkew = 60 * time.Second

// ClockSkewAlarm is the skew (either way) the dashboard's alarm reports.
const ClockSkewAlarm = 10 * time.Second

// skewWindow is how many recent arrivals the behind estimate keeps (a minute at 5 s).
const skewWindow = 12

type skewState struct {
	prev     map[time.Time]bool // raw self-report timestamps the previous evaluation saw
	seen     int                // evaluations that saw this instance
	lower    []time.Duration    // recent lower bounds of "behind"
	ahead    time.Duration
	estimate time.Duration // signed: positive behind, negative ahead (unbounded)
}

type skewTracker struct {
	mu     sync.Mutex
	prevAt time.Time
	inst   map[string]*skewState
}

func newSkewTracker() *skewTracker { return &skewTracker{inst: map[string]*skewState{}} }

// skewView is one evaluation's view of the agents' clocks.
type skewView struct {
	estimate map[string]time.Duration // signed raw estimate per instance
	applied  map[string]time.Duration // the shift applied (bounded)
	unknown  map[string]bool          // seen by fewer than two evaluations
}

// observe updates the estimates from this evaluation's reports, and shifts every
// instance's samples (self and witness) in place by its bounded estimate.
func (t *skewTracker) observe(reports map[string]*signal.Reports, now time.Time, allowance time.Duration) skewView {
	t.mu.Lock()
	defer t.mu.Unlock()
	v := skewView{estimate: map[string]time.Duration{}, applied: map[string]time.Duration{}, unknown: map[string]bool{}}
	for id, r := range reports {
		if r == nil {
			continue
		}
		st := t.inst[id]
		if st == nil {
			st = &skewState{}
			t.inst[id] = st
		}
		// Arrivals: timestamps this evaluation sees and the previous one did not (reports
		// leave the lookback only at its old end, so anything new is an arrival; a clock
		// that steps back shows up too, with arrivals older than what was seen).
		var newest time.Time
		seen := make(map[time.Time]bool, len(r.Health))
		lower, arrived := time.Duration(0), false
		for _, s := range r.Health {
			seen[s.At] = true
			if s.At.After(newest) {
				newest = s.At
			}
			if st.seen > 0 && !st.prev[s.At] && !t.prevAt.IsZero() {
				if l := t.prevAt.Sub(s.At) - allowance; !arrived || l > lower {
					lower, arrived = l, true
				}
			}
		}
		if arrived {
			st.lower = append(st.lower, lower)
			if len(st.lower) > skewWindow {
				st.lower = st.lower[len(st.lower)-skewWindow:]
			}
		}
		if len(r.Health) > 0 {
			st.prev = seen
			st.ahead = max(newest.Sub(now), 0)
			st.seen++
		}
		behind := time.Duration(0)
		for _, l := range st.lower {
			behind = max(behind, l)
		}
		st.estimate = behind
		if st.ahead > 0 {
			st.estimate = -st.ahead
		}
		shift := min(max(st.estimate, -MaxClockSkew), MaxClockSkew)
		v.estimate[id], v.applied[id] = st.estimate, shift
		v.unknown[id] = st.seen < 2
		if shift != 0 {
			shiftSamples(r.Health, shift)
			shiftSamples(r.Witness, shift)
		}
	}
	t.prevAt = now
	return v
}

func shiftSamples(s []signal.Sample, d time.Duration) {
	for i := range s {
		s[i].At = s[i].At.Add(d)
	}
}

// describe says what the view knows of one instance's clock, "" when nothing to say.
func (v skewView) describe(id string) string {
	e, a := v.estimate[id], v.applied[id]
	switch {
	case e == 0:
		return ""
	case e != a:
		return fmt.Sprintf("agent clock %s by at least %s, beyond the %s bound: corrected by %s only", dir(e), abs(e), MaxClockSkew, abs(a))
	}
	return fmt.Sprintf("agent clock %s by at least %s: its reports are judged corrected", dir(e), abs(e))
}

func dir(d time.Duration) string {
	if d < 0 {
		return "ahead"
	}
	return "behind"
}

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// skewGuard adds what is known of the agent's clock to a judgement, and holds a
// FAILED-for-silence verdict back for one check interval (SUSPECT) while the clock of
// an instance seen only once is unknown and its newest report is younger than the grace
// window plus the ingestion allowance plus MaxClockSkew.
func (h *Handler) skewGuard(j *Judgement, v skewView, now time.Time) {
	if d := v.describe(j.InstanceID); d != "" {
		j.Reason += "; " + d
		if abs(v.estimate[j.InstanceID]) >= ClockSkewAlarm {
			h.log.Warn("agent clock skew", "instance", j.InstanceID, "skewSeconds", v.estimate[j.InstanceID].Seconds(), "detail", d)
		}
	}
	last := j.Evidence.SelfReports.LastReportAt
	if j.Verdict != events.VerdictFailed || !v.unknown[j.InstanceID] || last == nil || !last.Before(j.Evidence.WindowStart) {
		return
	}
	if now.Sub(*last) > h.cfg.Grace+h.params.IngestionDelay+MaxClockSkew {
		return
	}
	j.Verdict = events.VerdictSuspect
	j.Reason = "silent by its timestamps, but its agent's clock is not calibrated yet (first look at it): one more check interval before judging (" + j.Reason + ")"
}
