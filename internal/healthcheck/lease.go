package healthcheck

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

// The failover lease: at most one failover execution of a cluster acts at a time.
//
// The lock is Step Functions' own uniqueness of execution names. Executions are named
// events.LeaseName(cluster, gen): "<cluster>-failover-000001", "-000002", ... A name
// can be used once per state machine (for 90 days after the execution ended), and
// StartExecution enforces that atomically: of two starters of the same name, exactly
// one gets the execution and the other ExecutionAlreadyExists (the input carries a
// starter-unique events.Lease.Holder, so the idempotent "same name, same input returns
// the running execution" answer cannot make both winners). Taking generation gen is
// therefore a conditional create, protected by IAM (states:StartExecution on this state
// machine is granted to the health check alone; operators follow the runbook).
//
// The protocol: generation gen is taken only by a starter that has seen generation
// gen-1 ended (DescribeExecution says SUCCEEDED, FAILED, TIMED_OUT or ABORTED), or
// gen = 1. So the generations form a chain, each execution starts after its predecessor
// ended, and at most one runs at a time. Reads are used only to find the next free
// generation, never to decide that the lock is free:
//   - ListExecutions (eventually consistent, "may not reflect very recent updates") only
//     gives a hint where to start walking; a stale hint costs a few more
//     DescribeExecution calls, never a second execution.
//   - DescribeExecution is eventually consistent too, but only in the safe direction: a
//     stale answer shows an older state. An ended execution was RUNNING before, and a
//     RUNNING one did not exist before. So a stale read can block a start (RUNNING
//     instead of ended: we wait one check interval) or say ExecutionDoesNotExist for a
//     name that exists, in which case our StartExecution of that name fails with
//     ExecutionAlreadyExists and we back off: the other starter holds the lease.
//
// Ended executions never change, so they are cached per handler: the walk costs one
// DescribeExecution of the newest generation and one of the free one.
//
// What the lease also gives: the circuit breaker counts the generations started within
// its window by their start dates (exact, unlike a listing), and "the same failure was
// already cured" is read from the newest ended generation's input.

// maxLeaseWalk bounds the DescribeExecution calls of one walk from the hint.
const maxLeaseWalk = 50

// leaseExec is one generation of the lease as DescribeExecution showed it.
type leaseExec struct {
	gen     int
	name    string
	status  sfntypes.ExecutionStatus
	start   time.Time
	failed  string // the input's failedInstanceId
	verdict events.Verdict
}

// leaseView is what a walk found: the first free generation, or the running holder.
type leaseView struct {
	next    int        // the generation to take
	running *leaseExec // the execution holding the lease now, if any
}

func (h *Handler) executionARN(name string) string {
	return strings.Replace(h.cfg.StateMachineARN, ":stateMachine:", ":execution:", 1) + ":" + name
}

// newToken is a starter-unique token for events.Lease.Holder.
func newToken() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// leaseHint is where the walk starts: the highest generation this handler has seen, or
// the newest lease name in a ListExecutions page (a hint only: it may lag). A listed
// RUNNING execution that is not a lease execution (started by hand under another name)
// blocks too.
func (h *Handler) leaseHint(ctx context.Context, calls *Calls) (int, *leaseExec, error) {
	calls.Guards++
	out, err := h.sfn.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(h.cfg.StateMachineARN), MaxResults: 20})
	if err != nil {
		return 0, nil, fmt.Errorf("listing failovers of %s: %w", h.cfg.StateMachineARN, err)
	}
	h.leaseMu.Lock()
	hint := h.leaseTop
	h.leaseMu.Unlock()
	for _, e := range out.Executions {
		name := aws.ToString(e.Name)
		if g, ok := events.ParseLeaseName(h.cfg.Cluster, name); ok {
			hint = max(hint, g)
		} else if e.Status == sfntypes.ExecutionStatusRunning {
			return 0, &leaseExec{name: name, status: e.Status, start: aws.ToTime(e.StartDate)}, nil
		}
	}
	return max(hint, 1), nil, nil
}

// describeGen reads one generation; nil when DescribeExecution does not know it.
func (h *Handler) describeGen(ctx context.Context, gen int, calls *Calls) (*leaseExec, error) {
	h.leaseMu.Lock()
	if e, ok := h.ended[gen]; ok {
		h.leaseMu.Unlock()
		return &e, nil
	}
	h.leaseMu.Unlock()
	name := events.LeaseName(h.cfg.Cluster, gen)
	calls.Guards++
	out, err := h.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(h.executionARN(name))})
	if awserr.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("describing failover %s: %w", name, err)
	}
	e := leaseExec{gen: gen, name: name, status: out.Status, start: aws.ToTime(out.StartDate)}
	var in struct {
		FailedInstanceID string         `json:"failedInstanceId"`
		Verdict          events.Verdict `json:"verdict"`
	}
	_ = json.Unmarshal([]byte(aws.ToString(out.Input)), &in)
	e.failed, e.verdict = in.FailedInstanceID, in.Verdict
	if e.status != sfntypes.ExecutionStatusRunning {
		h.leaseMu.Lock()
		h.ended[gen] = e
		h.leaseTop = max(h.leaseTop, gen)
		h.leaseMu.Unlock()
	}
	return &e, nil
}

// walkLease finds the first generation nobody has taken, starting from the hint, or the
// execution that holds the lease.
func (h *Handler) walkLease(ctx context.Context, calls *Calls) (leaseView, error) {
	gen, other, err := h.leaseHint(ctx, calls)
	if err != nil {
		return leaseView{}, err
	}
	if other != nil {
		return leaseView{running: other}, nil
	}
	for range maxLeaseWalk {
		e, err := h.describeGen(ctx, gen, calls)
		if err != nil {
			return leaseView{}, err
		}
		if e == nil {
			return leaseView{next: gen}, nil
		}
		if e.status == sfntypes.ExecutionStatusRunning {
			return leaseView{running: e}, nil
		}
		gen++
	}
	return leaseView{}, fmt.Errorf("walking the failover lease of %s: more than %d generations past the hint", h.cfg.Cluster, maxLeaseWalk)
}

// history returns the ended generations before next, newest first, while keep says so
// (at most limit of them).
func (h *Handler) history(ctx context.Context, next, limit int, calls *Calls, keep func(leaseExec) bool) ([]leaseExec, error) {
	var out []leaseExec
	for g := next - 1; g >= 1 && len(out) < limit; g-- {
		e, err := h.describeGen(ctx, g, calls)
		if err != nil {
			return nil, err
		}
		if e == nil || !keep(*e) {
			break
		}
		out = append(out, *e)
	}
	return out, nil
}

// takeLease starts generation gen with the document in state: the conditional create.
// It reports false (and no error) when someone else took the generation first.
func (h *Handler) takeLease(ctx context.Context, gen int, state events.FailoverState, calls *Calls) (string, bool, error) {
	state.Lease = &events.Lease{Generation: gen, Holder: "healthcheck/" + h.token()}
	input, err := json.Marshal(state)
	if err != nil {
		return "", false, fmt.Errorf("encoding failover input: %w", err)
	}
	name := events.LeaseName(h.cfg.Cluster, gen)
	calls.Actions++
	out, err := h.sfn.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(h.cfg.StateMachineARN),
		Name: aws.String(name), Input: aws.String(string(input))})
	if awserr.IsAlreadyExists(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("starting failover %s: %w", name, err)
	}
	h.leaseMu.Lock()
	h.leaseTop = max(h.leaseTop, gen)
	h.leaseMu.Unlock()
	return aws.ToString(out.ExecutionArn), true, nil
}

func (h *Handler) token() string {
	h.leaseMu.Lock()
	defer h.leaseMu.Unlock()
	h.starts++
	return fmt.Sprintf("%s-%d", h.tokenBase, h.starts)
}
