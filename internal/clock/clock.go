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

// WithTimeout returns a copy of ctx that ends when d of c's time has passed: a
// simulated deadline for a Sim, d scaled to the wall clock for a Scaled clock (and any
// clock with a Wall method), context.WithTimeout otherwise. Use it for the timeouts of
// calls that the clock's time must bound (probes, role checks, flushes).
func WithTimeout(ctx context.Context, c Clock, d time.Duration) (context.Context, context.CancelFunc) {
	switch t := c.(type) {
	case interface {
		WithTimeout(context.Context, time.Duration) (context.Context, context.CancelFunc)
	}:
		return t.WithTimeout(ctx, d)
	case interface {
		Wall(time.Duration) time.Duration
	}:
		return context.WithTimeout(ctx, t.Wall(d))
	}
	return context.WithTimeout(ctx, d)
}

// Deadline returns ctx's deadline on c's time: a Sim's own simulated deadline, or the
// wall-clock deadline's remaining time added to c.Now() (so a Lambda's deadline is the
// same span of a compressed clock's time).
func Deadline(ctx context.Context, c Clock) (time.Time, bool) {
	if s, ok := c.(interface {
		DeadlineOf(context.Context) (time.Time, bool)
	}); ok {
		if t, ok := s.DeadlineOf(ctx); ok {
			return t, true
		}
	}
	dl, ok := ctx.Deadline()
	if !ok {
		return time.Time{}, false
	}
	return c.Now().Add(time.Until(dl)), true
}

// Go runs f on a new goroutine that c knows about: a Sim runs it as a participant (it
// advances only when f waits on it or returns); other clocks just start a goroutine.
func Go(c Clock, f func()) {
	if s, ok := c.(interface{ Go(func()) }); ok {
		s.Go(f)
		return
	}
	go f()
}

// Kick is a coalescing wake-up from one goroutine to another that a simulated clock can
// see: Send never blocks (a kick already pending absorbs it), Wait blocks until a kick
// or the end of ctx.
type Kick interface {
	Send()
	Wait(ctx context.Context) error
}

// NewKick returns a Kick for goroutines running on c: a Sim's own, so that the receiver
// runs at the sender's simulated instant; a buffered channel otherwise.
func NewKick(c Clock) Kick {
	if s, ok := c.(interface{ NewKick() Kick }); ok {
		return s.NewKick()
	}
	return chanKick(make(chan struct{}, 1))
}

type chanKick chan struct{}

func (k chanKick) Send() {
	select {
	case k <- struct{}{}:
	default:
	}
}

func (k chanKick) Wait(ctx context.Context) error {
	select {
	case <-k:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Start runs f on a goroutine of c (Go) and returns a function that waits, on c, until
// f has returned: a Sim sees the wait (a Kick), so a participant that waits for a
// goroutine not yet started lets it start. Call the returned function at most once.
func Start(c Clock, f func()) (wait func()) {
	k := NewKick(c)
	Go(c, func() {
		defer k.Send()
		f()
	})
	return func() { _ = k.Wait(context.Background()) }
}

// Parallel runs fs at once, the first on the calling goroutine and the others on
// goroutines of c (Go), and returns when all have returned. The caller waits on c (a
// Kick per goroutine), so a Sim sees the wait and lets the others take their turns.
func Parallel(c Clock, fs ...func()) {
	if len(fs) == 0 {
		return
	}
	waits := make([]func(), 0, len(fs)-1)
	for _, f := range fs[1:] {
		waits = append(waits, Start(c, f))
	}
	fs[0]()
	for _, wait := range waits {
		wait()
	}
}
