package drill

import (
	"context"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/healthcheck"
)

// invokeHealthCheck is one Lambda invocation of the health check: the real Handle,
// which evaluates once when calm, otherwise every check interval for up to LoopSpan.
func (c *Cluster) invokeHealthCheck(ctx context.Context, h *healthcheck.Handler, ev events.ScheduleEvent) (healthcheck.Summary, error) {
	s, err := h.Handle(ctx, ev)
	c.mu.Lock()
	c.evaluations += s.Evaluations
	c.mu.Unlock()
	return s, err
}
