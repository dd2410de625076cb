package operator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/lease"
)

// The failover lease (internal/lease), the same code as the health check's: executions
// are named events.LeaseName(cluster, gen), and generation gen is taken with
// StartExecution, a conditional create (Step Functions refuses a name already used on
// the state machine), only after generation gen-1 was seen ended. ListExecutions only hints where to start the walk; DescribeExecution of
// each generation decides. So a switchover and an automatic failover are serialized by
// Step Functions itself: of two starters of the same generation exactly one gets it, and
// the other sees ExecutionAlreadyExists.

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

// lease is the cluster's failover lease on the stack's state machine.
func (o *Operator) lease() lease.Lease {
	return lease.Lease{SFN: o.c.SFN, StateMachineARN: o.Stack.StateMachineARN, Cluster: o.Stack.Cluster}
}

// executionOf reads an execution's documents; nil for nil. They are read leniently: an
// execution started by hand may carry less.
func executionOf(e *lease.Exec) *execution {
	if e == nil {
		return nil
	}
	x := &execution{Gen: e.Gen, Name: e.Name, ARN: e.ARN, Status: string(e.Status), Start: e.Start, Stop: e.Stop, Running: e.Running()}
	_ = json.Unmarshal([]byte(e.Input), &x.Input)
	if e.Output != "" {
		var st events.FailoverState
		if json.Unmarshal([]byte(e.Output), &st) == nil {
			x.Output = &st
		}
	}
	return x
}

// describeGen reads one generation; nil when it does not exist.
func (o *Operator) describeGen(ctx context.Context, gen int) (*execution, error) {
	e, err := o.lease().Describe(ctx, gen)
	return executionOf(e), err
}

// leaseView is a walk's result: the first free generation, or the running holder.
type leaseView struct {
	next    int        // the first generation nobody has taken (when running is nil)
	running *execution // the lease generation that is running, if any
	foreign *execution // a RUNNING execution that is not a lease generation (started by hand), if any
}

// walkLease finds the first generation nobody has taken, from the listing's hint, or
// the execution that holds the lease, and a RUNNING execution that is not a lease
// execution (started by hand under another name), which blocks a start too, as for the
// health check.
func (o *Operator) walkLease(ctx context.Context) (leaseView, error) {
	l := o.lease()
	hint, foreign, err := l.Hint(ctx)
	if err != nil {
		return leaseView{}, err
	}
	v, err := l.Walk(hint, func(gen int) (*lease.Exec, error) { return l.Describe(ctx, gen) })
	if err != nil {
		return leaseView{}, err
	}
	return leaseView{next: v.Next, running: executionOf(v.Running), foreign: executionOf(foreign)}, nil
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
	e, ok, err := o.lease().Start(ctx, lv.next, state, state.Lease.Holder)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, &FailoverRunningError{Execution: events.LeaseName(o.Stack.Cluster, lv.next),
			Detail: fmt.Sprintf("lease generation %d was taken by another starter first", lv.next)}
	}
	return executionOf(e), nil
}

func token() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
