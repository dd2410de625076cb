package drill

import (
	"context"
	"sync"
	"time"
)

// drillClock is clock.Scaled with a pause: drill time runs Factor times faster than
// the wall clock, except while paused, when it stands still. The drill pauses it while
// the local Step Functions interpreter (a Node.js process) starts for an execution: that
// start-up is an artefact of running on a laptop, and at 15x a second of it would add
// 15 s to every failover. Sleep honours pauses (a sleeper wakes when drill time, not
// wall time, has passed).
type drillClock struct {
	Factor float64

	mu       sync.Mutex
	start    time.Time // drill time at creation
	wall0    time.Time
	paused   time.Duration // wall time spent paused, closed pauses
	pausedAt time.Time     // start of the open pause
	depth    int
	total    time.Duration // drill-visible: total wall time paused (for the report)
}

func newDrillClock(start time.Time, factor float64) *drillClock {
	if factor < 1 {
		factor = 1
	}
	return &drillClock{Factor: factor, start: start, wall0: time.Now()}
}

func (c *drillClock) nowLocked(wall time.Time) time.Time {
	run := wall.Sub(c.wall0) - c.paused
	if c.depth > 0 {
		run -= wall.Sub(c.pausedAt)
	}
	return c.start.Add(time.Duration(float64(run) * c.Factor))
}

// Now returns drill time.
func (c *drillClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nowLocked(time.Now())
}

// Sleep waits until d of drill time has passed, or ctx ends.
func (c *drillClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	target := c.Now().Add(d)
	for {
		c.mu.Lock()
		rem := target.Sub(c.nowLocked(time.Now()))
		paused := c.depth > 0
		c.mu.Unlock()
		if rem <= 0 {
			return ctx.Err()
		}
		w := time.Duration(float64(rem) / c.Factor)
		if paused || w < 100*time.Microsecond {
			w = max(w, time.Millisecond)
			if paused {
				w = 2 * time.Millisecond
			}
		}
		t := time.NewTimer(w)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// minWallTimeout is the shortest wall-clock timeout the compressed drill gives a call:
// a scaled-down 2 s probe timeout must stay above scheduling noise.
const minWallTimeout = 100 * time.Millisecond

// WithTimeout is a timeout of d of drill time, enforced on the wall clock (d scaled
// down, at least minWallTimeout); clock.WithTimeout chooses it.
func (c *drillClock) WithTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, max(c.Wall(d), minWallTimeout))
}

// Wall converts a drill duration into wall time.
func (c *drillClock) Wall(d time.Duration) time.Duration { return time.Duration(float64(d) / c.Factor) }

// Pause stops drill time until the returned function is called (pauses nest).
func (c *drillClock) Pause() (resume func()) {
	c.mu.Lock()
	if c.depth == 0 {
		c.pausedAt = time.Now()
	}
	c.depth++
	c.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.depth--
			if c.depth == 0 {
				p := time.Since(c.pausedAt)
				c.paused += p
				c.total += p
			}
		})
	}
}

// PausedWall is the wall time drill time has stood still so far.
func (c *drillClock) PausedWall() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}
