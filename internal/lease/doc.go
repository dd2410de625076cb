// Package lease is the failover lease: at most one failover execution of a cluster acts
// at a time, whoever starts it (the health check, or the operator command's switchover
// and roll).
//
// The lock is Step Functions' own uniqueness of execution names. Executions are named
// events.LeaseName(cluster, gen): "<cluster>-failover-000001", "-000002", ... A name
// can be used once per state machine (for 90 days after the execution ended), and
// StartExecution enforces that atomically: of two starters of the same name, exactly
// one gets the execution and the other ExecutionAlreadyExists (the input carries a
// starter-unique events.Lease.Holder, so the idempotent "same name, same input returns
// the running execution" answer cannot make both winners). Taking generation gen is
// therefore a conditional create.
//
// The protocol: generation gen is taken only by a starter that has seen generation
// gen-1 ended (DescribeExecution says SUCCEEDED, FAILED, TIMED_OUT or ABORTED), or
// gen = 1. So the generations form a chain, each execution starts after its predecessor
// ended, and at most one runs at a time. Reads are used only to find the next free
// generation, never to decide that the lock is free:
//   - ListExecutions (eventually consistent, "may not reflect very recent updates") only
//     gives a hint where to start walking (Hint); a stale hint costs a few more
//     DescribeExecution calls, never a second execution.
//   - DescribeExecution is eventually consistent too, but only in the safe direction: a
//     stale answer shows an older state. An ended execution was RUNNING before, and a
//     RUNNING one did not exist before. So a stale read can block a start (RUNNING
//     instead of ended) or say ExecutionDoesNotExist for a name that exists, in which
//     case the StartExecution of that name fails with ExecutionAlreadyExists (Start
//     reports it not taken): the other starter holds the lease.
//
// A RUNNING execution that is not a lease generation (started by hand under another
// name) blocks a start too: Hint reports it.
package lease
