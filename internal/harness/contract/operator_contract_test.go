//go:build contract

package contract

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/config"
	"github.com/prestoha/coordinator-ha/internal/operator"
)

// The operator command's calls with the real SDK clients against moto: DescribeStacks
// (a missing stack's ValidationError, the outputs of one that exists), the pause tags
// written and removed with CreateTags and DeleteTags, and the reads of status and
// history (Auto Scaling, EC2, GetMetricData, Step Functions, STS).
func TestOperatorContract(t *testing.T) {
	m := requireMoto(t)
	m.reset(t)
	defer m.dumpLogs(t)
	c := m.clients()
	f := newFixture(t, c)
	ctx := testContext(t)
	cfn := c.CloudFormation
	oc := operator.Clients{CloudFormation: cfn, EC2: c.EC2, AutoScaling: c.AutoScaling, CloudWatch: c.CloudWatch, SFN: c.SFN, STS: c.STS}

	// A stack that does not exist: CloudFormation's own ValidationError, exit 5.
	_, err := operator.Open(ctx, oc, clock.Real{}, "no-such-stack", operator.Options{})
	var nostack *operator.NoSuchStackError
	if !errors.As(err, &nostack) || operator.ExitCode(err) != operator.ExitNoStack {
		t.Fatalf("Open of a missing stack: %v, want NoSuchStackError", err)
	}

	sm, err := c.SFN.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("contract-operator"),
		Definition: aws.String(`{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`),
		RoleArn:    aws.String("arn:aws:iam::123456789012:role/contract-sfn")})
	if err != nil {
		t.Fatalf("setup: CreateStateMachine: %v", err)
	}
	outputs := map[string]any{}
	for k, v := range map[string]string{
		operator.OutCluster: cluster, operator.OutENI: f.eniID, operator.OutENIIP: "10.40.1.10", operator.OutURL: "http://10.40.1.10:8080",
		operator.OutASG: f.asgName, operator.OutStateMachine: aws.ToString(sm.StateMachineArn), operator.OutHostRoleID: contractRoleID,
		operator.OutHealthCheckLogs: "/aws/lambda/contract-healthcheck",
	} {
		outputs[k] = map[string]string{"Value": v}
	}
	tpl, _ := json.Marshal(map[string]any{"Resources": map[string]any{"Topic": map[string]any{"Type": "AWS::SNS::Topic"}}, "Outputs": outputs})
	if _, err := cfn.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("contract-coordinator-ha"), TemplateBody: aws.String(string(tpl))}); err != nil {
		t.Fatalf("setup: CreateStack: %v", err)
	}
	o, err := operator.Open(ctx, oc, clock.Real{}, "contract-coordinator-ha", operator.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if o.Stack.ENIID != f.eniID || o.Stack.ASGName != f.asgName || o.Stack.Cluster != cluster || !strings.HasPrefix(o.Stack.ID, "arn:aws:cloudformation:") {
		t.Fatalf("stack %+v", o.Stack)
	}

	// pause: the four tags on the ENI, read back through EC2.
	p, err := o.Pause(ctx, time.Hour, "contract check")
	if err != nil {
		t.Fatalf("Pause: %v", err)
	}
	tags := eniTags(t, c.EC2, f.eniID)
	if tags[config.TagPausedUntil] != p.Pause.Until.Format(time.RFC3339) || tags[config.TagPauseReason] != "contract check" ||
		tags[config.TagPausedBy] == "" || tags[config.TagPausedAt] == "" || tags[config.TagCluster] != cluster {
		t.Fatalf("ENI tags after pause: %v", tags)
	}
	// status reads everything; the ENI is attached to nobody: down.
	s, err := o.Status(ctx)
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	if s.Health != operator.Down || s.Pause == nil || len(s.Coordinators) != 3 || s.HealthyStandbys != 0 {
		t.Errorf("status %+v", s)
	}
	h, err := o.History(ctx, time.Time{}, 0)
	if err != nil || len(h) != 0 {
		t.Errorf("History: %v %v", h, err)
	}
	// resume: the pause tags are gone, the others stay.
	if _, err := o.Resume(ctx); err != nil {
		t.Fatalf("Resume: %v", err)
	}
	tags = eniTags(t, c.EC2, f.eniID)
	for _, k := range config.PauseTags {
		if _, ok := tags[k]; ok {
			t.Errorf("tag %s still on the ENI after resume: %v", k, tags)
		}
	}
	if tags[config.TagCluster] != cluster {
		t.Errorf("resume removed other tags: %v", tags)
	}
	// switchover with nobody holding the ENI: refused before anything starts.
	if _, err := o.Switchover(ctx, "", "contract"); err == nil || !strings.Contains(err.Error(), "no instance holds") {
		t.Errorf("Switchover without a holder: %v", err)
	}
}

func eniTags(t *testing.T, api *ec2.Client, id string) map[string]string {
	t.Helper()
	out, err := api.DescribeNetworkInterfaces(testContext(t), &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{id}})
	if err != nil || len(out.NetworkInterfaces) != 1 {
		t.Fatalf("DescribeNetworkInterfaces: %v", err)
	}
	tags := map[string]string{}
	for _, tg := range out.NetworkInterfaces[0].TagSet {
		tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return tags
}
