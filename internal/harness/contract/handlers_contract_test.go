//go:build contract

package contract

import (
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/failover"
	"github.com/prestoha/coordinator-ha/internal/healthcheck"
	"github.com/prestoha/coordinator-ha/internal/signal"
)

// TestRealHandlersAgainstMoto runs the real health check and failover steps, with the
// real SDK clients, against moto: every request they build must be accepted and every
// answer must parse. It checks the wire, not the failover logic (moto does not enforce
// AWS's ENI and instance-state rules; internal/sim does, and the handlers' own tests and
// the chaos campaign run against it).
func TestRealHandlersAgainstMoto(t *testing.T) {
	m := requireMoto(t)
	m.reset(t)
	defer m.dumpLogs(t)
	c := m.clients()
	f := newFixture(t, c)
	ctx := testContext(t)
	groups, err := c.AutoScaling.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{f.asgName}})
	if err != nil || len(groups.AutoScalingGroups) != 1 {
		t.Fatalf("setup: %v", err)
	}
	for _, in := range groups.AutoScalingGroups[0].Instances {
		f.instances = append(f.instances, aws.ToString(in.InstanceId))
	}
	sm, err := c.SFN.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("contract-handlers"),
		Definition: aws.String(`{"StartAt":"Wait","States":{"Wait":{"Type":"Wait","Seconds":600,"End":true}}}`),
		RoleArn:    aws.String("arn:aws:iam::123456789012:role/contract"), Type: sfntypes.StateMachineTypeStandard})
	if err != nil {
		t.Fatalf("setup: CreateStateMachine: %v", err)
	}
	topic, err := c.SNS.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("contract-handlers")})
	if err != nil {
		t.Fatalf("setup: CreateTopic: %v", err)
	}
	// Every coordinator's agent has reported healthy every 5 s for the last minute.
	now := time.Now().UTC()
	for _, id := range f.instances {
		var data []cwtypes.MetricDatum
		for i := 12; i >= 1; i-- {
			data = append(data, signal.HealthDatum(cluster, id, signal.Healthy, now.Add(-time.Duration(i)*5*time.Second)))
		}
		if _, err := c.CloudWatch.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String(signal.ReportNamespace(contractRoleID, id)), MetricData: data}); err != nil {
			t.Fatalf("setup: PutMetricData: %v", err)
		}
	}

	log := slog.New(slog.DiscardHandler)
	hc, err := healthcheck.New(healthcheck.Config{Cluster: cluster, ENIID: f.eniID, ASGName: f.asgName, HostRoleID: contractRoleID, StateMachineARN: aws.ToString(sm.StateMachineArn),
		TopicARN: aws.ToString(topic.TopicArn), Grace: healthcheck.DefaultGrace, CheckInterval: healthcheck.DefaultCheckInterval,
		StartupBudget: healthcheck.DefaultStartupBudget, IngestionDelay: 0, BreakerMax: 3, BreakerWindow: time.Hour, HACount: 3, MinHealthyReports: 3},
		healthcheck.Deps{AutoScaling: c.AutoScaling, EC2: c.EC2, CloudWatch: c.CloudWatch, SFN: c.SFN, SNS: c.SNS, Clock: clock.Real{}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}

	// No instance holds the ENI: the health check starts the attach path in moto.
	ev, err := hc.Evaluate(ctx)
	if err != nil {
		t.Fatalf("health check Evaluate against moto: %v", err)
	}
	if ev.Verdict != events.VerdictUnattached || ev.Action != healthcheck.ActionStarted || len(ev.Coordinators) != 3 {
		t.Fatalf("evaluation: verdict %s action %s (%s), %d coordinators; want UNATTACHED, started, 3", ev.Verdict, ev.Action, ev.ActionDetail, len(ev.Coordinators))
	}
	desc, err := c.SFN.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(ev.ExecutionARN)})
	if err != nil {
		t.Fatalf("DescribeExecution of the started failover: %v", err)
	}
	in, err := events.DecodeFailoverState([]byte(aws.ToString(desc.Input)))
	if err != nil {
		t.Fatalf("the health check's execution input does not decode: %v", err)
	}
	// A second evaluation sees it running (ListExecutions) and holds back.
	if ev2, err := hc.Evaluate(ctx); err != nil || ev2.Action != healthcheck.ActionBlockedRunning {
		t.Fatalf("second evaluation: action %s err %v; want blocked-running", ev2.Action, err)
	}

	// The steps, on the document the health check wrote, with short polls.
	steps, err := failover.New(failover.Config{Cluster: cluster, ENIID: f.eniID, ASGName: f.asgName, HostRoleID: contractRoleID, HACount: 3, MinHealthyReports: 3,
		MaxAttachAttempts: 3, TopicARN: aws.ToString(topic.TopicArn), Timing: failover.Timing{PollInterval: 100 * time.Millisecond,
			LaunchWait: 2 * time.Second, DeadlineMargin: time.Second, DefaultBudget: 20 * time.Second}},
		failover.Deps{EC2: c.EC2, AutoScaling: c.AutoScaling, CloudWatch: c.CloudWatch, SNS: c.SNS, Clock: clock.Real{}, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	st, err := steps.Terminate(ctx, *in)
	if err != nil || st.Terminate == nil || st.Terminate.Outcome != events.TerminateNoHolder {
		t.Fatalf("Terminate against moto: %v %+v", err, st.Terminate)
	}
	st, err = steps.AttachENI(ctx, st)
	if err != nil || st.Attach == nil || st.Attach.Outcome != events.AttachAttached {
		t.Fatalf("AttachENI against moto: %v %+v", err, st.Attach)
	}
	holder := st.Attach.InstanceID
	st, err = steps.LaunchStandby(ctx, st)
	if err != nil || st.Launch == nil {
		t.Fatalf("LaunchStandby against moto: %v %+v", err, st.Launch)
	}
	st, err = steps.Notify(ctx, st)
	if err != nil || st.Notify == nil || st.Notify.MessageID == "" {
		t.Fatalf("Notify against moto: %v %+v", err, st.Notify)
	}

	// Now the holder fails over: a FAILED document for it goes through Terminate.
	failed := events.FailoverState{Cluster: cluster, ENIID: f.eniID, FailedInstanceID: holder, Verdict: events.VerdictFailed,
		Reason: "contract", DetectedAt: time.Now().UTC()}
	failed.AddEvent(events.StepDetect, "detected", failed.DetectedAt, "contract")
	st, err = steps.Terminate(ctx, failed)
	if err != nil || st.Terminate == nil || st.Terminate.Outcome != events.TerminateFenced {
		out, _ := json.Marshal(st)
		t.Fatalf("Terminate (fence) against moto: %v\n%s", err, out)
	}
	t.Logf("fenced %s: instance %s, ENI %s, forced detach %v", holder, st.Terminate.InstanceState, st.Terminate.ENIStatus, st.Terminate.ForcedDetach)
}
