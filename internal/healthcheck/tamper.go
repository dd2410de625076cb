package healthcheck

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/signal"
)

// Tampering. IAM lets only instance X write X's report namespace (see package signal),
// so a sample no agent writes (a value outside the encoding, a second with two
// self-reports) came from a second writer holding X's own credentials. Such samples
// are set aside before any verdict (screenReports), the active coordinator is never
// failed over on the strength of reports that were tampered with (holdOnTampering:
// GONE, which rests on EC2 alone, still is), and every finding is alerted on: an
// error log line, the ReportTampering metric and an SNS message (alertTampering).

// screenReports removes from every member's reports what no agent writes and returns
// what was found, by instance.
func screenReports(reports map[string]*signal.Reports) map[string]signal.Tampering {
	out := map[string]signal.Tampering{}
	for id, r := range reports {
		if t := signal.Check(r); t.Found() {
			out[id] = t
		}
	}
	return out
}

// holdOnTampering keeps a FAILED verdict on the active coordinator from starting a
// failover when its reports were tampered with: it becomes SUSPECT (wait), with the
// reason. What is left of its reports may be honest, but a failover is not to be
// decided on a record someone else has written into.
func holdOnTampering(active *Judgement, tampered map[string]signal.Tampering) {
	t, ok := tampered[active.InstanceID]
	if !ok || active.Verdict != events.VerdictFailed {
		return
	}
	active.Verdict = events.VerdictSuspect
	active.Reason = fmt.Sprintf("reports tampered with (%s): no failover on them, alerting (%s)", t, active.Reason)
}

// alertTampering logs every finding at error level, records it in the evaluation (and
// so the ReportTampering metric), and sends one SNS alert per member and invocation.
func (h *Handler) alertTampering(ctx context.Context, r *run, ev *Evaluation, tampered map[string]signal.Tampering) error {
	if len(tampered) == 0 {
		return nil
	}
	ids := make([]string, 0, len(tampered))
	for id := range tampered {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	ev.Tampered = map[string]string{}
	var firstErr error
	for _, id := range ids {
		what := tampered[id].String()
		ev.Tampered[id] = what
		h.log.ErrorContext(ctx, "report tampering: samples no agent writes were set aside, never acted on",
			"instance", id, "active", id == ev.Instance, "found", what)
		key := "tamper/" + id
		if r.alerted[key] || h.cfg.TopicARN == "" {
			continue
		}
		r.alerted[key] = true
		body, _ := json.MarshalIndent(struct {
			Cluster  string    `json:"cluster"`
			Instance string    `json:"instance"`
			Active   bool      `json:"active"`
			Found    string    `json:"found"`
			Action   string    `json:"action"`
			At       time.Time `json:"at"`
		}{h.cfg.Cluster, id, id == ev.Instance, what,
			"the samples were set aside; no failover is decided on them. Only this instance's credentials can write its report namespace: look for a second writer on the host.", ev.At}, "", "  ")
		ev.Calls.Actions++
		if _, err := h.sns.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(h.cfg.TopicARN),
			Subject: aws.String(snsSubject(fmt.Sprintf("[coordinator-ha] %s report tampering on %s", h.cfg.Cluster, id))),
			Message: aws.String(string(body))}); err != nil {
			r.alerted[key] = false
			if firstErr == nil {
				firstErr = fmt.Errorf("publishing the tampering alert for %s to %s: %w", id, h.cfg.TopicARN, err)
			}
		}
	}
	return firstErr
}
