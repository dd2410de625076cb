package permissions_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/agent"
	"github.com/prestoha/coordinator-ha/internal/awsapi"
	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/config"
	"github.com/prestoha/coordinator-ha/internal/failover"
	"github.com/prestoha/coordinator-ha/internal/harness/sim"
	"github.com/prestoha/coordinator-ha/internal/healthcheck"
	. "github.com/prestoha/coordinator-ha/internal/permissions"
	"github.com/prestoha/coordinator-ha/internal/signal"
	"github.com/prestoha/coordinator-ha/internal/teardown"
)

// The permissions proof: the real health check, failover steps and agent publisher run
// scenarios against the simulated account, which records every call per caller and
// evaluates each caller's policy as the stack synthesizes it (Statements: actions,
// resource ARNs, conditions), so a call the policy does not allow fails the scenario.
// Every recorded action must be granted by Actions (else AccessDenied in AWS), and every
// granted action must be used by some scenario (else the grant is more than needed).

const (
	cluster = "proof"
	asgName = "proof-coordinators"
	subnet  = "subnet-0aaaaaaaaaaaaaaa1"
)

type world struct {
	t        *testing.T
	clk      *clock.Virtual
	acct     *sim.Account
	pool     *sim.Pool
	eni      string
	active   string
	standbys []string
	sm       string
	topic    string
	pubs     map[string]*agent.Publisher
	execs    []sim.Execution
	env      map[string]string
}

func newWorld(t *testing.T, desired, max, haCount int) *world {
	t.Helper()
	clk := clock.NewVirtual(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	acct := sim.New(sim.Options{Clock: clk, Seed: 11})
	w := &world{t: t, clk: clk, acct: acct}
	pool, err := sim.NewPool(acct, sim.PoolSpec{Cluster: cluster, Coordinators: desired, Max: max, ASGName: asgName, SubnetID: subnet,
		StateMachine: "proof-failover", Topic: "proof-notifications", AttachActive: true, Warmup: time.Minute, AttachSettle: 5 * time.Second})
	must(t, err)
	pool.EnforcePolicies()
	w.pool = pool
	w.eni, w.active, w.standbys, w.sm, w.topic = pool.ENIID, pool.Active(), pool.Standbys(), pool.StateMachineARN, pool.TopicARN
	acct.OnStartExecution(func(e sim.Execution) { w.execs = append(w.execs, e) })
	// The real agent publisher and identity, each host with its own instance role session.
	w.pubs = map[string]*agent.Publisher{}
	for _, id := range pool.Instances {
		cl := pool.HostClients(id)
		ns, _, err := agent.Identify(context.Background(), cl.STS)
		must(t, err)
		p := agent.NewPublisher(cl.CloudWatch, clk, slog.New(slog.DiscardHandler), 0)
		p.SetNamespace(ns)
		w.pubs[id] = p
		// The real doorbell: each host may ring the health check, asynchronously.
		must(t, agent.NewLambdaDoorbell(cl.Lambda, pool.HealthCheckFunction(), clk).Ring(context.Background(), id, "proof"))
	}
	w.env = map[string]string{
		config.EnvCluster: cluster, config.EnvENIID: w.eni, config.EnvASGName: asgName, config.EnvHostRoleID: pool.HostRoleID,
		config.EnvStateMachineARN: w.sm, config.EnvTopicARN: w.topic, config.EnvKeepCoordinator: "no",
		config.EnvHACount: strconv.Itoa(haCount), config.EnvGraceSeconds: "30", config.EnvCheckInterval: "10",
	}
	return w
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (w *world) advance(d time.Duration) { w.clk.Advance(d); w.acct.Tick() }

// report publishes, through the agent's publisher, one self-report per 5 s for the last
// d for each instance with the given status, and witness reports when witness is set.
func (w *world) report(d time.Duration, status map[string]signal.Status, witness map[string]bool) {
	now := w.clk.Now()
	for at := now.Add(-d); !at.After(now); at = at.Add(5 * time.Second) {
		for id, s := range status {
			w.pubs[id].Add(signal.HealthDatum(cluster, id, s, at))
		}
		for id, reached := range witness {
			w.pubs[id].Add(signal.WitnessDatum(cluster, id, reached, at))
		}
	}
	for _, p := range w.pubs {
		must(w.t, p.Flush(context.Background()))
	}
	w.advance(15 * time.Second)
}

func (w *world) healthcheck() healthcheck.Evaluation {
	cfg, err := healthcheck.ConfigFromEnv(func(k string) string { return w.env[k] })
	must(w.t, err)
	cl := w.pool.ClientsOf(Healthcheck)
	h, err := healthcheck.New(cfg, healthcheck.Deps{AutoScaling: cl.AutoScaling, EC2: cl.EC2, CloudWatch: cl.CloudWatch, SFN: cl.SFN, SNS: cl.SNS,
		Clock: w.clk, Logger: slog.New(slog.DiscardHandler)})
	must(w.t, err)
	ev, err := h.Evaluate(context.Background())
	must(w.t, err)
	return ev
}

// step runs one failover step as its Lambda would: config from the environment, the
// clients of its own caller name.
func (w *world) step(caller, step string, st events.FailoverState) events.FailoverState {
	cfg, err := failover.LoadConfig(func(k string) (string, bool) { v, ok := w.env[k]; return v, ok }, step)
	must(w.t, err)
	cl := w.pool.ClientsOf(caller)
	s, err := failover.New(cfg, failover.Deps{EC2: cl.EC2, AutoScaling: cl.AutoScaling, CloudWatch: cl.CloudWatch, SNS: cl.SNS,
		Clock: w.clk, Log: slog.New(slog.DiscardHandler)})
	must(w.t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := s.Handlers()[step](ctx, st)
	if err != nil {
		w.t.Fatalf("%s: %v", step, err)
	}
	return out
}

func (w *world) lastInput() events.FailoverState {
	if len(w.execs) == 0 {
		w.t.Fatal("the health check started no execution")
	}
	var st events.FailoverState
	must(w.t, json.Unmarshal([]byte(w.execs[len(w.execs)-1].Input), &st))
	return st
}

func TestPermissionsProof(t *testing.T) {
	var worlds []*world
	scenarios := []struct {
		name string
		run  func(t *testing.T) *world
	}{
		{"active fails: health check starts a failover, the steps fence, attach, restore the pool and notify", func(t *testing.T) *world {
			// HA count 3 with a group of 2: LaunchStandby must raise desired capacity.
			w := newWorld(t, 2, 3, 3)
			st := map[string]signal.Status{w.active: signal.Healthy}
			for _, s := range w.standbys {
				st[s] = signal.Healthy
			}
			w.report(time.Minute, st, nil)
			w.advance(90 * time.Second)
			st[w.active] = signal.Unhealthy
			w.report(80*time.Second, st, map[string]bool{w.standbys[0]: false})
			ev := w.healthcheck()
			if ev.Verdict != events.VerdictFailed {
				t.Fatalf("verdict %s, want FAILED (%s)", ev.Verdict, ev.ActionDetail)
			}
			in := w.lastInput()
			out := w.step(Terminate, events.StepTerminate, in)
			out = w.step(AttachENI, events.StepAttachENI, out)
			out = w.step(LaunchStandby, events.StepLaunch, out)
			w.step(Notify, events.StepNotify, out)
			return w
		}},
		{"agent lost: the active is silent but a witness reaches it, the health check alerts", func(t *testing.T) *world {
			w := newWorld(t, 2, 3, 2)
			w.report(time.Minute, map[string]signal.Status{w.active: signal.Healthy, w.standbys[0]: signal.Healthy}, nil)
			w.advance(time.Minute)
			w.report(time.Minute, map[string]signal.Status{w.standbys[0]: signal.Healthy}, map[string]bool{w.standbys[0]: true})
			ev := w.healthcheck()
			if ev.Verdict != events.VerdictAgentLost {
				t.Fatalf("verdict %s, want AGENT_LOST", ev.Verdict)
			}
			return w
		}},
		{"a lifecycle hook holds the failed member: Terminate terminates it through EC2", func(t *testing.T) *world {
			w := newWorld(t, 2, 3, 2)
			w.acct.SetConsistency(sim.Consistency{TerminationHook: time.Hour})
			in := events.FailoverState{Cluster: cluster, ENIID: w.eni, FailedInstanceID: w.active, Verdict: events.VerdictManual,
				Reason: "operator", DetectedAt: w.clk.Now()}
			w.step(Terminate, events.StepTerminate, in)
			return w
		}},
		{"stack delete: the delete-time step unprotects the active and empties the group", func(t *testing.T) *world {
			w := newWorld(t, 2, 3, 2)
			_, err := w.acct.Clients("setup").AutoScaling.SetInstanceProtection(context.Background(), &autoscaling.SetInstanceProtectionInput{
				AutoScalingGroupName: aws.String(asgName), InstanceIds: []string{w.active}, ProtectedFromScaleIn: aws.Bool(true)})
			must(t, err)
			asg, ok := w.pool.ClientsOf(Teardown).AutoScaling.(awsapi.AutoScalingTeardownAPI)
			if !ok {
				t.Fatal("the simulated Auto Scaling client lacks UpdateAutoScalingGroup")
			}
			r := &teardown.Releaser{AutoScaling: asg, Clock: tickingClock{w}, Log: slog.New(slog.DiscardHandler), Budget: 10 * time.Minute}
			if res := r.Release(context.Background(), asgName); !res.Gone || len(res.Unprotected) != 1 {
				t.Fatalf("release: %+v", res)
			}
			return w
		}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) { worlds = append(worlds, sc.run(t)) })
	}
	if t.Failed() {
		t.Fatal("a scenario failed; the comparison below would be incomplete")
	}
	for _, caller := range Callers {
		called := map[string]bool{}
		for _, w := range worlds {
			for _, a := range w.acct.Actions(caller) {
				called[a] = true
			}
		}
		var list []string
		for a := range called {
			list = append(list, a)
		}
		sort.Strings(list)
		missing, unused := Diff(list, Actions[caller])
		if len(missing) > 0 {
			t.Errorf("%s calls %v, which Actions does not grant", caller, missing)
		}
		if len(unused) > 0 {
			t.Errorf("%s is granted %v, which no scenario uses", caller, unused)
		}
		t.Logf("%s: %v", caller, list)
	}
}

// tickingClock advances the world's virtual clock and lets the account apply what is due.
type tickingClock struct{ w *world }

func (c tickingClock) Now() time.Time { return c.w.clk.Now() }
func (c tickingClock) Sleep(ctx context.Context, d time.Duration) error {
	c.w.advance(d)
	return ctx.Err()
}
