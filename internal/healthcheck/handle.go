package healthcheck

import (
	"context"
	"fmt"
	"time"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/awserr"
	"github.com/prestoha/coordinator-ha/internal/clock"
)

// Summary is the health check Lambda's response: what one invocation saw and did.
type Summary struct {
	Cluster     string    `json:"cluster"`
	EventID     string    `json:"eventId"`
	StartedAt   time.Time `json:"startedAt"`
	EndedAt     time.Time `json:"endedAt"`
	Evaluations int       `json:"evaluations"`
	Errors      int       `json:"errors"`
	// Verdicts counts the active coordinator's verdict (or UNATTACHED) per evaluation.
	Verdicts map[events.Verdict]int `json:"verdicts"`
	// Actions counts what the evaluations did.
	Actions           map[Action]int `json:"actions"`
	ExecutionsStarted []string       `json:"executionsStarted"`
	AWSCalls          int            `json:"awsCalls"`
	// Doorbell: an agent's ring started this invocation, not the schedule.
	Doorbell bool `json:"doorbell,omitempty"`
	// EndedCalm: the loop ended on a calm evaluation, before LoopSpan.
	EndedCalm bool        `json:"endedCalm,omitempty"`
	LastError string      `json:"lastError,omitempty"`
	Last      *Evaluation `json:"last,omitempty"`
}

// Handle is the Lambda handler for one invocation: a schedule tick or an agent's
// doorbell (events.ScheduleEvent.IsDoorbell). It validates the event (a bad event is an
// error before any AWS call), then evaluates every check interval until an evaluation
// is calm (after DoorbellSpan for a doorbell), for at most LoopSpan (longer than any
// tick spacing), or until the Lambda's deadline (minus DeadlineMargin) is near, and
// returns a summary. A tick that finds the cluster calm evaluates once. It keeps
// evaluating after starting a failover: the guards make a second start for the same
// failure impossible. Evaluation errors are logged and counted; Handle fails only when
// no evaluation succeeded.
func (h *Handler) Handle(ctx context.Context, e events.ScheduleEvent) (Summary, error) {
	if err := e.Validate(); err != nil {
		return Summary{}, fmt.Errorf("health check: %w", err)
	}
	if !h.loop.TryLock() {
		return Summary{}, ErrLoopRunning
	}
	defer h.loop.Unlock()

	start := h.clk.Now()
	s := Summary{Cluster: h.cfg.Cluster, EventID: e.ID, StartedAt: start.UTC(), Doorbell: e.IsDoorbell(),
		Verdicts: map[events.Verdict]int{}, Actions: map[Action]int{}, ExecutionsStarted: []string{}}
	log := h.log.With("event", e.ID)
	log.InfoContext(ctx, "health check invocation", "scheduledAt", e.Time, "doorbell", s.Doorbell, "resources", e.Resources,
		"interval", h.cfg.CheckInterval.String(), "grace", h.cfg.Grace.String(), "keepCoordinator", h.cfg.KeepCoordinator)
	// A doorbell rings when an agent's sample shows the failure; CloudWatch shows it a
	// few seconds later. So a doorbell evaluates fast for the grace window plus the
	// ingestion allowance before a calm evaluation may end it.
	var fastAtLeast time.Duration
	if s.Doorbell {
		fastAtLeast = h.DoorbellSpan()
	}
	r := newRun()
	for k := 1; ; k++ {
		ev, err := h.evaluate(ctx, r)
		s.Evaluations++
		s.AWSCalls += ev.Calls.Total()
		if err != nil {
			s.Errors++
			s.LastError = err.Error()
			log.ErrorContext(ctx, "evaluation failed", "error", err.Error(), "evaluation", k)
			if awserr.IsContextDone(err) {
				break
			}
		}
		if ev.Verdict != "" {
			s.Verdicts[ev.Verdict]++
			s.Actions[ev.Action]++
			last := ev
			s.Last = &last
		}
		if ev.Action == ActionStarted {
			s.ExecutionsStarted = append(s.ExecutionsStarted, ev.Execution)
		}
		if err == nil && ev.Calm && h.clk.Now().Sub(start) >= fastAtLeast {
			s.EndedCalm = true
			break
		}
		next := start.Add(time.Duration(k) * h.cfg.CheckInterval)
		if next.Sub(start) >= h.period || !h.timeLeft(ctx, next.Sub(h.clk.Now())) {
			break
		}
		if err := h.clk.Sleep(ctx, next.Sub(h.clk.Now())); err != nil {
			break
		}
	}
	s.EndedAt = h.clk.Now().UTC()
	log.InfoContext(ctx, "health check invocation done", "evaluations", s.Evaluations, "endedCalm", s.EndedCalm, "errors", s.Errors,
		"verdicts", s.Verdicts, "actions", s.Actions, "executionsStarted", s.ExecutionsStarted, "awsCalls", s.AWSCalls)
	if s.Errors == s.Evaluations {
		return s, fmt.Errorf("health check: all %d evaluations failed, last: %s", s.Evaluations, s.LastError)
	}
	return s, nil
}

// DoorbellSpan is how long a doorbell invocation evaluates every check interval before
// a calm evaluation may end it: the grace window plus the ingestion allowance, by when
// the failure the agent rang for is in CloudWatch (or was a blip that is over).
func (h *Handler) DoorbellSpan() time.Duration { return h.cfg.Grace + h.cfg.IngestionDelay }

// timeLeft reports whether waiting d more on the handler's clock (clock.Deadline maps the
// Lambda deadline onto it) and evaluating again still ends DeadlineMargin before it.
func (h *Handler) timeLeft(ctx context.Context, d time.Duration) bool {
	if ctx.Err() != nil {
		return false
	}
	dl, ok := clock.Deadline(ctx, h.clk)
	if !ok {
		return true
	}
	return dl.Sub(h.clk.Now())-d > DeadlineMargin
}
