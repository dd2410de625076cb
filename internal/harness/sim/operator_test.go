package sim

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/prestoha/coordinator-ha/internal/awserr"
	"github.com/prestoha/coordinator-ha/internal/permissions"
)

// DescribeStacks: by name and by id, every stack without a name, and AWS's
// ValidationError for a stack that does not exist.
func TestDescribeStacks(t *testing.T) {
	f := newFixture(t)
	id, err := f.acct.CreateStack("prod-coordinator-ha", map[string]string{"B": "2", "A": "1"})
	must(t, err)
	if !strings.HasPrefix(id, "arn:aws:cloudformation:us-east-1:123456789012:stack/prod-coordinator-ha/") {
		t.Fatalf("stack id %s", id)
	}
	for _, name := range []string{"prod-coordinator-ha", id} {
		out, err := f.c.CloudFormation.DescribeStacks(f.ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
		must(t, err)
		if len(out.Stacks) != 1 || aws.ToString(out.Stacks[0].StackId) != id || out.Stacks[0].StackStatus != "CREATE_COMPLETE" ||
			len(out.Stacks[0].Outputs) != 2 || aws.ToString(out.Stacks[0].Outputs[0].OutputKey) != "A" {
			t.Fatalf("DescribeStacks(%s) = %+v", name, out.Stacks)
		}
	}
	all, err := f.c.CloudFormation.DescribeStacks(f.ctx, nil)
	must(t, err)
	if len(all.Stacks) != 1 {
		t.Fatalf("every stack: %d", len(all.Stacks))
	}
	_, err = f.c.CloudFormation.DescribeStacks(f.ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("nope")})
	wantCode(t, err, awserr.CodeValidationError)
	if !strings.Contains(err.Error(), "Stack with id nope does not exist") {
		t.Fatalf("error %v, want AWS's text", err)
	}
}

// DeleteTags: by key, by key and matching value only, a missing key is no error.
func TestDeleteTags(t *testing.T) {
	f := newFixture(t)
	eni, err := f.acct.CreateNetworkInterface("subnet-a", "", "coordinator", map[string]string{"a": "1", "b": "2", "c": "3"})
	must(t, err)
	_, err = f.c.OperatorEC2.DeleteTags(f.ctx, &ec2.DeleteTagsInput{Resources: []string{eni}, Tags: []ec2types.Tag{
		{Key: aws.String("a")}, {Key: aws.String("b"), Value: aws.String("not 2")}, {Key: aws.String("zzz")}}})
	must(t, err)
	e, _ := f.acct.ENI(eni)
	if _, ok := e.Tags["a"]; ok || e.Tags["b"] != "2" || e.Tags["c"] != "3" {
		t.Fatalf("tags after DeleteTags: %v", e.Tags)
	}
	_, err = f.c.OperatorEC2.DeleteTags(f.ctx, &ec2.DeleteTagsInput{Resources: []string{"eni-0123456789abcdef0"}, Tags: []ec2types.Tag{{Key: aws.String("c")}}})
	wantCode(t, err, awserr.CodeInvalidNetworkInterfaceIDNotFound)
}

// Launch template versions: members keep the version they were launched with; the
// group launches its current one.
func TestLaunchTemplateVersion(t *testing.T) {
	f := newFixture(t)
	must(t, f.acct.CreateAutoScalingGroup(ASGSpec{Name: "g", SubnetID: "subnet-a", Min: 1, Max: 3, Desired: 1}))
	must(t, f.acct.SetLaunchTemplateVersion("g", "2"))
	_, err := f.c.AutoScaling.SetDesiredCapacity(f.ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String("g"), DesiredCapacity: aws.Int32(2)})
	must(t, err)
	out, err := f.c.AutoScaling.DescribeAutoScalingGroups(f.ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"g"}})
	must(t, err)
	g := out.AutoScalingGroups[0]
	if aws.ToString(g.LaunchTemplate.Version) != "2" || len(g.Instances) != 2 {
		t.Fatalf("group launch template %+v, %d instances", g.LaunchTemplate, len(g.Instances))
	}
	got := []string{aws.ToString(g.Instances[0].LaunchTemplate.Version), aws.ToString(g.Instances[1].LaunchTemplate.Version)}
	if got[0] != "1" || got[1] != "2" || aws.ToString(g.Instances[0].LaunchTemplate.LaunchTemplateId) != aws.ToString(g.LaunchTemplate.LaunchTemplateId) {
		t.Fatalf("instance versions %v, want [1 2]", got)
	}
}

// No product caller (the hosts, the Lambdas) may write or remove the pause tags on the
// coordinator ENI: under the policies the stack synthesizes, every attempt is refused.
func TestPauseTagsAreNotWritableByTheProduct(t *testing.T) {
	clk := newFixture(t).clk
	acct := New(Options{Clock: clk, Seed: 3})
	pool, err := NewPool(acct, PoolSpec{Cluster: "prod", StateMachine: "prod-failover", Topic: "prod-topic", AttachActive: true})
	must(t, err)
	pool.EnforcePolicies()
	ctx := context.Background()
	for _, caller := range permissions.Callers {
		c := pool.ClientsOf(caller)
		if caller == permissions.Agent {
			c = pool.HostClients(pool.Instances[0])
		}
		ops := c.OperatorEC2
		tags := []ec2types.Tag{{Key: aws.String("coordinator-ha:paused-until"), Value: aws.String("2099-01-01T00:00:00Z")}}
		if _, err := ops.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{pool.ENIID}, Tags: tags}); !awserr.IsAccessDenied(err) {
			t.Errorf("%s: CreateTags of a pause tag on the ENI: %v, want access denied", caller, err)
		}
		if _, err := ops.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: []string{pool.ENIID}, Tags: tags}); !awserr.IsAccessDenied(err) {
			t.Errorf("%s: DeleteTags of a pause tag on the ENI: %v, want access denied", caller, err)
		}
	}
}
