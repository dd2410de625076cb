package operator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/awserr"
)

// The failover lease, taken exactly as the health check takes it
// (internal/healthcheck/lease.go): executions are named events.LeaseName(cluster, gen),
// and generation gen is taken with StartExecution, a conditional create (Step Functions
// refuses a name already used on the state machine), only after generation gen-1 was
// seen ended. ListExecutions only hints where to start the walk; DescribeExecution of
// each generation decides. So a switchover and an automatic failover are serialized by
// Step Functions itself: of two starters of the same generation exactly one gets it, and
// the other sees ExecutionAlreadyExists.

const maxLeaseWalk = 50

// execution is one generation of the lease as DescribeExecution shows it.
type execution struct {
	Gen     int
	Name    string
	ARN     string
	Status  string
	Start   time.Time
	Stop    time.Time
	Input   events.FailoverState
	Output  *events.FailoverState
	Running bool
}

func (o *Operator) executionARN(name string) string {
	return strings.Replace(o.Stack.StateMachineARN, ":stateMachine:", ":execution:", 1) + ":" + name
}

// describeGen reads one generation; nil when it does not exist.
func (o *Operator) describeGen(ctx context.Context, gen int) (*execution, error) {
	name := events.LeaseName(o.Stack.Cluster, gen)
	out, err := o.c.SFN.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(o.executionARN(name))})
	if awserr.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("describing failover %s: %w", name, err)
	}
	e := &execution{Gen: gen, Name: name, ARN: aws.ToString(out.ExecutionArn), Status: string(out.Status),
		Start: aws.ToTime(out.StartDate), Stop: aws.ToTime(out.StopDate), Running: out.Status == sfntypes.ExecutionStatusRunning}
	// The documents are read leniently: an execution started by hand may carry less.
	_ = json.Unmarshal([]byte(aws.ToString(out.Input)), &e.Input)
	if s := aws.ToString(out.Output); s != "" {
		var st events.FailoverState
		if json.Unmarshal([]byte(s), &st) == nil {
			e.Output = &st
		}
	}
	return e, nil
}

// leaseView is a walk's result: the first free generation, or the running holder.
type leaseView struct {
	next    int        // the first generation nobody has taken (when running is nil)
	running *execution // the lease generation that is running, if any
	foreign *execution // a RUNNING execution that is not a lease generation (started by hand), if any
}

// walkLease finds the first generation nobody has taken, from the listing's hint, or
// the execution that holds the lease. A RUNNING execution that is not a lease execution
// (started by hand under another name) blocks a start too, as for the health check.
func (o *Operator) walkLease(ctx context.Context) (leaseView, error) {
	out, err := o.c.SFN.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(o.Stack.StateMachineARN), MaxResults: 20})
	if err != nil {
		return leaseView{}, fmt.Errorf("listing failovers of %s: %w", o.Stack.StateMachineARN, err)
	}
	var lv leaseView
	hint := 1
	for _, e := range out.Executions {
		name := aws.ToString(e.Name)
		if g, ok := events.ParseLeaseName(o.Stack.Cluster, name); ok {
			hint = max(hint, g)
		} else if e.Status == sfntypes.ExecutionStatusRunning && lv.foreign == nil {
			lv.foreign = &execution{Name: name, ARN: aws.ToString(e.ExecutionArn), Status: string(e.Status), Start: aws.ToTime(e.StartDate), Running: true}
		}
	}
	for gen, n := hint, 0; n < maxLeaseWalk; gen, n = gen+1, n+1 {
		e, err := o.describeGen(ctx, gen)
		if err != nil {
			return leaseView{}, err
		}
		if e == nil {
			lv.next = gen
			return lv, nil
		}
		if e.Running {
			lv.running = e
			return lv, nil
		}
	}
	return leaseView{}, fmt.Errorf("walking the failover lease of %s: more than %d generations past the hint", o.Stack.Cluster, maxLeaseWalk)
}

// takeLease starts the next generation with state as its input, or reports the
// execution that holds the lease (FailoverRunningError).
func (o *Operator) takeLease(ctx context.Context, state events.FailoverState) (*execution, error) {
	lv, err := o.walkLease(ctx)
	if err != nil {
		return nil, err
	}
	for _, e := range []*execution{lv.running, lv.foreign} {
		if e != nil {
			return nil, &FailoverRunningError{Execution: e.Name, Detail: "running since " + e.Start.UTC().Format(time.RFC3339)}
		}
	}
	who, err := o.caller(ctx)
	if err != nil {
		return nil, err
	}
	state.Lease = &events.Lease{Generation: lv.next, Holder: "coordinator-ha/" + who + "/" + token()}
	if err := state.Validate(); err != nil {
		return nil, fmt.Errorf("building the execution input: %w", err)
	}
	input, err := json.Marshal(state)
	if err != nil {
		return nil, fmt.Errorf("encoding the execution input: %w", err)
	}
	name := events.LeaseName(o.Stack.Cluster, lv.next)
	out, err := o.c.SFN.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(o.Stack.StateMachineARN),
		Name: aws.String(name), Input: aws.String(string(input))})
	if awserr.IsAlreadyExists(err) {
		return nil, &FailoverRunningError{Execution: name, Detail: fmt.Sprintf("lease generation %d was taken by another starter first", lv.next)}
	}
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	return &execution{Gen: lv.next, Name: name, ARN: aws.ToString(out.ExecutionArn), Status: string(sfntypes.ExecutionStatusRunning),
		Start: aws.ToTime(out.StartDate), Input: state, Running: true}, nil
}

func token() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
