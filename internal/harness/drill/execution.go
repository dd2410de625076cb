package drill

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/failover"
	"github.com/prestoha/coordinator-ha/internal/harness/sfnlocal"
	"github.com/prestoha/coordinator-ha/internal/harness/sim"
	"github.com/prestoha/coordinator-ha/internal/statemachine"
)

// execRun is one failover execution played by sfnlocal.
type execRun struct {
	Exec      sim.Execution
	Input     events.FailoverState
	Result    sfnlocal.Result
	Output    *events.FailoverState
	Status    string
	Err       error
	StartedAt time.Time // drill time
	EndedAt   time.Time
	done      chan struct{}
	resume    func()        // ends the start-up pause
	firstStep time.Time     // drill time of the first step
	startWall time.Duration // wall time from StartExecution to the first step
	wall0     time.Time
}

// lambdaARN is the fake ARN of a step Lambda in the rendered definition.
func (c *Cluster) lambdaARN(placeholder string) string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s-%s", c.Acct.Region(), c.Acct.AccountID(), c.spec.Name, placeholder)
}

// definition renders the product's one state machine definition with the drill's ARNs.
func (c *Cluster) definition() (string, error) {
	values := map[string]string{}
	for _, p := range statemachine.Placeholders {
		values[p] = c.lambdaARN(p)
	}
	return statemachine.Render(values)
}

// stepHandlers builds the real step handlers, one failover.Steps per step Lambda so
// each records its calls under its own caller name, keyed by the rendered Lambda ARN.
// Each invocation gets a deadline like the Lambda's timeout: the steps map
// time.Until(deadline) onto their clock, so the wall deadline is the Lambda timeout in
// drill time.
func (c *Cluster) stepHandlers(run *execRun) (map[string]sfnlocal.Handler, error) {
	type stepDef struct {
		placeholder, caller string
		pick                func(*failover.Steps) failover.Handler
	}
	defs := []stepDef{
		{statemachine.TerminateFunctionArn, "terminate", func(s *failover.Steps) failover.Handler { return s.Terminate }},
		{statemachine.AttachENIFunctionArn, "attacheni", func(s *failover.Steps) failover.Handler { return s.AttachENI }},
		{statemachine.LaunchStandbyFunctionArn, "launchstandby", func(s *failover.Steps) failover.Handler { return s.LaunchStandby }},
		{statemachine.NotifyFunctionArn, "notify", func(s *failover.Steps) failover.Handler { return s.Notify }},
	}
	out := map[string]sfnlocal.Handler{}
	for _, d := range defs {
		cl := c.Acct.Clients(d.caller)
		steps, err := failover.New(failover.Config{
			Cluster:           c.spec.Name,
			ENIID:             c.ENIID,
			ASGName:           c.ASG,
			HACount:           c.spec.HACount,
			MinHealthyReports: c.spec.Settings.MinHealthy,
			TopicARN:          c.Topic,
		}, failover.Deps{EC2: cl.EC2, AutoScaling: cl.AutoScaling, CloudWatch: cl.CloudWatch, SNS: cl.SNS, Clock: c.Clock, Log: c.logger()})
		if err != nil {
			return nil, err
		}
		h := d.pick(steps)
		timeout := time.Duration(statemachine.LambdaTimeoutSeconds[d.placeholder]) * time.Second
		out[c.lambdaARN(d.placeholder)] = sfnlocal.TypedHandler(func(ctx context.Context, st events.FailoverState) (events.FailoverState, error) {
			c.mu.Lock()
			if run.firstStep.IsZero() {
				run.startWall = time.Since(run.wall0)
				run.resume()
				run.firstStep = c.Clock.Now()
			}
			c.mu.Unlock()
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			return h(ctx, st)
		})
	}
	return out, nil
}

// onStartExecution is the simulated Step Functions starting an execution: the drill
// runs it with sfnlocal and finishes it in the account with the real outcome.
func (c *Cluster) onStartExecution(e sim.Execution) {
	run := &execRun{Exec: e, StartedAt: c.Clock.Now(), done: make(chan struct{}), wall0: time.Now()}
	// Drill time stands still until the local interpreter runs the first step (see drillClock).
	run.resume = c.Clock.Pause()
	if err := json.Unmarshal([]byte(e.Input), &run.Input); err != nil {
		run.Err = fmt.Errorf("decoding the input of %s: %w", e.Name, err)
	}
	c.mu.Lock()
	c.execs = append(c.execs, run)
	c.mu.Unlock()
	c.progress("  %s  execution %s started: %s of %s", c.stamp(), e.Name, run.Input.Verdict, run.Input.FailedInstanceID)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer close(run.done)
		c.play(run)
	}()
}

func (c *Cluster) play(run *execRun) {
	defer run.resume()
	finish := func(status, output string) {
		run.Status = status
		run.EndedAt = c.Clock.Now()
		if err := c.Acct.FinishExecution(run.Exec.ARN, status, output); err != nil && c.ctx.Err() == nil {
			c.violate("finishing execution %s: %v", run.Exec.Name, err)
		}
	}
	if run.Err != nil {
		finish(sfnlocal.StatusFailed, "")
		return
	}
	def, err := c.definition()
	if err == nil {
		var handlers map[string]sfnlocal.Handler
		handlers, err = c.stepHandlers(run)
		if err == nil {
			// Wait states and retry pauses are drill time: shorten them by the speed.
			opts := sfnlocal.Options{
				WaitOverrides:  c.waitOverrides(def),
				RetryOverrides: map[string]time.Duration{"*": c.Clock.Wall(2 * time.Second)},
			}
			run.Result, err = sfnlocal.Run(c.ctx, def, []byte(run.Exec.Input), handlers, opts)
		}
	}
	if err != nil {
		run.Err = err
		finish(sfnlocal.StatusFailed, "")
		if c.ctx.Err() == nil {
			c.violate("execution %s could not run: %v", run.Exec.Name, err)
		}
		return
	}
	out := run.Result.Output
	if run.Result.Status != sfnlocal.StatusSucceeded {
		out = run.Result.LastOutput()
	}
	var st events.FailoverState
	if json.Unmarshal(out, &st) == nil {
		run.Output = &st
	}
	finish(run.Result.Status, string(out))
	c.progress("  %s  execution %s ended: %s", c.stamp(), run.Exec.Name, run.Result.Status)
}

// Executions returns the executions started so far.
func (c *Cluster) Executions() []*execRun {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*execRun(nil), c.execs...)
}

// waitOverrides scales every Wait state's Seconds by the drill's speed.
func (c *Cluster) waitOverrides(def string) map[string]time.Duration {
	var d struct {
		States map[string]struct {
			Type    string  `json:"Type"`
			Seconds float64 `json:"Seconds"`
		} `json:"States"`
	}
	out := map[string]time.Duration{}
	if json.Unmarshal([]byte(def), &d) != nil {
		return out
	}
	for name, s := range d.States {
		if s.Type == "Wait" && s.Seconds > 0 {
			out[name] = c.Clock.Wall(time.Duration(s.Seconds * float64(time.Second)))
		}
	}
	return out
}
