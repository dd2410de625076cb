package operator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/harness/drill"
	"github.com/prestoha/coordinator-ha/internal/harness/sim"
	"github.com/prestoha/coordinator-ha/internal/operator"
	"github.com/prestoha/coordinator-ha/internal/permissions"
	"github.com/prestoha/coordinator-ha/internal/signal"
)

// Every test here runs the command's code (operator.Run, the very function the binary
// calls) against a drill cluster on simulated time: real agents, the real health check
// on its schedule, the real state machine definition and steps, each caller under the
// policy the stack synthesizes, and the operator under operator.Policy. Waits are on the
// simulated clock; no wall-clock timeout decides a verdict.

// cli runs a command line on the cluster's stack: exit code, stdout, stderr (progress).
func cli(ctx context.Context, c *drill.Cluster, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	args = append(args, "--stack", c.StackName())
	code := operator.Run(ctx, args, &out, &errb, c.Opener())
	return code, out.String(), errb.String()
}

func sim1(t *testing.T, o drill.SimOptions, f func(ctx context.Context, c *drill.Cluster) error) {
	t.Helper()
	if err := drill.WithSimCluster(context.Background(), o, f); err != nil {
		t.Fatal(err)
	}
}

// waitFor waits on the cluster's clock, a second at a time, until cond or limit.
func waitFor(ctx context.Context, c *drill.Cluster, limit time.Duration, cond func() bool) bool {
	end := c.Clock.Now().Add(limit)
	for !cond() {
		if c.Clock.Now().After(end) || c.Clock.Sleep(ctx, time.Second) != nil {
			return false
		}
	}
	return true
}

// executionsSince lists the executions started at or after t.
func executionsSince(c *drill.Cluster, t time.Time) []sim.Execution {
	var out []sim.Execution
	for _, e := range c.Acct.Executions() {
		if !e.StartDate.Before(t) {
			out = append(out, e)
		}
	}
	return out
}

func allEnded(es []sim.Execution) bool {
	for _, e := range es {
		if e.Status == "RUNNING" {
			return false
		}
	}
	return true
}

// standbys returns the running members other than the holder, oldest first.
func standbys(c *drill.Cluster) []string {
	holder, _ := c.Holder()
	var out []string
	for _, i := range c.Acct.Instances() {
		if i.ASG == c.ASG && i.State == "running" && i.ID != holder {
			out = append(out, i.ID)
		}
	}
	return out
}

// operatorCalls are the actions the operator called, and any refused by IAM.
func operatorCalls(c *drill.Cluster) (called []string, refused []string) {
	seen := map[string]bool{}
	for _, call := range c.Acct.Calls() {
		if call.Caller != drill.OperatorCaller {
			continue
		}
		if strings.Contains(call.Err, "not authorized") {
			refused = append(refused, call.Action()+": "+call.Err)
		}
		if !seen[call.Action()] {
			seen[call.Action()] = true
			called = append(called, call.Action())
		}
	}
	return called, refused
}

func checkViolations(t *testing.T, c *drill.Cluster) {
	t.Helper()
	for _, v := range c.Violations() {
		t.Errorf("invariant: %s", v)
	}
	if _, refused := operatorCalls(c); len(refused) > 0 {
		t.Errorf("IAM refused the operator (operator.Policy is missing a grant): %v", refused)
	}
}

func TestStatus(t *testing.T) {
	sim1(t, drill.SimOptions{Seed: 1}, func(ctx context.Context, c *drill.Cluster) error {
		code, text, _ := cli(ctx, c, "status")
		holder, _ := c.Holder()
		for _, want := range []string{"HEALTHY", "held by " + holder, "healthy standbys 2", "failover not paused", "ops-failover-000001"} {
			if !strings.Contains(text, want) {
				t.Errorf("status lacks %q:\n%s", want, text)
			}
		}
		code2, js, _ := cli(ctx, c, "status", "--json")
		var s operator.Status
		if err := json.Unmarshal([]byte(js), &s); err != nil {
			t.Fatalf("status --json: %v\n%s", err, js)
		}
		if code != operator.ExitHealthy || code2 != code || s.Health != operator.Healthy || s.Holder != holder || s.HealthyStandbys != 2 ||
			len(s.Coordinators) != 3 || s.BreakerCount != 1 || len(s.Recent) != 1 {
			t.Errorf("status exit %d/%d: %+v", code, code2, s)
		}
		for _, co := range s.Coordinators {
			if co.Verdict != events.VerdictHealthy || co.LastReportAge == nil || co.AZ == "" || co.Protected != (co.InstanceID == holder) {
				t.Errorf("coordinator %+v", co)
			}
		}

		// Down: the active's process exits; once the health check judges it FAILED and
		// before the failover moves the IP, status says down (exit 2).
		c.Host(holder).Server.Exit()
		var down operator.Status
		if !waitFor(ctx, c, 3*time.Minute, func() bool {
			code, js, _ := cli(ctx, c, "status", "--json")
			down = operator.Status{}
			_ = json.Unmarshal([]byte(js), &down)
			return code == operator.ExitDown && down.Health == operator.Down
		}) {
			t.Errorf("status never said down after the active's process exited: %+v", down)
		}
		checkViolations(t, c)
		return nil
	})
}

// A planned switchover to a chosen standby: the IP moves there through one execution
// of the lease, the old active is fenced and replaced, the client-visible gap is
// measured, and history shows it with its timeline.
func TestSwitchover(t *testing.T) {
	sim1(t, drill.SimOptions{Seed: 2}, func(ctx context.Context, c *drill.Cluster) error {
		from, _ := c.Holder()
		to := standbys(c)[1]
		start := c.Clock.Now()
		code, out, progress := cli(ctx, c, "switchover", "--to", to, "--reason", "kernel patch", "--json")
		t.Logf("progress:\n%s", progress)
		var r operator.SwitchoverResult
		if err := json.Unmarshal([]byte(out), &r); err != nil || code != 0 {
			t.Fatalf("switchover exit %d: %v\n%s", code, err, out)
		}
		if h, st := c.Holder(); h != to || st != "attached" || r.NewActive != to || r.From != from {
			t.Fatalf("after the switchover the ENI is %s on %s (result %+v), want %s", st, h, r, to)
		}
		if i, _ := c.Acct.Instance(from); i.State != "shutting-down" && i.State != "terminated" {
			t.Errorf("the old active %s is %s, want fenced", from, i.State)
		}
		execs := executionsSince(c, start)
		if len(execs) != 1 || execs[0].Caller != drill.OperatorCaller || execs[0].Status != "SUCCEEDED" {
			t.Fatalf("executions since the switchover: %+v", execs)
		}
		var in events.FailoverState
		_ = json.Unmarshal([]byte(execs[0].Input), &in)
		if in.Verdict != events.VerdictManual || in.FailedInstanceID != from || in.TargetInstanceID != to || in.Lease == nil ||
			execs[0].Name != events.LeaseName("ops", in.Lease.Generation) || !strings.Contains(in.Reason, "kernel patch") ||
			!strings.Contains(in.Reason, "assumed-role/ops-operators/alice") {
			t.Errorf("execution %s input %+v", execs[0].Name, in)
		}
		if r.ClientGap == nil || *r.ClientGap <= 0 || *r.ClientGap > 30 || r.ENIGap == nil || *r.ENIGap <= 0 {
			t.Errorf("gaps: client %v, ENI %v (probes %d, not served %d)", r.ClientGap, r.ENIGap, r.Probes, r.NotServed)
		}
		t.Logf("switchover %s: client-visible gap %.1f s, ENI gap %.1f s, execution %.1f s", r.Execution, *r.ClientGap, *r.ENIGap, *r.Duration)
		// The pool comes back to three, and the cluster to healthy.
		if !waitFor(ctx, c, 5*time.Minute, func() bool {
			code, _, _ := cli(ctx, c, "status")
			return code == operator.ExitHealthy
		}) {
			_, text, _ := cli(ctx, c, "status")
			t.Errorf("not healthy again after the switchover:\n%s", text)
		}
		code, hist, _ := cli(ctx, c, "history")
		if code != 0 || !strings.Contains(hist, r.Execution) || !strings.Contains(hist, "attached") ||
			strings.Index(hist, r.Execution) > strings.Index(hist, "ops-failover-000001") {
			t.Errorf("history (exit %d) lacks the switchover first:\n%s", code, hist)
		}
		code, since, _ := cli(ctx, c, "history", "--since", c.Clock.Now().Sub(start).Round(time.Second).String(), "--json")
		var hs []operator.Failover
		_ = json.Unmarshal([]byte(since), &hs)
		if code != 0 || len(hs) != 1 || hs[0].Execution != r.Execution || len(hs[0].Timeline) == 0 {
			t.Errorf("history --since: %+v", hs)
		}
		// Nothing to do: the target is already the active.
		if code, _, e := cli(ctx, c, "switchover", "--to", to); code != operator.ExitNothingToDo {
			t.Errorf("switchover to the active: exit %d (%s), want %d", code, e, operator.ExitNothingToDo)
		}
		checkViolations(t, c)
		return nil
	})
}

// A switchover racing an automatic failover: the lease lets exactly one act.
func TestSwitchoverRacesAutomaticFailover(t *testing.T) {
	// The health check's failover holds the lease: the switchover is refused at once
	// with "another failover is running" and changes nothing.
	t.Run("failover first", func(t *testing.T) {
		sim1(t, drill.SimOptions{Seed: 3}, func(ctx context.Context, c *drill.Cluster) error {
			active, _ := c.Holder()
			fault := c.Clock.Now()
			c.Host(active).Server.Exit()
			if !waitFor(ctx, c, 3*time.Minute, func() bool { return len(executionsSince(c, fault)) > 0 }) {
				t.Fatal("the health check never started a failover")
			}
			code, _, errs := cli(ctx, c, "switchover")
			if code != operator.ExitRunning || !strings.Contains(errs, "another failover is running") {
				t.Errorf("switchover during a failover: exit %d, %q", code, errs)
			}
			waitFor(ctx, c, 5*time.Minute, func() bool { return allEnded(executionsSince(c, fault)) })
			if es := executionsSince(c, fault); len(es) != 1 || es[0].Caller != permissions.Healthcheck || es[0].Status != "SUCCEEDED" {
				t.Errorf("executions after the fault: %+v", es)
			}
			checkViolations(t, c)
			return nil
		})
	})
	// The switchover holds the lease: the health check, which sees the active fail
	// meanwhile, is blocked by it, and after it the fenced instance no longer holds the
	// IP: one execution in all.
	t.Run("switchover first", func(t *testing.T) {
		sim1(t, drill.SimOptions{Seed: 4}, func(ctx context.Context, c *drill.Cluster) error {
			active, _ := c.Holder()
			fault := c.Clock.Now()
			c.Host(active).Server.Hang(0) // the active stops answering; the switchover moves off it anyway
			code, _, errs := cli(ctx, c, "switchover")
			if code != 0 {
				t.Fatalf("switchover: exit %d: %s", code, errs)
			}
			_ = c.Clock.Sleep(ctx, 3*time.Minute) // every evaluation of the next minutes
			es := executionsSince(c, fault)
			if len(es) != 1 || es[0].Caller != drill.OperatorCaller {
				t.Errorf("executions after the fault: %+v, want the switchover alone", es)
			}
			if h, _ := c.Holder(); h == active {
				t.Errorf("the ENI is still on the failed %s", active)
			}
			checkViolations(t, c)
			return nil
		})
	})
	// Both compute the same generation: the health check's StartExecution lands first.
	// Step Functions refuses the second (ExecutionAlreadyExists): the switchover reports
	// "another failover is running" and exactly one execution of that generation exists.
	t.Run("same generation", func(t *testing.T) {
		sim1(t, drill.SimOptions{Seed: 5}, func(ctx context.Context, c *drill.Cluster) error {
			active, _ := c.Holder()
			clients := c.OperatorClients("alice")
			hc := c.Pool.ClientsOf(permissions.Healthcheck).SFN
			clients.SFN = &racingSFN{SFNAPI: clients.SFN, first: func(name string) {
				st := events.FailoverState{Cluster: "ops", ENIID: c.ENIID, FailedInstanceID: active, Verdict: events.VerdictFailed,
					Reason: "race", DetectedAt: c.Clock.Now(), Lease: &events.Lease{Generation: 2, Holder: "healthcheck/race"}}
				in, _ := json.Marshal(st)
				if _, err := hc.StartExecution(ctx, startInput(c.SMARN, name, string(in))); err != nil {
					t.Errorf("the health check's start of %s: %v", name, err)
				}
			}}
			o, err := operator.Open(ctx, clients, c.Clock, c.StackName(), operator.Options{})
			if err != nil {
				return err
			}
			_, err = o.Switchover(ctx, "", "race")
			if operator.ExitCode(err) != operator.ExitRunning || !strings.Contains(fmt.Sprint(err), "taken by another starter first") {
				t.Errorf("switchover racing the same generation: %v", err)
			}
			n := 0
			for _, e := range c.Acct.Executions() {
				if e.Name == events.LeaseName("ops", 2) {
					n++
					if e.Caller != permissions.Healthcheck {
						t.Errorf("generation 2 started by %s", e.Caller)
					}
				}
			}
			if n != 1 {
				t.Errorf("%d executions of generation 2", n)
			}
			waitFor(ctx, c, 5*time.Minute, func() bool { return allEnded(c.Acct.Executions()) })
			checkViolations(t, c)
			return nil
		})
	})
}

// A pause that expires during a failure: no failover while paused, the failover after
// the expiry; status shows the pause (degraded, exit 1) with who and why.
func TestPauseExpiresDuringFailure(t *testing.T) {
	sim1(t, drill.SimOptions{Seed: 6}, func(ctx context.Context, c *drill.Cluster) error {
		code, out, errs := cli(ctx, c, "pause", "--for", "5m", "--reason", "rolling the workers")
		if code != 0 || !strings.Contains(out, "paused until") {
			t.Fatalf("pause: exit %d %s %s", code, out, errs)
		}
		pausedAt := c.Clock.Now()
		code, js, _ := cli(ctx, c, "status", "--json")
		var s operator.Status
		_ = json.Unmarshal([]byte(js), &s)
		if code != operator.ExitDegraded || s.Pause == nil || s.Pause.Reason != "rolling the workers" ||
			!strings.HasSuffix(s.Pause.By, "assumed-role/ops-operators/alice") || s.Pause.Until.Sub(pausedAt) > 5*time.Minute {
			t.Fatalf("status while paused: exit %d, pause %+v", code, s.Pause)
		}
		active, _ := c.Holder()
		_ = c.Clock.Sleep(ctx, 30*time.Second)
		fault := c.Clock.Now()
		c.Host(active).Server.Exit()
		until := s.Pause.Until
		waitFor(ctx, c, until.Sub(c.Clock.Now())-time.Second, func() bool { return false })
		if es := executionsSince(c, fault); len(es) != 0 {
			t.Fatalf("%d executions while paused: %+v", len(es), es)
		}
		if h, _ := c.Holder(); h != active {
			t.Fatalf("the ENI moved while paused")
		}
		if !waitFor(ctx, c, 3*time.Minute, func() bool { return len(executionsSince(c, fault)) > 0 }) {
			t.Fatal("no failover after the pause expired")
		}
		e := executionsSince(c, fault)[0]
		if e.StartDate.Before(until) || e.StartDate.After(until.Add(70*time.Second)) || e.Caller != permissions.Healthcheck {
			t.Errorf("failover %s by %s at %s; the pause expired at %s", e.Name, e.Caller, e.StartDate, until)
		}
		waitFor(ctx, c, 5*time.Minute, func() bool { return allEnded(executionsSince(c, fault)) })
		if h, _ := c.Holder(); h == active || len(executionsSince(c, fault)) != 1 {
			t.Errorf("after the expiry: holder %s, %d executions", h, len(executionsSince(c, fault)))
		}
		// The health check logged the pause at its evaluations, with who and why.
		logged := 0
		for _, r := range c.Logs() {
			if r.Msg == "failover paused" && strings.Contains(r.Attrs["pausedBy"], "alice") && r.Attrs["reason"] == "rolling the workers" {
				logged++
			}
		}
		if logged < 10 {
			t.Errorf("the health check logged the pause %d times", logged)
		}
		paused := 0
		for _, d := range c.Acct.Datapoints(signal.Namespace) {
			if d.MetricName == "Paused" {
				paused++
				if !d.Timestamp.Before(until) {
					t.Errorf("Paused published at %s, after the expiry %s", d.Timestamp, until)
				}
			}
		}
		if paused == 0 {
			t.Error("no Paused datapoint while paused")
		}
		checkViolations(t, c)
		return nil
	})
}

// resume ends a pause at once: a failure held back by the pause is failed over right
// after; a second resume has nothing to do.
func TestResume(t *testing.T) {
	sim1(t, drill.SimOptions{Seed: 7}, func(ctx context.Context, c *drill.Cluster) error {
		if code, _, errs := cli(ctx, c, "pause", "--reason", "maintenance"); code != 0 {
			t.Fatalf("pause: %d %s", code, errs)
		}
		active, _ := c.Holder()
		fault := c.Clock.Now()
		c.Host(active).Server.Exit()
		_ = c.Clock.Sleep(ctx, 2*time.Minute)
		if n := len(executionsSince(c, fault)); n != 0 {
			t.Fatalf("%d executions while paused", n)
		}
		code, out, errs := cli(ctx, c, "resume")
		if code != 0 || !strings.Contains(out, "resumed") || !strings.Contains(out, "maintenance") {
			t.Fatalf("resume: exit %d %s %s", code, out, errs)
		}
		resumed := c.Clock.Now()
		if !waitFor(ctx, c, 2*time.Minute, func() bool { return len(executionsSince(c, fault)) > 0 }) {
			t.Fatal("no failover after resume")
		}
		if at := executionsSince(c, fault)[0].StartDate; at.Sub(resumed) > 70*time.Second {
			t.Errorf("failover %s after resume", at.Sub(resumed))
		}
		if code, _, errs := cli(ctx, c, "resume"); code != operator.ExitNothingToDo || !strings.Contains(errs, "not paused") {
			t.Errorf("second resume: exit %d %s", code, errs)
		}
		waitFor(ctx, c, 5*time.Minute, func() bool { return allEnded(executionsSince(c, fault)) })
		checkViolations(t, c)
		return nil
	})
}

// roll replaces every coordinator with the launch template's current version, standbys
// first, surge-first, then the active by a switchover; healthy standbys never drop
// below what the cluster had, by the operator's looks and by an independent sampler of
// the hosts' own agents. Every operator call of the session is granted by
// operator.Policy, and every action Policy grants is used.
func TestRoll(t *testing.T) {
	sim1(t, drill.SimOptions{Seed: 8}, func(ctx context.Context, c *drill.Cluster) error {
		if code, _, errs := cli(ctx, c, "roll"); code != operator.ExitNothingToDo || !strings.Contains(errs, "every coordinator runs launch template version 1") {
			t.Errorf("roll with nothing to roll: exit %d %s", code, errs)
		}
		if err := c.Acct.SetLaunchTemplateVersion(c.ASG, "2"); err != nil {
			return err
		}
		before := healthyStandbys(c)
		var lowest atomic.Int64
		lowest.Store(int64(before))
		sctx, cancel := context.WithCancel(ctx)
		wait := startSampler(c, sctx, func() {
			if n := int64(healthyStandbys(c)); n < lowest.Load() {
				lowest.Store(n)
			}
		})
		start := c.Clock.Now()
		code, out, progress := cli(ctx, c, "roll", "--reason", "new AMI", "--json")
		cancel()
		wait()
		t.Logf("roll took %s of simulated time; progress:\n%s", c.Clock.Now().Sub(start).Round(time.Second), progress)
		var r operator.RollResult
		if err := json.Unmarshal([]byte(out), &r); err != nil || code != 0 {
			t.Fatalf("roll: exit %d %v\n%s", code, err, out)
		}
		if before != 2 || int(lowest.Load()) < before || r.MinHealthyStandbys < r.HealthyStandbysBefore || len(r.Retired) != 3 {
			t.Errorf("healthy standbys: %d before, at least %d during (sampler), operator %d/%d; retired %v", before, lowest.Load(), r.HealthyStandbysBefore, r.MinHealthyStandbys, r.Retired)
		}
		g, _ := c.Acct.ASG(c.ASG)
		live := 0
		for _, m := range g.Members {
			if m.Lifecycle == "InService" || m.Lifecycle == "Pending" {
				live++
				if m.LaunchTemplateVersion != "2" {
					t.Errorf("%s still on version %s", m.InstanceID, m.LaunchTemplateVersion)
				}
			}
		}
		if g.Desired != 3 || live != 3 {
			t.Errorf("after the roll: desired %d, %d live members", g.Desired, live)
		}
		es := executionsSince(c, start)
		if len(es) != 1 || es[0].Caller != drill.OperatorCaller || es[0].Status != "SUCCEEDED" {
			t.Errorf("executions during the roll: %+v, want one switchover", es)
		}
		if !waitFor(ctx, c, 5*time.Minute, func() bool { code, _, _ := cli(ctx, c, "status"); return code == operator.ExitHealthy }) {
			_, text, _ := cli(ctx, c, "status")
			t.Errorf("not healthy after the roll:\n%s", text)
		}
		if code, _, _ := cli(ctx, c, "roll"); code != operator.ExitNothingToDo {
			t.Errorf("a second roll: exit %d, want nothing to do", code)
		}
		// The rest of the subcommands, then the policy check over the whole session.
		cli(ctx, c, "pause", "--for", "1m", "--reason", "policy check")
		cli(ctx, c, "resume")
		cli(ctx, c, "history")
		called, refused := operatorCalls(c)
		missing, unused := permissions.Diff(called, operator.Actions)
		if len(refused) > 0 || len(missing) > 0 || len(unused) > 0 {
			t.Errorf("operator calls vs operator.Actions: refused %v, missing %v, unused %v", refused, missing, unused)
		}
		checkViolations(t, c)
		return nil
	})
}

// healthyStandbys counts, by the hosts' own agents, the running members other than the
// holder whose last probe was healthy and that have been up for three report intervals.
func healthyStandbys(c *drill.Cluster) int {
	holder, _ := c.Holder()
	n := 0
	for _, i := range c.Acct.Instances() {
		if i.ASG != c.ASG || i.State != "running" || i.ID == holder {
			continue
		}
		h := c.Host(i.ID)
		if h == nil || !h.AgentAlive() {
			continue
		}
		obs := h.Agent().Last()
		if obs.Probes >= 3 && obs.Self.Status == signal.Healthy {
			n++
		}
	}
	return n
}

func TestErrors(t *testing.T) {
	sim1(t, drill.SimOptions{Seed: 9}, func(ctx context.Context, c *drill.Cluster) error {
		var out, errb bytes.Buffer
		code := operator.Run(ctx, []string{"status", "--stack", "nope"}, &out, &errb, c.Opener())
		if code != operator.ExitNoStack || !strings.Contains(errb.String(), "Stack with id nope does not exist") {
			t.Errorf("no such stack: exit %d %q", code, errb.String())
		}
		active, _ := c.Holder()
		cases := []struct {
			args []string
			code int
			want string
		}{
			{[]string{"frobnicate"}, operator.ExitUsage, "unknown command"},
			{[]string{"pause"}, operator.ExitUsage, "--reason"},
			{[]string{"pause", "--reason", "x", "--for", "48h"}, operator.ExitUsage, "at most 24h"},
			{[]string{"resume"}, operator.ExitNothingToDo, "not paused"},
			{[]string{"switchover", "--to", active}, operator.ExitNothingToDo, "already the active"},
			{[]string{"switchover", "--to", "i-0123456789abcdef0"}, operator.ExitFailed, "not a coordinator"},
			{[]string{"history", "--since", "yesterday"}, operator.ExitUsage, "--since"},
		}
		for _, tc := range cases {
			code, _, errs := cli(ctx, c, tc.args...)
			if code != tc.code || !strings.Contains(errs, tc.want) {
				t.Errorf("%v: exit %d %q, want %d and %q", tc.args, code, errs, tc.code, tc.want)
			}
		}
		// A standby that is not healthy is refused before anything starts.
		sb := standbys(c)[0]
		c.Host(sb).Server.Exit()
		_ = c.Clock.Sleep(ctx, 30*time.Second)
		n := len(c.Acct.Executions())
		if code, _, errs := cli(ctx, c, "switchover", "--to", sb); code != operator.ExitFailed || !strings.Contains(errs, "not a healthy standby") {
			t.Errorf("switchover to an unhealthy standby: exit %d %s", code, errs)
		}
		if len(c.Acct.Executions()) != n {
			t.Error("an execution started for a refused switchover")
		}
		return nil
	})
}

// The active fails while a roll surges in its first new standby: the health check fails
// over (the roll never terminates the new holder, nor anything while the failover runs),
// and roll, run again until it has nothing to do, leaves every member on the new version,
// the group at its size and at most one ENI attachment at any time.
func TestRollWithAFailoverDuringIt(t *testing.T) {
	sim1(t, drill.SimOptions{Seed: 10}, func(ctx context.Context, c *drill.Cluster) error {
		if err := c.Acct.SetLaunchTemplateVersion(c.ASG, "2"); err != nil {
			return err
		}
		active, _ := c.Holder()
		sctx, cancel := context.WithCancel(ctx)
		faulted := false
		wait := startSampler(c, sctx, func() {
			if g, _ := c.Acct.ASG(c.ASG); !faulted && g.Desired == 4 {
				faulted = true
				c.Host(active).Server.Exit()
			}
		})
		var codes []int
		for range 4 {
			code, _, progress := cli(ctx, c, "roll")
			t.Logf("roll exit %d:\n%s", code, progress)
			codes = append(codes, code)
			if code == operator.ExitNothingToDo {
				break
			}
			if code == operator.ExitRunning {
				_ = c.Clock.Sleep(ctx, time.Minute)
			}
		}
		cancel()
		wait()
		if !faulted || codes[len(codes)-1] != operator.ExitNothingToDo {
			t.Fatalf("fault injected %v; roll exit codes %v, want the last to be nothing to do", faulted, codes)
		}
		waitFor(ctx, c, 5*time.Minute, func() bool { return allEnded(c.Acct.Executions()) })
		g, _ := c.Acct.ASG(c.ASG)
		for _, m := range g.Members {
			if (m.Lifecycle == "InService" || m.Lifecycle == "Pending") && m.LaunchTemplateVersion != "2" {
				t.Errorf("%s still on version %s", m.InstanceID, m.LaunchTemplateVersion)
			}
		}
		if g.Desired != 3 {
			t.Errorf("desired capacity %d after the roll", g.Desired)
		}
		if h, st := c.Holder(); h == "" || h == active || st != "attached" {
			t.Errorf("the ENI is %s on %q", st, h)
		}
		// Three executions within the hour (the first attach, the failover, the
		// switchover) open the circuit breaker: status says degraded for that alone.
		var s operator.Status
		if !waitFor(ctx, c, 5*time.Minute, func() bool {
			_, js, _ := cli(ctx, c, "status", "--json")
			s = operator.Status{}
			_ = json.Unmarshal([]byte(js), &s)
			return s.HealthyStandbys == 2 && len(s.Problems) == 1 && s.BreakerCount == 3
		}) {
			t.Errorf("after the roll: %+v", s)
		}
		checkViolations(t, c)
		return nil
	})
}

// Under the unkind model (eventually consistent EC2, Auto Scaling and Step Functions
// reads, late schedule ticks, Step Functions and Lambda latency) and with the operator's
// own reads throttled now and then, a switchover and a roll still do what they must.
func TestUnderTheUnkindModel(t *testing.T) {
	sim1(t, drill.SimOptions{Seed: 12, Realistic: true}, func(ctx context.Context, c *drill.Cluster) error {
		for _, op := range []string{"DescribeNetworkInterfaces", "DescribeExecution", "DescribeAutoScalingGroups"} {
			c.Acct.Inject(sim.Fault{Caller: drill.OperatorCaller, Operation: op, Kind: sim.Throttle, Times: 2})
		}
		from, _ := c.Holder()
		code, out, progress := cli(ctx, c, "switchover", "--json")
		t.Logf("switchover exit %d:\n%s", code, progress)
		var r operator.SwitchoverResult
		if err := json.Unmarshal([]byte(out), &r); err != nil || code != 0 {
			t.Fatalf("switchover: exit %d %v\n%s", code, err, out)
		}
		if h, _ := c.Holder(); h == from || h != r.NewActive {
			t.Errorf("after the switchover the ENI is on %s (result %s)", h, r.NewActive)
		}
		if err := c.Acct.SetLaunchTemplateVersion(c.ASG, "2"); err != nil {
			return err
		}
		_ = c.Clock.Sleep(ctx, 2*time.Minute)
		code, _, progress = cli(ctx, c, "roll")
		if code != 0 {
			t.Errorf("roll: exit %d\n%s", code, progress)
		}
		g, _ := c.Acct.ASG(c.ASG)
		for _, m := range g.Members {
			if (m.Lifecycle == "InService" || m.Lifecycle == "Pending") && m.LaunchTemplateVersion != "2" {
				t.Errorf("%s still on version %s", m.InstanceID, m.LaunchTemplateVersion)
			}
		}
		if g.Desired != 3 {
			t.Errorf("desired %d after the roll", g.Desired)
		}
		checkViolations(t, c)
		return nil
	})
}
