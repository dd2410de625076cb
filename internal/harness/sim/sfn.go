package sim

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"

	"github.com/prestoha/coordinator-ha/internal/awserr"
)

// Execution is a snapshot of a Step Functions execution.
type Execution struct {
	ARN, Name, StateMachineARN string
	Input, Output              string
	Status                     string // RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED
	StartDate, StopDate        time.Time
	Caller                     string // who started it
}

func sfnErr(code, format string, args ...any) error {
	return awserr.New(code, fmt.Sprintf(format, args...), smithy.FaultClient)
}

// CreateStateMachine registers a state machine and returns its ARN (the same ARN again
// for a name already registered).
func (a *Account) CreateStateMachine(name string) string {
	arn := fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s", a.region, a.accountID, name)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stateMachines[arn] = name
	return arn
}

// OnStartExecution registers f to run (outside the lock) for every new execution;
// an idempotent StartExecution that returns an existing execution does not call it.
// The simulation does not run state machines: f (or the test) plays the execution and
// ends it with FinishExecution.
func (a *Account) OnStartExecution(f func(Execution)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.onStartExec = append(a.onStartExec, f)
}

// FinishExecution ends a RUNNING execution with a terminal status (SUCCEEDED, FAILED,
// TIMED_OUT or ABORTED) and output.
func (a *Account) FinishExecution(arn, status, output string) error {
	switch status {
	case "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED":
	default:
		return fmt.Errorf("sim: %q is not a terminal execution status", status)
	}
	return a.setup(func(now time.Time) error {
		e, ok := a.w.execs[arn]
		if !ok {
			return fmt.Errorf("sim: no execution %s", arn)
		}
		if e.status != "RUNNING" {
			return fmt.Errorf("sim: execution %s is %s, not RUNNING", arn, e.status)
		}
		e.status, e.output, e.stop = status, output, now
		return nil
	})
}

// Executions returns every execution, oldest first.
func (a *Account) Executions() []Execution {
	var out []Execution
	a.read(func() {
		for _, arn := range a.w.execOrder {
			out = append(out, a.w.execs[arn].info())
		}
	})
	return out
}

// Execution returns one execution by ARN.
func (a *Account) Execution(arn string) (Execution, bool) {
	var out Execution
	var ok bool
	a.read(func() {
		var e *execution
		if e, ok = a.w.execs[arn]; ok {
			out = e.info()
		}
	})
	return out, ok
}

func (e *execution) info() Execution {
	return Execution{
		ARN: e.arn, Name: e.name, StateMachineARN: e.stateMachineARN, Input: e.input, Output: e.output,
		Status: e.status, StartDate: e.start, StopDate: e.stop, Caller: e.caller,
	}
}

// sfnClient implements awsapi.SFNAPI for one caller.
type sfnClient struct{ client }

func (c *sfnClient) StartExecution(ctx context.Context, in *sfn.StartExecutionInput, _ ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	return write(ctx, c.client, "StartExecution", in, c.startExecution)
}

func (c *sfnClient) ListExecutions(ctx context.Context, in *sfn.ListExecutionsInput, _ ...func(*sfn.Options)) (*sfn.ListExecutionsOutput, error) {
	return read(ctx, c.client, "ListExecutions", in, c.a.listExecutions)
}

func (c *sfnClient) DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, _ ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	return read(ctx, c.client, "DescribeExecution", in, c.a.describeExecution)
}

var execNameRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

func (a *Account) stateMachine(arn string) (string, error) {
	if !strings.HasPrefix(arn, "arn:aws:states:") || !strings.Contains(arn, ":stateMachine:") {
		return "", sfnErr("InvalidArn", "Invalid Arn: 'Resource type not valid in this context: %s'", arn)
	}
	name, ok := a.stateMachines[arn]
	if !ok {
		return "", sfnErr(awserr.CodeStateMachineDoesNotExist, "State Machine Does Not Exist: '%s'", arn)
	}
	return name, nil
}

// startExecution implements StartExecution: the state machine must exist
// (StateMachineDoesNotExist; a malformed ARN is InvalidArn); the name is 1-80 letters,
// digits, '-' and '_' (InvalidName; a missing name gets a generated UUID); the input is
// JSON of at most 256 KiB (InvalidExecutionInput; missing means "{}"). A name already
// used on the state machine returns the existing execution when it is RUNNING with the
// same input (AWS's idempotency), and ExecutionAlreadyExists otherwise.
func (c *sfnClient) startExecution(in *sfn.StartExecutionInput) (*sfn.StartExecutionOutput, error) {
	a, caller := c.a, c.caller
	smARN := aws.ToString(in.StateMachineArn)
	smName, err := a.stateMachine(smARN)
	if err != nil {
		return nil, err
	}
	name := aws.ToString(in.Name)
	if in.Name == nil {
		name = a.ids.uuid()
	}
	if !execNameRe.MatchString(name) {
		return nil, sfnErr(awserr.CodeInvalidName, "Invalid Name: '%s' (1-80 characters: letters, digits, '-' and '_')", name)
	}
	input := "{}"
	if in.Input != nil {
		input = *in.Input
	}
	if len(input) > 256*1024 {
		return nil, sfnErr("InvalidExecutionInput", "Input size exceeds the maximum of 262144 bytes")
	}
	if !json.Valid([]byte(input)) {
		return nil, sfnErr("InvalidExecutionInput", "Invalid State Machine Execution Input: the input is not valid JSON")
	}
	arn := fmt.Sprintf("arn:aws:states:%s:%s:execution:%s:%s", a.region, a.accountID, smName, name)
	if e, ok := a.w.execs[arn]; ok {
		if e.status == "RUNNING" && e.input == input {
			return &sfn.StartExecutionOutput{ExecutionArn: aws.String(e.arn), StartDate: aws.Time(e.start)}, nil
		}
		return nil, sfnErr(awserr.CodeExecutionAlreadyExists, "Execution Already Exists: '%s'", arn)
	}
	now := a.clk.Now()
	e := &execution{arn: arn, name: name, stateMachineARN: smARN, input: input, status: "RUNNING", start: now, caller: caller}
	a.w.execs[arn] = e
	a.w.execOrder = append(a.w.execOrder, arn)
	info := e.info()
	for _, f := range a.onStartExec {
		a.hookQueue = append(a.hookQueue, func() { f(info) })
	}
	return &sfn.StartExecutionOutput{ExecutionArn: aws.String(arn), StartDate: aws.Time(now)}, nil
}

// listExecutions implements ListExecutions: newest first, StatusFilter, MaxResults
// (0 means 100, at most 1000) and an opaque NextToken (InvalidToken when it is not
// one this account issued for the same listing).
func (a *Account) listExecutions(w *world, in *sfn.ListExecutionsInput) (*sfn.ListExecutionsOutput, error) {
	smARN := aws.ToString(in.StateMachineArn)
	if _, err := a.stateMachine(smARN); err != nil {
		return nil, err
	}
	if in.MaxResults < 0 || in.MaxResults > 1000 {
		return nil, sfnErr("ValidationException", "maxResults must be between 0 and 1000")
	}
	limit := int(in.MaxResults)
	if limit == 0 {
		limit = 100
	}
	var all []*execution
	for _, arn := range w.execOrder {
		e := w.execs[arn]
		if e.stateMachineARN == smARN && (in.StatusFilter == "" || string(in.StatusFilter) == e.status) {
			all = append(all, e)
		}
	}
	slices.Reverse(all) // newest first (insertion order is start order)
	offset := 0
	if in.NextToken != nil {
		raw, err := base64.StdEncoding.DecodeString(*in.NextToken)
		prefix := smARN + "|" + string(in.StatusFilter) + "|"
		if err != nil || !strings.HasPrefix(string(raw), prefix) {
			return nil, sfnErr("InvalidToken", "Invalid Token: '%s'", *in.NextToken)
		}
		if offset, err = strconv.Atoi(strings.TrimPrefix(string(raw), prefix)); err != nil || offset < 0 {
			return nil, sfnErr("InvalidToken", "Invalid Token: '%s'", *in.NextToken)
		}
	}
	out := &sfn.ListExecutionsOutput{}
	for k := offset; k < len(all) && k < offset+limit; k++ {
		e := all[k]
		item := sfntypes.ExecutionListItem{
			ExecutionArn: aws.String(e.arn), Name: aws.String(e.name), StateMachineArn: aws.String(e.stateMachineARN),
			Status: sfntypes.ExecutionStatus(e.status), StartDate: aws.Time(e.start),
		}
		if !e.stop.IsZero() {
			item.StopDate = aws.Time(e.stop)
		}
		out.Executions = append(out.Executions, item)
	}
	if offset+limit < len(all) {
		tok := fmt.Sprintf("%s|%s|%d", smARN, in.StatusFilter, offset+limit)
		out.NextToken = aws.String(base64.StdEncoding.EncodeToString([]byte(tok)))
	}
	return out, nil
}

// describeExecution implements DescribeExecution (ExecutionDoesNotExist for an
// unknown ARN, InvalidArn for one that is not an execution ARN).
func (a *Account) describeExecution(w *world, in *sfn.DescribeExecutionInput) (*sfn.DescribeExecutionOutput, error) {
	arn := aws.ToString(in.ExecutionArn)
	if !strings.HasPrefix(arn, "arn:aws:states:") || !strings.Contains(arn, ":execution:") {
		return nil, sfnErr("InvalidArn", "Invalid Arn: 'Resource type not valid in this context: %s'", arn)
	}
	e, ok := w.execs[arn]
	if !ok {
		return nil, sfnErr(awserr.CodeExecutionDoesNotExist, "Execution Does Not Exist: '%s'", arn)
	}
	out := &sfn.DescribeExecutionOutput{
		ExecutionArn: aws.String(e.arn), Name: aws.String(e.name), StateMachineArn: aws.String(e.stateMachineARN),
		Status: sfntypes.ExecutionStatus(e.status), StartDate: aws.Time(e.start), Input: aws.String(e.input),
	}
	if e.status != "RUNNING" {
		out.StopDate = aws.Time(e.stop)
		if e.status == "SUCCEEDED" {
			out.Output = aws.String(e.output)
		} else if e.output != "" {
			out.Cause = aws.String(e.output)
			out.Error = aws.String(map[string]string{"FAILED": "States.TaskFailed", "TIMED_OUT": "States.Timeout", "ABORTED": "States.Aborted"}[e.status])
		}
	}
	return out, nil
}
