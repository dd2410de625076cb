package sim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prestoha/coordinator-ha/internal/awsapi"
	"github.com/prestoha/coordinator-ha/internal/clock"
)

// Timings are the durations of the account's asynchronous transitions. Start from
// DefaultTimings and change what a test needs; a zero Timings in Options means
// DefaultTimings, while a zero field in a non-zero Timings means "instant".
type Timings struct {
	PendingToRunning         time.Duration // EC2 pending -> running
	ShuttingDownToTerminated time.Duration // EC2 shutting-down -> terminated
	StoppingToStopped        time.Duration // EC2 stopping -> stopped
	TerminatedVisibleFor     time.Duration // how long a terminated instance stays describable
	AttachDelay              time.Duration // ENI attachment attaching -> attached
	DetachDelay              time.Duration // ENI attachment detaching -> detached (ENI available)
	ForceDetachDelay         time.Duration // detaching -> detached for Force=true, even when stuck
	ASGReplaceDelay          time.Duration // Auto Scaling noticing a lost member / replacing it
	MetricIngestionDelay     time.Duration // PutMetricData -> visible to GetMetricData
}

// DefaultTimings returns AWS-like durations.
func DefaultTimings() Timings {
	return Timings{
		PendingToRunning:         30 * time.Second,
		ShuttingDownToTerminated: 30 * time.Second,
		StoppingToStopped:        30 * time.Second,
		TerminatedVisibleFor:     time.Hour,
		AttachDelay:              2 * time.Second,
		DetachDelay:              3 * time.Second,
		ForceDetachDelay:         1 * time.Second,
		ASGReplaceDelay:          10 * time.Second,
		MetricIngestionDelay:     2 * time.Second,
	}
}

// Options configure New.
type Options struct {
	Clock     clock.Clock // nil means clock.Real{}
	Region    string      // "" means us-east-1
	AccountID string      // "" means 123456789012
	Timings   Timings     // zero means DefaultTimings()
	Seed      int64       // seeds resource ids and generated names
}

// Clients are one caller's view of the account: every call through them is recorded
// with the caller's name (see Calls and Actions) and matched against injected faults.
type Clients struct {
	EC2         awsapi.EC2API
	AutoScaling awsapi.AutoScalingAPI
	CloudWatch  awsapi.CloudWatchAPI
	SFN         awsapi.SFNAPI
	SNS         awsapi.SNSAPI
	STS         awsapi.STSAPI
	Lambda      awsapi.LambdaAPI
	// CloudFormation and OperatorEC2 (the same EC2 client, with DeleteTags) are the
	// operator command's (internal/operator).
	CloudFormation awsapi.CloudFormationAPI
	OperatorEC2    awsapi.OperatorEC2API
}

// Call is one recorded API call.
type Call struct {
	Caller    string
	Service   string // IAM service prefix: "ec2", "autoscaling", "cloudwatch", "states", "sns", "lambda"
	Operation string // API operation name, e.g. "AttachNetworkInterface"
	At        time.Time
	Err       string // "" on success; otherwise the error text (with the AWS code)
}

// Action returns the IAM action of the call, e.g. "ec2:AttachNetworkInterface".
func (c Call) Action() string { return c.Service + ":" + c.Operation }

// InstanceStateChange is reported to OnInstanceStateChange hooks.
type InstanceStateChange struct {
	InstanceID string
	From, To   string // EC2 state names; From is "" for a launch
	At         time.Time
}

// AttachmentChange is reported to OnAttachmentChange hooks: the attachment of a
// secondary ENI as the account now sees it.
type AttachmentChange struct {
	ENIID      string
	InstanceID string // "" once the ENI is available (detached)
	Status     string // attaching, attached, detaching; "" once detached
	At         time.Time
}

// Account is a simulated AWS account in one region. Create it with New.
type Account struct {
	mu        sync.Mutex
	clk       clock.Clock
	region    string
	accountID string
	vpcID     string
	timings   Timings
	ids       *idGen

	subnets map[string]*subnet
	w       *world
	dirty   bool
	history []snapshot

	metrics map[string]*series

	stacks        map[string]*stack // name -> stack (cloudformation.go)
	stateMachines map[string]string // arn -> name
	topics        map[string]string // arn -> name
	messages      []Message

	calls    []Call
	faults   []*faultRule
	policies map[string][]Statement // role name -> its policy (see SetPolicy)
	plan     faultPlan              // the faults of the call being applied (under mu)
	cons     Consistency
	rng      *rand.Rand // draws of the Consistency model, seeded by Options.Seed

	onLaunched    []func(instanceID string)
	onStateChange []func(InstanceStateChange)
	onStartExec   []func(Execution)
	onAttachment  []func(AttachmentChange)
	onInvoke      []func(Invocation)
	functions     map[string]bool             // Lambda function names (CreateFunction)
	lastAttach    map[string]AttachmentChange // ENI id -> what the hooks last heard
	hookQueue     []func()
}

type subnet struct {
	id, az string
	prefix netip.Prefix
	used   map[netip.Addr]bool
	next   netip.Addr
}

// New returns an empty account: no subnets, instances, groups, metrics, state machines
// or topics.
func New(o Options) *Account {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.AccountID == "" {
		o.AccountID = "123456789012"
	}
	if o.Timings == (Timings{}) {
		o.Timings = DefaultTimings()
	}
	a := &Account{
		clk: o.Clock, region: o.Region, accountID: o.AccountID, timings: o.Timings,
		ids:           newIDGen(o.Seed),
		subnets:       map[string]*subnet{},
		w:             newWorld(),
		metrics:       map[string]*series{},
		stateMachines: map[string]string{},
		topics:        map[string]string{},
	}
	a.rng = rand.New(rand.NewPCG(uint64(o.Seed), 0x5eed))
	a.vpcID = a.ids.next("vpc-")
	a.history = []snapshot{{at: a.clk.Now(), w: newWorld()}}
	return a
}

// Clock returns the account's clock.
func (a *Account) Clock() clock.Clock { return a.clk }

// Region returns the account's region.
func (a *Account) Region() string { return a.region }

// AccountID returns the account id.
func (a *Account) AccountID() string { return a.accountID }

// VPCID returns the id of the account's single VPC.
func (a *Account) VPCID() string { return a.vpcID }

// Clients returns clients whose calls are recorded as made by caller (for example
// "healthcheck", "terminate", "agent-i-0…").
// Their principal has no role, so no policy restricts them (see ClientsAs).
func (a *Account) Clients(caller string) Clients {
	return a.ClientsAs(Principal{Caller: caller})
}

// client is one caller's client of one service. The per-service client types embed it,
// and each of their methods is one call of read or write.
type client struct {
	a         *Account
	caller    string
	service   string // the IAM service prefix, as in Call.Service
	principal Principal
}

// read runs the read-only operation op: fn reads the world it is given, which is an
// older snapshot when a StaleRead fault applies.
func read[In, Out any](ctx context.Context, c client, op string, in *In, fn func(*world, *In) (*Out, error)) (*Out, error) {
	return call(ctx, c, op, false, in, fn)
}

// write runs the operation op, which may change the account: fn acts on the current
// state (StaleRead faults do not apply).
func write[In, Out any](ctx context.Context, c client, op string, in *In, fn func(*In) (*Out, error)) (*Out, error) {
	return call(ctx, c, op, true, in, func(_ *world, in *In) (*Out, error) { return fn(in) })
}

// ack adapts an operation whose AWS output carries nothing: it answers an empty Out.
func ack[Out, In any](fn func(*In) error) func(*In) (*Out, error) {
	return func(in *In) (*Out, error) {
		if err := fn(in); err != nil {
			return nil, err
		}
		return new(Out), nil
	}
}

// call is every client method: a nil input is an empty one (as the SDK sends it), and
// do records the call, applies the injected faults and runs fn under the lock. The
// output is nil whenever the error is not, a lost reply included, as from the SDK.
func call[In, Out any](ctx context.Context, c client, op string, mutating bool, in *In, fn func(*world, *In) (*Out, error)) (*Out, error) {
	if in == nil {
		in = new(In)
	}
	var out *Out
	err := c.a.do(ctx, c.caller, c.service, op, mutating, func(w *world) error {
		if err := c.a.authorize(w, c.principal, c.service, op, in); err != nil {
			return err
		}
		var err error
		out, err = fn(w, in)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SetTimings replaces the timings for transitions that start from now on; transitions
// already scheduled keep their times.
func (a *Account) SetTimings(t Timings) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.timings = t
}

// Timings returns the current timings.
func (a *Account) Timings() Timings {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.timings
}

// SetMetricIngestionDelay changes how long a datapoint takes to become visible to
// GetMetricData, for datapoints put from now on.
func (a *Account) SetMetricIngestionDelay(d time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.timings.MetricIngestionDelay = d
}

// Tick applies every transition due by Clock.Now() and runs the hooks they trigger.
// Client calls and getters do this too; the drill calls Tick on a timer so hooks fire
// even when nobody calls the API.
func (a *Account) Tick() {
	a.mu.Lock()
	a.advance(a.clk.Now())
	a.commit()
	hooks := a.takeHooks()
	a.mu.Unlock()
	runHooks(hooks)
}

// OnInstanceLaunched registers f to run (outside the account's lock, on the goroutine
// that triggered the launch) whenever an instance is launched: by LaunchInstance,
// CreateAutoScalingGroup or an Auto Scaling replacement or scale-out.
func (a *Account) OnInstanceLaunched(f func(instanceID string)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.onLaunched = append(a.onLaunched, f)
}

// OnInstanceStateChange registers f to run (outside the lock) for every instance state
// transition, in time order. Time-driven transitions are reported when the account
// next looks at the time (any call, getter or Tick); At is when the change happened.
func (a *Account) OnInstanceStateChange(f func(InstanceStateChange)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.onStateChange = append(a.onStateChange, f)
}

// OnAttachmentChange registers f to run (outside the lock) whenever the attachment of a
// secondary ENI changes (attaching, attached, detaching, detached), so a harness can
// move a real network interface as the instance's operating system would see it. A
// change is reported when the account next commits a change (any mutating call, getter
// or Tick after the transition was due), with At the time of that commit; two
// transitions due between commits are reported as the last one.
func (a *Account) OnAttachmentChange(f func(AttachmentChange)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.onAttachment = append(a.onAttachment, f)
}

// queueAttachmentChanges queues a hook call for every secondary ENI whose attachment
// differs from what the hooks last heard. Callers hold the lock.
func (a *Account) queueAttachmentChanges(now time.Time) {
	if len(a.onAttachment) == 0 {
		return
	}
	if a.lastAttach == nil {
		a.lastAttach = map[string]AttachmentChange{}
	}
	for _, id := range a.w.eniOrder {
		e := a.w.enis[id]
		if e.primary {
			continue
		}
		ch := AttachmentChange{ENIID: id, At: now}
		if e.att != nil {
			ch.InstanceID, ch.Status = e.att.instanceID, e.att.status
		}
		last, seen := a.lastAttach[id]
		if (!seen && e.att == nil) || (seen && last.InstanceID == ch.InstanceID && last.Status == ch.Status) {
			continue
		}
		a.lastAttach[id] = ch
		for _, f := range a.onAttachment {
			a.hookQueue = append(a.hookQueue, func() { f(ch) })
		}
	}
}

// Calls returns every recorded call, oldest first.
func (a *Account) Calls() []Call {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.calls)
}

// ResetCalls forgets the recorded calls.
func (a *Account) ResetCalls() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = nil
}

// Actions returns the sorted set of IAM actions ("ec2:DescribeInstances", …) that
// caller has called, whether the calls succeeded or not: the least-privilege policy the
// caller needs.
func (a *Account) Actions(caller string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	set := map[string]bool{}
	for _, c := range a.calls {
		if c.Caller == caller {
			set[c.Action()] = true
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// AddSubnet adds a subnet of the account's VPC in availability zone az with an IPv4
// CIDR such as "10.0.1.0/24". As in a VPC, the first four addresses and the last one
// are reserved.
func (a *Account) AddSubnet(id, az, cidr string) error {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is4() {
		return fmt.Errorf("sim: subnet %s: bad IPv4 CIDR %q", id, cidr)
	}
	if p.Bits() > 28 || p.Bits() < 16 {
		return fmt.Errorf("sim: subnet %s: CIDR %s must be between /16 and /28", id, cidr)
	}
	if id == "" || az == "" {
		return fmt.Errorf("sim: subnet needs an id and an availability zone")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.subnets[id]; ok {
		return fmt.Errorf("sim: subnet %s exists", id)
	}
	p = p.Masked()
	a.subnets[id] = &subnet{id: id, az: az, prefix: p, used: map[netip.Addr]bool{}, next: p.Addr()}
	return nil
}

func (s *subnet) reserved(ip netip.Addr) bool {
	base := s.prefix.Addr().As4()
	b := ip.As4()
	off := (uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])) -
		(uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3]))
	size := uint32(1) << (32 - s.prefix.Bits())
	return off < 4 || off == size-1
}

// allocate takes ip (or the next free address when ip is "") from the subnet.
func (s *subnet) allocate(ip string) (string, error) {
	if ip != "" {
		addr, err := netip.ParseAddr(ip)
		if err != nil || !s.prefix.Contains(addr) {
			return "", fmt.Errorf("sim: address %s is not in subnet %s (%s)", ip, s.id, s.prefix)
		}
		if s.reserved(addr) {
			return "", fmt.Errorf("sim: address %s is reserved in subnet %s", ip, s.id)
		}
		if s.used[addr] {
			return "", fmt.Errorf("sim: address %s is in use in subnet %s", ip, s.id)
		}
		s.used[addr] = true
		return addr.String(), nil
	}
	for addr := s.next; s.prefix.Contains(addr); addr = addr.Next() {
		if !s.reserved(addr) && !s.used[addr] {
			s.used[addr] = true
			s.next = addr.Next()
			return addr.String(), nil
		}
	}
	for addr := s.prefix.Addr(); s.prefix.Contains(addr); addr = addr.Next() {
		if !s.reserved(addr) && !s.used[addr] {
			s.used[addr] = true
			return addr.String(), nil
		}
	}
	return "", fmt.Errorf("sim: subnet %s has no free address", s.id)
}

func (s *subnet) release(ip string) {
	if addr, err := netip.ParseAddr(ip); err == nil {
		delete(s.used, addr)
	}
}

// record appends a call. Callers hold the lock.
func (a *Account) record(caller, service, op string, at time.Time, err error) {
	c := Call{Caller: caller, Service: service, Operation: op, At: at}
	if err != nil {
		c.Err = err.Error()
	}
	a.calls = append(a.calls, c)
}

// takeHooks removes and returns the queued hooks. Callers hold the lock.
func (a *Account) takeHooks() []func() {
	h := a.hookQueue
	a.hookQueue = nil
	return h
}

func runHooks(hooks []func()) {
	for _, h := range hooks {
		h()
	}
}

// do runs one API call: faults, recording, lazy time evaluation and the operation.
// fn runs under the lock with the world it should read (the current one, or an older
// snapshot when a StaleRead fault applies) and returns the operation's error.
func (a *Account) do(ctx context.Context, caller, service, op string, mutating bool, fn func(w *world) error) error {
	start := a.clk.Now()
	a.mu.Lock()
	plan := a.matchFaults(caller, service, op)
	a.mu.Unlock()

	if plan.latency > 0 {
		if err := a.clk.Sleep(ctx, plan.latency); err != nil {
			a.mu.Lock()
			a.record(caller, service, op, start, err)
			a.mu.Unlock()
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		a.mu.Lock()
		a.record(caller, service, op, start, err)
		a.mu.Unlock()
		return err
	}
	if plan.err != nil {
		a.mu.Lock()
		a.record(caller, service, op, start, plan.err)
		a.mu.Unlock()
		return plan.err
	}

	a.mu.Lock()
	now := a.clk.Now()
	a.advance(now)
	w := a.w
	if plan.staleBy > 0 && !mutating {
		w = a.snapshotAt(now.Add(-plan.staleBy))
	} else if lag := a.readLag(service, op, mutating); lag > 0 {
		w = a.snapshotAt(now.Add(-lag))
	}
	a.plan = plan
	err := fn(w)
	a.plan = faultPlan{}
	if err == nil && mutating && service != "cloudwatch" && service != "sns" && service != "lambda" {
		// Metrics and messages live outside the world that stale reads replay: a
		// PutMetricData or a Publish needs no new snapshot.
		a.dirty = true
	}
	a.commit()
	if err == nil && plan.lostReply != nil {
		err = plan.lostReply
	}
	a.record(caller, service, op, start, err)
	hooks := a.takeHooks()
	a.mu.Unlock()
	runHooks(hooks)
	return err
}

// setup runs a setup-API mutation under the lock after applying due transitions.
func (a *Account) setup(fn func(now time.Time) error) error {
	a.mu.Lock()
	now := a.clk.Now()
	a.advance(now)
	err := fn(now)
	a.dirty = true
	a.commit()
	hooks := a.takeHooks()
	a.mu.Unlock()
	runHooks(hooks)
	return err
}

// read runs a getter under the lock after applying due transitions.
func (a *Account) read(fn func()) {
	a.mu.Lock()
	a.advance(a.clk.Now())
	a.commit()
	fn()
	hooks := a.takeHooks()
	a.mu.Unlock()
	runHooks(hooks)
}

func cloneTags(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
