package healthcheck

import (
	"context"
	"testing"
	"time"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/signal"
)

func doorbellEvent(at time.Time, from string) events.ScheduleEvent {
	return events.ScheduleEvent{Version: "0", ID: "doorbell-" + from + "-" + at.Format("150405"), DetailType: events.DoorbellDetailType,
		Source: events.DoorbellSource, Time: at, Resources: []string{from}}
}

func doorbellConfig(w *world) Config {
	c := w.config()
	c.Doorbell = true
	return c
}

// A tick that finds the cluster calm evaluates once, when the agents ring; without the
// doorbell it evaluates every check interval for LoopSpan, as before.
func TestCalmTickEvaluatesOnce(t *testing.T) {
	w := newWorld(t)
	s, err := w.handler(doorbellConfig(w)).Handle(context.Background(), scheduleEvent(w.clk.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if s.Evaluations != 1 || !s.EndedCalm || s.Last == nil || !s.Last.Calm {
		t.Fatalf("summary %+v, want one calm evaluation", s)
	}
	s, err = w.handler(w.config()).Handle(context.Background(), scheduleEvent(w.clk.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if n := int(LoopSpan / DefaultCheckInterval); s.Evaluations != n || s.EndedCalm || s.Last.Calm {
		t.Fatalf("without the doorbell: %d evaluations (ended calm %v), want %d", s.Evaluations, s.EndedCalm, n)
	}
}

// Nobody could ring without a standby that reaches the active: never calm then.
func TestNeverCalmWithoutAWitnessThatReachesTheActive(t *testing.T) {
	for name, f := range map[string]func(*host){
		"standby agent down":    func(h *host) { h.agentDown = true },
		"standby host down":     func(h *host) { h.hostDown = true },
		"standby process fails": func(h *host) { h.proc = signal.Unhealthy }, // its witness still reaches: calm
	} {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			for _, id := range w.poolIDs() {
				if id != w.holder() {
					w.change(id, f)
				}
			}
			w.advance(DefaultGrace + DefaultIngestionDelay + 10*time.Second)
			s, err := w.handler(doorbellConfig(w)).Handle(context.Background(), scheduleEvent(w.clk.Now()))
			if err != nil {
				t.Fatal(err)
			}
			wantCalm := name == "standby process fails"
			if s.EndedCalm != wantCalm || (wantCalm && s.Evaluations != 1) || (!wantCalm && s.Evaluations != int(LoopSpan/DefaultCheckInterval)) {
				t.Fatalf("%s: %d evaluations, ended calm %v; want calm=%v", name, s.Evaluations, s.EndedCalm, wantCalm)
			}
		})
	}
}

// A doorbell evaluates every check interval for DoorbellSpan even when calm: the
// failure it rang for reaches CloudWatch a few seconds after the ring.
func TestDoorbellLooksFastForItsSpan(t *testing.T) {
	w := newWorld(t)
	h := w.handler(doorbellConfig(w))
	s, err := h.Handle(context.Background(), doorbellEvent(w.clk.Now(), "i-standby"))
	if err != nil {
		t.Fatal(err)
	}
	want := int(h.DoorbellSpan()/DefaultCheckInterval) + 1
	if !s.Doorbell || !s.EndedCalm || s.Evaluations != want {
		t.Fatalf("summary %+v, want %d evaluations then calm", s, want)
	}
}

// The active's process fails just after a calm tick; its agent rings at its next
// probe. The failover starts as fast as with evaluations every check interval: within
// the grace window, the ingestion allowance and two check intervals of the fault.
func TestDoorbellFailsOverWithoutWaitingForTheTick(t *testing.T) {
	w := newWorld(t)
	cfg := doorbellConfig(w)
	tick := w.clk.Now()
	if s := w.invokeEvent(w.handler(cfg), scheduleEvent(tick)); s.Evaluations != 1 {
		t.Fatalf("tick: %d evaluations, want 1 (calm)", s.Evaluations)
	}
	fault := tick.Add(2 * time.Second)
	w.advance(fault.Sub(w.clk.Now()))
	w.change(w.holder(), func(h *host) { h.proc = signal.Unhealthy })
	w.advance(agentGap) // the agent's next probe sees it and rings
	s := w.invokeEvent(w.handler(cfg), doorbellEvent(w.clk.Now(), w.holder()))
	if len(s.ExecutionsStarted) != 1 {
		t.Fatalf("doorbell invocation: %+v, want one failover started", s)
	}
	var startedAt time.Time
	for _, e := range w.acct.Executions() {
		startedAt = e.StartDate
	}
	if took, bound := startedAt.Sub(fault), DefaultGrace+DefaultIngestionDelay+2*DefaultCheckInterval; took > bound {
		t.Fatalf("failover started %s after the fault, want within %s", took, bound)
	} else {
		t.Logf("failover started %s after the fault (bound %s), the next tick was %s away", took, bound, tick.Add(SchedulePeriod).Sub(fault))
	}
}

// invokeEvent runs one invocation of h for e.
func (w *world) invokeEvent(h *Handler, e events.ScheduleEvent) Summary {
	w.t.Helper()
	s, err := h.Handle(context.Background(), e)
	if err != nil {
		w.t.Fatalf("invocation %s: %v", e.ID, err)
	}
	return s
}
