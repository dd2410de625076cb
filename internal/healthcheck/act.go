package healthcheck

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/lease"
)

// act decides what the active coordinator's verdict calls for and does it, only
// through the guards: KeepCoordinatorNode, one failover at a time, the circuit breaker.
func (h *Handler) act(ctx context.Context, r *run, ev *Evaluation) error {
	switch {
	case ev.Verdict == events.VerdictAgentLost || ev.Verdict == events.VerdictPartitioned:
		return h.alert(ctx, r, ev, ev.Instance+"/"+string(ev.Verdict),
			fmt.Sprintf("%s %s on %s", h.cfg.Cluster, ev.Verdict, ev.Instance), ActionAlerted)
	case ev.Verdict == events.VerdictForeignHolder:
		return h.alert(ctx, r, ev, ev.Holder+"/"+string(ev.Verdict),
			fmt.Sprintf("%s %s: ENI on %s", h.cfg.Cluster, ev.Verdict, ev.Holder), ActionAlerted)
	case !ev.Verdict.TriggersFailover():
		return nil
	}
	failed := ev.Instance // empty for UNATTACHED
	log := h.log.With("instance", failed, "verdict", string(ev.Verdict), "reason", ev.Reason)

	if h.cfg.KeepCoordinator {
		ev.Action, ev.ActionDetail = ActionBlockedKeep, "KeepCoordinatorNode=yes: verdicts are reported, never acted on"
		log.WarnContext(ctx, "failover blocked", "guard", "KeepCoordinatorNode", "detail", ev.ActionDetail)
		return nil
	}
	if pauseGuard(ctx, ev, log) { // pause.go
		return nil
	}

	// One failover at a time: the cluster's failover lease (lease.go).
	lv, err := h.walkLease(ctx, &ev.Calls)
	if err != nil {
		return err
	}
	if e := lv.Running; e != nil {
		ev.Action, ev.Execution, ev.ExecutionARN = ActionBlockedRunning, e.Name, h.executionARN(e.Name)
		ev.ActionDetail = fmt.Sprintf("failover %s holds the lease (running since %s)", e.Name, e.Start.UTC().Format(time.RFC3339))
		log.InfoContext(ctx, "failover blocked", "guard", "one-at-a-time", "detail", ev.ActionDetail, "execution", ev.Execution)
		return nil
	}

	// The same failure already cured: the newest generation succeeded on this instance.
	// Seeing it still hold the ENI is a stale read, or an operator moved it back.
	// Attempts that ended without curing it are retried, at most maxAttempts in a row.
	if failed != "" {
		same, err := h.history(ctx, lv.Next, maxAttempts, &ev.Calls, func(e lease.Exec) bool { return e.FailedInstanceID() == failed })
		if err != nil {
			return err
		}
		if len(same) > 0 && same[0].Status == sfntypes.ExecutionStatusSucceeded {
			ev.Action, ev.Execution = ActionAlreadyHandled, same[0].Name
			ev.ActionDetail = "execution " + same[0].Name + " of this failure succeeded; not starting another"
			log.InfoContext(ctx, "failover already handled", "execution", same[0].Name)
			return nil
		}
		if len(same) >= maxAttempts {
			ev.Action, ev.Execution = ActionAlreadyHandled, same[0].Name
			ev.ActionDetail = fmt.Sprintf("%d executions of this failure (%s ... %s) ended without curing it; not starting another", len(same), same[len(same)-1].Name, same[0].Name)
			log.ErrorContext(ctx, "failover attempts exhausted", "execution", same[0].Name, "attempts", len(same))
			return h.alert(ctx, r, ev, "attempts/"+failed, fmt.Sprintf("%s failover of %s: %d attempts ended without curing it", h.cfg.Cluster, describe(failed), len(same)), ActionAlreadyHandled)
		}
	}

	// Circuit breaker, counted from the lease's own generations.
	now := h.clk.Now()
	since := now.Add(-h.cfg.BreakerWindow)
	recent, err := h.history(ctx, lv.Next, h.cfg.BreakerMax, &ev.Calls, func(e lease.Exec) bool { return !e.Start.Before(since) })
	if err != nil {
		return err
	}
	n := len(recent)
	ev.BreakerCount = n
	if n >= h.cfg.BreakerMax {
		if breakerExempt(ev) {
			log.WarnContext(ctx, "circuit breaker open, but exempt", "guard", "circuit-breaker", "count", n,
				"detail", "no instance holds the ENI and a healthy standby waits: attaching it fences nothing")
		} else {
			ev.Action = ActionBlockedBreaker
			ev.ActionDetail = fmt.Sprintf("circuit breaker open: %d failovers started in the last %s (max %d); a coordinator that keeps failing on every host is not a host problem",
				n, h.cfg.BreakerWindow, h.cfg.BreakerMax)
			log.ErrorContext(ctx, "failover blocked", "guard", "circuit-breaker", "detail", ev.ActionDetail, "count", n)
			return h.alert(ctx, r, ev, "breaker", fmt.Sprintf("%s failover blocked: circuit breaker open", h.cfg.Cluster), ActionBlockedBreaker)
		}
	}

	// Start: take the next generation of the lease.
	state := events.FailoverState{Cluster: h.cfg.Cluster, ENIID: h.cfg.ENIID, FailedInstanceID: failed, Verdict: ev.Verdict,
		Reason: ev.Reason, Evidence: ev.Evidence, DetectedAt: ev.At}
	state.AddEvent(events.StepDetect, "detected", ev.At, "verdict "+string(ev.Verdict)+": "+ev.Reason)
	if err := state.Validate(); err != nil {
		return fmt.Errorf("building failover input: %w", err)
	}
	name := events.LeaseName(h.cfg.Cluster, lv.Next)
	ev.Execution = name
	arn, ok, err := h.takeLease(ctx, lv.Next, state, &ev.Calls)
	if err != nil {
		return fmt.Errorf("starting failover %s for %s: %w", name, describe(failed), err)
	}
	if !ok {
		ev.Action, ev.ExecutionARN = ActionBlockedRunning, h.executionARN(name)
		ev.ActionDetail = fmt.Sprintf("lease generation %d (%s) was taken by another starter first", lv.Next, name)
		log.InfoContext(ctx, "failover blocked", "guard", "one-at-a-time", "detail", ev.ActionDetail, "execution", name)
		return nil
	}
	ev.Action, ev.ExecutionARN = ActionStarted, arn
	ev.ActionDetail = fmt.Sprintf("failover started (%d of %d in the breaker window; lease generation %d)", n+1, h.cfg.BreakerMax, lv.Next)
	log.WarnContext(ctx, "failover started", "execution", ev.Execution, "generation", lv.Next, "executionArn", ev.ExecutionARN, "evidence", ev.Evidence)
	return nil
}

// breakerExempt: re-attaching an ENI that no instance holds to a healthy standby is
// never held back by the circuit breaker. It terminates nothing (Terminate reports
// NO_HOLDER), so it cannot be the runaway the breaker exists for, and holding it back
// would leave the cluster without a coordinator while a healthy standby waits.
func breakerExempt(ev *Evaluation) bool {
	return ev.Verdict == events.VerdictUnattached && ev.HealthyStandbys > 0
}

// maxAttempts bounds the executions for one failure, whatever their age (the circuit
// breaker bounds them within its window).
const maxAttempts = 10

func describe(instance string) string {
	if instance == "" {
		return "the unattached ENI"
	}
	return instance
}

// alert publishes one SNS message per key and invocation (operators see the rest on the
// dashboard and its alarms, fed by the Verdict metric of every evaluation). Without a
// topic the alert is only logged.
func (h *Handler) alert(ctx context.Context, r *run, ev *Evaluation, key, subject string, action Action) error {
	if ev.Action == ActionNone {
		ev.Action = action
	}
	if ev.ActionDetail == "" {
		ev.ActionDetail = "alert: " + ev.Reason
	}
	log := h.log.With("instance", ev.Instance, "verdict", string(ev.Verdict), "reason", ev.Reason)
	if r.alerted[key] {
		if action == ActionAlerted {
			ev.Action = ActionAlertDeduped
		}
		log.InfoContext(ctx, "alert already sent in this invocation", "key", key)
		return nil
	}
	r.alerted[key] = true
	if h.cfg.TopicARN == "" {
		log.WarnContext(ctx, "alert (no topic configured)", "subject", subject, "evidence", ev.Evidence)
		return nil
	}
	body, _ := json.MarshalIndent(struct {
		Cluster  string           `json:"cluster"`
		Instance string           `json:"instance,omitempty"`
		Verdict  events.Verdict   `json:"verdict"`
		Reason   string           `json:"reason"`
		Action   string           `json:"action"`
		At       time.Time        `json:"at"`
		Evidence *events.Evidence `json:"evidence,omitempty"`
	}{h.cfg.Cluster, ev.Instance, ev.Verdict, ev.Reason, ev.ActionDetail, ev.At, ev.Evidence}, "", "  ")
	ev.Calls.Actions++
	out, err := h.sns.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(h.cfg.TopicARN),
		Subject: aws.String(snsSubject("[coordinator-ha] " + subject)), Message: aws.String(string(body))})
	if err != nil {
		r.alerted[key] = false // try again at the next evaluation
		return fmt.Errorf("publishing alert %q to %s: %w", subject, h.cfg.TopicARN, err)
	}
	log.WarnContext(ctx, "alert sent", "subject", subject, "messageId", aws.ToString(out.MessageId), slog.Any("evidence", ev.Evidence))
	return nil
}

// snsSubject keeps a subject within SNS's rules: printable ASCII, no line breaks, at
// most 100 characters.
func snsSubject(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 0x20 && r < 0x7f {
			b.WriteRune(r)
		}
	}
	out := b.String()
	if len(out) > 100 {
		out = out[:100]
	}
	return out
}
