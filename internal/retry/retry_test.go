package retry

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/aws/smithy-go"

	"github.com/prestoha/coordinator-ha/internal/awserr"
	"github.com/prestoha/coordinator-ha/internal/clock"
)

var t0 = time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)

func TestDo(t *testing.T) {
	throttle := awserr.New(awserr.CodeThrottling, "Rate exceeded", smithy.FaultClient)
	denied := awserr.New("AccessDenied", "no", smithy.FaultClient)
	notFound := awserr.New(awserr.CodeInvalidInstanceIDNotFound, "no such instance", smithy.FaultClient)
	base := Policy{Attempts: 6, Base: 200 * time.Millisecond, Max: 500 * time.Millisecond, Jitter: func() float64 { return 0.5 }}
	tests := []struct {
		name       string
		policy     func(p Policy) Policy
		errs       []error // fn's answers in order; nil after the list
		cancel     bool    // the context is cancelled before Do
		wantReason Reason  // 0: success
		wantErr    error
		wantCalls  int
		wantWaits  []time.Duration
	}{
		{name: "first try", wantCalls: 1},
		{name: "throttled twice", errs: []error{throttle, throttle}, wantCalls: 3,
			wantWaits: []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}},
		{name: "ceiling capped at Max", errs: []error{throttle, throttle, throttle, throttle}, wantCalls: 5,
			wantWaits: []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 250 * time.Millisecond, 250 * time.Millisecond}},
		{name: "not retryable", errs: []error{denied}, wantReason: NotRetryable, wantErr: denied, wantCalls: 1},
		{name: "exhausted", errs: slices.Repeat([]error{throttle}, 10), wantReason: Exhausted, wantErr: throttle, wantCalls: 6,
			wantWaits: []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 250 * time.Millisecond, 250 * time.Millisecond, 250 * time.Millisecond}},
		{name: "deadline", policy: func(p Policy) Policy { p.Deadline = t0.Add(250 * time.Millisecond); return p },
			errs: slices.Repeat([]error{throttle}, 10), wantReason: NoTimeLeft, wantErr: throttle, wantCalls: 2,
			wantWaits: []time.Duration{100 * time.Millisecond}},
		{name: "context ended", cancel: true, errs: []error{context.Canceled}, wantReason: Canceled, wantErr: context.Canceled, wantCalls: 1},
		{name: "Stop wins over Retryable", errs: []error{throttle, Stop(throttle)}, wantReason: Stopped, wantErr: throttle, wantCalls: 2,
			wantWaits: []time.Duration{100 * time.Millisecond}},
		{name: "own Retryable", policy: func(p Policy) Policy { p.Retryable = awserr.IsNotFound; return p },
			errs: []error{notFound, throttle}, wantReason: NotRetryable, wantErr: throttle, wantCalls: 2,
			wantWaits: []time.Duration{100 * time.Millisecond}},
		{name: "Attempts below 1 is one attempt", policy: func(p Policy) Policy { p.Attempts = 0; return p },
			errs: []error{throttle}, wantReason: Exhausted, wantErr: throttle, wantCalls: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := clock.NewVirtual(t0)
			p := base
			if tc.policy != nil {
				p = tc.policy(p)
			}
			var waits []time.Duration
			p.OnRetry = func(attempt int, wait time.Duration, err error) {
				if attempt != len(waits)+1 || err == nil {
					t.Errorf("OnRetry(%d, %s, %v) after %d waits", attempt, wait, err, len(waits))
				}
				waits = append(waits, wait)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancel {
				cancel()
			}
			calls := 0
			start := clk.Now()
			err := Do(ctx, clk, p, func(context.Context) error {
				calls++
				if calls <= len(tc.errs) {
					return tc.errs[calls-1]
				}
				return nil
			})
			if calls != tc.wantCalls {
				t.Errorf("%d calls, want %d", calls, tc.wantCalls)
			}
			if !slices.Equal(waits, tc.wantWaits) {
				t.Errorf("waits %v, want %v", waits, tc.wantWaits)
			}
			var total time.Duration
			for _, w := range waits {
				total += w
			}
			if got := clk.Now().Sub(start); got != total {
				t.Errorf("slept %s on the clock, want %s", got, total)
			}
			if tc.wantReason == 0 {
				if err != nil {
					t.Fatalf("err %v", err)
				}
				return
			}
			var re *Error
			if !errors.As(err, &re) || re.Reason != tc.wantReason || re.Attempts != tc.wantCalls {
				t.Fatalf("err %#v, want *Error with reason %s after %d attempts", err, tc.wantReason, tc.wantCalls)
			}
			if re.Err != tc.wantErr || !errors.Is(err, tc.wantErr) {
				t.Errorf("last error %v, want %v", re.Err, tc.wantErr)
			}
		})
	}
}

// A context that ends during a wait stops Do with Canceled and the context's error.
func TestDoCanceledDuringWait(t *testing.T) {
	clk := clock.NewVirtual(t0)
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err := Do(ctx, clk, Policy{Attempts: 5, Base: time.Second, Jitter: func() float64 { return 0.5 },
		OnRetry: func(int, time.Duration, error) { cancel() }},
		func(context.Context) error {
			calls++
			return awserr.New(awserr.CodeThrottling, "slow down", smithy.FaultClient)
		})
	var re *Error
	if !errors.As(err, &re) || re.Reason != Canceled || !errors.Is(err, context.Canceled) || calls != 1 {
		t.Fatalf("err %v after %d calls, want Canceled after 1", err, calls)
	}
}

// Without a Jitter, waits are drawn from [0, ceiling).
func TestDoDefaultJitterStaysUnderTheCeiling(t *testing.T) {
	clk := clock.NewVirtual(t0)
	var waits []time.Duration
	n := 0
	err := Do(context.Background(), clk, Policy{Attempts: 40, Base: time.Second, Max: time.Second,
		OnRetry: func(_ int, w time.Duration, _ error) { waits = append(waits, w) }},
		func(context.Context) error {
			if n++; n < 40 {
				return awserr.New(awserr.CodeRequestLimitExceeded, "slow down", smithy.FaultClient)
			}
			return nil
		})
	if err != nil || len(waits) != 39 {
		t.Fatalf("err %v, %d waits", err, len(waits))
	}
	distinct := map[time.Duration]bool{}
	for _, w := range waits {
		if w < 0 || w >= time.Second {
			t.Errorf("wait %s outside [0, 1s)", w)
		}
		distinct[w] = true
	}
	if len(distinct) < 2 {
		t.Errorf("waits %v are not jittered", waits)
	}
}
