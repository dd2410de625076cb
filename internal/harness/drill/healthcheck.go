package drill

import (
	"context"
	"fmt"
	"time"

	"github.com/prestoha/coordinator-ha/events"
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
	}
	newHandler := func() (*healthcheck.Handler, error) {
		return healthcheck.New(cfg, healthcheck.Deps{AutoScaling: cl.AutoScaling, EC2: cl.EC2, CloudWatch: c.HCCW, SFN: cl.SFN, SNS: cl.SNS, Clock: c.Clock, Logger: c.logger()})
	}
	if _, err := newHandler(); err != nil {
		return err
	}
	c.Acct.OnStartExecution(c.onStartExecution)
	c.goRun(func(ctx context.Context) { c.schedule(ctx, newHandler) })
	return nil
}

// healthCheckTimeout is the health check Lambda's timeout, as the stack sets it
// (infra/controlplane.HealthCheckTimeoutSeconds; not imported, to keep CDK out of the
// drill); Handle stops its loop before.
const healthCheckTimeout = 100 * time.Second

// healthCheckSandboxes is the health check's reserved concurrency
// (infra/controlplane.HealthCheckReservedConcurrency).
const healthCheckSandboxes = 3

// schedule is EventBridge's "rate(1 minute)": one invocation of Handle per tick, each
// with a deadline like the Lambda's in drill time (lambdaContext). Ticks are punctual,
// or (Realistic) spaced 8 to 71 s by sim.Realism.Ticks. Each invocation runs in an idle
// sandbox (its own Handler, as Lambda gives each concurrent invocation its own
// sandbox); invocations overlap, since each loops for healthcheck.LoopSpan. With every
// sandbox busy the tick is throttled and dropped.
func (c *Cluster) schedule(ctx context.Context, newHandler func() (*healthcheck.Handler, error)) {
	st := c.spec.Settings
	type sandbox struct {
		h    *healthcheck.Handler
		busy bool
	}
	var sandboxes []*sandbox
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
		c.mu.Lock()
		var sb *sandbox
		for _, s := range sandboxes {
			if !s.busy {
				sb = s
				break
			}
		}
		if sb == nil && len(sandboxes) < healthCheckSandboxes {
			h, err := newHandler()
			if err != nil {
				c.mu.Unlock()
				c.violate("building a health check sandbox: %v", err)
				return
			}
			sb = &sandbox{h: h}
			sandboxes = append(sandboxes, sb)
		}
		if sb != nil {
			sb.busy = true
		}
		c.mu.Unlock()
		if sb == nil {
			c.mu.Lock()
			c.invocations = append(c.invocations, invocation{Start: c.Clock.Now(), End: c.Clock.Now(), Err: fmt.Errorf("throttled: %d sandboxes busy", healthCheckSandboxes)})
			c.mu.Unlock()
		} else {
			c.goRun(func(ctx context.Context) {
				ictx, cancel := c.lambdaContext(ctx, healthCheckTimeout)
				defer cancel()
				start := c.Clock.Now()
				err := c.invokeHealthCheck(ictx, sb.h, ev)
				c.mu.Lock()
				c.invocations = append(c.invocations, invocation{Start: start, End: c.Clock.Now(), Err: err})
				sb.busy = false
				c.mu.Unlock()
			})
		}
		if c.rrng == nil {
			next = next.Add(st.Schedule)
			if err := c.Clock.Sleep(ctx, next.Sub(c.Clock.Now())); err != nil {
				return
			}
		}
	}
}
