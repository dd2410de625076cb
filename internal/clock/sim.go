package clock

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// Sim is a discrete-event clock for a concurrent simulation: time advances only when
// every goroutine it runs is waiting on it, and then jumps to the earliest wake-up. How
// long anything takes on the machine never shows in the simulated time, so a simulation
// gives the same verdicts on an idle laptop and on a machine busy with other work.
//
// The goroutines of a simulation are the clock's participants: started with Go (or
// clock.Go), they run one at a time in the order of their wake-ups (ties in the order
// they went to sleep), and each counts as busy until it waits on the clock again: in
// Sleep, in a Kick's Wait, or by returning. A participant must not block on anything
// that only another participant's progress in simulated time can release (a channel fed
// on a timer, a WaitGroup of sleepers): the clock would never advance. Use a Kick for
// such hand-offs; it passes the turn from sender to receiver.
//
// Deadlines are simulated too: WithTimeout returns a context that the clock cancels
// (with context.DeadlineExceeded) when simulated time reaches the deadline, and
// DeadlineOf reads it back; clock.WithTimeout and clock.Deadline choose these for a Sim.
// A context that ends for another reason wakes its sleeper before time moves on.
type Sim struct {
	mu      sync.Mutex
	now     time.Time
	running int       // participants that are not waiting on the clock
	queue   waitQueue // sleepers, timers and goroutines waiting to start, by (at, seq)
	parked  map[*waiter]bool
	seq     uint64

	// pacing (SetPace): simulated time runs at most pace times faster than the wall clock
	pace        float64
	pacedSim    time.Time // simulated time when pacing started
	pacedWall   time.Time
	pacingSleep func(time.Duration)
}

// NewSim returns a Sim clock set to start, with no participants.
func NewSim(start time.Time) *Sim {
	return &Sim{now: start, parked: map[*waiter]bool{}}
}

// waiter is one thing waiting for simulated time: a participant in Sleep or Kick.Wait
// (ch is closed to wake it), a goroutine of Go waiting for its first turn, or a timer
// (fire runs under the lock instead).
type waiter struct {
	at    time.Time
	seq   uint64
	ctx   context.Context // ends the wait early; nil: never
	ch    chan struct{}
	fire  func()
	woken bool
	index int // in the queue; -1 when not queued
}

// SetPace makes simulated time run at most factor times faster than the wall clock
// from now on, for people watching a simulation (the demo); 0 turns pacing off. Pacing
// only delays the wall time at which simulated time advances: what happens at each
// simulated instant, and so every outcome, stays the same. A slow machine makes a paced
// simulation slower than factor, never different.
func (s *Sim) SetPace(factor float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pace, s.pacedSim, s.pacedWall = factor, s.now, time.Now()
	if s.pacingSleep == nil {
		s.pacingSleep = time.Sleep
	}
}

// paceWait is how long the wall clock must still run before simulated time may reach
// at. Callers hold the lock.
func (s *Sim) paceWait(at time.Time) time.Duration {
	if s.pace <= 0 || !at.After(s.now) {
		return 0
	}
	due := s.pacedWall.Add(time.Duration(float64(at.Sub(s.pacedSim)) / s.pace))
	return time.Until(due)
}

// Now returns the simulated time.
func (s *Sim) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

// Go runs f on a new goroutine as a participant. It takes its first turn after the
// participants already waiting for the current instant. Start a simulation from one
// participant that starts the others: participants started one by one from outside may
// see time move between two starts.
func (s *Sim) Go(f func()) {
	s.mu.Lock()
	w := s.enqueue(s.now, nil, nil)
	s.schedule()
	s.mu.Unlock()
	go func() {
		<-w.ch
		defer s.leave()
		f()
	}()
}

// leave is a participant ending.
func (s *Sim) leave() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running--
	s.checkRunning()
	s.schedule()
}

// Sleep waits until d of simulated time has passed or ctx ends. Only participants may
// call it.
func (s *Sim) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil || d <= 0 {
		return err
	}
	s.mu.Lock()
	w := s.enqueue(s.now.Add(d), ctx, nil)
	s.idle()
	s.mu.Unlock()
	return s.await(w)
}

// idle is the calling participant starting to wait. Callers hold the lock.
func (s *Sim) idle() {
	s.running--
	s.checkRunning()
	s.schedule()
}

func (s *Sim) checkRunning() {
	if s.running < 0 {
		panic("clock.Sim: a goroutine the clock does not run waited on it (use Go)")
	}
}

// await blocks until w is woken by the clock or its context ends.
func (s *Sim) await(w *waiter) error {
	var done <-chan struct{}
	if w.ctx != nil {
		done = w.ctx.Done()
	}
	select {
	case <-w.ch:
	case <-done:
		s.mu.Lock()
		if !w.woken {
			s.wake(w)
		}
		s.mu.Unlock()
	}
	if w.ctx != nil {
		return w.ctx.Err()
	}
	return nil
}

// enqueue adds a waiter due at at. Callers hold the lock.
func (s *Sim) enqueue(at time.Time, ctx context.Context, fire func()) *waiter {
	s.seq++
	w := &waiter{at: at, seq: s.seq, ctx: ctx, ch: make(chan struct{}), fire: fire}
	heap.Push(&s.queue, w)
	return w
}

// park adds a waiter with no due time (a Kick's receiver). Callers hold the lock.
func (s *Sim) park(ctx context.Context) *waiter {
	s.seq++
	w := &waiter{seq: s.seq, ctx: ctx, ch: make(chan struct{}), index: -1}
	s.parked[w] = true
	return w
}

// wake gives w the turn. Callers hold the lock.
func (s *Sim) wake(w *waiter) {
	s.remove(w)
	w.woken = true
	s.running++
	close(w.ch)
}

// remove takes w out of the queue or the parked set. Callers hold the lock.
func (s *Sim) remove(w *waiter) {
	if w.index >= 0 {
		heap.Remove(&s.queue, w.index)
	}
	delete(s.parked, w)
}

// schedule runs the simulation forward while nobody runs: sleepers whose context ended
// wake first, then the earliest waiter is due (a timer fires, a sleeper wakes).
// Callers hold the lock.
func (s *Sim) schedule() {
	for s.running == 0 {
		if w := s.ended(); w != nil {
			s.wake(w)
			return
		}
		if len(s.queue) == 0 {
			return
		}
		if d := s.paceWait(s.queue[0].at); d > 0 {
			// Wait on the wall clock without the lock, a little at a time, then look again:
			// an outside cancellation may have woken someone meanwhile.
			s.mu.Unlock()
			s.pacingSleep(min(d, 20*time.Millisecond))
			s.mu.Lock()
			continue
		}
		w := heap.Pop(&s.queue).(*waiter)
		if w.at.After(s.now) {
			s.now = w.at
		}
		if w.fire != nil {
			w.fire()
			continue
		}
		s.running++
		w.woken = true
		close(w.ch)
	}
}

// ended returns the earliest-registered waiter whose context has ended.
func (s *Sim) ended() *waiter {
	var best *waiter
	consider := func(w *waiter) {
		if w.ctx != nil && w.fire == nil && w.ctx.Err() != nil && (best == nil || w.seq < best.seq) {
			best = w
		}
	}
	for _, w := range s.queue {
		consider(w)
	}
	for w := range s.parked {
		consider(w)
	}
	return best
}

// simDeadlineKey is the context key under which a Sim context keeps its deadline.
type simDeadlineKey struct{}

// simCtx is a context whose deadline is in simulated time.
type simCtx struct {
	context.Context
	s        *Sim
	deadline time.Time // the earliest simulated deadline of this context and its parents
}

func (c *simCtx) Value(key any) any {
	if key == (simDeadlineKey{}) {
		return c.deadline
	}
	return c.Context.Value(key)
}

// Deadline maps the simulated deadline onto the wall clock, for code that only knows
// ctx.Deadline; clock.Deadline reads the simulated one.
func (c *simCtx) Deadline() (time.Time, bool) {
	return time.Now().Add(c.deadline.Sub(c.s.Now())), true
}

// Err is context.DeadlineExceeded once the simulated deadline has passed.
func (c *simCtx) Err() error {
	err := c.Context.Err()
	if err != nil && context.Cause(c.Context) == context.DeadlineExceeded {
		return context.DeadlineExceeded
	}
	return err
}

// WithTimeout returns a copy of ctx that the clock cancels when d of simulated time has
// passed (Err is then context.DeadlineExceeded).
func (s *Sim) WithTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	inner, cancel := context.WithCancelCause(ctx)
	s.mu.Lock()
	deadline := s.now.Add(d)
	if parent, ok := s.DeadlineOf(ctx); ok && parent.Before(deadline) {
		deadline = parent
	}
	w := s.enqueue(deadline, nil, func() { cancel(context.DeadlineExceeded) })
	s.mu.Unlock()
	return &simCtx{Context: inner, s: s, deadline: deadline}, func() {
		cancel(context.Canceled)
		s.mu.Lock()
		if !w.woken {
			w.woken = true
			s.remove(w)
		}
		s.mu.Unlock()
	}
}

// DeadlineOf returns ctx's simulated deadline, if a Sim context set one.
func (s *Sim) DeadlineOf(ctx context.Context) (time.Time, bool) {
	t, ok := ctx.Value(simDeadlineKey{}).(time.Time)
	return t, ok
}

// NewKick returns a Kick whose hand-off the clock sees: Send passes the turn to the
// waiting receiver, so the receiver runs at the sender's instant, whatever the machine's
// speed.
func (s *Sim) NewKick() Kick { return &simKick{s: s} }

type simKick struct {
	s       *Sim
	pending bool    // a kick nobody has taken yet (a receiver given the turn holds one too)
	w       *waiter // the parked receiver
}

func (k *simKick) Send() {
	k.s.mu.Lock()
	defer k.s.mu.Unlock()
	if k.pending {
		return
	}
	k.pending = true
	if k.w != nil && !k.w.woken {
		k.s.wake(k.w)
	}
	k.w = nil
}

func (k *simKick) Wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k.s.mu.Lock()
	if k.pending {
		k.pending = false
		k.s.mu.Unlock()
		return nil
	}
	w := k.s.park(ctx)
	k.w = w
	k.s.idle()
	k.s.mu.Unlock()
	err := k.s.await(w)
	k.s.mu.Lock()
	defer k.s.mu.Unlock()
	if k.w == w {
		k.w = nil
	}
	if err != nil {
		return err
	}
	k.pending = false
	return nil
}

// waitQueue is a min-heap of waiters by (at, seq).
type waitQueue []*waiter

func (q waitQueue) Len() int { return len(q) }
func (q waitQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q waitQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *waitQueue) Push(x any) {
	w := x.(*waiter)
	w.index = len(*q)
	*q = append(*q, w)
}
func (q *waitQueue) Pop() any {
	old := *q
	w := old[len(old)-1]
	old[len(old)-1] = nil
	w.index = -1
	*q = old[:len(old)-1]
	return w
}
