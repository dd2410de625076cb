package drill

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/prestoha/coordinator-ha/internal/agent"
	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/config"
	"github.com/prestoha/coordinator-ha/internal/harness/drill/host"
	"github.com/prestoha/coordinator-ha/internal/harness/drill/vip"
	"github.com/prestoha/coordinator-ha/internal/harness/realtrino"
	"github.com/prestoha/coordinator-ha/internal/harness/sim"
)

// clusterSpec is what differs between scenarios.
type clusterSpec struct {
	Name        string // cluster name
	HACount     int
	Keep        bool // KeepCoordinatorNode=yes
	Seed        int64
	Settings    Settings
	VerboseLogs bool
	// Simulated runs the cluster on a clock.Sim with the in-process network and the Go
	// States Language interpreter: deterministic, whatever the machine's load. Otherwise
	// it runs on the compressed wall clock with loopback HTTP and aws-local-stepfunctions
	// (the demo people watch).
	Simulated bool
	// Trino runs real Trino coordinators and a worker in network namespaces on the wall
	// clock at real time, the client running a real query (the third kind; see trino.go).
	Trino *TrinoOptions
	// Realistic runs under the unkind model (sim.DefaultConsistency, sim.DefaultRealism):
	// eventually consistent reads, late ticks, Step Functions and Lambda latency, the
	// guest OS configuring a moved ENI before it serves. Its draws come from their own
	// generator, so today's model's runs are unchanged.
	Realistic bool
	// WithoutStaticENI runs the unkind model without the static ENI configuration of the
	// boot script (sim.Realism.StaticENIConfig off: amazon-ec2-net-utils alone, whose
	// configuration of a moved ENI waits on instance metadata). Only with Realistic.
	WithoutStaticENI bool
}

// simStart is when a simulated drill's clock starts.
var simStart = time.Date(2026, 1, 5, 3, 0, 0, 0, time.UTC)

// drillTime is the drill's clock: compressed wall time (drillClock) or simulated time
// (simTime).
type drillTime interface {
	clock.Clock
	// Pause stops drill time until resume is called (the demo's Node.js start-ups).
	Pause() (resume func())
}

// simTime is a clock.Sim as drill time: nothing to pause, since nothing outside the
// simulation takes simulated time.
type simTime struct{ *clock.Sim }

func (simTime) Pause() func() { return func() {} }

// attachObs is one observed change of the ENI's attachment.
type attachObs struct {
	At         time.Time
	InstanceID string // "" when the ENI is available
	Status     string
}

// Cluster is one simulated coordinator cluster with its control plane.
type Cluster struct {
	spec  clusterSpec
	Clock drillTime
	Acct  *sim.Account
	ENIID string
	ENIIP string
	ASG   string
	Topic string
	SMARN string

	Proxy   *vip.Proxy // the coordinator IP on loopback (nil when Simulated or Trino)
	Watcher servedWatcher
	trino   *trinoNet // the real network (Trino only)

	AgentCW *CWCounter // every agent's CloudWatch calls
	HCCW    *CWCounter // the health check's

	// Pool is the simulated pool, with every caller's policy enforced as the stack
	// synthesizes it (sim.Pool.EnforcePolicies): agents call as their own instance role
	// session, the Lambdas with their own roles.
	Pool *sim.Pool

	mu          sync.Mutex
	hosts       map[string]*Host
	order       []string
	stateLog    []sim.InstanceStateChange
	attachLog   []attachObs
	maxAttached int
	samples     int
	violations  []string
	noteLines   []string // the operator command's output (operator.go)
	execs       []*execRun
	invocations []invocation
	sandboxes   []*hcSandbox // the health check's Lambda sandboxes (healthcheck.go)
	doorbells   int          // doorbell invocations the agents asked for
	evaluations int
	rng         *rand.Rand
	fault       time.Time // when the fault was injected (drill time)
	warm        time.Time // when the warm-up ended
	started     time.Time
	report      func(format string, a ...any)

	// The unkind model (clusterSpec.Realistic).
	realism sim.Realism
	rrng    *rand.Rand
	ready   map[string]time.Time // attachment id -> when the guest OS has the ENI configured

	logMu sync.Mutex
	logs  []logRecord

	wg     sync.WaitGroup
	cancel context.CancelFunc
	ctx    context.Context
}

type invocation struct {
	Start, End  time.Time
	Doorbell    bool // an agent's doorbell, not a tick
	Evaluations int
	EndedCalm   bool // the last evaluation was calm: the next look may wait for a tick or a doorbell
	Err         error
}

// newCluster builds the cluster in a new simulated account; start starts its
// background work. With spec.Simulated, call both from a participant of c.Clock.
func newCluster(parent context.Context, spec clusterSpec, clk drillTime) (*Cluster, error) {
	st := spec.Settings
	t := sim.DefaultTimings()
	t.PendingToRunning = st.PendingToRun
	t.MetricIngestionDelay = st.IngestionMin
	acct := sim.New(sim.Options{Clock: clk, Timings: t, Seed: spec.Seed})
	ctx, cancel := context.WithCancel(parent)
	c := &Cluster{spec: spec, Clock: clk, Acct: acct, ASG: spec.Name + "-coordinators", hosts: map[string]*Host{},
		rng: rand.New(rand.NewPCG(uint64(spec.Seed), 7)), ctx: ctx, cancel: cancel, started: clk.Now()}
	c.AgentCW = NewCWCounter(nil) // each agent calls through c.AgentCW.Via(its own client)
	if spec.Realistic {
		c.realism, c.rrng, c.ready = sim.DefaultRealism(), rand.New(rand.NewPCG(uint64(spec.Seed), 11)), map[string]time.Time{}
		c.realism.StaticENIConfig = !spec.WithoutStaticENI
	}
	acct.OnInstanceStateChange(c.onStateChange) // before the group launches anything
	acct.OnAttachmentChange(c.onAttachmentChange)
	// The pool as the stack creates it: the ENI unattached (the health check's first
	// execution attaches it), every member tagged standby.
	ps := sim.PoolSpec{
		Cluster: spec.Name, Coordinators: spec.HACount, ASGName: c.ASG,
		ENIDescription: "Presto coordinator " + spec.Name,
		ASGTags:        map[string]string{config.TagRole: config.RoleStandby},
		StateMachine:   spec.Name + "-failover", Topic: spec.Name + "-failover",
	}
	if spec.Trino != nil {
		ps.CIDR = trinoSubnet.String()
	}
	pool, err := sim.NewPool(acct, ps)
	if err != nil {
		cancel()
		return nil, err
	}
	c.ENIID, c.ENIIP, c.Topic, c.SMARN = pool.ENIID, pool.ENIIP, pool.TopicARN, pool.StateMachineARN
	pool.EnforcePolicies()
	c.Pool = pool
	if spec.Realistic {
		acct.SetConsistency(sim.DefaultConsistency()) // after the pool: its set-up reads are the stack's, not the product's
	}
	if err := c.startClient(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// startClient sets up the coordinator IP and the client that calls it: a real query
// through the namespaces (Trino), GET /v1/info through the in-process network
// (Simulated) or through the loopback proxy, every second of drill time with the probe's
// timeout.
func (c *Cluster) startClient() error {
	if c.spec.Trino != nil {
		t, err := newTrinoNet(*c.spec.Trino, c.spec.Name[len("drill-"):], c.spec.Name, c.ENIID, c.ENIIP)
		if err != nil {
			return err
		}
		c.trino = t
		c.Watcher = trinoWatcher{t.client}
		return nil
	}
	w := &vip.Watcher{Clock: c.Clock, Interval: time.Second, Timeout: c.spec.Settings.ProbeTimeout}
	c.Watcher = w
	if c.spec.Simulated {
		w.URL, w.Client = "http://"+net.JoinHostPort(c.ENIIP, coordinatorPort), hostNet{c: c}.client()
		return nil
	}
	var err error
	if c.Proxy, err = vip.Listen(c.resolve); err != nil {
		return err
	}
	w.URL = c.Proxy.URL()
	return nil
}

// start starts the background work: the account's clock ticks and the invariant
// sampler, and the client.
func (c *Cluster) start() {
	c.goRun(c.tickLoop)
	c.goRun(c.Watcher.Run)
}

// goRun runs f on a goroutine of the cluster's clock until the cluster closes.
func (c *Cluster) goRun(f func(context.Context)) {
	c.wg.Add(1)
	clock.Go(c.Clock, func() { defer c.wg.Done(); f(c.ctx) })
}

// stop ends the cluster's simulation at the current instant: every component's context
// ends, so that on simulated time nothing runs on (and moves the clock) between the end
// of a scenario and Close. Call it from the participant that ran the scenario; a nil
// cluster (it could not be built) has nothing to stop.
func (c *Cluster) stop() {
	if c != nil {
		c.cancel()
	}
}

// Close stops everything the cluster started.
func (c *Cluster) Close() {
	c.cancel()
	c.mu.Lock()
	hosts := make([]*Host, 0, len(c.hosts))
	for _, h := range c.hosts {
		hosts = append(hosts, h)
	}
	c.mu.Unlock()
	for _, h := range hosts {
		h.PowerOff()
	}
	if c.Proxy != nil {
		_ = c.Proxy.Close()
	}
	c.wg.Wait()
	if c.trino != nil {
		c.trino.close()
	}
}

// holderHost is the coordinator IP: the host whose instance has the ENI attached.
func (c *Cluster) holderHost() (*Host, string, bool) {
	e, ok := c.Acct.ENI(c.ENIID)
	if !ok || e.Attachment == nil || e.Attachment.Status != "attached" {
		return nil, "", false
	}
	if c.ready != nil { // the guest OS configures the moved ENI first (Realism.GuestConfig)
		c.mu.Lock()
		r, seen := c.ready[e.Attachment.ID]
		c.mu.Unlock()
		if !seen || r.After(c.Clock.Now()) {
			return nil, "", false
		}
	}
	c.mu.Lock()
	h := c.hosts[e.Attachment.InstanceID]
	c.mu.Unlock()
	if h == nil {
		return nil, "", false
	}
	return h, h.ID, true
}

// resolve is the loopback proxy's view of the coordinator IP (the demo).
func (c *Cluster) resolve(context.Context) (string, string, bool) {
	h, id, ok := c.holderHost()
	if !ok {
		return "", "", false
	}
	return h.Server.URL(), id, true
}

// Holder returns the instance the ENI is attached to ("" when none) and the status.
func (c *Cluster) Holder() (string, string) {
	e, ok := c.Acct.ENI(c.ENIID)
	if !ok || e.Attachment == nil {
		return "", ""
	}
	return e.Attachment.InstanceID, e.Attachment.Status
}

// Host returns the host of an instance.
func (c *Cluster) Host(id string) *Host {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hosts[id]
}

// Hosts returns the hosts in launch order.
func (c *Cluster) Hosts() []*Host {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*Host, 0, len(c.order))
	for _, id := range c.order {
		out = append(out, c.hosts[id])
	}
	return out
}

// onStateChange boots a host when its instance is running and powers it off when the
// instance stops or terminates.
func (c *Cluster) onStateChange(ch sim.InstanceStateChange) {
	c.mu.Lock()
	c.stateLog = append(c.stateLog, ch)
	h := c.hosts[ch.InstanceID]
	c.mu.Unlock()
	switch ch.To {
	case "running":
		if h == nil && c.ctx.Err() == nil {
			if err := c.boot(ch.InstanceID); err != nil {
				c.violate("booting %s: %v", ch.InstanceID, err)
			}
		}
	case "shutting-down", "terminated", "stopping", "stopped":
		if h != nil {
			h.PowerOff()
		}
	}
}

// boot starts an instance's coordinator process and agent.
func (c *Cluster) boot(id string) error {
	st := c.spec.Settings
	opts := host.Options{NodeID: id, Environment: c.spec.Name, Clock: c.Clock,
		Refused: st.Refused, Silent: st.Silent, Startup: st.Startup}
	h := &Host{ID: id, done: make(chan struct{}), startedAt: c.Clock.Now()}
	var client *http.Client
	var role agent.RoleSource = &simRole{acct: c.Acct, eniID: c.ENIID, id: id}
	probeURL := "http://127.0.0.1:" + coordinatorPort + "/v1/info"
	switch {
	case c.trino != nil:
		th, imdsRole, err := c.bootTrino(id)
		if err != nil {
			return err
		}
		h.Trino, role, client = th, imdsRole, th.httpClient()
		probeURL = "http://127.0.0.1:" + strconv.Itoa(realtrino.Port) + "/v1/info"
	case c.spec.Simulated:
		h.Server = host.New(opts)
		client = hostNet{c: c, self: h.Server}.client()
	default:
		var err error
		if h.Server, err = host.Start(opts); err != nil {
			return err
		}
		probeURL = h.Server.URL() + "/v1/info"
		client = witnessClient(c.ENIIP, c.Proxy.URL()[len("http://"):])
	}
	// Timeouts are in drill time: the clock enforces them (clock.WithTimeout).
	cfg := agent.Config{
		Cluster:         c.spec.Name,
		ENIID:           c.ENIID,
		ENIIP:           c.ENIIP,
		ProbeURL:        probeURL,
		ProbeTimeout:    st.ProbeTimeout,
		ProbeInterval:   st.ProbeInterval,
		PublishInterval: st.PublishInterval,
		StandbyPublish:  st.StandbyPublish,
		RoleInterval:    st.RoleInterval,
		ShutdownTimeout: agent.DefaultShutdownTimeout,
		MaxBuffered:     agent.DefaultMaxBuffered,
		Publish:         agent.PublishCloudWatch,
		LogLevel:        "info",
	}
	hostClients := c.Pool.HostClients(id)
	cw := &gatedCW{CloudWatchAPI: c.AgentCW.Via(hostClients.CloudWatch)}
	log := c.logger()
	var bell agent.Doorbell
	if st.Doorbell {
		cfg.Doorbell = c.Pool.HealthCheckFunction()
		bell = agent.NewLambdaDoorbell(hostClients.Lambda, cfg.Doorbell, c.Clock)
	}
	a, err := agent.New(cfg, agent.Deps{
		CloudWatch: cw,
		STS:        hostClients.STS,
		Clock:      c.Clock,
		Role:       role,
		HTTPClient: client,
		Logger:     log,
		Doorbell:   bell,
	})
	if err != nil {
		h.cw, h.cancel = cw, func() {}
		h.PowerOff()
		return fmt.Errorf("starting the agent on %s: %w", id, err)
	}
	actx, cancel := context.WithCancel(c.ctx)
	h.cw, h.agent, h.cancel = cw, a, cancel
	c.mu.Lock()
	c.hosts[id] = h
	c.order = append(c.order, id)
	c.mu.Unlock()
	clock.Go(c.Clock, func() {
		defer close(h.done)
		_ = a.Run(actx)
	})
	return nil
}

// AttachInitial attaches the ENI to the first running instance, as the stack's first
// start does, and tags the roles.
func (c *Cluster) AttachInitial(ctx context.Context) (string, error) {
	for {
		for _, i := range c.Acct.Instances() {
			if i.State == "running" && i.ASG == c.ASG && c.Host(i.ID) != nil {
				ec2c := c.Acct.Clients("setup").EC2
				if _, err := ec2c.AttachNetworkInterface(ctx, &ec2.AttachNetworkInterfaceInput{
					NetworkInterfaceId: aws.String(c.ENIID), InstanceId: aws.String(i.ID), DeviceIndex: aws.Int32(1),
				}); err != nil {
					return "", fmt.Errorf("attaching %s to %s: %w", c.ENIID, i.ID, err)
				}
				_, err := ec2c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{i.ID},
					Tags: []ec2types.Tag{{Key: aws.String(config.TagRole), Value: aws.String(config.RoleActive)}}})
				return i.ID, err
			}
		}
		if err := c.Clock.Sleep(ctx, time.Second); err != nil {
			return "", err
		}
	}
}

// sampleEvery is how often, in drill time, the drill applies the account's due
// transitions and samples the invariants.
const sampleEvery = 100 * time.Millisecond

// tickLoop drives the simulation (state transitions and their hooks), samples the
// invariants and varies the CloudWatch ingestion delay.
func (c *Cluster) tickLoop(ctx context.Context) {
	st := c.spec.Settings
	nextJitter := time.Time{}
	for c.Clock.Sleep(ctx, sampleEvery) == nil {
		c.Acct.Tick()
		now := c.Clock.Now()
		if !now.Before(nextJitter) && st.IngestionMax > st.IngestionMin {
			d := st.IngestionMin + time.Duration(c.rng.Int64N(int64(st.IngestionMax-st.IngestionMin)))
			c.Acct.SetMetricIngestionDelay(d)
			nextJitter = now.Add(time.Second)
		}
		c.sample(now)
	}
}

// sample checks "at most one attachment of the ENI" across every instance and logs each
// change of the ENI's attachment.
func (c *Cluster) sample(now time.Time) {
	holders := 0
	for _, i := range c.Acct.Instances() {
		for _, a := range i.Attachments {
			if a.ENIID == c.ENIID {
				holders++
			}
		}
	}
	id, status := c.Holder()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.samples++
	c.maxAttached = max(c.maxAttached, holders)
	if holders > 1 {
		c.violations = append(c.violations, fmt.Sprintf("%s: the ENI is attached to %d instances at once", now.Format(time.TimeOnly), holders))
	}
	if n := len(c.attachLog); n == 0 || c.attachLog[n-1].InstanceID != id || c.attachLog[n-1].Status != status {
		c.attachLog = append(c.attachLog, attachObs{At: now, InstanceID: id, Status: status})
	}
	if c.ready != nil && status == "attached" {
		if e, ok := c.Acct.ENI(c.ENIID); ok && e.Attachment != nil {
			if _, seen := c.ready[e.Attachment.ID]; !seen {
				c.ready[e.Attachment.ID] = now.Add(c.realism.GuestConfig(c.rrng))
			}
		}
	}
}

func (c *Cluster) violate(format string, a ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.violations = append(c.violations, fmt.Sprintf(format, a...))
}

// stateAt returns the EC2 state of an instance at time t from the observed changes.
func (c *Cluster) stateAt(id string, t time.Time) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	state := ""
	for _, ch := range c.stateLog {
		if ch.InstanceID == id && !ch.At.After(t) {
			state = ch.To
		}
	}
	return state
}
