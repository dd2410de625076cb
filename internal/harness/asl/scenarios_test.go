package asl

import (
	"context"
	"sync"
	"testing"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/failover"
	sm "github.com/prestoha/coordinator-ha/internal/statemachine"
)

// outcome is one scripted invocation of a Task state: the document it returns or the
// error it fails with. Outcomes are pure functions of their input (timestamps at t0),
// so two interpreters fed the same script see the same documents.
type outcome func(events.FailoverState) (events.FailoverState, error)

// script gives each Task state its outcomes: the i-th invocation of a state (retries
// included) gets the i-th outcome, and the last one repeats.
type script map[string][]outcome

// task serves a script as a TaskFunc; it is safe for the concurrent HTTP requests of
// sfnlocal (one at a time in practice).
func (s script) task(t *testing.T) TaskFunc {
	var mu sync.Mutex
	calls := map[string]int{}
	return func(_ context.Context, state string, in events.FailoverState) (events.FailoverState, error) {
		mu.Lock()
		fs := s[state]
		i := calls[state]
		calls[state]++
		mu.Unlock()
		if len(fs) == 0 {
			t.Errorf("unscripted Task state %s", state)
			return in, &Error{Name: "test.Unscripted", Cause: state}
		}
		return fs[min(i, len(fs)-1)](in)
	}
}

// scenario is one scripted execution of the real definition and what it must do.
type scenario struct {
	name    string
	script  script
	status  string
	path    []string       // states entered
	retries map[string]int // retried attempts per state (absent: none)
	caught  string         // an error name the document must hold at $.error or $.notifyError
}

func baseDoc() events.FailoverState {
	return events.FailoverState{Cluster: "c", ENIID: "eni-0123456789abcdef0", FailedInstanceID: "i-0123456789abcdef0",
		Verdict: events.VerdictFailed, Reason: "scripted", DetectedAt: t0,
		Timeline: []events.TimelineEntry{{Step: events.StepDetect, Event: "detected", At: t0}}}
}

// ok returns the document changed by f, with a timeline entry of the step.
func ok(step string, f func(*events.FailoverState)) outcome {
	return func(s events.FailoverState) (events.FailoverState, error) {
		f(&s)
		s.AddEvent(step, "done", t0, "")
		return s, nil
	}
}

func fail(err error) outcome {
	return func(s events.FailoverState) (events.FailoverState, error) { return s, err }
}

func scenarios() []scenario {
	fenced := ok(events.StepTerminate, func(s *events.FailoverState) {
		s.Terminate = &events.TerminateResult{Outcome: events.TerminateFenced, ENIStatus: "available", FencedAt: t0}
	})
	superseded := ok(events.StepTerminate, func(s *events.FailoverState) {
		s.Terminate = &events.TerminateResult{Outcome: events.TerminateSuperseded, ENIStatus: "in-use", ENIHolder: "i-0fedcba9876543210"}
	})
	noOutcome := ok(events.StepTerminate, func(*events.FailoverState) {})
	attached := ok(events.StepAttachENI, func(s *events.FailoverState) {
		s.Attach = &events.AttachResult{Outcome: events.AttachAttached, InstanceID: "i-0fedcba9876543210", Attempts: 1, MaxAttempts: 3}
	})
	noStandby := func(n, max int) outcome {
		return ok(events.StepAttachENI, func(s *events.FailoverState) {
			s.Attach = &events.AttachResult{Outcome: events.AttachNoStandby, Attempts: n, MaxAttempts: max}
		})
	}
	attachedAfter := func(n int) outcome {
		return ok(events.StepAttachENI, func(s *events.FailoverState) {
			s.Attach = &events.AttachResult{Outcome: events.AttachAttached, InstanceID: "i-0fedcba9876543210", Attempts: n, MaxAttempts: 3}
		})
	}
	launched := ok(events.StepLaunch, func(s *events.FailoverState) {
		s.Launch = &events.LaunchResult{Outcome: events.LaunchRequested, DesiredCapacity: 2}
	})
	notified := ok(events.StepNotify, func(s *events.FailoverState) {
		s.Notify = &events.NotifyResult{Outcome: events.OutcomeFailedOver}
	})
	notifiedFailure := ok(events.StepNotify, func(s *events.FailoverState) {
		s.Notify = &events.NotifyResult{Outcome: events.OutcomeFailed}
	})
	transient := fail(&failover.TransientError{Err: errTest("throttled")})
	permanent := fail(&failover.PermanentError{Err: errTest("access denied for <nil> & \"quoted\"")}) // characters JSON encoders may escape
	crash := fail(&Error{Name: "Lambda.ServiceException", Cause: "the function crashed"})
	timeout := fail(&Error{Name: ErrTimeout, Cause: "Task timed out"})

	happy := []string{sm.StateTerminate, sm.StateFenceOutcome, sm.StateAttachENI, sm.StateAttachOutcome, sm.StateLaunchStandby, sm.StateNotify, sm.StateDone}
	slow := []string{sm.StateAttachENI, sm.StateAttachOutcome, sm.StateLaunchForWait, sm.StateWaitForStandby}
	return []scenario{
		{name: "happy path", status: StatusSucceeded, path: happy,
			script: script{sm.StateTerminate: {fenced}, sm.StateAttachENI: {attached}, sm.StateLaunchStandby: {launched}, sm.StateNotify: {notified}}},
		{name: "superseded fence", status: StatusSucceeded, path: []string{sm.StateTerminate, sm.StateFenceOutcome, sm.StateNotify, sm.StateDone},
			script: script{sm.StateTerminate: {superseded}, sm.StateNotify: {notified}}},
		{name: "transient error retried then success", status: StatusSucceeded, path: happy, retries: map[string]int{sm.StateTerminate: 2, sm.StateAttachENI: 1},
			script: script{sm.StateTerminate: {transient, crash, fenced}, sm.StateAttachENI: {transient, attached}, sm.StateLaunchStandby: {launched}, sm.StateNotify: {notified}}},
		{name: "retries exhausted then caught", status: StatusFailed, caught: failover.ErrorTypeTransient,
			path:    []string{sm.StateTerminate, sm.StateNotifyFailure, sm.StateFailed},
			retries: map[string]int{sm.StateTerminate: 5},
			script:  script{sm.StateTerminate: {transient}, sm.StateNotifyFailure: {notifiedFailure}}},
		{name: "permanent error caught to NotifyFailure", status: StatusFailed, caught: failover.ErrorTypePermanent,
			path:   []string{sm.StateTerminate, sm.StateFenceOutcome, sm.StateAttachENI, sm.StateNotifyFailure, sm.StateFailed},
			script: script{sm.StateTerminate: {fenced}, sm.StateAttachENI: {permanent}, sm.StateNotifyFailure: {notifiedFailure}}},
		{name: "slow path until success", status: StatusSucceeded,
			path:   append(append(append([]string{sm.StateTerminate, sm.StateFenceOutcome}, slow...), slow...), happy[2:]...),
			script: script{sm.StateTerminate: {fenced}, sm.StateAttachENI: {noStandby(1, 3), noStandby(2, 3), attachedAfter(3)}, sm.StateLaunchForWait: {launched}, sm.StateLaunchStandby: {launched}, sm.StateNotify: {notified}}},
		{name: "slow path until exhausted", status: StatusFailed,
			path:   append(append([]string{sm.StateTerminate, sm.StateFenceOutcome}, slow...), sm.StateAttachENI, sm.StateAttachOutcome, sm.StateNotifyFailure, sm.StateFailed),
			script: script{sm.StateTerminate: {fenced}, sm.StateAttachENI: {noStandby(1, 2), noStandby(2, 2)}, sm.StateLaunchForWait: {launched}, sm.StateNotifyFailure: {notifiedFailure}}},
		{name: "Notify fails after retries: FailoverDoneNotNotified", status: StatusSucceeded, caught: "Lambda.ServiceException",
			path:    []string{sm.StateTerminate, sm.StateFenceOutcome, sm.StateAttachENI, sm.StateAttachOutcome, sm.StateLaunchStandby, sm.StateNotify, sm.StateDoneNotNotified},
			retries: map[string]int{sm.StateNotify: 5},
			script:  script{sm.StateTerminate: {fenced}, sm.StateAttachENI: {attached}, sm.StateLaunchStandby: {launched}, sm.StateNotify: {crash}}},
		{name: "Notify permanent error: FailoverDoneNotNotified", status: StatusSucceeded, caught: failover.ErrorTypePermanent,
			path:   []string{sm.StateTerminate, sm.StateFenceOutcome, sm.StateNotify, sm.StateDoneNotNotified},
			script: script{sm.StateTerminate: {superseded}, sm.StateNotify: {permanent}}},
		{name: "States.Timeout is not retried, caught", status: StatusFailed, caught: ErrTimeout,
			path:   []string{sm.StateTerminate, sm.StateFenceOutcome, sm.StateAttachENI, sm.StateAttachOutcome, sm.StateLaunchStandby, sm.StateNotifyFailure, sm.StateFailed},
			script: script{sm.StateTerminate: {fenced}, sm.StateAttachENI: {attached}, sm.StateLaunchStandby: {timeout}, sm.StateNotifyFailure: {notifiedFailure}}},
		{name: "NotifyFailure fails: uncaught", status: StatusFailed,
			path:    []string{sm.StateTerminate, sm.StateNotifyFailure},
			retries: map[string]int{sm.StateTerminate: 1},
			script:  script{sm.StateTerminate: {transient, permanent}, sm.StateNotifyFailure: {permanent}}},
		{name: "unknown fence outcome: Default", status: StatusFailed,
			path: []string{sm.StateTerminate, sm.StateFenceOutcome, sm.StateNotifyFailure, sm.StateFailed},
			script: script{sm.StateTerminate: {ok(events.StepTerminate, func(s *events.FailoverState) {
				s.Terminate = &events.TerminateResult{Outcome: "BOGUS"}
			})}, sm.StateNotifyFailure: {notifiedFailure}}},
		{name: "fence outcome missing: States.Runtime", status: StatusFailed,
			path:   []string{sm.StateTerminate, sm.StateFenceOutcome},
			script: script{sm.StateTerminate: {noOutcome}}},
	}
}

type errTest string

func (e errTest) Error() string { return string(e) }
