package sim

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/prestoha/coordinator-ha/internal/awserr"
	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/config"
	"github.com/prestoha/coordinator-ha/internal/signal"
)

func enforcedPool(t *testing.T) *Pool {
	t.Helper()
	acct := New(Options{Clock: clock.NewVirtual(t0), Seed: 3})
	p, err := NewPool(acct, PoolSpec{Cluster: "c", Coordinators: 2, AttachActive: true, StateMachine: "c-failover", Topic: "c-alerts"})
	must(t, err)
	p.EnforcePolicies()
	return p
}

func TestCallerIdentityOfAnInstanceRole(t *testing.T) {
	p := enforcedPool(t)
	id := p.Instances[0]
	out, err := p.HostClients(id).STS.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	must(t, err)
	if got := aws.ToString(out.UserId); got != p.HostRoleID+":"+id || !strings.HasPrefix(got, "AROA") {
		t.Fatalf("UserId %s, want <role id>:<instance id>", got)
	}
	if arn := aws.ToString(out.Arn); arn != "arn:aws:sts::123456789012:assumed-role/"+p.HostRole+"/"+id {
		t.Fatalf("Arn %s", arn)
	}
	if a, b, again := p.Account.RoleID("a"), p.Account.RoleID("b"), p.Account.RoleID("a"); a == b || a != again {
		t.Fatal("role ids must be unique per role and stable")
	}
}

// The hosts' policy: PutMetricData only into PrestoCoordinatorHA/${aws:userid}.
func TestNamespaceConditionWithPolicyVariable(t *testing.T) {
	p := enforcedPool(t)
	a, b := p.Instances[0], p.Instances[1]
	put := func(caller string, ns string) error {
		_, err := p.HostClients(caller).CloudWatch.PutMetricData(context.Background(), &cloudwatch.PutMetricDataInput{
			Namespace: aws.String(ns), MetricData: []cwtypes.MetricDatum{signal.HealthDatum("c", caller, signal.Healthy, t0)}})
		return err
	}
	for _, tc := range []struct {
		name, caller, ns string
		ok               bool
	}{
		{"own namespace", a, p.ReportNamespace(a), true},
		{"another host's", a, p.ReportNamespace(b), false},
		{"the shared namespace", a, signal.Namespace, false},
		{"a prefix of its own", a, signal.HostNamespace(p.HostRoleID), false},
		{"another role's session of the same instance id", a, signal.ReportNamespace(p.Account.RoleID("other"), a), false},
	} {
		err := put(tc.caller, tc.ns)
		if tc.ok != (err == nil) || (!tc.ok && (!awserr.IsAccessDenied(err) || awserr.Code(err) != awserr.CodeAccessDenied)) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// EC2 mutations need the aws:autoscaling:groupName tag that only Auto Scaling writes.
func TestGroupTagConditionAndReservedTags(t *testing.T) {
	p := enforcedPool(t)
	ctx := context.Background()
	if _, err := p.Account.LaunchInstance(InstanceSpec{SubnetID: p.SubnetID, Tags: map[string]string{config.TagASGName: p.ASGName}}); err == nil {
		t.Fatal("a launch with an aws: tag was accepted")
	}
	outsider, err := p.Account.LaunchInstance(InstanceSpec{SubnetID: p.SubnetID, Tags: map[string]string{config.TagCluster: "c"}})
	must(t, err)
	_, err = p.Account.Clients(SetupCaller).EC2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{outsider},
		Tags: []ec2types.Tag{{Key: aws.String(config.TagASGName), Value: aws.String(p.ASGName)}}})
	if err == nil {
		t.Fatal("CreateTags wrote an aws: tag")
	}
	if i, _ := p.Account.Instance(p.Instances[1]); i.Tags[config.TagASGName] != p.ASGName {
		t.Fatalf("group member tags %v", i.Tags)
	}
	tag := func(id string) error {
		_, err := p.ClientsOf("terminate").EC2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{id},
			Tags: []ec2types.Tag{{Key: aws.String(config.TagRole), Value: aws.String(config.RoleFenced)}}})
		return err
	}
	if err := tag(p.Instances[1]); err != nil {
		t.Fatalf("role tag on a member: %v", err)
	}
	if err := tag(outsider); !awserr.IsAccessDenied(err) || awserr.Code(err) != awserr.CodeUnauthorizedOperation {
		t.Fatalf("role tag on an outsider: %v, want UnauthorizedOperation", err)
	}
	_, err = p.ClientsOf("terminate").EC2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{p.Instances[1]},
		Tags: []ec2types.Tag{{Key: aws.String(config.TagCluster), Value: aws.String("other")}}})
	if !awserr.IsAccessDenied(err) {
		t.Fatalf("a tag other than the role tag: %v, want AccessDenied", err)
	}
	// The health check may describe, not mutate.
	if _, err := p.ClientsOf("healthcheck").EC2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{p.Instances[1]}}); !awserr.IsAccessDenied(err) {
		t.Fatalf("health check TerminateInstances: %v", err)
	}
	if _, err := p.ClientsOf("healthcheck").EC2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); err != nil {
		t.Fatalf("health check DescribeInstances: %v", err)
	}
}

// The host role may invoke the health check function (the doorbell), asynchronously,
// and no other function; the invocation reaches the OnInvoke hooks.
func TestDoorbellInvokeIsTheHealthCheckOnly(t *testing.T) {
	acct := New(Options{Clock: clock.NewVirtual(time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC))})
	pool, err := NewPool(acct, PoolSpec{Cluster: "prod", Coordinators: 1, Min: 1, Max: 2, ASGName: "prod-coordinators", HostRole: "prod-hosts",
		SubnetID: "subnet-0123456789abcdef0", CIDR: "10.0.0.0/24", StateMachine: "prod-failover", Topic: "prod-alerts"})
	if err != nil {
		t.Fatal(err)
	}
	pool.EnforcePolicies()
	other := acct.CreateFunction("someone-elses-function")
	var heard []Invocation
	acct.OnInvoke(func(i Invocation) { heard = append(heard, i) })
	host := pool.HostClients(pool.Active()).Lambda
	ctx := context.Background()
	if _, err := host.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(pool.HealthCheckFunction()), InvocationType: lambdatypes.InvocationTypeEvent, Payload: []byte(`{}`)}); err != nil {
		t.Fatalf("doorbell refused: %v", err)
	}
	if _, err := host.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(other), InvocationType: lambdatypes.InvocationTypeEvent, Payload: []byte(`{}`)}); !awserr.IsAccessDenied(err) {
		t.Fatalf("invoking another function: %v, want AccessDenied", err)
	}
	if _, err := host.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(pool.HealthCheckFunction()), Payload: []byte(`{}`)}); awserr.Code(err) != "InvalidParameterValueException" {
		t.Fatalf("a synchronous invoke: %v, want InvalidParameterValueException", err)
	}
	if len(heard) != 1 || heard[0].Function != pool.HealthCheckFunction() {
		t.Fatalf("heard %+v, want the one doorbell", heard)
	}
}
