package healthcheck

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/awserr"
	"github.com/prestoha/coordinator-ha/internal/config"
	"github.com/prestoha/coordinator-ha/internal/harness/sim"
	"github.com/prestoha/coordinator-ha/internal/signal"
)

// The attacks of issue 10, each against the real health check and the simulated
// account with every caller's synthesized policy enforced (pool.EnforcePolicies). The
// attacker holds the credentials of one coordinator host: its instance role session.
// Every forgery is tried in the two places it could matter: the victim's own report
// namespace (IAM refuses: AccessDenied, counted) and the attacker's own namespace with
// the victim's dimensions (accepted, and never read for the victim).

// forgery is an attacker writing reports for victim as principal p.
type forgery struct {
	w               *world
	p               sim.Principal
	victim, cluster string
	status          signal.Status
	witness         *bool // also forge witness reports with this value
	denied, written int
}

func (f *forgery) forge(at time.Time) {
	// Every second, the agent's own included: a forgery in the seconds between the
	// agent's reports is not mixed with them, one in the same second hides them.
	var data []cwtypes.MetricDatum
	for s := range 5 {
		data = append(data, signal.HealthDatum(f.cluster, f.victim, f.status, at.Add(time.Duration(s)*time.Second)))
		if f.witness != nil {
			data = append(data, signal.WitnessDatum(f.cluster, f.victim, *f.witness, at.Add(time.Duration(s)*time.Second)))
		}
	}
	cw := f.w.acct.ClientsAs(f.p).CloudWatch
	for _, ns := range []string{
		signal.ReportNamespace(f.w.pool.HostRoleID, f.victim), // the victim's namespace
		signal.HostNamespace(f.w.acct.UserID(f.p)),            // the attacker's own
		signal.Namespace, // the product's shared namespace
		signal.ReportNamespace(f.w.acct.RoleID(f.p.RoleName), f.victim), // the victim's id under the attacker's role
	} {
		_, err := cw.PutMetricData(context.Background(), &cloudwatch.PutMetricDataInput{Namespace: aws.String(ns), MetricData: data})
		switch {
		case err == nil:
			f.written++
		case awserr.IsAccessDenied(err):
			f.denied++
		default:
			f.w.t.Fatalf("forged PutMetricData into %s: %v", ns, err)
		}
	}
}

// attack starts forging every report tick (5 s) from now on.
func (w *world) attack(f *forgery) *forgery {
	f.w = w
	if f.cluster == "" {
		f.cluster = cluster
	}
	w.mu.Lock()
	w.forgers = append(w.forgers, f.forge)
	w.mu.Unlock()
	return f
}

// standbyPrincipal is the instance role session of a standby: the attacker's foothold.
func (w *world) standbyPrincipal() sim.Principal {
	for _, id := range w.poolIDs() {
		if id != w.holder() {
			return w.pool.HostPrincipal(id)
		}
	}
	w.t.Fatal("no standby")
	return sim.Principal{}
}

func (f *forgery) mustHaveBeenRefused(t *testing.T) {
	t.Helper()
	if f.denied == 0 {
		t.Fatal("no forged write was refused: the attack did not run")
	}
	if f.written == 0 {
		t.Fatal("the attacker could not even write its own namespace")
	}
	t.Logf("forged writes: %d refused by IAM (AccessDenied), %d accepted into namespaces nobody reads for the victim", f.denied, f.written)
}

func verdictsOf(sums []Summary) map[events.Verdict]int {
	out := map[events.Verdict]int{}
	for _, s := range sums {
		for v, n := range s.Verdicts {
			out[v] += n
		}
	}
	return out
}

// A host forges "unhealthy" (and, in a second run, "starting") for the healthy active
// every report tick, and witness reports that it cannot reach it: no failover.
func TestAttackForgedUnhealthyForTheHealthyActiveMovesNothing(t *testing.T) {
	for _, st := range []signal.Status{signal.Unhealthy, signal.Starting} {
		t.Run(st.String(), func(t *testing.T) {
			w := newWorld(t)
			h := w.handler(w.config())
			active := w.holder()
			unreached := false
			f := w.attack(&forgery{p: w.standbyPrincipal(), victim: active, status: st, witness: &unreached})
			sums := w.runUntil(h, w.clk.Now().Add(5*time.Minute))
			if n := len(w.acct.Executions()); n != 0 {
				t.Fatalf("%d failovers started by forged reports", n)
			}
			if v := verdictsOf(sums); v[events.VerdictHealthy] == 0 || v[events.VerdictFailed] != 0 || v[events.VerdictSuspect] != 0 {
				t.Fatalf("verdicts %v, want HEALTHY throughout", v)
			}
			if w.holder() != active {
				t.Fatalf("the ENI moved to %s", w.holder())
			}
			f.mustHaveBeenRefused(t)
		})
	}
}

// The active dies; a host forges "healthy" for it every report tick (and witness
// reports that reach it): the failover still starts within the usual bound.
func TestAttackForgedHealthyForADeadActiveDoesNotDelayTheFailover(t *testing.T) {
	w := newWorld(t)
	h := w.handler(w.config())
	active := w.holder()
	reached := true
	f := w.attack(&forgery{p: w.standbyPrincipal(), victim: active, status: signal.Healthy, witness: &reached})
	fault := w.clk.Now().Add(64 * time.Second)
	w.schedule(fault, func() { w.change(active, func(h *host) { h.proc = signal.Unhealthy }) })
	w.runUntil(h, fault.Add(3*time.Minute))
	execs := w.acct.Executions()
	if len(execs) != 1 {
		t.Fatalf("%d executions, want 1", len(execs))
	}
	bound := DefaultGrace + DefaultCheckInterval + DefaultIngestionDelay
	if d := execs[0].StartDate.Sub(fault); d < 0 || d > bound {
		t.Fatalf("failover %s after the fault, want within %s", d, bound)
	}
	f.mustHaveBeenRefused(t)
}

// Forged failovers cannot be counted against the circuit breaker: after an hour of
// forged "unhealthy" reports for the active (and for every member) no execution was
// started, so a real failure is then acted on.
func TestAttackForgedFailoversCannotOpenTheBreaker(t *testing.T) {
	w := newWorld(t)
	h := w.handler(w.config())
	active := w.holder()
	p := w.standbyPrincipal()
	var fs []*forgery
	for _, id := range w.poolIDs() {
		fs = append(fs, w.attack(&forgery{p: p, victim: id, status: signal.Unhealthy}))
	}
	w.runUntil(h, w.clk.Now().Add(30*time.Minute))
	if n := len(w.acct.Executions()); n != 0 {
		t.Fatalf("%d executions from forged reports", n)
	}
	fault := w.clk.Now().Add(4 * time.Second)
	w.schedule(fault, func() { w.change(active, func(h *host) { h.proc = signal.Unhealthy }) })
	sums := w.runUntil(h, fault.Add(2*time.Minute))
	if n := len(w.acct.Executions()); n != 1 {
		t.Fatalf("%d executions after the real failure, want 1", n)
	}
	for _, s := range sums {
		if s.Actions[ActionBlockedBreaker] > 0 {
			t.Fatal("the circuit breaker blocked the real failover")
		}
	}
	fs[0].mustHaveBeenRefused(t)
}

// A second stack, another cluster in the same account: its hosts cannot write this
// cluster's reports, and what they write in their own namespaces is never read here.
// Then the same cluster name in two stacks: two groups, two host roles, two pools.
func TestAttackOtherClustersAndStacksCannotReport(t *testing.T) {
	for _, tc := range []struct{ name, otherCluster string }{
		{"another cluster's hosts", "analytics"},
		{"a second stack with the same cluster name", cluster},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			must(t, w.acct.AddSubnet("subnet-0ffffffffffffff01", "us-east-1a", "10.0.9.0/24"))
			other, err := sim.NewPool(w.acct, sim.PoolSpec{Cluster: tc.otherCluster, Coordinators: 2, ASGName: "stack2-coordinators",
				SubnetID: "subnet-0ffffffffffffff01", ExistingSubnet: true, StateMachine: "stack2-failover", Topic: "stack2-alerts",
				AttachActive: true, Wait: w.advance})
			must(t, err)
			other.EnforcePolicies()
			if other.HostRoleID == w.pool.HostRoleID {
				t.Fatal("two stacks share a host role id")
			}
			h := w.handler(w.config())
			active := w.holder()
			f := w.attack(&forgery{p: other.HostPrincipal(other.Instances[1]), victim: active, status: signal.Unhealthy})
			// The other stack's own coordinators fail, loudly, in their own namespaces.
			for _, id := range other.Instances {
				must(t, other.Report(id, signal.Unhealthy, w.clk.Now(), 5*time.Second, 200))
			}
			sums := w.runUntil(h, w.clk.Now().Add(5*time.Minute))
			if n := len(w.acct.Executions()); n != 0 {
				t.Fatalf("%d failovers", n)
			}
			if v := verdictsOf(sums); v[events.VerdictHealthy] == 0 || v[events.VerdictFailed]+v[events.VerdictSuspect] != 0 {
				t.Fatalf("verdicts %v, want HEALTHY throughout", v)
			}
			for _, s := range sums {
				for _, j := range s.Last.Coordinators {
					if j.InstanceID == other.Instances[0] || j.InstanceID == other.Instances[1] {
						t.Fatalf("the other stack's %s is in this pool", j.InstanceID)
					}
				}
			}
			f.mustHaveBeenRefused(t)
		})
	}
}

// An instance outside the group, given the cluster tag by someone who may tag
// instances, and reporting "healthy" as its own role session (it runs with the hosts'
// instance profile): it is not in the pool, and its reports count for nothing.
func TestAttackTaggedOutsiderIsNotInThePool(t *testing.T) {
	w := newWorld(t)
	h := w.handler(w.config())
	outsider, err := w.acct.LaunchInstance(sim.InstanceSpec{SubnetID: subnetID, Tags: map[string]string{config.TagCluster: cluster}})
	must(t, err)
	f := w.attack(&forgery{p: w.pool.HostPrincipal(outsider), victim: outsider, status: signal.Healthy})
	w.advance(time.Minute)
	ev, err := h.Evaluate(context.Background())
	must(t, err)
	for _, j := range ev.Coordinators {
		if j.InstanceID == outsider {
			t.Fatalf("the outsider is judged as a member: %+v", j)
		}
	}
	if f.written == 0 {
		t.Fatal("the outsider's own writes did not happen")
	}
}

// A second writer on the active host itself (its own credentials): samples no agent
// writes (values outside the encoding, a second self-report in the same second) are
// set aside and alerted on (log, ReportTampering metric, SNS), and never acted on.
func TestTamperingOnTheActiveIsAlertedNeverActedOn(t *testing.T) {
	w := newWorld(t)
	h := w.handler(w.config())
	active := w.holder()
	self := w.pool.HostPrincipal(active)
	cw := w.acct.ClientsAs(self).CloudWatch
	ns := w.pool.ReportNamespace(active)
	w.mu.Lock()
	w.forgers = append(w.forgers, func(at time.Time) {
		// The same second as the agent's healthy report: unhealthy, and a value no agent writes.
		for _, v := range []float64{float64(signal.Unhealthy), 7} {
			d := signal.HealthDatum(cluster, active, signal.Unhealthy, at)
			d.Value = aws.Float64(v)
			if _, err := cw.PutMetricData(context.Background(), &cloudwatch.PutMetricDataInput{Namespace: aws.String(ns), MetricData: []cwtypes.MetricDatum{d}}); err != nil {
				w.t.Fatalf("the host's own write: %v", err)
			}
		}
	})
	w.mu.Unlock()
	sums := w.runUntil(h, w.clk.Now().Add(3*time.Minute))
	if n := len(w.acct.Executions()); n != 0 {
		t.Fatalf("%d failovers on tampered reports", n)
	}
	tampered := 0
	if v := verdictsOf(sums); v[events.VerdictFailed] != 0 {
		t.Fatalf("verdicts %v: FAILED on tampered reports", v)
	}
	for _, s := range sums {
		if e := s.Last; e != nil && strings.Contains(e.Tampered[active], "more than one self-report") && strings.Contains(e.Tampered[active], "outside the encoding") {
			tampered++
		}
	}
	if tampered == 0 {
		t.Fatal("no evaluation reported the tampering")
	}
	alerts := 0
	for _, m := range w.acct.Messages() {
		if strings.Contains(m.Subject, "report tampering on "+active) {
			alerts++
		}
	}
	if alerts == 0 {
		t.Fatal("no SNS alert for the tampering")
	}
	metric := false
	for _, d := range w.acct.Datapoints(signal.Namespace) {
		if d.MetricName == signal.MetricTampering && d.Max >= 1 {
			metric = true
		}
	}
	if !metric || !strings.Contains(w.logs.String(), "report tampering") {
		t.Fatalf("tampering metric %v, logged %v", metric, strings.Contains(w.logs.String(), "report tampering"))
	}
}
