package drill

import (
	"context"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/healthcheck"
)

// invokeHealthCheck is one Lambda invocation of the health check.
func (c *Cluster) invokeHealthCheck(ctx context.Context, h *healthcheck.Handler, ev events.ScheduleEvent) error {
	// TEMPORARY until Handle lands: evaluate every check interval until the deadline.
	dl, _ := ctx.Deadline()
	end := c.Clock.Now().Add(timeUntil(dl) - healthcheck.DeadlineMargin)
	if e := end.Sub(c.Clock.Now()); e > healthcheck.SchedulePeriod {
		end = c.Clock.Now().Add(healthcheck.SchedulePeriod)
	}
	for c.Clock.Now().Before(end) {
		ev, err := h.Evaluate(ctx)
		if err == nil {
			c.logger().Info("evaluation", "verdict", string(ev.Verdict), "instance", ev.Instance, "action", string(ev.Action), "reason", ev.Reason)
		}
		if c.Clock.Sleep(ctx, c.spec.Settings.CheckInterval) != nil {
			return nil
		}
	}
	return nil
}
