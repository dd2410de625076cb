package chaos

import (
	"time"

	"github.com/prestoha/coordinator-ha/internal/harness/sim"
	"github.com/prestoha/coordinator-ha/internal/healthcheck"
)

// sandbox is one Lambda sandbox of the health check: its own Handler (its own lease
// cache and clock-skew estimates), busy while an invocation's loop runs in it.
type sandbox struct {
	h    *healthcheck.Handler
	busy bool
}

// maxSandboxes bounds the health check's concurrent sandboxes. The stack reserves none by
// default (LambdaConcurrency=unreserved), which the campaign plays: duplicated and
// overlapping deliveries and doorbells each get a sandbox.
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
	c.invoke(false)
	for ; c.dupTicks > 0; c.dupTicks-- {
		c.invoke(false)
	}
	for ; c.overlapTicks > 0; c.overlapTicks-- {
		c.invoke(false)
	}
}

// ring is an agent's doorbell (sim.Account.OnInvoke): Lambda's asynchronous queue
// starts the invocation after sim.Realism.AsyncInvoke.
func (c *campaign) ring(sim.Invocation) {
	c.doorbells++
	at := c.clk.Now().Add(c.realism.AsyncInvoke(c.rng))
	c.w.schedule(at, func() { c.invoke(true) })
}

// invoke runs one invocation as Lambda would, in an idle sandbox (a new one pays a cold
// start), and loops as Handle does: it evaluates; a calm evaluation ends it (for a
// doorbell, once its DoorbellSpan is over); otherwise it evaluates again every check
// interval for at most healthcheck.LoopSpan. With every sandbox busy the invocation is
// throttled and dropped.
func (c *campaign) invoke(doorbell bool) {
	now := c.clk.Now()
	var sb *sandbox
	cold := time.Duration(0)
	for _, s := range c.sandboxes {
		if !s.busy {
			sb = s
			break
		}
	}
	if sb == nil {
		if len(c.sandboxes) >= maxSandboxes {
			c.log.Info("chaos: invocation throttled: every sandbox is busy", "doorbell", doorbell)
			return
		}
		sb = &sandbox{h: c.newHealthCheck(c.keep)}
		c.sandboxes = append(c.sandboxes, sb)
		cold = c.realism.ColdStartMax
	}
	sb.busy = true
	start := now.Add(cold)
	var fastFor time.Duration
	if doorbell {
		fastFor = sb.h.DoorbellSpan()
	}
	var step func(k time.Duration)
	step = func(k time.Duration) {
		calm := c.evaluate(sb.h)
		next := start.Add((k + 1) * c.hcCfg.CheckInterval)
		if (calm && c.clk.Now().Sub(start) >= fastFor) || next.Sub(start) >= healthcheck.LoopSpan {
			sb.busy = false
			return
		}
		c.w.schedule(next, func() { step(k + 1) })
	}
	c.w.schedule(start, func() { step(0) })
}

// newConfig replaces every sandbox, as a configuration change does in Lambda (running
// loops finish in their old sandboxes).
func (c *campaign) newConfig() { c.sandboxes = nil }
