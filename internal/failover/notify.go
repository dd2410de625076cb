package failover

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/prestoha/coordinator-ha/events"
)

// SubjectPrefix starts every notification subject.
const SubjectPrefix = "[coordinator-ha]"

// maxSubject is SNS's limit on an e-mail subject.
const maxSubject = 100

// Notify sends one readable SNS message for the execution: the outcome in the subject,
// and the verdict, reason, evidence and timeline in the body. It serves the success
// path, SUPERSEDED, an exhausted slow path and a caught failure (Error set by Catch).
// Without a topic it logs the message and returns.
func (s *Steps) Notify(ctx context.Context, in events.FailoverState) (events.FailoverState, error) {
	return s.run(ctx, events.StepNotify, in, s.notify)
}

func (s *Steps) notify(o *op, st *events.FailoverState) error {
	outcome, subject := Summary(st, o.now())
	res := &events.NotifyResult{Outcome: outcome, Subject: subject}
	st.Notify = res
	o.event(st, "notify", fmt.Sprintf("%s: %s", outcome, subject))
	body := Body(st)
	if s.cfg.TopicARN == "" || s.d.SNS == nil {
		o.log.WarnContext(o.ctx, "no notification topic configured; message not sent", "subject", subject, "body", body)
		return nil
	}
	out, err := call(o, "publishing to "+s.cfg.TopicARN, func(ctx context.Context) (*sns.PublishOutput, error) {
		return s.d.SNS.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(s.cfg.TopicARN), Subject: aws.String(subject), Message: aws.String(body)})
	})
	if err != nil {
		return err
	}
	res.MessageID = aws.ToString(out.MessageId)
	return nil
}

// Summary computes the execution's outcome and the notification subject (at most 100
// printable characters, as SNS requires).
func Summary(st *events.FailoverState, now time.Time) (outcome, subject string) {
	p := fmt.Sprintf("%s %s: ", SubjectPrefix, st.Cluster)
	failed := st.FailedInstanceID
	if failed == "" {
		failed = "(no holder)"
	}
	switch {
	case st.Error != nil:
		outcome = events.OutcomeFailed
		if st.Attach != nil && st.Attach.Outcome == events.AttachAttached {
			subject = fmt.Sprintf("failed over %s -> %s, then %s", failed, st.Attach.InstanceID, st.Error.Error)
		} else {
			subject = fmt.Sprintf("FAILOVER FAILED for %s: %s", failed, st.Error.Error)
		}
	case st.Terminate != nil && st.Terminate.Outcome == events.TerminateSuperseded:
		outcome = events.OutcomeSuperseded
		subject = fmt.Sprintf("failover of %s superseded: ENI already on %s", failed, st.Terminate.ENIHolder)
	case st.Attach != nil && st.Attach.Outcome == events.AttachAttached:
		outcome = events.OutcomeFailedOver
		end := now
		if st.Attach.AttachedAt != nil {
			end = *st.Attach.AttachedAt
		}
		subject = fmt.Sprintf("failed over %s -> %s in %s", failed, st.Attach.InstanceID, end.Sub(st.DetectedAt).Round(time.Second))
	case st.Attach != nil && st.Attach.Outcome == events.AttachNoStandby:
		outcome = events.OutcomeFailed
		subject = fmt.Sprintf("FAILOVER FAILED for %s: no healthy standby after %d attempts", failed, st.Attach.Attempts)
	default:
		outcome = events.OutcomeFailed
		subject = fmt.Sprintf("FAILOVER INCOMPLETE for %s", failed)
	}
	return outcome, clean(p+subject, maxSubject)
}

// clean keeps printable ASCII on one line and cuts to n characters.
func clean(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			r = ' '
		}
		b.WriteRune(r)
	}
	out := b.String()
	if len(out) > n {
		out = out[:n-3] + "..."
	}
	return out
}

// Body is the plain-text notification: what happened, why, the evidence, each step's
// result and the timeline.
func Body(st *events.FailoverState) string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	w("Cluster:          %s", st.Cluster)
	w("Coordinator ENI:  %s", st.ENIID)
	w("Failed instance:  %s", orNone(st.FailedInstanceID))
	w("Verdict:          %s", st.Verdict)
	w("Reason:           %s", st.Reason)
	w("Detected at:      %s", st.DetectedAt.UTC().Format(time.RFC3339))
	if e := st.Evidence; e != nil {
		w("")
		w("Evidence (%s .. %s):", e.WindowStart.UTC().Format(time.RFC3339), e.WindowEnd.UTC().Format(time.RFC3339))
		w("  EC2 state:      %s", e.EC2State)
		w("  self-reports:   %d healthy, %d unhealthy, %d starting", e.SelfReports.Healthy, e.SelfReports.Unhealthy, e.SelfReports.Starting)
		if e.SelfReports.LastHealthyAt != nil {
			w("  last healthy:   %s", e.SelfReports.LastHealthyAt.UTC().Format(time.RFC3339))
		}
		for _, wr := range e.Witnesses {
			w("  witness %s: reached %d, unreached %d", wr.InstanceID, wr.Reached, wr.Unreached)
		}
		if e.Note != "" {
			w("  note:           %s", e.Note)
		}
	}
	w("")
	if t := st.Terminate; t != nil {
		w("Fence:            %s (instance %s, ENI %s, forced detach %v)", t.Outcome, orNone(t.InstanceState), t.ENIStatus, t.ForcedDetach)
	}
	if a := st.Attach; a != nil {
		w("Attach:           %s %s (attempt %d of %d)", a.Outcome, a.InstanceID, a.Attempts, a.MaxAttempts)
		for _, c := range a.Candidates {
			verdict := "chosen"
			if c.Rejected != "" {
				verdict = "rejected: " + c.Rejected
			} else if c.InstanceID != a.InstanceID {
				verdict = "qualified"
			}
			w("  candidate %s (%s, %s, %d healthy reports): %s", c.InstanceID, orNone(c.AZ), orNone(c.State), c.HealthyReports, verdict)
		}
	}
	if l := st.Launch; l != nil {
		w("Pool:             %s, desired %d, live %d, new %v", l.Outcome, l.DesiredCapacity, l.Live, l.NewInstanceIDs)
	}
	if e := st.Error; e != nil {
		w("Error:            %s", e.Error)
		w("Cause:            %s", causeMessage(e.Cause))
	}
	w("")
	w("Timeline:")
	for _, t := range st.Timeline {
		line := fmt.Sprintf("  %s  +%-6s %-14s %-22s", t.At.UTC().Format("15:04:05.000"), t.At.Sub(st.DetectedAt).Round(time.Second), t.Step, t.Event)
		if t.Detail != "" {
			line += " " + t.Detail
		}
		w("%s", strings.TrimRight(line, " "))
	}
	return b.String()
}

// causeMessage unpacks the Cause Step Functions stores for a Lambda error
// ({"errorMessage": ..., "errorType": ...}); other causes are returned as they are.
func causeMessage(cause string) string {
	var c struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}
	if json.Unmarshal([]byte(cause), &c) == nil && c.ErrorMessage != "" {
		return c.ErrorMessage
	}
	return cause
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
