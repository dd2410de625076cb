package healthcheck

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/config"
	"github.com/prestoha/coordinator-ha/internal/harness/sim"
	"github.com/prestoha/coordinator-ha/internal/signal"
)

// t0 is aligned to the agents' 5 s cadence and to the minute (the schedule).
var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

const (
	cluster  = "prod"
	subnetID = "subnet-0123456789abcdef0"
	asgName  = "prod-coordinators"
	hostRole = "prod-coordinator-hosts"
	agentGap = 5 * time.Second // the agents' probe and report cadence
)

// host is what a simulated coordinator host does; the world turns it into agent reports.
type host struct {
	proc        signal.Status // what the agent's loopback probe sees
	agentDown   bool          // the agent (or its path to CloudWatch) is dead: no reports at all
	hostDown    bool          // the host is unresponsive: no reports, and witnesses cannot reach it
	partitioned bool          // the ENI path is cut: witnesses cannot reach it, its agent still reports
	skew        time.Duration // the agent's clock runs this far behind (negative: ahead)
}

// world is a simulated account with a coordinator pool, the ENI, the state machine, a
// topic, and one simulated agent per host reporting every 5 s as the clock advances.
type world struct {
	t     *testing.T
	clk   *clock.Virtual
	acct  *sim.Account
	pool  *sim.Pool
	eni   string
	sm    string
	topic string
	logs  *bytes.Buffer

	mu         sync.Mutex
	hosts      map[string]*host
	nextReport time.Time
	skew       time.Duration        // the clock skew of every agent launched from now on
	scheduled  []scheduled          // faults to inject when the clock passes their time
	forgers    []func(at time.Time) // attackers, called at every report tick after the agents (see attack_test.go)
}

type scheduled struct {
	at time.Time
	f  func()
}

// schedule runs f once the clock reaches at (during a handler's sleep too), before the
// agents' reports of that instant.
func (w *world) schedule(at time.Time, f func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.scheduled = append(w.scheduled, scheduled{at, f})
	sort.SliceStable(w.scheduled, func(i, j int) bool { return w.scheduled[i].at.Before(w.scheduled[j].at) })
}

// agentClock is the handler's clock: Sleep advances the virtual clock in steps and lets
// the agents report at their cadence on the way, as they would while the Lambda sleeps.
type agentClock struct{ w *world }

func (c agentClock) Now() time.Time { return c.w.clk.Now() }

func (c agentClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.w.advance(d)
	return nil
}

func newWorld(t *testing.T) *world { t.Helper(); return newWorldWith(t, nil) }

// newWorldWith is newWorld with setup run on the world before the pool is created.
func newWorldWith(t *testing.T, setup func(*world)) *world {
	t.Helper()
	clk := clock.NewVirtual(t0)
	acct := sim.New(sim.Options{Clock: clk, Seed: 7})
	w := &world{t: t, clk: clk, acct: acct, hosts: map[string]*host{},
		logs: &bytes.Buffer{}, nextReport: t0}
	acct.OnInstanceLaunched(func(id string) {
		w.mu.Lock()
		defer w.mu.Unlock()
		if i, ok := w.acct.Instance(id); ok && i.Tags[config.TagASGName] == asgName {
			w.hosts[id] = &host{proc: signal.Healthy, skew: w.skew}
		}
	})
	if setup != nil {
		setup(w)
	}
	pool, err := sim.NewPool(acct, sim.PoolSpec{Cluster: cluster, Coordinators: 2, Min: 2, Max: 3, ASGName: asgName, HostRole: hostRole,
		SubnetID: subnetID, CIDR: "10.0.0.0/24", ENIDescription: "prod coordinator", StateMachine: "prod-failover", Topic: "prod-alerts",
		AttachActive: true, Warmup: sim.DefaultTimings().PendingToRunning + 5*time.Second, Wait: w.advance})
	must(t, err)
	w.eni, w.sm, w.topic = pool.ENIID, pool.StateMachineARN, pool.TopicARN
	// Every caller under the policy the stack synthesizes: each agent writes as its own
	// instance role session, the health check with its own role.
	pool.EnforcePolicies()
	w.pool = pool
	_, err = acct.Clients("setup").AutoScaling.SetInstanceProtection(context.Background(), &autoscaling.SetInstanceProtectionInput{
		AutoScalingGroupName: aws.String(asgName), InstanceIds: []string{pool.Active()}, ProtectedFromScaleIn: aws.Bool(true)})
	must(t, err)                                   // as AttachENI leaves it
	w.advance(3*time.Minute - w.clk.Now().Sub(t0)) // some history; the schedule runs on the minute
	return w
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (w *world) attach(id string) {
	w.t.Helper()
	_, err := w.acct.Clients("setup").EC2.AttachNetworkInterface(context.Background(), &ec2.AttachNetworkInterfaceInput{
		NetworkInterfaceId: aws.String(w.eni), InstanceId: aws.String(id), DeviceIndex: aws.Int32(1)})
	must(w.t, err)
}

// poolIDs lists the cluster's instances that the sim knows, sorted.
func (w *world) poolIDs() []string {
	var ids []string
	for _, i := range w.acct.Instances() {
		if i.Tags[config.TagASGName] == asgName && i.State != "terminated" {
			ids = append(ids, i.ID)
		}
	}
	sort.Strings(ids)
	return ids
}

// holder is the instance the ENI is attached to ("" for none).
func (w *world) holder() string {
	e, ok := w.acct.ENI(w.eni)
	if !ok || e.Attachment == nil {
		return ""
	}
	return e.Attachment.InstanceID
}

// change runs f on the host under the world's lock.
func (w *world) change(id string, f func(h *host)) {
	w.t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	h := w.hosts[id]
	if h == nil {
		w.t.Fatalf("no host %s", id)
	}
	f(h)
}

// advance moves the clock by d, publishing every agent's reports at their cadence.
func (w *world) advance(d time.Duration) {
	end := w.clk.Now().Add(d)
	for {
		w.mu.Lock()
		next := w.nextReport
		var job *scheduled
		if len(w.scheduled) > 0 && !w.scheduled[0].at.After(next) && !w.scheduled[0].at.After(end) {
			job = &w.scheduled[0]
			w.scheduled = w.scheduled[1:]
		}
		w.mu.Unlock()
		if job != nil {
			w.clk.Set(job.at)
			job.f()
			continue
		}
		if next.After(end) {
			break
		}
		w.clk.Set(next)
		w.report(next)
		w.mu.Lock()
		w.nextReport = next.Add(agentGap)
		w.mu.Unlock()
	}
	w.clk.Set(end)
	w.acct.Tick()
}

// report publishes every live agent's self-report and, for standbys, witness report.
func (w *world) report(at time.Time) {
	holder := w.holder()
	running := map[string]bool{}
	for _, i := range w.acct.Instances() { // outside w.mu: the sim may run launch hooks that take it
		running[i.ID] = i.State == "running"
	}
	w.mu.Lock()
	var reachable bool
	if h := w.hosts[holder]; h != nil {
		reachable = !h.hostDown && !h.partitioned && h.proc == signal.Healthy
	}
	type put struct {
		id   string
		data []cwtypes.MetricDatum
	}
	var puts []put
	for id, h := range w.hosts {
		if !running[id] || h.agentDown || h.hostDown {
			continue
		}
		stamp := at.Add(-h.skew) // the agent's own clock
		data := []cwtypes.MetricDatum{signal.HealthDatum(cluster, id, h.proc, stamp)}
		if id != holder && holder != "" {
			data = append(data, signal.WitnessDatum(cluster, id, reachable, stamp))
		}
		puts = append(puts, put{id, data})
	}
	w.mu.Unlock()
	for _, p := range puts {
		// As the agent on that host: its own instance role session, its own namespace.
		cw := w.acct.ClientsAs(sim.Principal{Caller: sim.AgentCaller, RoleName: hostRole, Session: p.id}).CloudWatch
		if _, err := cw.PutMetricData(context.Background(), &cloudwatch.PutMetricDataInput{
			Namespace: aws.String(signal.ReportNamespace(w.acct.RoleID(hostRole), p.id)), MetricData: p.data}); err != nil {
			w.t.Fatalf("agent %s: %v", p.id, err)
		}
	}
	w.mu.Lock()
	forgers := slices.Clone(w.forgers)
	w.mu.Unlock()
	for _, f := range forgers {
		f(at)
	}
}

// config returns the default configuration for the world.
func (w *world) config() Config {
	return Config{Cluster: cluster, ENIID: w.eni, ASGName: asgName, HostRoleID: w.pool.HostRoleID, StateMachineARN: w.sm, TopicARN: w.topic,
		Grace: DefaultGrace, CheckInterval: DefaultCheckInterval, StartupBudget: DefaultStartupBudget,
		IngestionDelay: DefaultIngestionDelay, BreakerMax: DefaultBreakerMax, BreakerWindow: DefaultBreakerWindow,
		HACount: 2, MinHealthyReports: DefaultMinHealthyReports}
}

func (w *world) handler(cfg Config) *Handler {
	w.t.Helper()
	c := w.pool.ClientsOf("healthcheck")
	h, err := New(cfg, Deps{AutoScaling: c.AutoScaling, EC2: c.EC2, CloudWatch: c.CloudWatch, SFN: c.SFN, SNS: c.SNS, Clock: agentClock{w},
		Logger: slog.New(slog.NewJSONHandler(w.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	must(w.t, err)
	return h
}

func scheduleEvent(at time.Time) events.ScheduleEvent {
	return events.ScheduleEvent{Version: "0", ID: "evt-" + at.Format("150405"), DetailType: "Scheduled Event",
		Source: "aws.events", Account: "123456789012", Time: at, Region: "us-east-1"}
}

// invoke plays EventBridge: one invocation at the current minute, then the clock moves
// on to the next minute with the agents reporting.
func (w *world) invoke(h *Handler) Summary {
	w.t.Helper()
	start := w.clk.Now()
	s, err := h.Handle(context.Background(), scheduleEvent(start))
	if err != nil {
		w.t.Fatalf("invocation at %s: %v", start, err)
	}
	w.advance(max(start.Add(SchedulePeriod).Sub(w.clk.Now()), 0))
	return s
}

// runUntil invokes the health check every minute until the clock reaches end.
func (w *world) runUntil(h *Handler, end time.Time) []Summary {
	var out []Summary
	for w.clk.Now().Before(end) {
		out = append(out, w.invoke(h))
	}
	return out
}

// callsBy returns the operations caller made, in order.
func (w *world) callsBy(caller string) []string {
	var ops []string
	for _, c := range w.acct.Calls() {
		if c.Caller == caller {
			ops = append(ops, c.Operation)
		}
	}
	return ops
}
