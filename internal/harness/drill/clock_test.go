package drill

import (
	"context"
	"testing"
	"time"
)

func TestDrillClockPause(t *testing.T) {
	c := newDrillClock(fixedTime, 100)
	time.Sleep(20 * time.Millisecond)
	if d := c.Now().Sub(fixedTime); d < time.Second || d > 10*time.Second {
		t.Fatalf("after 20 ms wall at 100x: %v of drill time", d)
	}
	resume := c.Pause()
	a := c.Now()
	done := make(chan time.Time)
	go func() {
		_ = c.Sleep(context.Background(), time.Second) // 10 ms of wall time, but paused
		done <- c.Now()
	}()
	time.Sleep(50 * time.Millisecond)
	if b := c.Now(); !b.Equal(a) {
		t.Fatalf("paused clock moved from %v to %v", a, b)
	}
	select {
	case <-done:
		t.Fatal("a sleeper woke while drill time stood still")
	default:
	}
	resume()
	resume() // idempotent
	woke := <-done
	if woke.Sub(a) < time.Second {
		t.Fatalf("sleeper woke %v after the pause began, want >= 1s of drill time", woke.Sub(a))
	}
	if c.PausedWall() < 40*time.Millisecond {
		t.Fatalf("paused wall %v", c.PausedWall())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Sleep(ctx, time.Hour); err == nil {
		t.Fatal("Sleep ignored a cancelled context")
	}
	if c.Wall(time.Second) != 10*time.Millisecond {
		t.Fatalf("Wall(1s) = %v", c.Wall(time.Second))
	}
}
