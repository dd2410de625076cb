package drill

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/harness/drill/vip"
	"github.com/prestoha/coordinator-ha/internal/harness/sim"
	"github.com/prestoha/coordinator-ha/internal/operator"
)

// The operator command against the drill's cluster (issue 15): the cluster's stack is
// registered in the simulated account with the outputs infra/stack declares, and the
// command runs as an operator whose role carries exactly operator.Policy, with the
// real client path (the simulated account's clients, every call evaluated by its IAM
// model) on the drill's clock.

// OperatorCaller is the name the operator's calls are recorded under.
const OperatorCaller = "operator"

// OperatorRole is the operators' IAM role in the simulated account.
func (c *Cluster) OperatorRole() string { return c.spec.Name + "-operators" }

// StackName is the cluster's stack name.
func (c *Cluster) StackName() string { return c.spec.Name + "-coordinator-ha" }

// registerStack creates the stack (once) and the operators' policy.
func (c *Cluster) registerStack() error {
	if c.Acct.StackID(c.StackName()) != "" {
		return nil
	}
	_, err := c.Acct.CreateStack(c.StackName(), map[string]string{
		operator.OutCluster:         c.spec.Name,
		operator.OutENI:             c.ENIID,
		operator.OutENIIP:           c.ENIIP,
		operator.OutURL:             "http://" + c.ENIIP + ":" + coordinatorPort,
		operator.OutASG:             c.ASG,
		operator.OutStateMachine:    c.SMARN,
		operator.OutHostRoleID:      c.Pool.HostRoleID,
		operator.OutHealthCheckLogs: "/aws/lambda/" + c.spec.Name + "-healthcheck",
	})
	if err != nil {
		return err
	}
	c.Acct.SetPolicy(c.OperatorRole(), operator.Policy(c.Pool.PolicyResources()))
	return nil
}

// OperatorClients are the clients of an operator (session name who) under
// operator.Policy.
func (c *Cluster) OperatorClients(who string) operator.Clients {
	cl := c.Acct.ClientsAs(sim.Principal{Caller: OperatorCaller, RoleName: c.OperatorRole(), Session: who})
	return operator.Clients{CloudFormation: cl.CloudFormation, EC2: cl.OperatorEC2, AutoScaling: cl.AutoScaling,
		CloudWatch: cl.CloudWatch, SFN: cl.SFN, STS: cl.STS}
}

// Opener is the command's way to its stack in this cluster, as operator "alice",
// probing the coordinator IP through the drill's network (the client-visible gap).
func (c *Cluster) Opener() operator.Opener {
	return func(ctx context.Context, stack string, progress io.Writer) (*operator.Operator, error) {
		if err := c.registerStack(); err != nil {
			return nil, err
		}
		o, err := operator.Open(ctx, c.OperatorClients("alice"), c.Clock, stack, operator.Options{Progress: progress})
		if err != nil {
			return nil, err
		}
		if p := c.prober(); p != nil {
			o.SetProbe(p)
		}
		return o, nil
	}
}

// OpenOperator opens the cluster's own stack.
func (c *Cluster) OpenOperator(ctx context.Context, progress io.Writer) (*operator.Operator, error) {
	if err := c.registerStack(); err != nil {
		return nil, err
	}
	return c.Opener()(ctx, c.StackName(), progress)
}

// prober probes the coordinator IP the way the drill's client reaches it.
func (c *Cluster) prober() operator.Prober {
	w, ok := c.Watcher.(*vip.Watcher)
	if !ok {
		return nil
	}
	client := w.Client
	if client == nil {
		client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	}
	return operator.HTTPProber{URL: w.URL, Client: client}
}

// SimOptions describe a simulated cluster for WithSimCluster.
type SimOptions struct {
	Name    string // cluster name; "" means "ops"
	HACount int    // 0 means DefaultSettings().Coordinators
	Seed    int64
	// Realistic runs under the unkind model (sim.DefaultConsistency, sim.DefaultRealism:
	// eventually consistent reads, late ticks, Step Functions and Lambda latency).
	Realistic bool
}

// WithSimCluster builds a cluster on simulated time (clock.Sim) with the real agents,
// health check, state machine and steps, waits until it is warm (every coordinator
// healthy, the ENI attached by the health check's first execution, clients served),
// and runs f as the clock's participant: f may call anything that waits on c.Clock
// (the operator command included), and time advances only when every component waits.
// No wall-clock timeout decides anything.
func WithSimCluster(ctx context.Context, o SimOptions, f func(ctx context.Context, c *Cluster) error) error {
	if o.Name == "" {
		o.Name = "ops"
	}
	st := DefaultSettings()
	if o.HACount == 0 {
		o.HACount = st.Coordinators
	}
	clk := simTime{clock.NewSim(simStart)}
	var c *Cluster
	var err error
	onClock(clk, func() {
		c, err = newCluster(ctx, clusterSpec{Name: o.Name, HACount: o.HACount, Seed: o.Seed, Settings: st, Simulated: true, Realistic: o.Realistic}, clk)
		if err != nil {
			return
		}
		c.start()
		if err = c.startControlPlane(); err != nil {
			return
		}
		if err = c.waitWarm(ctx, o.HACount); err != nil {
			err = fmt.Errorf("warming up: %w", err)
			return
		}
		if err = c.registerStack(); err != nil {
			return
		}
		err = f(ctx, c)
		c.stop()
	})
	if c != nil {
		c.Close()
	}
	return err
}

// Violations are the invariant violations the cluster's sampler saw (two attachments of
// the ENI at once, hosts that could not boot).
func (c *Cluster) Violations() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.violations...)
}

// ServedBy is the instance whose coordinator answers at the coordinator IP now.
func (c *Cluster) ServedBy() (string, bool) {
	h, id, ok := c.holderHost()
	if !ok || h == nil {
		return "", false
	}
	return id, true
}

// switchover is the switchover scenario's action: the command line
// `coordinator-ha switchover --stack <stack>` through operator.Run, the function the
// binary runs, on the drill's clock. Its progress goes to the drill's progress lines and
// its result (with the client-visible gap the command measured) to the report.
func (c *Cluster) switchover() error {
	var out, progress bytes.Buffer
	code := operator.Run(c.ctx, []string{"switchover", "--stack", c.StackName(), "--reason", "drill: planned switchover"}, &out, &progress, c.Opener())
	for _, l := range strings.Split(strings.TrimSpace(progress.String()), "\n") {
		c.progress("  %s  coordinator-ha: %s", c.stamp(), l)
	}
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		c.note("coordinator-ha switchover: " + strings.TrimSpace(l))
	}
	if code != 0 {
		return fmt.Errorf("coordinator-ha switchover exited %d: %s", code, strings.TrimSpace(progress.String()))
	}
	return nil
}

// note keeps a line for the report's observations.
func (c *Cluster) note(line string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.noteLines = append(c.noteLines, line)
}

func (c *Cluster) notes() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.noteLines...)
}

// Runbook runs the README's runbook against a simulated cluster (`drill runbook`): the
// command lines an operator types, each with its real output, so the README shows what
// the command prints. The session: status of a warm cluster; an automatic failover (the
// active's process exits); a pause and status while paused; resume; a planned
// switchover; history.
func Runbook(ctx context.Context, w io.Writer) error {
	return WithSimCluster(ctx, SimOptions{Name: "prod", Seed: 15}, func(ctx context.Context, c *Cluster) error {
		run := func(args ...string) {
			shown := make([]string, len(args))
			for i, a := range args {
				shown[i] = a
				if strings.ContainsAny(a, " ()") {
					shown[i] = "'" + a + "'"
				}
			}
			fmt.Fprintf(w, "$ coordinator-ha %s --stack %s\n", strings.Join(shown, " "), c.StackName())
			var out, progress bytes.Buffer
			code := operator.Run(ctx, append(args, "--stack", c.StackName()), &out, &progress, c.Opener())
			w.Write(progress.Bytes())
			w.Write(out.Bytes())
			fmt.Fprintf(w, "[exit %d]\n\n", code)
		}
		wait := func(d time.Duration) { _ = c.Clock.Sleep(ctx, d) }
		run("status")
		active, _ := c.Holder()
		fmt.Fprintf(w, "# the Presto process on the active coordinator %s exits; the health check fails over\n\n", active)
		c.Host(active).Server.Exit()
		wait(45 * time.Second)
		run("status")
		wait(3 * time.Minute)
		run("pause", "--for", "2h", "--reason", "OS patching of the standbys (CHG-1042)")
		wait(70 * time.Second)
		run("status")
		run("resume")
		wait(10 * time.Second)
		run("switchover", "--reason", "move off the host before its kernel patch")
		wait(3 * time.Minute)
		run("history")
		return nil
	})
}
