package retry

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/prestoha/coordinator-ha/internal/awserr"
	"github.com/prestoha/coordinator-ha/internal/clock"
)

// Policy says how often and how long to try.
type Policy struct {
	Attempts int           // attempts in all, the first included; below 1 means 1
	Base     time.Duration // the first backoff ceiling
	Max      time.Duration // the largest backoff ceiling (0: no cap)
	// Deadline, on the clock, past which no wait may end; zero means none.
	Deadline time.Time
	// Retryable says whether an error is worth another attempt; nil is awserr.IsTransient.
	Retryable func(error) bool
	// Jitter returns a number in [0,1); nil is math/rand/v2's Float64.
	Jitter func() float64
	// OnRetry, when set, is called before each wait (for a log line).
	OnRetry func(attempt int, wait time.Duration, err error)
}

// Reason is why Do gave up.
type Reason int

// Reasons.
const (
	NotRetryable Reason = iota + 1 // the error is not worth another attempt
	Exhausted                      // Attempts attempts failed
	NoTimeLeft                     // the next wait would end past the Deadline
	Canceled                       // the context ended (during the call or the wait)
	Stopped                        // fn returned Stop(err)
)

func (r Reason) String() string {
	switch r {
	case NotRetryable:
		return "not retryable"
	case Exhausted:
		return "attempts exhausted"
	case NoTimeLeft:
		return "no time left"
	case Canceled:
		return "canceled"
	case Stopped:
		return "stopped"
	}
	return fmt.Sprintf("Reason(%d)", int(r))
}

// Error is what Do returns when it gives up: why, after how many attempts, and the
// last error (fn's, or the context's when a wait was cut short; for Stopped the error
// given to Stop).
type Error struct {
	Reason   Reason
	Attempts int
	Err      error
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s after %d attempt(s): %v", e.Reason, e.Attempts, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

type stop struct{ err error }

func (s stop) Error() string { return s.err.Error() }
func (s stop) Unwrap() error { return s.err }

// Stop wraps an error that fn wants Do to return at once (Reason Stopped), whatever
// Retryable would say about it.
func Stop(err error) error { return stop{err} }

// Do calls fn until it returns nil or Do gives up, and then returns nil or an *Error.
// Checks after a failed attempt, in order: Stop, a context error (Canceled), Retryable
// (NotRetryable), Attempts (Exhausted), the Deadline (NoTimeLeft); then it waits
// Jitter()*ceiling on clk and doubles the ceiling up to Max.
func Do(ctx context.Context, clk clock.Clock, p Policy, fn func(context.Context) error) error {
	retryable := p.Retryable
	if retryable == nil {
		retryable = awserr.IsTransient
	}
	jitter := p.Jitter
	if jitter == nil {
		jitter = rand.Float64
	}
	ceiling := p.Base
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		var s stop
		switch {
		case errors.As(err, &s):
			return &Error{Reason: Stopped, Attempts: attempt, Err: s.err}
		case awserr.IsContextDone(err) || ctx.Err() != nil:
			return &Error{Reason: Canceled, Attempts: attempt, Err: err}
		case !retryable(err):
			return &Error{Reason: NotRetryable, Attempts: attempt, Err: err}
		case attempt >= p.Attempts:
			return &Error{Reason: Exhausted, Attempts: attempt, Err: err}
		}
		wait := time.Duration(jitter() * float64(ceiling))
		if !p.Deadline.IsZero() && clk.Now().Add(wait).After(p.Deadline) {
			return &Error{Reason: NoTimeLeft, Attempts: attempt, Err: err}
		}
		if p.OnRetry != nil {
			p.OnRetry(attempt, wait, err)
		}
		if serr := clk.Sleep(ctx, wait); serr != nil {
			return &Error{Reason: Canceled, Attempts: attempt, Err: serr}
		}
		ceiling = 2 * ceiling
		if p.Max > 0 {
			ceiling = min(ceiling, p.Max)
		}
	}
}
