// Package asl is a small, deterministic interpreter of the Amazon States Language, for
// the failover state machine (internal/statemachine) on a clock.Clock of the caller's
// choosing. It exists because the randomized fault campaign (internal/harness/chaos)
// runs thousands of executions on a simulated clock, with the rest of the world (agents,
// health checks, faults) running inside the steps' waits, and deterministic drills need
// the same: every Wait and retry pause sleeps on the given Clock, jitter comes from the
// given source, and nothing waits for wall time, so a run gives the same path every time
// and takes microseconds. aws-local-stepfunctions (internal/harness/sfnlocal) is the
// reference that follows AWS; it sleeps in wall time and runs in a Node process, so it
// cannot share a simulated clock. A differential test (differential_test.go) feeds both
// the same scripted step outcomes and compares the paths, statuses and documents.
//
// The subset: Task (Resource served by one TaskFunc that gets the state's name and the
// whole events.FailoverState document and returns the new one; Retry with ErrorEquals,
// IntervalSeconds, BackoffRate, MaxAttempts, MaxDelaySeconds, JitterStrategy FULL or
// NONE; Catch with a top-level ResultPath such as "$.error"; TimeoutSeconds, default
// 60), Choice (StringEquals, NumericLessThanPath, And, Or, Not, Default), Wait
// (Seconds), Succeed and Fail, and the machine's TimeoutSeconds. States.ALL matches
// any error but States.Runtime ones; States.TaskFailed any but States.Timeout too; the
// first retrier that matches decides, as in Step Functions. A Choice reading a path
// the document lacks fails the execution with States.Runtime. Anything else (Pass, Map,
// Parallel, InputPath, Parameters, ResultSelector, OutputPath, a Task ResultPath, other
// comparison operators) is refused by Parse, so a new construct in the definition
// cannot be skipped silently.
//
// Time: a Task's TimeoutSeconds bounds the Clock time its function took (checked when
// it returns; the function's context reports the deadline but does not expire by wall
// time), and the execution's TimeoutSeconds bounds the whole run on the Clock.
package asl
