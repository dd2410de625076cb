// Package clock lets time be real in production and controlled in tests and in the
// local drill. Everything that waits or reads the time takes a Clock.
package clock

import (
	"context"
	"sync"
	"time"
)

// Clock tells the time and waits.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx ends, whichever comes first; it returns ctx.Err()
	// when the context ended first.
	Sleep(ctx context.Context, d time.Duration) error
}

// Real is the wall clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// Sleep waits d on the wall clock.
func (Real) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Virtual is a clock that only moves when told to. Sleep moves it forward by the
// duration at once, so code that polls and waits runs in microseconds in tests while
// every timestamp it sees is consistent. It is safe for concurrent use.
type Virtual struct {
	mu  sync.Mutex
	now time.Time
}

// NewVirtual returns a virtual clock set to start.
func NewVirtual(start time.Time) *Virtual { return &Virtual{now: start} }

// Now returns the clock's time.
func (v *Virtual) Now() time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.now
}

// Advance moves the clock forward by d (never backward) and returns the new time.
func (v *Virtual) Advance(d time.Duration) time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	if d > 0 {
		v.now = v.now.Add(d)
	}
	return v.now
}

// Set moves the clock to t if t is later than its current time.
func (v *Virtual) Set(t time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if t.After(v.now) {
		v.now = t
	}
}

// Sleep advances the clock by d, unless ctx has already ended.
func (v *Virtual) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	v.Advance(d)
	return nil
}

// Scaled is a wall clock that runs Factor times faster than real time from its start:
// the local drill uses it to compress production timings while real processes and real
// HTTP servers run. Durations passed to Sleep are in scaled time.
type Scaled struct {
	start  time.Time // scaled time at creation
	wall   time.Time // wall time at creation
	Factor float64
}

// NewScaled returns a clock whose time starts at start and runs factor times faster than
// the wall clock. A factor below 1 is treated as 1.
func NewScaled(start time.Time, factor float64) *Scaled {
	if factor < 1 {
		factor = 1
	}
	return &Scaled{start: start, wall: time.Now(), Factor: factor}
}

// Now returns the scaled time.
func (s *Scaled) Now() time.Time {
	return s.start.Add(time.Duration(float64(time.Since(s.wall)) * s.Factor))
}

// Sleep waits d of scaled time (d/Factor of wall time).
func (s *Scaled) Sleep(ctx context.Context, d time.Duration) error {
	return Real{}.Sleep(ctx, time.Duration(float64(d)/s.Factor))
}

// Wall converts a scaled duration into the wall-clock duration it takes.
func (s *Scaled) Wall(d time.Duration) time.Duration { return time.Duration(float64(d) / s.Factor) }
