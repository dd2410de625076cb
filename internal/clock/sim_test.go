package clock

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// journal records what participants saw, in the order they saw it.
type journal struct {
	mu  sync.Mutex
	log []string
}

func (j *journal) add(s *Sim, format string, a ...any) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.log = append(j.log, fmt.Sprintf("%5.1fs ", s.Now().Sub(t0).Seconds())+fmt.Sprintf(format, a...))
}

// run starts the participants and returns the journal once every one has returned.
func run(s *Sim, parts ...func(*journal)) []string {
	j := &journal{}
	var wg sync.WaitGroup
	wg.Add(len(parts))
	s.Go(func() { // one root starts the others, so that all start at the same instant
		for _, p := range parts {
			s.Go(func() { defer wg.Done(); p(j) })
		}
	})
	wg.Wait()
	return j.log
}

func TestSimInterleavesByWakeUpTime(t *testing.T) {
	s := NewSim(t0)
	ctx := context.Background()
	ticker := func(name string, period time.Duration, n int, busy time.Duration) func(*journal) {
		return func(j *journal) {
			for i := range n {
				time.Sleep(busy) // work that takes wall time: invisible to the simulation
				j.add(s, "%s %d", name, i)
				if err := s.Sleep(ctx, period); err != nil {
					t.Error(err)
				}
			}
		}
	}
	got := run(s, ticker("a", 3*time.Second, 3, 0), ticker("b", 2*time.Second, 4, 5*time.Millisecond))
	want := []string{"  0.0s a 0", "  0.0s b 0", "  2.0s b 1", "  3.0s a 1", "  4.0s b 2", "  6.0s a 2", "  6.0s b 3"}
	if !slices.Equal(got, want) {
		t.Fatalf("journal\n got %q\nwant %q", got, want)
	}
	if end := s.Now().Sub(t0); end != 9*time.Second {
		t.Errorf("clock at %s at the end, want 9s (a's last sleep)", end)
	}
}

func TestSimTimeoutIsSimulated(t *testing.T) {
	s := NewSim(t0)
	var got error
	var woke time.Duration
	var dl time.Time
	run(s, func(*journal) {
		ctx, cancel := WithTimeout(context.Background(), s, 2*time.Second)
		defer cancel()
		dl, _ = Deadline(ctx, s)
		got = s.Sleep(ctx, time.Hour)
		woke = s.Now().Sub(t0)
	})
	if !errors.Is(got, context.DeadlineExceeded) || woke != 2*time.Second || !dl.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("sleep ended with %v at %s (deadline %s); want DeadlineExceeded at 2s", got, woke, dl.Sub(t0))
	}
}

func TestSimTimeoutOfChildAndParent(t *testing.T) {
	s := NewSim(t0)
	var inner, outer time.Time
	run(s, func(*journal) {
		parent, cancel := WithTimeout(context.Background(), s, 5*time.Second)
		defer cancel()
		child, cancel2 := context.WithCancel(parent) // an ordinary child sees the parent's simulated end
		defer cancel2()
		short, cancel3 := WithTimeout(parent, s, time.Minute) // cannot outlive the parent
		defer cancel3()
		inner, _ = s.DeadlineOf(short)
		_ = s.Sleep(child, time.Hour)
		outer = s.Now()
		if !errors.Is(parent.Err(), context.DeadlineExceeded) || child.Err() == nil || !errors.Is(short.Err(), context.DeadlineExceeded) {
			t.Errorf("after the deadline: parent %v, child %v, short %v", parent.Err(), child.Err(), short.Err())
		}
	})
	if inner != t0.Add(5*time.Second) || outer != t0.Add(5*time.Second) {
		t.Fatalf("nested deadline %s, child woke at %s; want both at 5s", inner.Sub(t0), outer.Sub(t0))
	}
}

func TestSimCancelledTimerDoesNotFire(t *testing.T) {
	s := NewSim(t0)
	run(s, func(*journal) {
		ctx, cancel := WithTimeout(context.Background(), s, time.Second)
		cancel()
		_ = s.Sleep(context.Background(), 3*time.Second)
		if !errors.Is(ctx.Err(), context.Canceled) {
			t.Errorf("a cancelled timeout context says %v", ctx.Err())
		}
	})
	if len(s.queue) != 0 {
		t.Fatalf("%d waiters left", len(s.queue))
	}
}

func TestSimKickPassesTheTurn(t *testing.T) {
	s := NewSim(t0)
	ctx, cancel := context.WithCancel(context.Background())
	k := NewKick(s)
	got := run(s,
		func(j *journal) {
			for k.Wait(ctx) == nil {
				j.add(s, "received")
			}
			j.add(s, "receiver ends")
		},
		func(j *journal) {
			for range 3 {
				_ = s.Sleep(ctx, 7*time.Second)
				j.add(s, "send")
				k.Send()
				k.Send() // coalesces
			}
			_ = s.Sleep(ctx, time.Second)
			cancel()
		})
	want := []string{"  7.0s send", "  7.0s received", " 14.0s send", " 14.0s received", " 21.0s send", " 21.0s received", " 22.0s receiver ends"}
	if !slices.Equal(got, want) {
		t.Fatalf("journal\n got %q\nwant %q", got, want)
	}
}

func TestSimCancelFromOutsideWakesSleepers(t *testing.T) {
	s := NewSim(t0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	k := NewKick(s) // never sent: only the cancellation can end the wait
	s.Go(func() { done <- k.Wait(ctx) })
	time.Sleep(10 * time.Millisecond) // let it park (the outcome is the same if it has not)
	cancel()                          // from a goroutine that is not a participant
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("wait ended with %v", err)
	}
}

func TestSimIsReproducible(t *testing.T) {
	sim := func() []string {
		s := NewSim(t0)
		var parts []func(*journal)
		for i := range 5 {
			parts = append(parts, func(j *journal) {
				k := NewKick(s)
				ctx, cancel := WithTimeout(context.Background(), s, time.Duration(10+i)*time.Second)
				defer cancel()
				s.Go(func() {
					if k.Wait(ctx) == nil {
						j.add(s, "worker %d kicked", i)
					}
				})
				for n := 0; ctx.Err() == nil; n++ {
					j.add(s, "p%d round %d", i, n)
					if n == i {
						k.Send()
					}
					_ = s.Sleep(ctx, time.Duration(i+1)*time.Second)
				}
			})
		}
		return run(s, parts...)
	}
	first := sim()
	for range 20 {
		if again := sim(); !slices.Equal(again, first) {
			t.Fatalf("two runs differ:\n%q\n%q", first, again)
		}
	}
}

func TestSimSleepOutsideAParticipantPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	_ = NewSim(t0).Sleep(context.Background(), time.Second)
}

func TestHelpersOnOtherClocks(t *testing.T) {
	sc := NewScaled(t0, 100)
	ctx, cancel := WithTimeout(context.Background(), sc, 10*time.Second)
	defer cancel()
	if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > 200*time.Millisecond {
		t.Errorf("a scaled 10 s timeout is %v of wall time, want about 100 ms", time.Until(dl))
	}
	if _, ok := Deadline(context.Background(), Real{}); ok {
		t.Error("a deadline without one")
	}
	k := NewKick(Real{})
	k.Send()
	k.Send()
	if err := k.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	Go(Real{}, func() { close(done) })
	<-done
}

func TestSimParallelWaitsOnTheClock(t *testing.T) {
	s := NewSim(t0)
	var a, b time.Duration
	run(s, func(*journal) {
		Parallel(s,
			func() { _ = s.Sleep(context.Background(), time.Second); a = s.Now().Sub(t0) },
			func() { _ = s.Sleep(context.Background(), 3*time.Second); b = s.Now().Sub(t0) })
		if end := s.Now().Sub(t0); end != 3*time.Second {
			t.Errorf("Parallel returned at %s, want 3s (the longer branch)", end)
		}
	})
	if a != time.Second || b != 3*time.Second {
		t.Fatalf("branches ended at %s and %s, want 1s and 3s", a, b)
	}
}

func TestSimPaceDelaysOnlyTheWallClock(t *testing.T) {
	sim := func(pace float64) ([]string, time.Duration) {
		s := NewSim(t0)
		s.SetPace(pace)
		start := time.Now()
		got := run(s,
			func(j *journal) {
				for i := range 3 {
					j.add(s, "a %d", i)
					_ = s.Sleep(context.Background(), time.Second)
				}
			},
			func(j *journal) {
				_ = s.Sleep(context.Background(), 1500*time.Millisecond)
				j.add(s, "b")
			})
		return got, time.Since(start)
	}
	fast, _ := sim(0)
	paced, wall := sim(20) // 3 s of simulated time at 20x: at least 150 ms of wall time
	if !slices.Equal(fast, paced) {
		t.Fatalf("pacing changed the simulation:\n%q\n%q", fast, paced)
	}
	if wall < 140*time.Millisecond {
		t.Fatalf("3 s of simulated time at 20x took %s of wall time, want at least 150 ms", wall)
	}
}
