package sim

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/prestoha/coordinator-ha/internal/awserr"
)

// Step Functions: execution names are 1-80 letters, digits, '-' and '_'.
func TestExecutionNameRules(t *testing.T) {
	f := newFixture(t)
	sm := f.acct.CreateStateMachine("failover")
	cases := []struct {
		name string
		ok   bool
	}{
		{"c1-i-0123456789abcdef0", true},
		{"under_score", true},
		{strings.Repeat("a", 80), true},
		{strings.Repeat("a", 81), false},
		{"", false},
		{"has space", false},
		{"colon:no", false},
		{"slash/no", false},
		{"ünïcode", false},
	}
	for _, tc := range cases {
		_, err := f.c.SFN.StartExecution(f.ctx, &sfn.StartExecutionInput{StateMachineArn: &sm, Name: aws.String(tc.name)})
		if tc.ok {
			must(t, err)
		} else {
			wantCode(t, err, awserr.CodeInvalidName)
		}
	}
	_, err := f.c.SFN.StartExecution(f.ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(strings.Replace(sm, "failover", "nope", 1))})
	wantCode(t, err, awserr.CodeStateMachineDoesNotExist)
	_, err = f.c.SFN.StartExecution(f.ctx, &sfn.StartExecutionInput{StateMachineArn: &sm, Name: aws.String("badinput"), Input: aws.String("{")})
	wantCode(t, err, "InvalidExecutionInput")
}

// Step Functions: StartExecution with the name of a RUNNING execution and the same
// input returns that execution; a different input, or a finished execution, gives
// ExecutionAlreadyExists. The hook fires once per new execution.
func TestStartExecutionIdempotency(t *testing.T) {
	f := newFixture(t)
	sm := f.acct.CreateStateMachine("failover")
	var started []Execution
	f.acct.OnStartExecution(func(e Execution) { started = append(started, e) })
	start := func(input string) (*sfn.StartExecutionOutput, error) {
		return f.acct.Clients("healthcheck").SFN.StartExecution(f.ctx, &sfn.StartExecutionInput{StateMachineArn: &sm, Name: aws.String("c1-i-1"), Input: aws.String(input)})
	}
	first, err := start(`{"a":1}`)
	must(t, err)
	f.clk.Advance(1e9)
	again, err := start(`{"a":1}`)
	must(t, err)
	if *again.ExecutionArn != *first.ExecutionArn || !again.StartDate.Equal(*first.StartDate) {
		t.Fatalf("idempotent start returned %v %v, want %v %v", *again.ExecutionArn, again.StartDate, *first.ExecutionArn, first.StartDate)
	}
	_, err = start(`{"a":2}`)
	wantCode(t, err, awserr.CodeExecutionAlreadyExists)
	if len(started) != 1 || started[0].Caller != "healthcheck" || started[0].Input != `{"a":1}` {
		t.Fatalf("hook calls %+v", started)
	}
	must(t, f.acct.FinishExecution(*first.ExecutionArn, "SUCCEEDED", `{"ok":true}`))
	_, err = start(`{"a":1}`)
	wantCode(t, err, awserr.CodeExecutionAlreadyExists)
	d, err := f.c.SFN.DescribeExecution(f.ctx, &sfn.DescribeExecutionInput{ExecutionArn: first.ExecutionArn})
	must(t, err)
	if d.Status != "SUCCEEDED" || *d.Output != `{"ok":true}` || *d.Input != `{"a":1}` || d.StopDate == nil {
		t.Fatalf("describe %+v", d)
	}
	_, err = f.c.SFN.DescribeExecution(f.ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(strings.Replace(*first.ExecutionArn, "c1-i-1", "zz", 1))})
	wantCode(t, err, awserr.CodeExecutionDoesNotExist)
	if err := f.acct.FinishExecution(*first.ExecutionArn, "FAILED", ""); err == nil {
		t.Fatal("finishing a finished execution succeeded")
	}
}

func TestListExecutions(t *testing.T) {
	f := newFixture(t)
	sm := f.acct.CreateStateMachine("failover")
	var arns []string
	for _, n := range []string{"e1", "e2", "e3", "e4", "e5"} {
		out, err := f.c.SFN.StartExecution(f.ctx, &sfn.StartExecutionInput{StateMachineArn: &sm, Name: aws.String(n)})
		must(t, err)
		arns = append(arns, *out.ExecutionArn)
		f.clk.Advance(1e9)
	}
	must(t, f.acct.FinishExecution(arns[1], "FAILED", "boom"))
	must(t, f.acct.FinishExecution(arns[3], "SUCCEEDED", "{}"))
	var names []string
	var token *string
	for {
		out, err := f.c.SFN.ListExecutions(f.ctx, &sfn.ListExecutionsInput{StateMachineArn: &sm, MaxResults: 2, NextToken: token})
		must(t, err)
		for _, e := range out.Executions {
			names = append(names, *e.Name)
		}
		if token = out.NextToken; token == nil {
			break
		}
	}
	if strings.Join(names, ",") != "e5,e4,e3,e2,e1" {
		t.Fatalf("pages gave %v, want newest first", names)
	}
	out, err := f.c.SFN.ListExecutions(f.ctx, &sfn.ListExecutionsInput{StateMachineArn: &sm, StatusFilter: "RUNNING"})
	must(t, err)
	if len(out.Executions) != 3 || *out.Executions[0].Name != "e5" {
		t.Fatalf("RUNNING filter: %+v", out.Executions)
	}
	_, err = f.c.SFN.ListExecutions(f.ctx, &sfn.ListExecutionsInput{StateMachineArn: &sm, NextToken: aws.String("garbage")})
	wantCode(t, err, "InvalidToken")
	_, err = f.c.SFN.ListExecutions(f.ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(sm + "x")})
	wantCode(t, err, awserr.CodeStateMachineDoesNotExist)
}

// SNS: Publish needs an existing topic (NotFound), a message, and a subject of at
// most 100 characters.
func TestPublish(t *testing.T) {
	f := newFixture(t)
	topic := f.acct.CreateTopic("alerts")
	cases := []struct {
		name          string
		topic         string
		subject, body *string
		code          string
	}{
		{"ok", topic, aws.String("Failover c1"), aws.String("moved"), ""},
		{"ok without subject", topic, nil, aws.String("moved"), ""},
		{"unknown topic", topic + "x", nil, aws.String("m"), awserr.CodeNotFound},
		{"empty message", topic, nil, aws.String(""), "InvalidParameter"},
		{"subject too long", topic, aws.String(strings.Repeat("s", 101)), aws.String("m"), "InvalidParameter"},
		{"subject with newline", topic, aws.String("a\nb"), aws.String("m"), "InvalidParameter"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := f.acct.Clients("notify").SNS.Publish(f.ctx, &sns.PublishInput{TopicArn: aws.String(tc.topic), Subject: tc.subject, Message: tc.body})
			if tc.code != "" {
				wantCode(t, err, tc.code)
				return
			}
			must(t, err)
			if out.MessageId == nil {
				t.Fatal("no message id")
			}
		})
	}
	msgs := f.acct.Messages()
	if len(msgs) != 2 || msgs[0].Subject != "Failover c1" || msgs[0].Message != "moved" || msgs[0].Caller != "notify" || msgs[0].TopicARN != topic {
		t.Fatalf("messages %+v", msgs)
	}
}
