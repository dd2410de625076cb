package operator

import (
	"context"
	"time"

	"github.com/prestoha/coordinator-ha/events"
)

// Failover is one execution of the failover state machine, as history shows it.
type Failover struct {
	Execution  string                 `json:"execution"`
	Generation int                    `json:"generation"`
	Status     string                 `json:"status"`
	Started    time.Time              `json:"started"`
	Stopped    *time.Time             `json:"stopped,omitempty"`
	Duration   *Seconds               `json:"durationSeconds,omitempty"`
	Verdict    events.Verdict         `json:"verdict"`
	Failed     string                 `json:"failedInstance,omitempty"`
	Target     string                 `json:"targetInstance,omitempty"` // a switchover's
	NewActive  string                 `json:"newActive,omitempty"`
	Outcome    string                 `json:"outcome,omitempty"`
	Reason     string                 `json:"reason"`
	Starter    string                 `json:"startedBy,omitempty"`
	ENIGap     *Seconds               `json:"eniGapSeconds,omitempty"` // from the fence's start to the attach, from the timeline
	Error      string                 `json:"error,omitempty"`
	Timeline   []events.TimelineEntry `json:"timeline"`
}

// Seconds is a duration shown in seconds.
type Seconds float64

func secs(d time.Duration) *Seconds {
	s := Seconds(d.Round(100 * time.Millisecond).Seconds())
	return &s
}

func (e *execution) failover(now time.Time) Failover {
	st := e.Input
	if e.Output != nil {
		st = *e.Output
	}
	f := Failover{Execution: e.Name, Generation: e.Gen, Status: e.Status, Started: e.Start.UTC(), Verdict: e.Input.Verdict,
		Failed: e.Input.FailedInstanceID, Target: e.Input.TargetInstanceID, Reason: e.Input.Reason, Timeline: st.Timeline}
	if e.Input.Lease != nil {
		f.Starter = e.Input.Lease.Holder
	}
	end := now
	if !e.Stop.IsZero() {
		stop := e.Stop.UTC()
		f.Stopped, end = &stop, e.Stop
	}
	f.Duration = secs(end.Sub(e.Start))
	if st.Attach != nil {
		f.NewActive = st.Attach.InstanceID
	}
	if st.Notify != nil {
		f.Outcome = st.Notify.Outcome
	}
	if st.Error != nil {
		f.Error = st.Error.Error + ": " + st.Error.Cause
	}
	// The client-visible part of a failover, from the timeline: from the fence's first
	// action on the old coordinator to the ENI attached to the new one.
	var fenceAt, attachedAt time.Time
	for _, t := range st.Timeline {
		if t.Step == events.StepTerminate && fenceAt.IsZero() && t.Event != "started" {
			fenceAt = t.At
		}
		if t.Step == events.StepAttachENI && t.Event == "attached" {
			attachedAt = t.At
		}
	}
	if e.Input.FailedInstanceID != "" && !fenceAt.IsZero() && attachedAt.After(fenceAt) { // nothing was fenced for UNATTACHED
		f.ENIGap = secs(attachedAt.Sub(fenceAt))
	}
	return f
}

// History lists the failover executions (the lease's generations), newest first, those
// started at or after since (zero: all), at most limit (0: 20). Each carries its
// timeline from the execution's output.
func (o *Operator) History(ctx context.Context, since time.Time, limit int) ([]Failover, error) {
	if limit <= 0 {
		limit = 20
	}
	lv, err := o.walkLease(ctx)
	if err != nil {
		return nil, err
	}
	top := lv.next - 1
	if lv.running != nil {
		top = lv.running.Gen
	}
	now := o.clk.Now()
	out := []Failover{}
	if lv.foreign != nil { // a running execution outside the lease (started by hand)
		out = append(out, lv.foreign.failover(now))
	}
	for g := top; g >= 1 && len(out) < limit; g-- {
		e, err := o.describeGen(ctx, g)
		if err != nil {
			return nil, err
		}
		if e == nil {
			continue
		}
		if !since.IsZero() && e.Start.Before(since) {
			break
		}
		out = append(out, e.failover(now))
	}
	return out, nil
}
