package events

import (
	"encoding/json"
	"time"
)

// ScheduleEvent is what an EventBridge schedule rule delivers to the health check
// (detail-type "Scheduled Event", source "aws.events"). The health check needs only
// its time and id (for logs); an operator may invoke the Lambda by hand with the same shape.
type ScheduleEvent struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       time.Time       `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

// The doorbell: an agent that sees the active coordinator fail (its own probe, or a
// standby's probe through the ENI) invokes the health check at once, asynchronously,
// with a ScheduleEvent of this source and detail type, so the evaluation does not wait
// for the next tick. The event carries no evidence: the health check reads the reports
// as it always does, so a forged ring costs evaluations, never a decision.
const (
	DoorbellSource     = "coordinator-ha.agent"
	DoorbellDetailType = "Coordinator Doorbell"
)

// IsDoorbell reports whether the event is an agent's doorbell rather than a tick.
func (e *ScheduleEvent) IsDoorbell() bool {
	return e.Source == DoorbellSource && e.DetailType == DoorbellDetailType
}

// Validate checks the fields the health check relies on.
func (e *ScheduleEvent) Validate() error {
	var errs fieldErrors
	errs.require(e.ID != "", "id")
	errs.require(!e.Time.IsZero(), "time")
	return errs.err("schedule event")
}

// DecodeScheduleEvent parses and validates a schedule event.
func DecodeScheduleEvent(data []byte) (*ScheduleEvent, error) {
	var e ScheduleEvent
	if err := decodeStrict(data, &e, "schedule event"); err != nil {
		return nil, err
	}
	return &e, e.Validate()
}
