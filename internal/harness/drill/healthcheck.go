package drill

import (
	"context"
	"fmt"
	"time"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/healthcheck"
)

// startControlPlane wires the simulated Step Functions to sfnlocal and starts the
// EventBridge schedule of the real health check.
func (c *Cluster) startControlPlane() error {
	st := c.spec.Settings
	cl := c.Acct.Clients("healthcheck")
	c.HCCW = NewCWCounter(cl.CloudWatch)
	cfg := healthcheck.Config{
		Cluster:           c.spec.Name,
		ENIID:             c.ENIID,
		ASGName:           c.ASG,
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
	h, err := healthcheck.New(cfg, healthcheck.Deps{AutoScaling: cl.AutoScaling, EC2: cl.EC2, CloudWatch: c.HCCW, SFN: cl.SFN, SNS: cl.SNS, Clock: c.Clock, Logger: c.logger()})
	if err != nil {
		return err
	}
	c.Acct.OnStartExecution(c.onStartExecution)
	c.goRun(func(ctx context.Context) { c.schedule(ctx, h) })
	return nil
}

// healthCheckTimeout is the health check Lambda's timeout, as the stack sets it
// (infra/controlplane.HealthCheckTimeoutSeconds; not imported, to keep CDK out of the
// drill); Handle stops its loop before.
const healthCheckTimeout = 70 * time.Second

// schedule is EventBridge's "rate(1 minute)": one invocation of Handle per period, each
// with a deadline like the Lambda's in drill time (lambdaContext). Invocations run
// concurrently when one overruns, as Lambda would run them.
func (c *Cluster) schedule(ctx context.Context, h *healthcheck.Handler) {
	st := c.spec.Settings
	next := c.Clock.Now()
	for n := 1; ctx.Err() == nil; n++ {
		at := next
		ev := events.ScheduleEvent{Version: "0", ID: fmt.Sprintf("drill-%s-%06d", c.spec.Name, n), DetailType: "Scheduled Event",
			Source: "aws.events", Account: c.Acct.AccountID(), Time: at.UTC().Truncate(time.Second), Region: c.Acct.Region(),
			Resources: []string{fmt.Sprintf("arn:aws:events:%s:%s:rule/%s-healthcheck", c.Acct.Region(), c.Acct.AccountID(), c.spec.Name)}}
		c.goRun(func(ctx context.Context) {
			ictx, cancel := c.lambdaContext(ctx, healthCheckTimeout)
			defer cancel()
			start := c.Clock.Now()
			err := c.invokeHealthCheck(ictx, h, ev)
			c.mu.Lock()
			c.invocations = append(c.invocations, invocation{Start: start, End: c.Clock.Now(), Err: err})
			c.mu.Unlock()
		})
		next = next.Add(st.Schedule)
		if err := c.Clock.Sleep(ctx, next.Sub(c.Clock.Now())); err != nil {
			return
		}
	}
}
