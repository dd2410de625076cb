package healthcheck

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/lease"
)

// The failover lease (internal/lease): at most one failover execution of a cluster acts
// at a time, taken by a conditional create of the next generation's execution name.
// states:StartExecution on this state machine is granted to the health check and to
// the operators' policy (internal/operator), which takes the lease the same way.
//
// What the health check adds: ended executions never change, so they are cached per
// handler (the walk costs one DescribeExecution of the newest generation and one of the
// free one), and the highest generation seen raises the listing's hint. The circuit
// breaker counts the generations started within its window by their start dates (exact,
// unlike a listing), and "the same failure was already cured" is read from the newest
// ended generation's input.

// newToken is a starter-unique token for events.Lease.Holder.
func newToken() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (h *Handler) executionARN(name string) string { return h.lease.ExecutionARN(name) }

// describeGen reads one generation, from the cache of ended ones or with
// DescribeExecution; nil when Step Functions does not know it.
func (h *Handler) describeGen(ctx context.Context, gen int, calls *Calls) (*lease.Exec, error) {
	h.leaseMu.Lock()
	if e, ok := h.ended[gen]; ok {
		h.leaseMu.Unlock()
		return &e, nil
	}
	h.leaseMu.Unlock()
	calls.Guards++
	e, err := h.lease.Describe(ctx, gen)
	if err != nil || e == nil {
		return nil, err
	}
	if !e.Running() {
		h.leaseMu.Lock()
		h.ended[gen] = *e
		h.leaseTop = max(h.leaseTop, gen)
		h.leaseMu.Unlock()
	}
	return e, nil
}

// walkLease finds the first generation nobody has taken, starting from the higher of
// the listing's hint and the highest generation this handler has seen, or the
// execution that holds the lease.
func (h *Handler) walkLease(ctx context.Context, calls *Calls) (lease.View, error) {
	calls.Guards++
	hint, other, err := h.lease.Hint(ctx)
	if err != nil {
		return lease.View{}, err
	}
	if other != nil {
		return lease.View{Running: other}, nil
	}
	h.leaseMu.Lock()
	hint = max(hint, h.leaseTop)
	h.leaseMu.Unlock()
	return h.lease.Walk(hint, func(gen int) (*lease.Exec, error) { return h.describeGen(ctx, gen, calls) })
}

// history returns the ended generations before next, newest first, while keep says so
// (at most limit of them).
func (h *Handler) history(ctx context.Context, next, limit int, calls *Calls, keep func(lease.Exec) bool) ([]lease.Exec, error) {
	var out []lease.Exec
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
	calls.Actions++
	e, ok, err := h.lease.Start(ctx, gen, state, "healthcheck/"+h.token())
	if err != nil || !ok {
		return "", ok, err
	}
	h.leaseMu.Lock()
	h.leaseTop = max(h.leaseTop, gen)
	h.leaseMu.Unlock()
	return e.ARN, true, nil
}

func (h *Handler) token() string {
	h.leaseMu.Lock()
	defer h.leaseMu.Unlock()
	h.starts++
	return fmt.Sprintf("%s-%d", h.tokenBase, h.starts)
}
