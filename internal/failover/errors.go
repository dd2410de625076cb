package failover

import (
	"errors"
	"fmt"

	"github.com/prestoha/coordinator-ha/internal/awserr"
)

// The step handlers return only the error types below, never a wrapped error, because
// aws-lambda-go names a function error after the Go type of the returned value
// (reflect.TypeOf(err).Elem().Name() for a pointer), and that name becomes the
// errorType that Step Functions matches in Retry and Catch. A *TransientError returned
// by a handler is therefore "TransientError" in the state machine.
const (
	ErrorTypeTransient         = "TransientError"
	ErrorTypeFenceNotConfirmed = "FenceNotConfirmedError"
	ErrorTypeInvalidInput      = "InvalidInputError"
	ErrorTypePermanent         = "PermanentError"
)

// TransientError is a failure worth retrying: AWS throttling or a server fault that
// outlasted the step's own retries, or a wait (an instance shutting down, an ENI
// detaching) that did not finish before the step's deadline. Every step is
// idempotent, so the state machine retries it.
type TransientError struct{ Err error }

func (e *TransientError) Error() string { return e.Err.Error() }
func (e *TransientError) Unwrap() error { return e.Err }

// FenceNotConfirmedError means AttachENI refused to attach the ENI because the failed
// coordinator is not confirmed fenced (Terminate did not report FENCED or NO_HOLDER,
// or the failed instance is running again, or the ENI is still on it). Never retried:
// the state machine notifies and fails.
type FenceNotConfirmedError struct{ Err error }

func (e *FenceNotConfirmedError) Error() string { return e.Err.Error() }
func (e *FenceNotConfirmedError) Unwrap() error { return e.Err }

// InvalidInputError means the state document or the configuration is wrong; retrying
// cannot help.
type InvalidInputError struct{ Err error }

func (e *InvalidInputError) Error() string { return e.Err.Error() }
func (e *InvalidInputError) Unwrap() error { return e.Err }

// PermanentError is any other failure that a retry will not fix (access denied, the
// ENI or Auto Scaling group does not exist, the ENI held outside the pool).
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

func transient(format string, a ...any) error {
	return &TransientError{Err: fmt.Errorf(format, a...)}
}

func fenceNotConfirmed(format string, a ...any) error {
	return &FenceNotConfirmedError{Err: fmt.Errorf(format, a...)}
}

func permanent(format string, a ...any) error {
	return &PermanentError{Err: fmt.Errorf(format, a...)}
}

// classify turns whatever a step produced into exactly one of the typed errors, at the
// top level (not wrapped), keeping the whole message chain.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var te *TransientError
	var fe *FenceNotConfirmedError
	var ie *InvalidInputError
	var pe *PermanentError
	switch {
	case errors.As(err, &fe):
		return &FenceNotConfirmedError{Err: err}
	case errors.As(err, &ie):
		return &InvalidInputError{Err: err}
	case errors.As(err, &pe):
		return &PermanentError{Err: err}
	case errors.As(err, &te), retryable(err), awserr.IsContextDone(err):
		return &TransientError{Err: err}
	}
	return &PermanentError{Err: err}
}

// ErrorType is the name Step Functions sees for an error a handler returned: the Go
// type name, as aws-lambda-go computes it.
func ErrorType(err error) string {
	switch err.(type) {
	case *TransientError:
		return ErrorTypeTransient
	case *FenceNotConfirmedError:
		return ErrorTypeFenceNotConfirmed
	case *InvalidInputError:
		return ErrorTypeInvalidInput
	case *PermanentError:
		return ErrorTypePermanent
	}
	return ""
}
