package operator_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/prestoha/coordinator-ha/internal/awserr"
	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/config"
	"github.com/prestoha/coordinator-ha/internal/harness/drill"
	"github.com/prestoha/coordinator-ha/internal/harness/sim"
	"github.com/prestoha/coordinator-ha/internal/operator"
)

// operator.Policy lets an operator write and remove the pause tags on the coordinator
// ENI and nothing else of the kind: no other tag on the ENI, no tag on an instance, no
// DeleteTags without keys (which would delete every tag).
func TestPolicyAllowsOnlyThePauseTags(t *testing.T) {
	acct := sim.New(sim.Options{Clock: clock.NewVirtual(time.Date(2026, 1, 5, 3, 0, 0, 0, time.UTC)), Seed: 1})
	pool, err := sim.NewPool(acct, sim.PoolSpec{Cluster: "prod", StateMachine: "prod-failover", AttachActive: true})
	if err != nil {
		t.Fatal(err)
	}
	acct.SetPolicy("operators", operator.Policy(pool.PolicyResources()))
	ops := acct.ClientsAs(sim.Principal{Caller: "operator", RoleName: "operators", Session: "alice"}).OperatorEC2
	ctx := context.Background()
	tag := func(k string) []ec2types.Tag { return []ec2types.Tag{{Key: aws.String(k), Value: aws.String("x")}} }
	cases := []struct {
		name    string
		call    func() error
		allowed bool
	}{
		{"pause tags on the ENI", func() error {
			_, err := ops.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{pool.ENIID}, Tags: append(tag(config.TagPausedUntil), tag(config.TagPauseReason)...)})
			return err
		}, true},
		{"remove the pause tags", func() error {
			_, err := ops.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: []string{pool.ENIID}, Tags: []ec2types.Tag{{Key: aws.String(config.TagPausedUntil)}}})
			return err
		}, true},
		{"the cluster tag on the ENI", func() error {
			_, err := ops.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{pool.ENIID}, Tags: tag(config.TagCluster)})
			return err
		}, false},
		{"a pause tag and another", func() error {
			_, err := ops.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{pool.ENIID}, Tags: append(tag(config.TagPausedUntil), tag("Name")...)})
			return err
		}, false},
		{"a pause tag on an instance", func() error {
			_, err := ops.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{pool.Instances[0]}, Tags: tag(config.TagPausedUntil)})
			return err
		}, false},
		{"DeleteTags without keys (every tag)", func() error {
			_, err := ops.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: []string{pool.ENIID}})
			return err
		}, false},
	}
	for _, c := range cases {
		err := c.call()
		if c.allowed && err != nil || !c.allowed && !awserr.IsAccessDenied(err) {
			t.Errorf("%s: %v (want allowed: %v)", c.name, err, c.allowed)
		}
	}
}

func TestExitCodes(t *testing.T) {
	cases := []struct {
		err  error
		want int
	}{
		{nil, operator.ExitHealthy},
		{&operator.UsageError{Msg: "x"}, operator.ExitUsage},
		{fmt.Errorf("opening: %w", &operator.NoSuchStackError{Stack: "x"}), operator.ExitNoStack},
		{&operator.FailoverRunningError{Execution: "x"}, operator.ExitRunning},
		{&operator.NothingToDoError{Why: "x"}, operator.ExitNothingToDo},
		{fmt.Errorf("no AWS credentials: %w", errors.New("failed to retrieve credentials")), operator.ExitCredentials},
		{fmt.Errorf("describing: %w", awserr.New(awserr.CodeAccessDenied, "not authorized", smithy.FaultClient)), operator.ExitCredentials},
		{errors.New("switchover ended FAILED"), operator.ExitFailed},
	}
	for _, c := range cases {
		if got := operator.ExitCode(c.err); got != c.want {
			t.Errorf("ExitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

// `coordinator-ha policy` prints Policy for the stack as an IAM document.
func TestPolicyCommand(t *testing.T) {
	sim1(t, drill.SimOptions{Seed: 11}, func(ctx context.Context, c *drill.Cluster) error {
		code, out, errs := cli(ctx, c, "policy")
		var doc struct {
			Version   string
			Statement []struct {
				Sid      string
				Effect   string
				Action   []string
				Resource []string
			}
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil || code != 0 {
			t.Fatalf("policy: exit %d %v %s\n%s", code, err, errs, out)
		}
		actions := 0
		for _, s := range doc.Statement {
			actions += len(s.Action)
			for _, r := range s.Resource {
				if r != "*" && !strings.HasPrefix(r, "arn:aws:") {
					t.Errorf("%s: resource %q", s.Sid, r)
				}
			}
		}
		if doc.Version != "2012-10-17" || actions != len(operator.Actions) || !strings.Contains(out, "network-interface/"+c.ENIID) {
			t.Errorf("policy document:\n%s", out)
		}
		return nil
	})
}
