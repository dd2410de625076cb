package sim

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/prestoha/coordinator-ha/internal/awserr"
)

// Each test here models one documented AWS behaviour the product must survive (issue 11).

// Step Functions API reference, ListExecutions: "This operation is eventually
// consistent. The results are best effort and may not reflect very recent updates and
// changes." (DescribeExecution carries the same note.)
func TestListExecutionsIsEventuallyConsistent(t *testing.T) {
	f := newFixture(t)
	f.acct.SetConsistency(Consistency{StatesReadLag: 10 * time.Second})
	sm := f.acct.CreateStateMachine("m")
	f.clk.Advance(time.Minute)
	_, err := f.c.SFN.StartExecution(f.ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(sm), Name: aws.String("e1")})
	must(t, err)
	missing := 0
	for range 20 {
		out, err := f.c.SFN.ListExecutions(f.ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(sm)})
		must(t, err)
		if len(out.Executions) == 0 {
			missing++
		}
	}
	if missing == 0 {
		t.Fatal("a listing right after StartExecution always showed the execution: not eventually consistent")
	}
	f.clk.Advance(11 * time.Second)
	out, err := f.c.SFN.ListExecutions(f.ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(sm)})
	must(t, err)
	if len(out.Executions) != 1 {
		t.Fatalf("after the lag the listing shows %d executions", len(out.Executions))
	}
	// The name is unique at once, whatever the listing says: the lease rests on that.
	_, err = f.c.SFN.StartExecution(f.ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(sm), Name: aws.String("e1"), Input: aws.String(`{"other":1}`)})
	wantCode(t, err, awserr.CodeExecutionAlreadyExists)
}

// EC2 API reference, "Eventual consistency in the Amazon EC2 API": a Describe right after
// a mutation may show the old state.
func TestEC2ReadsAreStaleAfterAMutation(t *testing.T) {
	f := newFixture(t)
	id := f.launchRunning(t, "subnet-a")
	eni := f.newENI(t, "subnet-a")
	f.clk.Advance(10 * time.Second)
	f.acct.SetConsistency(Consistency{EC2ReadLag: 5 * time.Second, EC2ReadLagP: 1})
	_, err := f.c.EC2.AttachNetworkInterface(f.ctx, &ec2.AttachNetworkInterfaceInput{NetworkInterfaceId: aws.String(eni), InstanceId: aws.String(id), DeviceIndex: aws.Int32(1)})
	must(t, err)
	old := 0
	for range 20 {
		out, err := f.c.EC2.DescribeNetworkInterfaces(f.ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{eni}})
		must(t, err)
		if out.NetworkInterfaces[0].Attachment == nil {
			old++
		}
	}
	if old == 0 {
		t.Fatal("no read right after the attach showed the old state")
	}
	f.clk.Advance(10 * time.Second)
	out, err := f.c.EC2.DescribeNetworkInterfaces(f.ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{eni}})
	must(t, err)
	if a := out.NetworkInterfaces[0].Attachment; a == nil || aws.ToString(a.InstanceId) != id {
		t.Fatalf("after the lag: %+v", a)
	}
}

// EC2 API reference, eventual consistency: "If you try to describe a resource that you
// just created... you might get an InvalidInstanceID.NotFound error." The NotFound fault
// gives the same answer for an instance of any age.
func TestJustCreatedInstanceIsNotFound(t *testing.T) {
	f := newFixture(t)
	f.acct.SetConsistency(Consistency{NewInstanceNotFound: 5 * time.Second})
	id, err := f.acct.LaunchInstance(InstanceSpec{SubnetID: "subnet-a"})
	must(t, err)
	_, err = f.c.EC2.DescribeInstances(f.ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	wantCode(t, err, awserr.CodeInvalidInstanceIDNotFound)
	f.clk.Advance(6 * time.Second)
	_, err = f.c.EC2.DescribeInstances(f.ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	must(t, err)
	f.acct.Inject(Fault{Operation: "DescribeInstances", Kind: NotFound, Times: 1})
	_, err = f.c.EC2.DescribeInstances(f.ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	wantCode(t, err, awserr.CodeInvalidInstanceIDNotFound)
}

// GetMetricData reference, MetricDataResult.StatusCode: Complete, InternalError,
// PartialData or Forbidden, per query, while the call itself succeeds.
func TestGetMetricDataStatusPerQuery(t *testing.T) {
	f := newFixture(t)
	for i := range 6 {
		_, err := f.c.CloudWatch.PutMetricData(f.ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String("N"), MetricData: []cwtypes.MetricDatum{{
			MetricName: aws.String("m"), Value: aws.Float64(float64(i)), StorageResolution: aws.Int32(1)}}})
		must(t, err)
		f.clk.Advance(5 * time.Second)
	}
	in := &cloudwatch.GetMetricDataInput{StartTime: aws.Time(t0), EndTime: aws.Time(f.clk.Now()), MetricDataQueries: []cwtypes.MetricDataQuery{{
		Id: aws.String("q"), MetricStat: &cwtypes.MetricStat{Metric: &cwtypes.Metric{Namespace: aws.String("N"), MetricName: aws.String("m")}, Period: aws.Int32(1), Stat: aws.String("Maximum")}}}}
	for _, tc := range []struct {
		kind   FaultKind
		status cwtypes.StatusCode
		points int
	}{{0, cwtypes.StatusCodeComplete, 6}, {QueryError, cwtypes.StatusCodeInternalError, 0}, {QueryPartial, cwtypes.StatusCodePartialData, 3}} {
		if tc.kind != 0 {
			f.acct.Inject(Fault{Operation: "GetMetricData", Kind: tc.kind, Times: 1})
		}
		out, err := f.c.CloudWatch.GetMetricData(f.ctx, in)
		must(t, err)
		r := out.MetricDataResults[0]
		if r.StatusCode != tc.status || len(r.Values) != tc.points {
			t.Errorf("%v: status %s with %d points, want %s with %d", tc.kind, r.StatusCode, len(r.Values), tc.status, tc.points)
		}
	}
}

// Amazon EC2 Auto Scaling user guide, "Lifecycle hooks": a Terminating:Wait hook keeps
// the instance running until the action is completed or the heartbeat times out. An EC2
// TerminateInstances is not held by the group's hook.
func TestTerminationLifecycleHookKeepsInstanceRunning(t *testing.T) {
	f := newFixture(t)
	f.acct.SetConsistency(Consistency{TerminationHook: time.Minute})
	must(t, f.acct.CreateAutoScalingGroup(ASGSpec{Name: "g", SubnetID: "subnet-a", Min: 0, Max: 3, Desired: 2}))
	f.clk.Advance(time.Minute)
	g, _ := f.acct.ASG("g")
	a, b := g.Members[0].InstanceID, g.Members[1].InstanceID
	_, err := f.c.AutoScaling.TerminateInstanceInAutoScalingGroup(f.ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
		InstanceId: aws.String(a), ShouldDecrementDesiredCapacity: aws.Bool(false)})
	must(t, err)
	f.clk.Advance(30 * time.Second)
	if i, _ := f.acct.Instance(a); i.State != "running" {
		t.Fatalf("held by the hook, the instance is %s", i.State)
	}
	out, err := f.c.AutoScaling.DescribeAutoScalingGroups(f.ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"g"}})
	must(t, err)
	for _, m := range out.AutoScalingGroups[0].Instances {
		if aws.ToString(m.InstanceId) == a && m.LifecycleState != "Terminating:Wait" {
			t.Errorf("lifecycle %s, want Terminating:Wait", m.LifecycleState)
		}
	}
	f.clk.Advance(31 * time.Second)
	if i, _ := f.acct.Instance(a); i.State != "shutting-down" && i.State != "terminated" {
		t.Fatalf("after the hook's timeout the instance is %s", i.State)
	}
	_, err = f.c.AutoScaling.TerminateInstanceInAutoScalingGroup(f.ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
		InstanceId: aws.String(b), ShouldDecrementDesiredCapacity: aws.Bool(false)})
	must(t, err)
	_, err = f.c.EC2.TerminateInstances(f.ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{b}})
	must(t, err)
	if i, _ := f.acct.Instance(b); i.State != "shutting-down" {
		t.Fatalf("terminated through EC2 during the hook, the instance is %s", i.State)
	}
}

// EC2 API reference, attachment states attaching/attached; reports of attachments that
// stay in a transitional state (ansible amazon.aws PR #501, amazon-ecs-agent #1520).
func TestAttachCanStayAttaching(t *testing.T) {
	f := newFixture(t)
	f.acct.SetConsistency(Consistency{AttachStuckP: 1, AttachStuckMax: time.Minute})
	stuck := 0
	for range 5 {
		id := f.launchRunning(t, "subnet-a")
		eni := f.newENI(t, "subnet-a")
		_, err := f.c.EC2.AttachNetworkInterface(f.ctx, &ec2.AttachNetworkInterfaceInput{NetworkInterfaceId: aws.String(eni), InstanceId: aws.String(id), DeviceIndex: aws.Int32(1)})
		must(t, err)
		f.clk.Advance(f.acct.Timings().AttachDelay + 5*time.Second)
		if e, _ := f.acct.ENI(eni); e.Attachment.Status == "attaching" {
			stuck++
		}
		f.clk.Advance(time.Minute)
		if e, _ := f.acct.ENI(eni); e.Attachment.Status != "attached" {
			t.Fatalf("still %s after the bound", e.Attachment.Status)
		}
	}
	if stuck == 0 {
		t.Fatal("no attachment stayed attaching past the usual delay")
	}
}

// CloudWatch visibility: a PutMetricData's datapoints may become visible late (no
// figure is published for fresh data).
func TestMetricVisibilityTail(t *testing.T) {
	f := newFixture(t)
	f.acct.SetConsistency(Consistency{MetricTailP: 1, MetricTailMax: 30 * time.Second})
	late := 0
	for range 5 {
		_, err := f.c.CloudWatch.PutMetricData(f.ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String("N"), MetricData: []cwtypes.MetricDatum{{MetricName: aws.String("m"), Value: aws.Float64(1)}}})
		must(t, err)
		f.clk.Advance(time.Second)
	}
	for _, d := range f.acct.Datapoints("N") {
		if d.VisibleAt.Sub(d.Timestamp) > f.acct.Timings().MetricIngestionDelay+time.Second {
			late++
		}
	}
	if late == 0 {
		t.Fatal("no datapoint became visible late")
	}
}

// The timing model around the API: EventBridge rate(1 minute) ticks spaced 8 to 71 s
// (Zappa issue #806), Lambda cold starts 36-44 ms (maxday/lambda-perf), guest ENI
// configuration 1-3 s (amazon-ec2-net-utils PR #77) with IMDS-dependent tails near
// 20 s (amazon-ecs-cni-plugins PR #66) unless the static ENI configuration takes IMDS
// out (systemd.network(5), amazon-ec2-net-utils' README), IMDS lag up to 30 s
// (amazon-vpc-cni-k8s PR #1311).
func TestRealismDistributions(t *testing.T) {
	r := DefaultRealism()
	rng := rand.New(rand.NewPCG(1, 2))
	ticks := r.Ticks(rng, t0, t0.Add(24*time.Hour))
	lo, hi := time.Hour, time.Duration(0)
	for i := 1; i < len(ticks); i++ {
		d := ticks[i].Sub(ticks[i-1])
		lo, hi = min(lo, d), max(hi, d)
	}
	if lo < 8*time.Second || hi > 71*time.Second || lo > 15*time.Second || hi < 65*time.Second {
		t.Errorf("tick spacings %s to %s, want within 8 s to 71 s and reaching both ends", lo, hi)
	}
	for range 1000 {
		if g := r.GuestConfig(rng); g < time.Second || g > 20*time.Second {
			t.Fatalf("guest configuration %s", g)
		}
		if l := r.IMDSLag(rng); l > 30*time.Second {
			t.Fatalf("IMDS lag %s", l)
		}
		if c := r.ColdStart(rng); c != 0 && (c < 36*time.Millisecond || c > 44*time.Millisecond) {
			t.Fatalf("cold start %s", c)
		}
		if s := r.ClockSkew(rng); s > 35*time.Second || s < -35*time.Second {
			t.Fatalf("skew %s", s)
		}
	}
}

// The static ENI configuration (infra/coordinator/bootstrap.sh) drops only the part of
// the guest's configuration that waits on instance metadata (amazon-ec2-net-utils
// lib/lib.sh: device-number, local-ipv4s; amazon-ecs-cni-plugins PR #66: up to 18 s):
// the device part stays, and the draws stay paired seed for seed with the model
// without it (ec2-net-utils alone), which still draws the tail.
func TestRealismStaticENIConfig(t *testing.T) {
	static := DefaultRealism()
	if !static.StaticENIConfig {
		t.Fatal("the default model lacks the static ENI configuration the stack ships")
	}
	alone := static
	alone.StaticENIConfig = false
	rs, ra := rand.New(rand.NewPCG(3, 4)), rand.New(rand.NewPCG(3, 4))
	tails, same := 0, 0
	const n = 4000
	for range n {
		s, a := static.GuestConfig(rs), alone.GuestConfig(ra)
		if s < static.GuestMin || s > static.GuestMax {
			t.Fatalf("static: guest configuration %s outside %s-%s", s, static.GuestMin, static.GuestMax)
		}
		if a < alone.GuestMin || a > alone.GuestTailMax {
			t.Fatalf("ec2-net-utils alone: guest configuration %s", a)
		}
		if a > alone.GuestMax {
			tails++
		} else if a == s {
			same++
		}
	}
	// About GuestTailP of the draws are tails without the static file (binomial, 4000
	// draws: 5 % +- well over 4 standard deviations), and every other draw is the same.
	if tails < n*3/100 || tails > n*7/100 {
		t.Errorf("%d tails in %d draws without the static configuration, want about %.0f", tails, n, alone.GuestTailP*n)
	}
	if same != n-tails {
		t.Errorf("only %d of %d non-tail draws are the same in both models: the draws are no longer paired", same, n-tails)
	}
	if !strings.Contains(static.String(), "static ENI configuration") || !strings.Contains(alone.String(), "tail to 20s") {
		t.Errorf("the parameters do not name the model:\n%s\n%s", static, alone)
	}
}
