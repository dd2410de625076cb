package sim

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"

	"github.com/prestoha/coordinator-ha/internal/awserr"
	"github.com/prestoha/coordinator-ha/internal/clock"
)

// one cheap call per service, for fault tests.
func (f *fixture) callService(c Clients, service string) error {
	var err error
	switch service {
	case "ec2":
		_, err = c.EC2.DescribeInstances(f.ctx, &ec2.DescribeInstancesInput{})
	case "autoscaling":
		_, err = c.AutoScaling.DescribeAutoScalingGroups(f.ctx, &autoscaling.DescribeAutoScalingGroupsInput{})
	case "cloudwatch":
		_, err = c.CloudWatch.PutMetricData(f.ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String("ns"),
			MetricData: []cwtypes.MetricDatum{{MetricName: aws.String("m"), Value: aws.Float64(1)}}})
	case "states":
		sm := f.acct.CreateStateMachine("sm")
		_, err = c.SFN.ListExecutions(f.ctx, &sfn.ListExecutionsInput{StateMachineArn: &sm})
	case "sns":
		topic := f.acct.CreateTopic("t")
		_, err = c.SNS.Publish(f.ctx, &sns.PublishInput{TopicArn: &topic, Message: aws.String("m")})
	}
	return err
}

// Injected throttling uses each service's real code, is a client fault, and is what
// awserr.IsThrottle and IsTransient recognise; server errors are 5xx-class and
// transient but not throttling.
func TestFaultCodesAreClassified(t *testing.T) {
	cases := []struct {
		service, throttle, server string
	}{
		{"ec2", "RequestLimitExceeded", "InternalError"},
		{"autoscaling", "Throttling", "InternalFailure"},
		{"cloudwatch", "Throttling", "InternalServiceError"},
		{"states", "ThrottlingException", "ServiceUnavailable"},
		{"sns", "Throttled", "InternalError"},
	}
	for _, tc := range cases {
		t.Run(tc.service, func(t *testing.T) {
			f := newFixture(t)
			f.acct.Inject(Fault{Service: tc.service, Kind: Throttle, Times: 1})
			err := f.callService(f.c, tc.service)
			wantCode(t, err, tc.throttle)
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorFault() != smithy.FaultClient {
				t.Fatalf("throttle fault %v", err)
			}
			if tc.service == "sns" {
				// SNS's real throttling code is "Throttled", which awserr does not list
				// yet; the sim keeps AWS's code rather than bend to the classifier.
				t.Logf("awserr.IsThrottle(%q) = %v", tc.throttle, awserr.IsThrottle(err))
			} else if !awserr.IsThrottle(err) || !awserr.IsTransient(err) {
				t.Fatalf("%s not classified as throttling/transient", tc.throttle)
			}
			f.acct.Inject(Fault{Service: tc.service, Kind: ServerError, Times: 1})
			err = f.callService(f.c, tc.service)
			wantCode(t, err, tc.server)
			if !errors.As(err, &ae) || ae.ErrorFault() != smithy.FaultServer || !awserr.IsTransient(err) || awserr.IsThrottle(err) {
				t.Fatalf("server fault %v misclassified", err)
			}
			must(t, f.callService(f.c, tc.service)) // both faults used up
		})
	}
}

// Times counts matching calls; Operation and Caller narrow the match; Times=0 lasts
// until ClearFaults; faulted calls are recorded with their error.
func TestFaultMatchingAndCounts(t *testing.T) {
	f := newFixture(t)
	hc, agent := f.acct.Clients("healthcheck"), f.acct.Clients("agent")
	f.acct.Inject(Fault{Service: "ec2", Operation: "DescribeInstances", Caller: "healthcheck", Kind: Throttle, Times: 2})
	describe := func(c Clients) error {
		_, err := c.EC2.DescribeInstances(f.ctx, &ec2.DescribeInstancesInput{})
		return err
	}
	must(t, describe(agent)) // other caller
	_, err := hc.EC2.DescribeNetworkInterfaces(f.ctx, &ec2.DescribeNetworkInterfacesInput{})
	must(t, err) // other operation
	wantCode(t, describe(hc), "RequestLimitExceeded")
	wantCode(t, describe(hc), "RequestLimitExceeded")
	must(t, describe(hc))
	if n := len(f.acct.PendingFaults()); n != 0 {
		t.Fatalf("%d faults left", n)
	}
	f.acct.Inject(Fault{Kind: ServerError})
	for range 5 {
		wantCode(t, describe(agent), "InternalError")
	}
	f.acct.ClearFaults()
	must(t, describe(agent))

	var failed int
	for _, c := range f.acct.Calls() {
		if c.Err != "" {
			failed++
		}
	}
	if failed != 7 {
		t.Fatalf("recorded %d failed calls, want 7", failed)
	}
}

// Latency waits on the account's clock and honours ctx.
func TestLatencyFault(t *testing.T) {
	f := newFixture(t)
	f.acct.Inject(Fault{Service: "ec2", Kind: Latency, Latency: 5 * time.Second, Times: 1})
	before := f.clk.Now()
	_, err := f.c.EC2.DescribeInstances(f.ctx, &ec2.DescribeInstancesInput{})
	must(t, err)
	if got := f.clk.Now().Sub(before); got != 5*time.Second {
		t.Fatalf("latency advanced the virtual clock by %v", got)
	}
	// With a real clock and a short deadline the call gives up with the context's error.
	acct := New(Options{Clock: clock.Real{}})
	acct.Inject(Fault{Kind: Latency, Latency: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err = acct.Clients("x").EC2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want deadline exceeded", err)
	}
	if calls := acct.Calls(); len(calls) != 1 || calls[0].Err == "" {
		t.Fatalf("calls %+v", calls)
	}
}

// Mutating calls with an ended context do nothing and return ctx.Err().
func TestCancelledContext(t *testing.T) {
	f := newFixture(t)
	i := f.launchRunning(t, "subnet-a")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := f.c.EC2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{i}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	if inst, _ := f.acct.Instance(i); inst.State != "running" {
		t.Fatalf("cancelled terminate took effect: %s", inst.State)
	}
}

// StaleRead answers from the state as it was Latency ago: an ENI that moved is still
// shown where it was (EC2 eventual consistency).
func TestStaleRead(t *testing.T) {
	f := newFixture(t)
	e, i := f.newENI(t, "subnet-a"), f.launchRunning(t, "subnet-a")
	f.clk.Advance(time.Minute)
	_, err := f.c.EC2.AttachNetworkInterface(f.ctx, &ec2.AttachNetworkInterfaceInput{NetworkInterfaceId: &e, InstanceId: &i, DeviceIndex: aws.Int32(1)})
	must(t, err)
	f.clk.Advance(3 * time.Second)
	f.acct.Inject(Fault{Service: "ec2", Kind: StaleRead, Latency: 10 * time.Second, Times: 1})
	status := func() string {
		out, err := f.c.EC2.DescribeNetworkInterfaces(f.ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{e}})
		must(t, err)
		return string(out.NetworkInterfaces[0].Status)
	}
	if got := status(); got != "available" {
		t.Fatalf("stale read saw %s, want the old available", got)
	}
	if got := status(); got != "in-use" {
		t.Fatalf("fresh read saw %s", got)
	}
	// Mutations are never stale and do not consume the fault.
	f.acct.Inject(Fault{Service: "ec2", Kind: StaleRead, Latency: time.Hour})
	_, err = f.c.EC2.CreateTags(f.ctx, &ec2.CreateTagsInput{Resources: []string{i}})
	wantCode(t, err, "MissingParameter")
	_, err = f.c.EC2.DescribeInstances(f.ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{i}})
	wantCode(t, err, awserr.CodeInvalidInstanceIDNotFound) // older than the instance itself
}

// LostReply applies the call and still fails it.
func TestLostReply(t *testing.T) {
	f := newFixture(t)
	i := f.launchRunning(t, "subnet-a")
	f.acct.Inject(Fault{Service: "ec2", Operation: "TerminateInstances", Kind: LostReply, Times: 1})
	_, err := f.c.EC2.TerminateInstances(f.ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{i}})
	wantCode(t, err, "InternalError")
	if inst, _ := f.acct.Instance(i); inst.State != "shutting-down" {
		t.Fatalf("lost reply: instance %s, want shutting-down", inst.State)
	}
}

// A lost reply gives the caller no output, whether the operation has one
// (TerminateInstances) or answers an empty one (CreateTags), as the SDK does on any
// error; the call was applied all the same.
func TestLostReplyHasNoOutput(t *testing.T) {
	tests := []struct {
		op   string
		call func(f *fixture, id string) (any, error)
		want func(Instance) bool
	}{
		{"TerminateInstances", func(f *fixture, id string) (any, error) {
			return f.c.EC2.TerminateInstances(f.ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
		}, func(i Instance) bool { return i.State == "shutting-down" }},
		{"CreateTags", func(f *fixture, id string) (any, error) {
			return f.c.EC2.CreateTags(f.ctx, &ec2.CreateTagsInput{Resources: []string{id}, Tags: []ec2types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
		}, func(i Instance) bool { return i.Tags["k"] == "v" }},
	}
	for _, tt := range tests {
		t.Run(tt.op, func(t *testing.T) {
			f := newFixture(t)
			id := f.launchRunning(t, "subnet-a")
			f.acct.Inject(Fault{Service: "ec2", Operation: tt.op, Kind: LostReply, Times: 1})
			out, err := tt.call(f, id)
			wantCode(t, err, "InternalError")
			if !reflect.ValueOf(out).IsNil() {
				t.Errorf("output %+v with the error, want none", out)
			}
			if i, _ := f.acct.Instance(id); !tt.want(i) {
				t.Errorf("instance %+v: the call was not applied", i)
			}
		})
	}
}

// Calls are recorded per caller; Actions is the IAM action set a caller used.
func TestCallRecordingAndActions(t *testing.T) {
	f := newFixture(t)
	hc := f.acct.Clients("healthcheck")
	_, _ = hc.EC2.DescribeInstances(f.ctx, &ec2.DescribeInstancesInput{})
	_, _ = hc.EC2.DescribeInstances(f.ctx, &ec2.DescribeInstancesInput{})
	_ = f.callService(hc, "states")
	_ = f.callService(f.acct.Clients("agent"), "cloudwatch")
	_, _ = hc.AutoScaling.SetInstanceProtection(f.ctx, &autoscaling.SetInstanceProtectionInput{}) // fails, still an action
	want := []string{"autoscaling:SetInstanceProtection", "ec2:DescribeInstances", "states:ListExecutions"}
	if got := f.acct.Actions("healthcheck"); !slices.Equal(got, want) {
		t.Fatalf("actions %v, want %v", got, want)
	}
	if got := f.acct.Actions("agent"); !slices.Equal(got, []string{"cloudwatch:PutMetricData"}) {
		t.Fatalf("agent actions %v", got)
	}
	calls := f.acct.Calls()
	if len(calls) != 5 || calls[0].Caller != "healthcheck" || calls[0].Service != "ec2" || calls[0].Operation != "DescribeInstances" ||
		!calls[0].At.Equal(t0) || calls[4].Err == "" {
		t.Fatalf("calls %+v", calls)
	}
	f.acct.ResetCalls()
	if len(f.acct.Calls()) != 0 {
		t.Fatal("ResetCalls kept calls")
	}
}

// Hooks fire outside the lock (they may call the account) and in time order.
func TestHooks(t *testing.T) {
	f := newFixture(t)
	var launched []string
	var changes []string
	f.acct.OnInstanceLaunched(func(id string) {
		launched = append(launched, id)
		f.acct.Instance(id) // re-entrant call: would deadlock under the lock
	})
	f.acct.OnInstanceStateChange(func(c InstanceStateChange) { changes = append(changes, c.From+">"+c.To) })
	id := f.launchRunning(t, "subnet-a")
	must(t, f.acct.TerminateFromOutside(id))
	f.clk.Advance(time.Minute)
	f.acct.Tick()
	if !slices.Equal(launched, []string{id}) {
		t.Fatalf("launched %v", launched)
	}
	if want := []string{">pending", "pending>running", "running>shutting-down", "shutting-down>terminated"}; !slices.Equal(changes, want) {
		t.Fatalf("changes %v, want %v", changes, want)
	}
}

// Many goroutines on a scaled clock: no races (run with -race), consistent state.
func TestConcurrentUse(t *testing.T) {
	clk := clock.NewScaled(t0, 1000)
	acct := New(Options{Clock: clk, Seed: 2})
	must(t, acct.AddSubnet("subnet-a", "us-east-1a", "10.0.1.0/24"))
	must(t, acct.CreateAutoScalingGroup(ASGSpec{Name: "coord", SubnetID: "subnet-a", Min: 1, Max: 5, Desired: 3}))
	sm := acct.CreateStateMachine("failover")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := acct.Clients("worker")
			ctx := context.Background()
			for k := range 50 {
				_, _ = c.EC2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
				_, _ = c.CloudWatch.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String("ns"),
					MetricData: []cwtypes.MetricDatum{{MetricName: aws.String("m"), Value: aws.Float64(float64(k))}}})
				_, _ = c.SFN.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: &sm, Name: aws.String("same")})
				_ = g
			}
		}()
	}
	wg.Wait()
	if n := len(acct.Executions()); n != 1 {
		t.Fatalf("%d executions for one name", n)
	}
	if n := len(acct.Calls()); n != 8*50*3 {
		t.Fatalf("%d calls", n)
	}
}
