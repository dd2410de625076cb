package healthcheck

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/prestoha/coordinator-ha/internal/config"
)

// A pause of automatic failover (issue 15): tags on the coordinator ENI (config.PauseTags)
// that the operator command writes, read from the DescribeNetworkInterfaces answer every
// evaluation already fetches. While a pause is in force the health check acts as with
// KeepCoordinatorNode=yes: verdicts are computed, logged and published, nothing is
// started (no failover, no attach of an unattached ENI). Every evaluation logs the pause
// (who, why, until) and publishes the Paused metric; the pause ends by itself at its
// paused-until time, with no call from anyone.

// ActionBlockedPause: a failover (or the attach path) was called for while failover is
// paused.
const ActionBlockedPause Action = "blocked-paused"

// Pause is a pause of automatic failover in force.
type Pause struct {
	Until  time.Time `json:"until"`
	By     string    `json:"by,omitempty"`
	At     time.Time `json:"at,omitzero"`
	Reason string    `json:"reason,omitempty"`
}

// ParsePause reads a pause from the ENI's tags. It returns nil when there is none or it
// has expired at now, and an error (with nil) when paused-until is not an RFC 3339 time:
// a malformed pause pauses nothing, since only the operator's tools write it.
func ParsePause(tags map[string]string, now time.Time) (*Pause, error) {
	raw, ok := tags[config.TagPausedUntil]
	if !ok || raw == "" {
		return nil, nil
	}
	until, err := time.Parse(time.RFC3339, raw)
	if err != nil {
		return nil, fmt.Errorf("tag %s=%q is not an RFC 3339 time: failover is not paused", config.TagPausedUntil, raw)
	}
	if !now.Before(until) {
		return nil, nil
	}
	p := &Pause{Until: until.UTC(), By: tags[config.TagPausedBy], Reason: tags[config.TagPauseReason]}
	if at, err := time.Parse(time.RFC3339, tags[config.TagPausedAt]); err == nil {
		p.At = at.UTC()
	}
	return p, nil
}

// readPause is the pause in force at now according to the ENI's tags, logged at every
// evaluation while it lasts.
func (h *Handler) readPause(ctx context.Context, tagSet []ec2types.Tag, now time.Time) *Pause {
	tags := make(map[string]string, len(tagSet))
	for _, t := range tagSet {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	p, err := ParsePause(tags, now)
	if err != nil {
		h.log.ErrorContext(ctx, "malformed failover pause", "error", err.Error())
		return nil
	}
	if p != nil {
		h.log.WarnContext(ctx, "failover paused", "guard", "pause", "pausedBy", p.By, "reason", p.Reason,
			"until", p.Until.Format(time.RFC3339), "remaining", p.Until.Sub(now).Round(time.Second).String(),
			slog.Time("pausedAt", p.At))
	}
	return p
}

// pauseGuard holds back what act would start while a pause is in force.
func pauseGuard(ctx context.Context, ev *Evaluation, log *slog.Logger) bool {
	p := ev.Pause
	if p == nil {
		return false
	}
	ev.Action = ActionBlockedPause
	ev.ActionDetail = fmt.Sprintf("failover paused until %s by %s: %s", p.Until.Format(time.RFC3339), p.By, p.Reason)
	log.WarnContext(ctx, "failover blocked", "guard", "pause", "detail", ev.ActionDetail)
	return true
}
