package healthcheck

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/awserr"
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

	// One failover at a time.
	ev.Calls.Guards++
	running, err := h.sfn.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(h.cfg.StateMachineARN),
		StatusFilter: sfntypes.ExecutionStatusRunning, MaxResults: 10})
	if err != nil {
		return fmt.Errorf("listing running failovers of %s: %w", h.cfg.StateMachineARN, err)
	}
	if len(running.Executions) > 0 {
		e := running.Executions[0]
		ev.Action, ev.Execution, ev.ExecutionARN = ActionBlockedRunning, aws.ToString(e.Name), aws.ToString(e.ExecutionArn)
		ev.ActionDetail = fmt.Sprintf("failover %s is running since %s", aws.ToString(e.Name), aws.ToTime(e.StartDate).UTC().Format(time.RFC3339))
		log.InfoContext(ctx, "failover blocked", "guard", "one-at-a-time", "detail", ev.ActionDetail, "execution", ev.Execution)
		return nil
	}

	// Circuit breaker, counted from the state machine's own history.
	now := h.clk.Now()
	n, ended, err := h.startedSince(ctx, now.Add(-h.cfg.BreakerWindow), &ev.Calls)
	if err != nil {
		return err
	}
	ev.BreakerCount = n
	if n >= h.cfg.BreakerMax {
		ev.Action = ActionBlockedBreaker
		ev.ActionDetail = fmt.Sprintf("circuit breaker open: %d failovers started in the last %s (max %d); a coordinator that keeps failing on every host is not a host problem",
			n, h.cfg.BreakerWindow, h.cfg.BreakerMax)
		log.ErrorContext(ctx, "failover blocked", "guard", "circuit-breaker", "detail", ev.ActionDetail, "count", n)
		return h.alert(ctx, r, ev, "breaker", fmt.Sprintf("%s failover blocked: circuit breaker open", h.cfg.Cluster), ActionBlockedBreaker)
	}

	// Start.
	state := events.FailoverState{Cluster: h.cfg.Cluster, ENIID: h.cfg.ENIID, FailedInstanceID: failed, Verdict: ev.Verdict,
		Reason: ev.Reason, Evidence: ev.Evidence, DetectedAt: ev.At}
	state.AddEvent(events.StepDetect, "detected", ev.At, "verdict "+string(ev.Verdict)+": "+ev.Reason)
	if err := state.Validate(); err != nil {
		return fmt.Errorf("building failover input: %w", err)
	}
	input, err := json.Marshal(state)
	if err != nil {
		return fmt.Errorf("encoding failover input: %w", err)
	}
	// The name is deterministic, so a second trigger for the same failure collides with
	// the first. No execution is running (checked above), so a collision means an earlier
	// attempt at this failure has ended, and since the same instance still holds the ENI
	// and still fails, it did not cure it (a crash before the fence, retries exhausted):
	// try again under the next attempt's name. Every attempt counts in the breaker.
	base := events.ExecutionName(h.cfg.Cluster, failed, h.cfg.ENIID, ev.At)
	var out *sfn.StartExecutionOutput
	attempt := 1
	for ; ; attempt++ {
		name := events.AttemptName(base, attempt)
		ev.Execution = name
		ev.Calls.Actions++
		out, err = h.sfn.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(h.cfg.StateMachineARN),
			Name: aws.String(name), Input: aws.String(string(input))})
		if !awserr.IsAlreadyExists(err) {
			break
		}
		if ended[name] == sfntypes.ExecutionStatusSucceeded {
			// That attempt completed: it fenced the instance and moved the ENI, or found
			// it moved. Seeing the instance still hold the ENI is a stale read, or an
			// operator moved it back: not a reason for another failover of the same failure.
			ev.Action = ActionAlreadyHandled
			ev.ActionDetail = "execution " + name + " of this failure succeeded; not starting another"
			log.InfoContext(ctx, "failover already handled", "execution", name)
			return nil
		}
		log.WarnContext(ctx, "an earlier failover of this failure ended without curing it", "execution", name, "status", string(ended[name]))
		if attempt >= maxAttempts {
			ev.Action = ActionAlreadyHandled
			ev.ActionDetail = fmt.Sprintf("%d executions of this failure (%s ... %s) ended without curing it; not starting another", attempt, base, name)
			log.ErrorContext(ctx, "failover attempts exhausted", "execution", name, "attempts", attempt)
			return h.alert(ctx, r, ev, "attempts/"+base, fmt.Sprintf("%s failover of %s: %d attempts ended without curing it", h.cfg.Cluster, describe(failed), attempt), ActionAlreadyHandled)
		}
	}
	if err != nil {
		return fmt.Errorf("starting failover %s for %s: %w", ev.Execution, describe(failed), err)
	}
	ev.Action, ev.ExecutionARN = ActionStarted, aws.ToString(out.ExecutionArn)
	ev.ActionDetail = fmt.Sprintf("failover started (%d of %d in the breaker window)", n+1, h.cfg.BreakerMax)
	if attempt > 1 {
		ev.ActionDetail += fmt.Sprintf("; attempt %d: the earlier execution(s) of this failure ended without curing it", attempt)
	}
	log.WarnContext(ctx, "failover started", "execution", ev.Execution, "attempt", attempt, "executionArn", ev.ExecutionARN, "evidence", ev.Evidence)
	return nil
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

// startedSince counts the executions started at or after since, paging newest first and
// stopping once a page reaches past since. It also returns the status of every
// execution it saw, by name: an attempt of the same failure that succeeded is not
// retried.
func (h *Handler) startedSince(ctx context.Context, since time.Time, calls *Calls) (int, map[string]sfntypes.ExecutionStatus, error) {
	in := &sfn.ListExecutionsInput{StateMachineArn: aws.String(h.cfg.StateMachineARN), MaxResults: 100}
	n := 0
	seen := map[string]sfntypes.ExecutionStatus{}
	for {
		calls.Guards++
		out, err := h.sfn.ListExecutions(ctx, in)
		if err != nil {
			return 0, nil, fmt.Errorf("listing failovers of %s for the circuit breaker: %w", h.cfg.StateMachineARN, err)
		}
		past := false
		for _, e := range out.Executions {
			seen[aws.ToString(e.Name)] = e.Status
			if aws.ToTime(e.StartDate).Before(since) {
				past = true
				continue
			}
			n++
		}
		if past || aws.ToString(out.NextToken) == "" {
			return n, seen, nil
		}
		in.NextToken = out.NextToken
	}
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
