package drill

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/failover"
	"github.com/prestoha/coordinator-ha/internal/harness/asl"
	"github.com/prestoha/coordinator-ha/internal/harness/sfnlocal"
	"github.com/prestoha/coordinator-ha/internal/harness/sim"
	"github.com/prestoha/coordinator-ha/internal/statemachine"
)

// execRun is one failover execution: played by the Go States Language interpreter on
// simulated time, or by aws-local-stepfunctions in the demo.
type execRun struct {
	Exec        sim.Execution
	Input       events.FailoverState
	Output      *events.FailoverState
	Status      string
	Err         error
	ErrName     string // the execution's error and cause when it did not succeed
	Cause       string
	Transitions int       // states entered
	StartedAt   time.Time // drill time
	EndedAt     time.Time
	done        chan struct{}
	resume      func()    // ends the start-up pause
	firstStep   time.Time // drill time of the first step
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

// stepHandler is one step Lambda's handler.
type stepHandler func(ctx context.Context, st events.FailoverState) (events.FailoverState, error)

// stepHandlers builds the real step handlers, one failover.Steps per step Lambda so
// each records its calls under its own caller name, keyed by the Task state names
// that invoke it (statemachine.Tasks). Each invocation gets a deadline like the
// Lambda's timeout in drill time (see lambdaContext).
func (c *Cluster) stepHandlers(run *execRun) (map[string]stepHandler, error) {
	out := map[string]stepHandler{}
	for _, task := range statemachine.Tasks {
		cl := c.Pool.ClientsOf(task.Lambda)
		steps, err := failover.New(failover.Config{
			Cluster:           c.spec.Name,
			ENIID:             c.ENIID,
			ASGName:           c.ASG,
			HostRoleID:        c.Pool.HostRoleID,
			HACount:           c.spec.HACount,
			MinHealthyReports: c.spec.Settings.MinHealthy,
			TopicARN:          c.Topic,
		}, failover.Deps{EC2: cl.EC2, AutoScaling: cl.AutoScaling, CloudWatch: cl.CloudWatch, SNS: cl.SNS, Clock: c.Clock, Log: c.logger()})
		if err != nil {
			return nil, err
		}
		h := steps.Handlers()[task.Step]
		timeout := time.Duration(task.TimeoutSeconds) * time.Second
		handler := func(ctx context.Context, st events.FailoverState) (events.FailoverState, error) {
			c.mu.Lock()
			if run.firstStep.IsZero() {
				run.resume()
				run.firstStep = c.Clock.Now()
			}
			c.mu.Unlock()
			ctx, cancel := c.lambdaContext(ctx, timeout)
			defer cancel()
			return h(ctx, st)
		}
		for _, state := range task.States {
			out[state] = handler
		}
	}
	return out, nil
}

// lambdaContext is the context of one Lambda invocation with the function's timeout in
// drill time: simulated on a clock.Sim. On the compressed wall clock the deadline is
// the timeout on the wall clock, which the handlers map one to one onto drill time
// (clock.Deadline): generous on the wall, exact in what the handler plans by.
func (c *Cluster) lambdaContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if c.spec.Simulated {
		return clock.WithTimeout(ctx, c.Clock, timeout)
	}
	return context.WithTimeout(ctx, timeout)
}

// onStartExecution is the simulated Step Functions starting an execution: the drill
// runs it and finishes it in the account with the real outcome.
func (c *Cluster) onStartExecution(e sim.Execution) {
	run := &execRun{Exec: e, StartedAt: c.Clock.Now(), done: make(chan struct{})}
	// Drill time stands still until the local interpreter runs the first step (see drillClock).
	run.resume = c.Clock.Pause()
	if err := json.Unmarshal([]byte(e.Input), &run.Input); err != nil {
		run.Err = fmt.Errorf("decoding the input of %s: %w", e.Name, err)
	}
	c.mu.Lock()
	c.execs = append(c.execs, run)
	c.mu.Unlock()
	c.progress("  %s  execution %s started: %s of %s", c.stamp(), e.Name, run.Input.Verdict, run.Input.FailedInstanceID)
	c.goRun(func(context.Context) {
		defer close(run.done)
		c.play(run)
	})
}

// play runs one execution to its end and records the outcome in the account.
func (c *Cluster) play(run *execRun) {
	defer run.resume()
	status, out, err := sfnlocal.StatusFailed, []byte(nil), run.Err
	if err == nil {
		status, out, err = c.interpret(run)
	}
	if err != nil {
		run.Err = err
		if c.ctx.Err() == nil {
			c.violate("execution %s could not run: %v", run.Exec.Name, err)
		}
	}
	var st events.FailoverState
	if len(out) > 0 && json.Unmarshal(out, &st) == nil {
		run.Output = &st
	}
	run.Status = status
	run.EndedAt = c.Clock.Now()
	if err := c.Acct.FinishExecution(run.Exec.ARN, status, string(out)); err != nil && c.ctx.Err() == nil {
		c.violate("finishing execution %s: %v", run.Exec.Name, err)
	}
	c.progress("  %s  execution %s ended: %s", c.stamp(), run.Exec.Name, status)
}

// interpret runs the definition on the execution's input with the real step handlers
// and returns the status and the output (the last document when it did not succeed).
func (c *Cluster) interpret(run *execRun) (string, []byte, error) {
	def, err := c.definition()
	if err != nil {
		return sfnlocal.StatusFailed, nil, err
	}
	handlers, err := c.stepHandlers(run)
	if err != nil {
		return sfnlocal.StatusFailed, nil, err
	}
	if c.spec.Simulated {
		return c.interpretGo(run, def, handlers)
	}
	return c.interpretNode(run, def, handlers)
}

// interpretGo runs the execution with the Go interpreter (internal/harness/asl) on the
// simulated clock: Wait states and retry pauses take simulated time.
func (c *Cluster) interpretGo(run *execRun, def string, handlers map[string]stepHandler) (string, []byte, error) {
	m, err := asl.Parse(def)
	if err != nil {
		return sfnlocal.StatusFailed, nil, err
	}
	rng := rand.New(rand.NewPCG(uint64(c.spec.Seed), uint64(len(c.Executions()))))
	res := asl.Run(c.ctx, m, run.Input, asl.Env{
		Clock:  c.Clock,
		Jitter: rng.Float64,
		Task: func(ctx context.Context, state string, doc events.FailoverState) (events.FailoverState, error) {
			h, ok := handlers[state]
			if !ok {
				return doc, fmt.Errorf("no handler for Task state %s", state)
			}
			if c.rrng != nil { // the state transition and, for a new sandbox, the cold start
				c.mu.Lock()
				d := c.realism.Transition(c.rrng) + c.realism.ColdStart(c.rrng)
				c.mu.Unlock()
				if err := c.Clock.Sleep(ctx, d); err != nil {
					return doc, err
				}
			}
			return h(ctx, doc)
		},
	})
	run.Transitions = len(res.Path())
	run.ErrName, run.Cause = res.Error, res.Cause
	out, err := json.Marshal(res.Doc)
	return res.Status, out, err
}

// interpretNode runs the execution with aws-local-stepfunctions (the loopback demo and
// real Trino), its Wait states and retry pauses shortened by the drill's speed.
func (c *Cluster) interpretNode(run *execRun, def string, handlers map[string]stepHandler) (string, []byte, error) {
	byARN := map[string]sfnlocal.Handler{}
	for _, task := range statemachine.Tasks {
		byARN[c.lambdaARN(task.Placeholder)] = sfnlocal.TypedHandler(handlers[task.States[0]])
	}
	opts := sfnlocal.Options{}
	if dc, ok := c.Clock.(*drillClock); ok { // real time (real Trino) keeps the definition's own waits
		opts.WaitOverrides = waitOverrides(def, dc)
		opts.RetryOverrides = map[string]time.Duration{"*": dc.Wall(2 * time.Second)}
	}
	res, err := sfnlocal.Run(c.ctx, def, []byte(run.Exec.Input), byARN, opts)
	if err != nil {
		return sfnlocal.StatusFailed, nil, err
	}
	run.Transitions = res.Count("StateEntered", "")
	run.ErrName, run.Cause = res.Error, res.Cause
	out := res.Output
	if res.Status != sfnlocal.StatusSucceeded {
		out = res.LastOutput()
	}
	return res.Status, out, nil
}

// Executions returns the executions started so far.
func (c *Cluster) Executions() []*execRun {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*execRun(nil), c.execs...)
}

// waitOverrides scales every Wait state's Seconds by the drill's speed.
func waitOverrides(def string, dc *drillClock) map[string]time.Duration {
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
			out[name] = dc.Wall(time.Duration(s.Seconds * float64(time.Second)))
		}
	}
	return out
}
