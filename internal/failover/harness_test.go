package failover

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/awsapi"
	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/harness/sim"
	"github.com/prestoha/coordinator-ha/internal/signal"
	"github.com/prestoha/coordinator-ha/internal/statemachine"
)

const (
	testCluster = "prod"
	testASG     = "prod-coordinators"
	subnetA     = "subnet-0aaaaaaaaaaaaaaa1"
	subnetB     = "subnet-0bbbbbbbbbbbbbbb2"
	azA         = "us-east-1a"
	azB         = "us-east-1b"
)

var t0 = time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)

// world is a simulated account with a coordinator pool: an ASG of haCount members in
// subnet A, the coordinator ENI in subnet A attached to the first member (the active),
// and healthy self-reports from the others. Subnet B is in another AZ.
type world struct {
	t        *testing.T
	clk      *clock.Virtual
	acct     *sim.Account
	pool     *sim.Pool
	eni      string
	active   string
	standbys []string
	topic    string
	cfg      Config
}

type worldOpts struct {
	haCount        int
	healthyReports int  // per standby, every 10 s up to now; default 6
	silentAfter    bool // standbys stop reporting now (default: they keep reporting healthy for 15 min)
}

func newWorld(t *testing.T, o worldOpts) *world {
	t.Helper()
	if o.haCount == 0 {
		o.haCount = 2
	}
	if o.healthyReports == 0 {
		o.healthyReports = 6
	}
	clk := clock.NewVirtual(t0)
	acct := sim.New(sim.Options{Clock: clk, Seed: 7})
	w := &world{t: t, clk: clk, acct: acct}
	pool, err := sim.NewPool(acct, sim.PoolSpec{Cluster: testCluster, Coordinators: o.haCount, Max: 5, ASGName: testASG,
		SubnetID: subnetA, AZ: azA, CIDR: "10.0.1.0/24", ENIIP: "10.0.1.10", Topic: "prod-coordinator-ha", StateMachine: "prod-failover",
		AttachActive: true, Warmup: time.Minute, AttachSettle: 5 * time.Second})
	must(t, err)
	must(t, acct.AddSubnet(subnetB, azB, "10.0.2.0/24"))
	w.pool, w.eni, w.active, w.standbys, w.topic = pool, pool.ENIID, pool.Active(), pool.Standbys(), pool.TopicARN
	// Every step with its own role, under the policy the stack synthesizes for it.
	pool.EnforcePolicies()
	for _, s := range w.standbys {
		w.report(s, signal.Healthy, o.healthyReports)
		if !o.silentAfter {
			w.keepReporting(s, 15*time.Minute)
		}
	}
	w.cfg = Config{Cluster: testCluster, ENIID: w.eni, ASGName: testASG, HostRoleID: pool.HostRoleID, HACount: o.haCount, MinHealthyReports: 3, MaxAttachAttempts: 3, TopicARN: w.topic}
	return w
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (w *world) advance(d time.Duration) {
	w.clk.Advance(d)
	w.acct.Tick()
}

// report publishes n self-reports of id, 10 s apart, the last one now, and lets them
// become visible.
func (w *world) report(id string, s signal.Status, n int) {
	w.t.Helper()
	must(w.t, w.pool.Report(id, s, w.clk.Now().Add(-time.Duration(n-1)*10*time.Second), 10*time.Second, n))
	w.advance(3 * time.Second)
}

// keepReporting publishes healthy self-reports of id every 10 s from now for d, as a
// running agent would (GetMetricData windows that end now do not see the later ones).
func (w *world) keepReporting(id string, d time.Duration) {
	w.t.Helper()
	must(w.t, w.pool.Report(id, signal.Healthy, w.clk.Now().Add(10*time.Second), 10*time.Second, int(d/(10*time.Second))))
}

func (w *world) input() events.FailoverState {
	st := events.FailoverState{
		Cluster: testCluster, ENIID: w.eni, FailedInstanceID: w.active, Verdict: events.VerdictFailed,
		Reason:     "unhealthy for the whole 30s grace window",
		Evidence:   &events.Evidence{EC2State: "running", WindowStart: w.clk.Now().Add(-30 * time.Second), WindowEnd: w.clk.Now(), SelfReports: events.ReportSummary{Unhealthy: 3}},
		DetectedAt: w.clk.Now(),
	}
	st.AddEvent(events.StepDetect, "verdict", w.clk.Now(), "FAILED: unhealthy for the whole 30s grace window")
	return st
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() && os.Getenv("FAILOVER_TEST_LOGS") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.DiscardHandler)
}

// steps builds the steps for caller with the account's clients.
func (w *world) steps(caller string) *Steps {
	return w.stepsWith(sim2deps(w.pool.ClientsOf(caller)))
}

func sim2deps(c sim.Clients) Deps {
	return Deps{EC2: c.EC2, AutoScaling: c.AutoScaling, CloudWatch: c.CloudWatch, SNS: c.SNS}
}

func (w *world) stepsWith(d Deps) *Steps {
	w.t.Helper()
	d.Clock = w.clk
	d.Log = testLogger(w.t)
	d.Jitter = func() float64 { return 0.5 }
	s, err := New(w.cfg, d)
	must(w.t, err)
	return s
}

// run runs one step by its name with the caller of the same name.
func (w *world) run(step string, st events.FailoverState) (events.FailoverState, error) {
	return w.steps(lambdaOf(step)).Handlers()[step](context.Background(), st)
}

// lambdaOf is the Lambda (and caller name) of a step.
func lambdaOf(step string) string {
	t, _ := statemachine.TaskForStep(step)
	return t.Lambda
}

// calls counts recorded calls of caller and operation; ok selects successful ones only.
func (w *world) calls(caller, op string, okOnly bool) int {
	n := 0
	for _, c := range w.acct.Calls() {
		if (caller == "" || c.Caller == caller) && c.Operation == op && (!okOnly || c.Err == "") {
			n++
		}
	}
	return n
}

func timeline(st events.FailoverState) string {
	var b strings.Builder
	for _, e := range st.Timeline {
		b.WriteString("  " + e.At.Format("15:04:05") + " " + e.Step + " " + e.Event + ": " + e.Detail + "\n")
	}
	return b.String()
}

func hasEvent(st events.FailoverState, step, event string) bool {
	for _, e := range st.Timeline {
		if e.Step == step && e.Event == event {
			return true
		}
	}
	return false
}

// crashClients wraps a caller's clients: after `after` calls have been made, the next
// call is applied and then the invocation "crashes": its context is cancelled and the
// call reports the cancellation, as when a Lambda dies after AWS acted but before it
// saw the reply.
type crashClients struct {
	mu     sync.Mutex
	n      int
	after  int
	cancel context.CancelFunc
	inner  sim.Clients
}

func (c *crashClients) hit() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return c.n > c.after
}

func crashAfter[T any](c *crashClients, ctx context.Context, f func(context.Context) (T, error)) (T, error) {
	if !c.hit() {
		return f(ctx)
	}
	out, _ := f(context.WithoutCancel(ctx))
	c.cancel()
	var zero T
	_ = out
	return zero, context.Canceled
}

func (c *crashClients) deps() Deps {
	return Deps{EC2: crashEC2{c}, AutoScaling: crashASG{c}, CloudWatch: crashCW{c}, SNS: crashSNS{c}}
}

type crashEC2 struct{ c *crashClients }

func (x crashEC2) DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, o ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	return crashAfter(x.c, ctx, func(ctx context.Context) (*ec2.DescribeInstancesOutput, error) {
		return x.c.inner.EC2.DescribeInstances(ctx, in, o...)
	})
}
func (x crashEC2) DescribeNetworkInterfaces(ctx context.Context, in *ec2.DescribeNetworkInterfacesInput, o ...func(*ec2.Options)) (*ec2.DescribeNetworkInterfacesOutput, error) {
	return crashAfter(x.c, ctx, func(ctx context.Context) (*ec2.DescribeNetworkInterfacesOutput, error) {
		return x.c.inner.EC2.DescribeNetworkInterfaces(ctx, in, o...)
	})
}
func (x crashEC2) AttachNetworkInterface(ctx context.Context, in *ec2.AttachNetworkInterfaceInput, o ...func(*ec2.Options)) (*ec2.AttachNetworkInterfaceOutput, error) {
	return crashAfter(x.c, ctx, func(ctx context.Context) (*ec2.AttachNetworkInterfaceOutput, error) {
		return x.c.inner.EC2.AttachNetworkInterface(ctx, in, o...)
	})
}
func (x crashEC2) DetachNetworkInterface(ctx context.Context, in *ec2.DetachNetworkInterfaceInput, o ...func(*ec2.Options)) (*ec2.DetachNetworkInterfaceOutput, error) {
	return crashAfter(x.c, ctx, func(ctx context.Context) (*ec2.DetachNetworkInterfaceOutput, error) {
		return x.c.inner.EC2.DetachNetworkInterface(ctx, in, o...)
	})
}
func (x crashEC2) TerminateInstances(ctx context.Context, in *ec2.TerminateInstancesInput, o ...func(*ec2.Options)) (*ec2.TerminateInstancesOutput, error) {
	return crashAfter(x.c, ctx, func(ctx context.Context) (*ec2.TerminateInstancesOutput, error) {
		return x.c.inner.EC2.TerminateInstances(ctx, in, o...)
	})
}
func (x crashEC2) CreateTags(ctx context.Context, in *ec2.CreateTagsInput, o ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error) {
	return crashAfter(x.c, ctx, func(ctx context.Context) (*ec2.CreateTagsOutput, error) {
		return x.c.inner.EC2.CreateTags(ctx, in, o...)
	})
}

type crashASG struct{ c *crashClients }

func (x crashASG) DescribeAutoScalingGroups(ctx context.Context, in *autoscaling.DescribeAutoScalingGroupsInput, o ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
	return crashAfter(x.c, ctx, func(ctx context.Context) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
		return x.c.inner.AutoScaling.DescribeAutoScalingGroups(ctx, in, o...)
	})
}
func (x crashASG) TerminateInstanceInAutoScalingGroup(ctx context.Context, in *autoscaling.TerminateInstanceInAutoScalingGroupInput, o ...func(*autoscaling.Options)) (*autoscaling.TerminateInstanceInAutoScalingGroupOutput, error) {
	return crashAfter(x.c, ctx, func(ctx context.Context) (*autoscaling.TerminateInstanceInAutoScalingGroupOutput, error) {
		return x.c.inner.AutoScaling.TerminateInstanceInAutoScalingGroup(ctx, in, o...)
	})
}
func (x crashASG) SetInstanceProtection(ctx context.Context, in *autoscaling.SetInstanceProtectionInput, o ...func(*autoscaling.Options)) (*autoscaling.SetInstanceProtectionOutput, error) {
	return crashAfter(x.c, ctx, func(ctx context.Context) (*autoscaling.SetInstanceProtectionOutput, error) {
		return x.c.inner.AutoScaling.SetInstanceProtection(ctx, in, o...)
	})
}
func (x crashASG) SetDesiredCapacity(ctx context.Context, in *autoscaling.SetDesiredCapacityInput, o ...func(*autoscaling.Options)) (*autoscaling.SetDesiredCapacityOutput, error) {
	return crashAfter(x.c, ctx, func(ctx context.Context) (*autoscaling.SetDesiredCapacityOutput, error) {
		return x.c.inner.AutoScaling.SetDesiredCapacity(ctx, in, o...)
	})
}

type crashCW struct{ c *crashClients }

func (x crashCW) PutMetricData(ctx context.Context, in *cloudwatch.PutMetricDataInput, o ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error) {
	return crashAfter(x.c, ctx, func(ctx context.Context) (*cloudwatch.PutMetricDataOutput, error) {
		return x.c.inner.CloudWatch.PutMetricData(ctx, in, o...)
	})
}
func (x crashCW) GetMetricData(ctx context.Context, in *cloudwatch.GetMetricDataInput, o ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error) {
	return crashAfter(x.c, ctx, func(ctx context.Context) (*cloudwatch.GetMetricDataOutput, error) {
		return x.c.inner.CloudWatch.GetMetricData(ctx, in, o...)
	})
}

type crashSNS struct{ c *crashClients }

func (x crashSNS) Publish(ctx context.Context, in *sns.PublishInput, o ...func(*sns.Options)) (*sns.PublishOutput, error) {
	return crashAfter(x.c, ctx, func(ctx context.Context) (*sns.PublishOutput, error) { return x.c.inner.SNS.Publish(ctx, in, o...) })
}

var (
	_ awsapi.EC2API         = crashEC2{}
	_ awsapi.AutoScalingAPI = crashASG{}
	_ awsapi.CloudWatchAPI  = crashCW{}
	_ awsapi.SNSAPI         = crashSNS{}
)

func detachInput(attachmentID string) *ec2.DetachNetworkInterfaceInput {
	return &ec2.DetachNetworkInterfaceInput{AttachmentId: aws.String(attachmentID)}
}

func attachInput(eni, inst string) *ec2.AttachNetworkInterfaceInput {
	return &ec2.AttachNetworkInterfaceInput{DeviceIndex: aws.Int32(1), InstanceId: aws.String(inst), NetworkInterfaceId: aws.String(eni)}
}
