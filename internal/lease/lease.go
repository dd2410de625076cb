package lease

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/awsapi"
	"github.com/prestoha/coordinator-ha/internal/awserr"
)

// MaxWalk bounds the DescribeExecution calls of one walk from the hint.
const MaxWalk = 50

// Lease is one cluster's failover lease on its state machine.
type Lease struct {
	SFN             awsapi.SFNAPI
	StateMachineARN string
	Cluster         string
}

// Exec is one execution as Step Functions showed it. Gen is 0 for an execution that is
// not a lease generation.
type Exec struct {
	Gen           int
	Name, ARN     string
	Status        sfntypes.ExecutionStatus
	Start, Stop   time.Time
	Input, Output string // the documents as Step Functions holds them ("" when absent)
}

// Running reports whether the execution is RUNNING.
func (e *Exec) Running() bool { return e.Status == sfntypes.ExecutionStatusRunning }

// FailedInstanceID is the failedInstanceId of the execution's input, read leniently (an
// execution started by hand may carry less).
func (e *Exec) FailedInstanceID() string {
	var in struct {
		FailedInstanceID string `json:"failedInstanceId"`
	}
	_ = json.Unmarshal([]byte(e.Input), &in)
	return in.FailedInstanceID
}

// View is what a walk found: the first generation nobody has taken, or the execution
// holding the lease.
type View struct {
	Next    int   // the generation to take (when Running is nil)
	Running *Exec // the execution holding the lease now, if any
}

// ExecutionARN is the ARN of the execution named name.
func (l Lease) ExecutionARN(name string) string {
	return strings.Replace(l.StateMachineARN, ":stateMachine:", ":execution:", 1) + ":" + name
}

// Hint reads one ListExecutions page: the newest lease generation listed (at least 1;
// a hint only, it may lag) and the first listed RUNNING execution that is not a lease
// generation, if any.
func (l Lease) Hint(ctx context.Context) (int, *Exec, error) {
	out, err := l.SFN.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(l.StateMachineARN), MaxResults: 20})
	if err != nil {
		return 0, nil, fmt.Errorf("listing failovers of %s: %w", l.StateMachineARN, err)
	}
	hint := 1
	var foreign *Exec
	for _, e := range out.Executions {
		name := aws.ToString(e.Name)
		if g, ok := events.ParseLeaseName(l.Cluster, name); ok {
			hint = max(hint, g)
		} else if e.Status == sfntypes.ExecutionStatusRunning && foreign == nil {
			foreign = &Exec{Name: name, ARN: aws.ToString(e.ExecutionArn), Status: e.Status, Start: aws.ToTime(e.StartDate)}
		}
	}
	return hint, foreign, nil
}

// Describe reads generation gen; nil when DescribeExecution does not know it.
func (l Lease) Describe(ctx context.Context, gen int) (*Exec, error) {
	name := events.LeaseName(l.Cluster, gen)
	out, err := l.SFN.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(l.ExecutionARN(name))})
	if awserr.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("describing failover %s: %w", name, err)
	}
	return &Exec{Gen: gen, Name: name, ARN: aws.ToString(out.ExecutionArn), Status: out.Status,
		Start: aws.ToTime(out.StartDate), Stop: aws.ToTime(out.StopDate), Input: aws.ToString(out.Input), Output: aws.ToString(out.Output)}, nil
}

// Walk describes generations from from on (with describe: Describe, or a caller's cache
// in front of it) until one nobody has taken, or one that is running.
func (l Lease) Walk(from int, describe func(gen int) (*Exec, error)) (View, error) {
	for gen := from; gen < from+MaxWalk; gen++ {
		e, err := describe(gen)
		if err != nil {
			return View{}, err
		}
		if e == nil {
			return View{Next: gen}, nil
		}
		if e.Running() {
			return View{Running: e}, nil
		}
	}
	return View{}, fmt.Errorf("walking the failover lease of %s: more than %d generations past the hint", l.Cluster, MaxWalk)
}

// Start takes generation gen with the document in state, holder naming the starter
// (events.Lease.Holder): the conditional create. It reports false (and no error) when
// someone else took the generation first.
func (l Lease) Start(ctx context.Context, gen int, state events.FailoverState, holder string) (*Exec, bool, error) {
	state.Lease = &events.Lease{Generation: gen, Holder: holder}
	input, err := json.Marshal(state)
	if err != nil {
		return nil, false, fmt.Errorf("encoding failover input: %w", err)
	}
	name := events.LeaseName(l.Cluster, gen)
	out, err := l.SFN.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(l.StateMachineARN),
		Name: aws.String(name), Input: aws.String(string(input))})
	if awserr.IsAlreadyExists(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("starting failover %s: %w", name, err)
	}
	return &Exec{Gen: gen, Name: name, ARN: aws.ToString(out.ExecutionArn), Status: sfntypes.ExecutionStatusRunning,
		Start: aws.ToTime(out.StartDate), Input: string(input)}, true, nil
}
