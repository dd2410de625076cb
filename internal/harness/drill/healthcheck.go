package drill

import (
	"context"
	"fmt"
	"time"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/harness/sim"
	"github.com/prestoha/coordinator-ha/internal/healthcheck"
	"github.com/prestoha/coordinator-ha/internal/permissions"
)

// startControlPlane wires the simulated Step Functions to sfnlocal and starts the
// EventBridge schedule of the real health check.
func (c *Cluster) startControlPlane() error {
	st := c.spec.Settings
	cl := c.Pool.ClientsOf(permissions.Healthcheck)
	c.HCCW = NewCWCounter(cl.CloudWatch)
	cfg := healthcheck.Config{
		Cluster:           c.spec.Name,
		ENIID:             c.ENIID,
		ASGName:           c.ASG,
		HostRoleID:        c.Pool.HostRoleID,
		StateMachineARN:   c.SMARN,
		TopicARN:          c.Topic,
		KeepCoordinator:   c.spec.Keep,
		Grace:             st.Grace,
		CheckInterval:     st.CheckInterval,
		StartupBudget:     st.StartupBudget,
		IngestionDelay:    st.IngestionAllow,
		BreakerMax:        healthcheck.DefaultBreakerMax,
		BreakerWindow:     healthcheck.DefaultBreakerWindow,
		HACount:           c.spec.HACount,
		MinHealthyReports: st.MinHealthy,
		Doorbell:          st.Doorbell,
		AllMetrics:        st.AllMetrics,
	}
	newHandler := func() (*healthcheck.Handler, error) {
		return healthcheck.New(cfg, healthcheck.Deps{AutoScaling: cl.AutoScaling, EC2: cl.EC2, CloudWatch: c.HCCW, SFN: cl.SFN, SNS: cl.SNS, Clock: c.Clock, Logger: c.logger()})
	}
	if _, err := newHandler(); err != nil {
		return err
	}
	c.Acct.OnStartExecution(c.onStartExecution)
	c.Acct.OnInvoke(func(inv sim.Invocation) { c.ringDoorbell(newHandler, inv) })
	c.goRun(func(ctx context.Context) { c.schedule(ctx, newHandler) })
	return nil
}

// healthCheckTimeout is the health check Lambda's timeout, as the stack sets it
// (infra/controlplane.HealthCheckTimeoutSeconds; not imported, to keep CDK out of the
// drill); Handle stops its loop before.
const healthCheckTimeout = 100 * time.Second

// healthCheckSandboxes is the health check's reserved concurrency
// (infra/controlplane.HealthCheckReservedConcurrency): three overlapping ticks and one
// doorbell from each of up to five coordinators.
const healthCheckSandboxes = 8 // keep equal to infra/controlplane.HealthCheckReservedConcurrency

// hcSandbox is one Lambda sandbox of the health check: its own Handler, built at its
// cold start, running one invocation at a time.
type hcSandbox struct {
	h    *healthcheck.Handler
	busy bool
}

// schedule is EventBridge's "rate(1 minute)": one invocation of Handle per tick, each
// with a deadline like the Lambda's in drill time (lambdaContext). Ticks are punctual,
// or (Realistic) spaced 8 to 71 s by sim.Realism.Ticks. Invocations overlap while the
// cluster is not calm, since each then loops for healthcheck.LoopSpan.
func (c *Cluster) schedule(ctx context.Context, newHandler func() (*healthcheck.Handler, error)) {
	st := c.spec.Settings
	start := c.Clock.Now()
	var ticks []time.Time
	if c.rrng != nil {
		ticks = c.realism.Ticks(c.rrng, start, start.Add(6*time.Hour))
	}
	next := start
	for n := 1; ctx.Err() == nil; n++ {
		at := next
		if c.rrng != nil {
			if n > len(ticks) {
				return
			}
			at = ticks[n-1]
			if err := c.Clock.Sleep(ctx, at.Sub(c.Clock.Now())); err != nil {
				return
			}
		}
		ev := events.ScheduleEvent{Version: "0", ID: fmt.Sprintf("drill-%s-%06d", c.spec.Name, n), DetailType: "Scheduled Event",
			Source: "aws.events", Account: c.Acct.AccountID(), Time: at.UTC().Truncate(time.Second), Region: c.Acct.Region(),
			Resources: []string{fmt.Sprintf("arn:aws:events:%s:%s:rule/%s-healthcheck", c.Acct.Region(), c.Acct.AccountID(), c.spec.Name)}}
		if !c.invokeHealthCheckIn(newHandler, ev) {
			return
		}
		if c.rrng == nil {
			next = next.Add(st.Schedule)
			if err := c.Clock.Sleep(ctx, next.Sub(c.Clock.Now())); err != nil {
				return
			}
		}
	}
}

// ringDoorbell plays Lambda's asynchronous invocation of the health check for an
// agent's doorbell (sim.Account.OnInvoke): after the queue's latency (Realistic:
// sim.Realism.AsyncInvoke; otherwise none), one invocation with the agent's event.
func (c *Cluster) ringDoorbell(newHandler func() (*healthcheck.Handler, error), inv sim.Invocation) {
	ev, err := events.DecodeScheduleEvent(inv.Payload)
	if err != nil {
		c.violate("the doorbell's event does not decode: %v", err)
		return
	}
	c.mu.Lock()
	c.doorbells++
	c.mu.Unlock()
	c.goRun(func(ctx context.Context) {
		if c.rrng != nil {
			if err := c.Clock.Sleep(ctx, c.realism.AsyncInvoke(c.rrng)); err != nil {
				return
			}
		}
		c.invokeHealthCheckIn(newHandler, *ev)
	})
}

// invokeHealthCheckIn runs one invocation for ev in an idle sandbox (its own Handler,
// as Lambda gives each concurrent invocation its own sandbox), starting a sandbox when
// all are busy and the reserved concurrency allows; otherwise the invocation is
// throttled and dropped (the stack allows no retry). It reports false when a sandbox
// could not be built.
func (c *Cluster) invokeHealthCheckIn(newHandler func() (*healthcheck.Handler, error), ev events.ScheduleEvent) bool {
	c.mu.Lock()
	var sb *hcSandbox
	for _, s := range c.sandboxes {
		if !s.busy {
			sb = s
			break
		}
	}
	if sb == nil && len(c.sandboxes) < healthCheckSandboxes {
		h, err := newHandler()
		if err != nil {
			c.mu.Unlock()
			c.violate("building a health check sandbox: %v", err)
			return false
		}
		sb = &hcSandbox{h: h}
		c.sandboxes = append(c.sandboxes, sb)
	}
	if sb == nil {
		c.invocations = append(c.invocations, invocation{Start: c.Clock.Now(), End: c.Clock.Now(), Doorbell: ev.IsDoorbell(),
			Err: fmt.Errorf("throttled: %d sandboxes busy", healthCheckSandboxes)})
		c.mu.Unlock()
		return true
	}
	sb.busy = true
	c.mu.Unlock()
	c.goRun(func(ctx context.Context) {
		ictx, cancel := c.lambdaContext(ctx, healthCheckTimeout)
		defer cancel()
		start := c.Clock.Now()
		s, err := c.invokeHealthCheck(ictx, sb.h, ev)
		c.mu.Lock()
		c.invocations = append(c.invocations, invocation{Start: start, End: c.Clock.Now(), Doorbell: ev.IsDoorbell(),
			Evaluations: s.Evaluations, EndedCalm: s.EndedCalm, Err: err})
		sb.busy = false
		c.mu.Unlock()
	})
	return true
}
