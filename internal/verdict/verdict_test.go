package verdict

import (
	"strings"
	"testing"
	"time"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/signal"
)

var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

// now is the evaluation time of the table tests; reports are described relative to it.
var now = t0.Add(10 * time.Minute)

func at(sec int) time.Time { return now.Add(time.Duration(sec) * time.Second) }

// reports returns one report every 5 s from from to to (seconds relative to now, both
// included) with status s.
func reports(from, to int, s signal.Status) []signal.Sample {
	var out []signal.Sample
	for x := from; x <= to; x += 5 {
		out = append(out, signal.Sample{At: at(x), Value: float64(s)})
	}
	return out
}

func witness(from, to int, reached bool) []signal.Sample {
	v := 0.0
	if reached {
		v = 1
	}
	var out []signal.Sample
	for x := from; x <= to; x += 5 {
		out = append(out, signal.Sample{At: at(x), Value: v})
	}
	return out
}

func cat(parts ...[]signal.Sample) []signal.Sample {
	var out []signal.Sample
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

const (
	active  = "i-0aaaaaaaaaaaaaaa1"
	standby = "i-0bbbbbbbbbbbbbbb2"
	other   = "i-0ccccccccccccccc3"
)

func holder() Coordinator {
	return Coordinator{InstanceID: active, State: StateRunning, HoldsENI: true,
		ENIAttachedAt: t0.Add(-time.Hour), LaunchedAt: t0.Add(-2 * time.Hour)}
}

// With the defaults the window is [now-40s, now-10s]; reports up to now-2s are visible.
func TestEvaluateTable(t *testing.T) {
	healthy := reports(-120, -2, signal.Healthy)
	cases := []struct {
		name      string
		c         Coordinator
		self      []signal.Sample
		witnesses map[string][]signal.Sample
		want      events.Verdict
		reason    string // substring of the reason
	}{
		// GONE, whatever the reports say.
		{name: "terminated", c: with(holder(), func(c *Coordinator) { c.State = StateTerminated }), self: healthy, want: events.VerdictGone, reason: "terminated"},
		{name: "shutting-down", c: with(holder(), func(c *Coordinator) { c.State = StateShuttingDown }), self: healthy, want: events.VerdictGone},
		{name: "stopping", c: with(holder(), func(c *Coordinator) { c.State = StateStopping }), self: healthy, want: events.VerdictGone},
		{name: "stopped", c: with(holder(), func(c *Coordinator) { c.State = StateStopped }), self: healthy, want: events.VerdictGone},
		{name: "missing flag", c: with(holder(), func(c *Coordinator) { c.Missing = true }), self: healthy, want: events.VerdictGone, reason: "missing"},
		{name: "missing state", c: with(holder(), func(c *Coordinator) { c.State = "" }), want: events.VerdictGone},

		// HEALTHY.
		{name: "healthy", c: holder(), self: healthy, witnesses: map[string][]signal.Sample{standby: witness(-120, -3, true)}, want: events.VerdictHealthy},
		{name: "healthy no witnesses", c: holder(), self: healthy, want: events.VerdictHealthy},
		{name: "healthy, last report just inside the window", c: holder(), self: reports(-120, -40, signal.Healthy), want: events.VerdictHealthy},

		// FAILED: unhealthy for the whole grace window.
		{name: "unhealthy for the grace window", c: holder(), self: cat(reports(-120, -45, signal.Healthy), reports(-40, -5, signal.Unhealthy)),
			want: events.VerdictFailed, reason: "unhealthy for 35s"},
		{name: "unhealthy exactly the grace", c: holder(), self: cat(reports(-120, -40, signal.Healthy), reports(-35, -5, signal.Unhealthy)),
			want: events.VerdictFailed, reason: "unhealthy for 30s"},
		{name: "unhealthy, witnesses still reach it", c: holder(), self: cat(reports(-120, -45, signal.Healthy), reports(-40, -5, signal.Unhealthy)),
			witnesses: map[string][]signal.Sample{standby: witness(-120, -3, true)}, want: events.VerdictFailed},
		// SUSPECT: failing, not yet for the whole grace window.
		{name: "unhealthy shorter than grace", c: holder(), self: cat(reports(-120, -30, signal.Healthy), reports(-25, -5, signal.Unhealthy)),
			want: events.VerdictSuspect, reason: "20s of the 30s"},
		{name: "flapping, latest unhealthy", c: holder(), self: cat(reports(-120, -40, signal.Unhealthy), reports(-35, -25, signal.Healthy), reports(-20, -5, signal.Unhealthy)),
			want: events.VerdictSuspect},
		{name: "one unhealthy then silence shorter than grace", c: holder(), self: cat(reports(-120, -30, signal.Healthy), reports(-25, -25, signal.Unhealthy)),
			want: events.VerdictSuspect},
		// Recovered inside the window (GC pause shorter than grace): latest healthy wins.
		{name: "pause ended", c: holder(), self: cat(reports(-120, -45, signal.Healthy), reports(-40, -20, signal.Unhealthy), reports(-15, -5, signal.Healthy)),
			want: events.VerdictHealthy, reason: "recovered after 5"},

		// Silent for the whole grace window.
		{name: "silent, witness reaches it", c: holder(), self: reports(-120, -45, signal.Healthy),
			witnesses: map[string][]signal.Sample{standby: witness(-120, -3, true)}, want: events.VerdictAgentLost, reason: standby},
		{name: "silent, one of two witnesses reaches it", c: holder(), self: reports(-120, -45, signal.Healthy),
			witnesses: map[string][]signal.Sample{standby: witness(-120, -3, false), other: witness(-120, -3, true)}, want: events.VerdictAgentLost, reason: other},
		{name: "silent, witnesses cannot reach it", c: holder(), self: reports(-120, -45, signal.Healthy),
			witnesses: map[string][]signal.Sample{standby: witness(-120, -3, false), other: witness(-120, -3, false)}, want: events.VerdictFailed, reason: "2 witness(es) cannot reach it"},
		{name: "silent, no witnesses", c: holder(), self: reports(-120, -45, signal.Healthy), want: events.VerdictFailed, reason: "no witness reports"},
		{name: "silent, witness reports too old to be present", c: holder(), self: reports(-120, -45, signal.Healthy),
			witnesses: map[string][]signal.Sample{standby: witness(-120, -45, true)}, want: events.VerdictFailed, reason: "no witness reports"},
		{name: "silent, nothing ever reported", c: holder(), want: events.VerdictFailed, reason: "no self-report in the lookback"},
		{name: "unhealthy then silent", c: holder(), self: cat(reports(-120, -60, signal.Healthy), reports(-55, -45, signal.Unhealthy)),
			witnesses: map[string][]signal.Sample{standby: witness(-120, -3, false)}, want: events.VerdictFailed},
		// Witness reports from before the ENI moved probed the previous holder.
		{name: "silent, reached only before the ENI moved here", c: with(holder(), func(c *Coordinator) { c.ENIAttachedAt = at(-20) }),
			self: reports(-120, -45, signal.Healthy), witnesses: map[string][]signal.Sample{standby: cat(witness(-120, -25, true), witness(-20, -3, false))},
			want: events.VerdictFailed, reason: "1 witness(es) cannot reach it"},
		{name: "silent, all witness reports from before the ENI moved here", c: with(holder(), func(c *Coordinator) { c.ENIAttachedAt = at(-2) }),
			self: reports(-120, -45, signal.Healthy), witnesses: map[string][]signal.Sample{standby: witness(-120, -3, true)},
			want: events.VerdictFailed, reason: "no witness reports"},

		// PARTITIONED: healthy, but the witnesses cannot reach it through the ENI.
		{name: "partitioned", c: holder(), self: healthy, witnesses: map[string][]signal.Sample{standby: witness(-120, -3, false), other: witness(-60, -3, false)},
			want: events.VerdictPartitioned, reason: "all 2 witness(es)"},
		{name: "partition began inside the window", c: holder(), self: healthy, witnesses: map[string][]signal.Sample{standby: cat(witness(-120, -25, true), witness(-20, -3, false))},
			want: events.VerdictHealthy},
		{name: "one witness still reaches it", c: holder(), self: healthy, witnesses: map[string][]signal.Sample{standby: witness(-120, -3, false), other: witness(-120, -3, true)},
			want: events.VerdictHealthy},
		{name: "unreached only before the ENI moved here", c: with(holder(), func(c *Coordinator) { c.ENIAttachedAt = at(-15) }), self: healthy,
			witnesses: map[string][]signal.Sample{standby: cat(witness(-120, -20, false), witness(-15, -3, true))}, want: events.VerdictHealthy},
		{name: "unreached since the ENI moved here, not yet the whole window", c: with(holder(), func(c *Coordinator) { c.ENIAttachedAt = at(-15) }), self: healthy,
			witnesses: map[string][]signal.Sample{standby: witness(-120, -3, false)}, want: events.VerdictHealthy},

		// STARTING within the startup budget, FAILED beyond it.
		{name: "starting within budget (from launch)", c: with(holder(), func(c *Coordinator) { c.LaunchedAt = at(-300) }),
			self: reports(-240, -3, signal.Starting), want: events.VerdictStarting, reason: "since its launch"},
		{name: "starting beyond budget (from launch)", c: with(holder(), func(c *Coordinator) { c.LaunchedAt = at(-660) }),
			self: reports(-600, -3, signal.Starting), want: events.VerdictFailed, reason: "beyond the startup budget"},
		{name: "restart on an old instance, within budget", c: holder(),
			self: cat(reports(-600, -305, signal.Healthy), reports(-300, -3, signal.Starting)), want: events.VerdictStarting, reason: "first starting report"},
		{name: "restart on an old instance, beyond budget", c: holder(),
			self: cat(reports(-900, -705, signal.Healthy), reports(-700, -3, signal.Starting)), want: events.VerdictFailed, reason: "beyond the startup budget"},
		{name: "launch unknown, starting run visible", c: with(holder(), func(c *Coordinator) { c.LaunchedAt = time.Time{} }),
			self: reports(-100, -3, signal.Starting), want: events.VerdictStarting},
		{name: "just launched, agent silent", c: with(holder(), func(c *Coordinator) { c.LaunchedAt = at(-90) }), want: events.VerdictStarting, reason: "launched 1m30s ago"},
		{name: "just launched, port refuses", c: with(holder(), func(c *Coordinator) { c.LaunchedAt = at(-90) }),
			self: reports(-60, -3, signal.Unhealthy), want: events.VerdictStarting},
		{name: "pending", c: with(holder(), func(c *Coordinator) { c.State = StatePending; c.LaunchedAt = at(-10) }), want: events.VerdictStarting},
		{name: "launched recently, was healthy, now unhealthy", c: with(holder(), func(c *Coordinator) { c.LaunchedAt = at(-200) }),
			self: cat(reports(-150, -45, signal.Healthy), reports(-40, -3, signal.Unhealthy)), want: events.VerdictFailed},
		{name: "launched beyond budget, never reported", c: with(holder(), func(c *Coordinator) { c.LaunchedAt = at(-700) }), want: events.VerdictFailed},

		// Standbys: the same rules without witnesses.
		{name: "standby healthy", c: Coordinator{InstanceID: standby, State: StateRunning, LaunchedAt: t0}, self: healthy, want: events.VerdictHealthy},
		{name: "standby silent", c: Coordinator{InstanceID: standby, State: StateRunning, LaunchedAt: t0}, self: reports(-120, -45, signal.Healthy),
			witnesses: map[string][]signal.Sample{other: witness(-120, -3, true)}, want: events.VerdictFailed, reason: "standby, no witnesses"},
		{name: "standby healthy, witnesses ignored", c: Coordinator{InstanceID: standby, State: StateRunning, LaunchedAt: t0}, self: healthy,
			witnesses: map[string][]signal.Sample{other: witness(-120, -3, false)}, want: events.VerdictHealthy},
		{name: "standby unhealthy", c: Coordinator{InstanceID: standby, State: StateRunning, LaunchedAt: t0}, self: reports(-120, -3, signal.Unhealthy), want: events.VerdictFailed},
		{name: "standby terminated", c: Coordinator{InstanceID: standby, State: StateTerminated}, want: events.VerdictGone},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := Evaluate(Input{Coordinator: tc.c, Self: tc.self, Witnesses: tc.witnesses, Now: now, Params: testParams})
			if r.Verdict != tc.want {
				t.Fatalf("verdict %s (%s), want %s", r.Verdict, r.Reason, tc.want)
			}
			if !strings.Contains(r.Reason, tc.reason) {
				t.Errorf("reason %q does not mention %q", r.Reason, tc.reason)
			}
			if r.Evidence.WindowStart != at(-40) || r.Evidence.WindowEnd != at(-10) {
				t.Errorf("window [%s, %s], want [%s, %s]", r.Evidence.WindowStart, r.Evidence.WindowEnd, at(-40), at(-10))
			}
		})
	}
}

// testParams are the parameters the tables and timelines were written for: a 30 s grace
// (wider than the default) leaves room between the pauses that must be absorbed and the
// failures that must be caught.
var testParams = Params{Grace: 30 * time.Second, StartupBudget: DefaultStartupBudget,
	IngestionDelay: DefaultIngestionDelay, ReportInterval: DefaultReportInterval}

func with(c Coordinator, f func(*Coordinator)) Coordinator {
	f(&c)
	return c
}

func TestEvidence(t *testing.T) {
	self := cat(reports(-120, -45, signal.Healthy), reports(-40, -5, signal.Unhealthy))
	r := Evaluate(Input{
		Params:      testParams,
		Coordinator: with(holder(), func(c *Coordinator) { c.ENIAttachedAt = at(-30) }),
		Self:        self,
		Witnesses: map[string][]signal.Sample{
			standby: cat(witness(-60, -35, true), witness(-30, -5, false)), // before the attach: ignored
			other:   witness(-120, -50, true),                              // nothing in the window: absent
		},
		Now: now,
	})
	ev := r.Evidence
	if ev.EC2State != StateRunning {
		t.Errorf("EC2State %q", ev.EC2State)
	}
	if got := ev.SelfReports; got.Healthy != 0 || got.Unhealthy != 8 || got.Starting != 0 {
		t.Errorf("self counts %+v, want 0 healthy, 8 unhealthy", got)
	}
	if ev.SelfReports.LastReportAt == nil || !ev.SelfReports.LastReportAt.Equal(at(-5)) {
		t.Errorf("last report %v, want %s", ev.SelfReports.LastReportAt, at(-5))
	}
	if ev.SelfReports.LastHealthyAt == nil || !ev.SelfReports.LastHealthyAt.Equal(at(-45)) {
		t.Errorf("last healthy %v, want %s", ev.SelfReports.LastHealthyAt, at(-45))
	}
	if len(ev.Witnesses) != 1 {
		t.Fatalf("witnesses %+v, want only %s", ev.Witnesses, standby)
	}
	w := ev.Witnesses[0]
	if w.InstanceID != standby || w.Reached != 0 || w.Unreached != 6 || !w.LastReportAt.Equal(at(-5)) {
		t.Errorf("witness %+v, want %s with 0 reached, 6 unreached, last at %s", w, standby, at(-5))
	}
	if !strings.Contains(ev.Note, "attach time") {
		t.Errorf("note %q does not name the attach time", ev.Note)
	}
}

// A scenario is a coordinator's agent reporting every 5 s on its own (possibly skewed)
// clock, each report becoming visible some delay after it was taken; the health check
// evaluates every second. It returns the first time the verdict was want (zero if never)
// and every verdict seen.
type scenario struct {
	status  func(t time.Time) (signal.Status, bool) // true state at t; false: no report (agent dead)
	reached func(t time.Time) bool                  // what a witness sees at t
	skew    time.Duration                           // agent clock minus true time
	delay   func(t time.Time) time.Duration         // visibility delay of the report taken at t
	params  Params
}

func (s scenario) run(from, to time.Time) (seen map[events.Verdict]time.Time) {
	seen = map[events.Verdict]time.Time{}
	var self []struct {
		visible time.Time
		s       signal.Sample
	}
	var wit []struct {
		visible time.Time
		s       signal.Sample
	}
	for x := from.Add(-10 * time.Minute); x.Before(to); x = x.Add(5 * time.Second) {
		d := 2 * time.Second
		if s.delay != nil {
			d = s.delay(x)
		}
		if st, ok := s.status(x); ok {
			self = append(self, struct {
				visible time.Time
				s       signal.Sample
			}{x.Add(d), signal.Sample{At: x.Add(s.skew), Value: float64(st)}})
		}
		if s.reached != nil {
			v := 0.0
			if s.reached(x) {
				v = 1
			}
			wit = append(wit, struct {
				visible time.Time
				s       signal.Sample
			}{x.Add(2 * time.Second), signal.Sample{At: x.Add(time.Second), Value: v}})
		}
	}
	for n := from; n.Before(to); n = n.Add(time.Second) {
		params := s.params
		if params == (Params{}) {
			params = testParams
		}
		in := Input{Coordinator: holder(), Now: n, Params: params, Witnesses: map[string][]signal.Sample{}}
		for _, r := range self {
			if !r.visible.After(n) {
				in.Self = append(in.Self, r.s)
			}
		}
		for _, r := range wit {
			if !r.visible.After(n) {
				in.Witnesses[standby] = append(in.Witnesses[standby], r.s)
			}
		}
		v := Evaluate(in).Verdict
		if _, ok := seen[v]; !ok {
			seen[v] = n
		}
	}
	return seen
}

func TestTimelines(t *testing.T) {
	fault := t0.Add(100 * time.Second)
	pause := func(d time.Duration) func(time.Time) (signal.Status, bool) {
		return func(x time.Time) (signal.Status, bool) {
			if !x.Before(fault) && x.Before(fault.Add(d)) {
				return signal.Unhealthy, true
			}
			return signal.Healthy, true
		}
	}
	exit := func(x time.Time) (signal.Status, bool) {
		if x.Before(fault) {
			return signal.Healthy, true
		}
		return signal.Unhealthy, true
	}
	dead := func(x time.Time) (signal.Status, bool) { return signal.Healthy, x.Before(fault) }
	alive := func(time.Time) bool { return true }
	reachable := func(x time.Time) bool { return x.Before(fault) }
	late := func(x time.Time) time.Duration { // every report from the fault on arrives 45 s late
		if x.Before(fault) {
			return 2 * time.Second
		}
		return 45 * time.Second
	}
	p := testParams
	// Detection bound on an every-second evaluation: grace + ingestion allowance + one report interval.
	bound := p.Grace + p.IngestionDelay + p.ReportInterval
	cases := []struct {
		name   string
		s      scenario
		want   events.Verdict // must be reached within bound
		never  []events.Verdict
		within time.Duration
	}{
		{name: "GC pause shorter than grace", s: scenario{status: pause(25 * time.Second), reached: alive}, never: []events.Verdict{events.VerdictFailed, events.VerdictAgentLost}},
		{name: "GC pause shorter than grace, agent clock 5s behind", s: scenario{status: pause(25 * time.Second), skew: -5 * time.Second}, never: []events.Verdict{events.VerdictFailed}},
		{name: "GC pause shorter than grace, agent clock 5s ahead", s: scenario{status: pause(25 * time.Second), skew: 5 * time.Second}, never: []events.Verdict{events.VerdictFailed}},
		{name: "GC pause shorter than grace, recovery reported late", s: scenario{status: pause(25 * time.Second), delay: late, reached: alive},
			never: []events.Verdict{events.VerdictFailed}},
		{name: "GC pause longer than grace", s: scenario{status: pause(60 * time.Second)}, want: events.VerdictFailed, within: bound},
		{name: "process exit", s: scenario{status: exit, reached: alive}, want: events.VerdictFailed, within: bound, never: []events.Verdict{events.VerdictAgentLost}},
		{name: "process exit, agent clock 5s behind", s: scenario{status: exit, skew: -5 * time.Second}, want: events.VerdictFailed, within: bound},
		{name: "host unresponsive", s: scenario{status: dead, reached: reachable}, want: events.VerdictFailed, within: bound, never: []events.Verdict{events.VerdictAgentLost}},
		{name: "host unresponsive, no witnesses", s: scenario{status: dead}, want: events.VerdictFailed, within: bound},
		{name: "agent dead, witness reaches it", s: scenario{status: dead, reached: alive}, want: events.VerdictAgentLost, within: bound, never: []events.Verdict{events.VerdictFailed}},
		{name: "healthy, reports late beyond the allowance, witness reaches it", s: scenario{status: pause(0), delay: late, reached: alive},
			never: []events.Verdict{events.VerdictFailed}},
		{name: "healthy, agent clock 8s behind", s: scenario{status: pause(0), skew: -8 * time.Second}, never: []events.Verdict{events.VerdictFailed, events.VerdictSuspect}},
		{name: "healthy, agent clock 30s ahead", s: scenario{status: pause(0), skew: 30 * time.Second}, never: []events.Verdict{events.VerdictFailed, events.VerdictSuspect}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			seen := tc.s.run(t0, t0.Add(5*time.Minute))
			for _, v := range tc.never {
				if when, ok := seen[v]; ok {
					t.Errorf("verdict %s at fault+%s; seen %v", v, when.Sub(fault), seen)
				}
			}
			if tc.want != "" {
				when, ok := seen[tc.want]
				if !ok {
					t.Fatalf("never %s; seen %v", tc.want, seen)
				}
				if d := when.Sub(fault); d > tc.within || d < 0 {
					t.Errorf("%s at fault+%s, want within %s", tc.want, d, tc.within)
				} else {
					t.Logf("%s at fault+%s (bound %s)", tc.want, d, tc.within)
				}
			}
			if _, ok := seen[events.VerdictHealthy]; !ok {
				t.Errorf("never HEALTHY before the fault; seen %v", seen)
			}
		})
	}
}

func TestClampsFutureTimestamps(t *testing.T) {
	r := Evaluate(Input{Coordinator: holder(), Self: reports(-60, 30, signal.Healthy), Now: now, Params: testParams})
	if r.Verdict != events.VerdictHealthy {
		t.Fatalf("verdict %s (%s)", r.Verdict, r.Reason)
	}
	if !r.Evidence.SelfReports.LastReportAt.Equal(now) {
		t.Errorf("last report %s, want clamped to now %s", r.Evidence.SelfReports.LastReportAt, now)
	}
}

func TestParamsDefaults(t *testing.T) {
	r := Evaluate(Input{Coordinator: holder(), Now: now, Params: Params{Grace: 10 * time.Second, IngestionDelay: -1}})
	if !r.Evidence.WindowStart.Equal(at(-10)) || !r.Evidence.WindowEnd.Equal(now) {
		t.Errorf("negative allowance: window [%s, %s], want [%s, %s]", r.Evidence.WindowStart, r.Evidence.WindowEnd, at(-10), now)
	}
	if got := (Params{}).withDefaults(); got != DefaultParams() {
		t.Errorf("defaults %+v, want %+v", got, DefaultParams())
	}
}

func TestConsecutiveHealthy(t *testing.T) {
	gap := 15 * time.Second
	cases := []struct {
		name    string
		samples []signal.Sample
		want    int
	}{
		{name: "none", want: 0},
		{name: "all healthy", samples: reports(-60, -5, signal.Healthy), want: 12},
		{name: "after an unhealthy one", samples: cat(reports(-60, -30, signal.Healthy), reports(-25, -25, signal.Unhealthy), reports(-20, -5, signal.Healthy)), want: 4},
		{name: "after starting", samples: cat(reports(-60, -25, signal.Starting), reports(-20, -5, signal.Healthy)), want: 4},
		{name: "latest unhealthy", samples: cat(reports(-60, -10, signal.Healthy), reports(-5, -5, signal.Unhealthy)), want: 0},
		{name: "latest too old", samples: reports(-60, -20, signal.Healthy), want: 0},
		{name: "gap breaks the run", samples: cat(reports(-60, -40, signal.Healthy), reports(-20, -5, signal.Healthy)), want: 4},
		{name: "unsorted input", samples: cat(reports(-20, -5, signal.Healthy), reports(-60, -25, signal.Healthy)), want: 12},
		{name: "future timestamps clamped", samples: reports(-10, 20, signal.Healthy), want: 7},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ConsecutiveHealthy(tc.samples, now, gap); got != tc.want {
				t.Errorf("ConsecutiveHealthy = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestGone(t *testing.T) {
	for state, want := range map[string]bool{StatePending: false, StateRunning: false, StateShuttingDown: true,
		StateTerminated: true, StateStopping: true, StateStopped: true, StateMissing: true, "": true} {
		if Gone(state) != want {
			t.Errorf("Gone(%q) = %v, want %v", state, !want, want)
		}
	}
}

// A silent active waits for a witness whose batch is late (it holds healthy samples up
// to PublishInterval and CloudWatch can show them late), and decides once the batch is
// in or overdue. Defaults: the active's last report at -31 (silent: the window starts
// at -30), aliveAfter -26, due 35 s.
func TestSilentActiveWaitsForAPendingWitness(t *testing.T) {
	self := reports(-120, -31, signal.Healthy)
	cases := []struct {
		name    string
		witness []signal.Sample
		want    events.Verdict
	}{
		{"witness batch not in yet (newest -30, 30 s old)", witness(-120, -30, true), events.VerdictSuspect},
		{"witness batch in: it still reached it", witness(-120, -10, true), events.VerdictAgentLost},
		{"witness batch in: it could not reach it", cat(witness(-120, -30, true), witness(-25, -10, false)), events.VerdictFailed},
		{"witness overdue (newest -40): dead or cut off", witness(-120, -40, true), events.VerdictFailed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Evaluate(Input{Coordinator: holder(), Self: self, Witnesses: map[string][]signal.Sample{standby: c.witness}, Now: now, Params: DefaultParams()})
			if r.Verdict != c.want {
				t.Fatalf("verdict %s (%s), want %s", r.Verdict, r.Reason, c.want)
			}
		})
	}
}
