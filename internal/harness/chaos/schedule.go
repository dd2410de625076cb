package chaos

import (
	"time"

	"github.com/prestoha/coordinator-ha/internal/healthcheck"
)

// sandbox is one Lambda sandbox of the health check: its own Handler (its own lease
// cache and clock-skew estimates), busy while an invocation's loop runs in it.
type sandbox struct {
	h         *healthcheck.Handler
	busyUntil time.Time
}

// maxSandboxes bounds the health check's concurrent sandboxes. The stack reserves none by
// default (LambdaConcurrency=unreserved), which the campaign plays: duplicated and
// overlapping deliveries each get a sandbox. With LambdaConcurrency=reserved the stack
// reserves 3 (infra/controlplane.HealthCheckReservedConcurrency), enough for the ticks
// of one LoopSpan; a duplicated delivery can then take the sandbox of the next tick
// (a known limit of that option, in the README).
const maxSandboxes = 16

// scheduleTicks plays EventBridge's rate(1 minute): punctual ticks, or (late_ticks) the
// Realism model's ticks, spaced 8 to 71 s. Each tick is one invocation of the health
// check's loop (invoke).
func (c *campaign) scheduleTicks() {
	first := t0.Add(10 * time.Second)
	var ticks []time.Time
	if c.res.FaultCounts[FaultLateTicks] > 0 {
		ticks = c.realism.Ticks(c.rng, first, c.end)
	} else {
		for t := first; t.Before(c.end); t = t.Add(healthcheck.SchedulePeriod) {
			ticks = append(ticks, t)
		}
	}
	for _, t := range ticks {
		c.w.schedule(t, c.tick)
	}
}

// tick is one schedule event: one invocation, and more while the duplicate and
// overlapping tick faults last (the same event delivered twice; a second invocation).
func (c *campaign) tick() {
	c.invoke()
	for ; c.dupTicks > 0; c.dupTicks-- {
		c.invoke()
	}
	for ; c.overlapTicks > 0; c.overlapTicks-- {
		c.invoke()
	}
}

// invoke runs one invocation as Lambda would: in an idle sandbox (a new one pays a cold
// start), evaluating every check interval for healthcheck.LoopSpan, as Handle does. With
// every sandbox busy (reserved concurrency) the tick is throttled and dropped.
func (c *campaign) invoke() {
	now := c.clk.Now()
	var sb *sandbox
	cold := time.Duration(0)
	for _, s := range c.sandboxes {
		if !s.busyUntil.After(now) {
			sb = s
			break
		}
	}
	if sb == nil {
		if len(c.sandboxes) >= maxSandboxes {
			c.log.Info("chaos: tick throttled: every sandbox is busy")
			return
		}
		sb = &sandbox{h: c.newHealthCheck(c.keep)}
		c.sandboxes = append(c.sandboxes, sb)
		cold = c.realism.ColdStartMax
	}
	start := now.Add(cold)
	sb.busyUntil = start.Add(healthcheck.LoopSpan)
	h := sb.h
	for k := time.Duration(0); k*c.hcCfg.CheckInterval < healthcheck.LoopSpan; k++ {
		c.w.schedule(start.Add(k*c.hcCfg.CheckInterval), func() { c.evaluate(h) })
	}
}

// newConfig replaces every sandbox, as a configuration change does in Lambda (running
// loops finish in their old sandboxes).
func (c *campaign) newConfig() { c.sandboxes = nil }
