package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/prestoha/coordinator-ha/internal/agent"
	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/harness/sim"
	"github.com/prestoha/coordinator-ha/internal/signal"
)

// presto is the simulated state of the Presto/Trino process on a host.
type presto int

const (
	prestoUp       presto = iota // answers /v1/info healthy
	prestoStarting               // answers starting=true until startedAt
	prestoDown                   // exited: connection refused
	prestoHung                   // paused (SIGSTOP, a long GC): probes time out
	prestoSlow                   // answers, but often after the probe timeout
)

// host is one coordinator instance as the agents see it.
type host struct {
	id        string
	proc      presto
	readyAt   time.Time // prestoStarting -> prestoUp
	agentDead bool      // the agent process is gone: no reports at all
	cwCut     bool      // the agent's path to CloudWatch is cut: it buffers
	silent    bool      // the host is off the network: no reports, unreachable
	cutFrom   bool      // standbys cannot reach the active through the ENI IP from this host (partition)
	buffered  []cwtypes.MetricDatum
	faults    map[string]bool // fault kinds that hit this host
	skew      time.Duration   // the agent's clock is this far behind (negative: ahead)

	// The agent's publish policy and doorbell (internal/agent): a round that is news (not
	// all healthy, different from the round before, a new role) is sent at once, healthy
	// repeats wait up to agent.DefaultPublishInterval (agent.DefaultStandbyPublish on a
	// standby); a failure of the active rings.
	lastRound string     // the previous round's statuses
	lastRole  bool       // whether it knew it held the ENI in the previous round
	heldSince time.Time  // oldest held round; zero when nothing is held
	lastStamp time.Time  // its latest self-report's timestamp (agent.NextStamp)
	bell      agent.Bell // when its agent rings
}

// simClock is the campaign's clock: a virtual clock whose Sleep runs the rest of the world
// (agents, health-check ticks, scheduled faults) up to the wake-up time, so a failover
// step that waits 10 s sees 10 s of agents reporting, exactly as in a real account.
type simClock struct {
	v    *clock.Virtual
	w    *world
	busy bool // a background event is running: nested sleeps only advance time
}

func (c *simClock) Now() time.Time { return c.v.Now() }

func (c *simClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.runUntil(c.v.Now().Add(d))
	return nil
}

// runUntil processes every background event due before target, in time order.
func (c *simClock) runUntil(target time.Time) {
	if c.busy {
		c.v.Set(target)
		return
	}
	for {
		at, fn := c.w.nextEvent(target)
		if fn == nil {
			break
		}
		c.v.Set(at)
		c.busy = true
		fn()
		c.busy = false
		c.w.observe()
	}
	c.v.Set(target)
}

// event is a scheduled background action.
type event struct {
	at  time.Time
	seq int
	fn  func()
}

type world struct {
	clk    *simClock
	acct   *sim.Account
	rng    *rand.Rand
	eni    string
	events []event
	seq    int
	hosts  map[string]*host
	pool   *sim.Pool // every caller under its synthesized policy; each agent writes pool.ReportNamespace(its id) as its own session
	cfg    Options
	run    *runState

	guestDelay bool                 // a moved ENI serves once the guest configured it
	imdsLag    bool                 // a new holder's agent learns it late
	realism    sim.Realism          // the draws of both
	attachSeen map[string]time.Time // attachment id -> when first seen attached
	ready      map[string]time.Time // attachment id -> when the guest has it configured
	imdsAt     map[string]time.Time // attachment id -> when the holder's IMDS lists it
}

func (w *world) schedule(at time.Time, fn func()) {
	w.seq++
	w.events = append(w.events, event{at: at, seq: w.seq, fn: fn})
}

// nextEvent pops the earliest event due at or before limit.
func (w *world) nextEvent(limit time.Time) (time.Time, func()) {
	if len(w.events) == 0 {
		return time.Time{}, nil
	}
	sort.Slice(w.events, func(i, j int) bool {
		if !w.events[i].at.Equal(w.events[j].at) {
			return w.events[i].at.Before(w.events[j].at)
		}
		return w.events[i].seq < w.events[j].seq
	})
	e := w.events[0]
	if e.at.After(limit) {
		return time.Time{}, nil
	}
	w.events = w.events[1:]
	return e.at, e.fn
}

// every schedules fn at start and then every period until end.
func (w *world) every(start, end time.Time, period time.Duration, fn func()) {
	var tick func(at time.Time) func()
	tick = func(at time.Time) func() {
		return func() {
			fn()
			if next := at.Add(period); !next.After(end) {
				w.schedule(next, tick(next))
			}
		}
	}
	w.schedule(start, tick(start))
}

func (w *world) hostOf(id string) *host {
	h, ok := w.hosts[id]
	if !ok {
		h = &host{id: id, proc: prestoStarting, faults: map[string]bool{}}
		w.hosts[id] = h
	}
	return h
}

// holder is the instance the ENI is attached to, "" when none.
func (w *world) holder() string {
	e, ok := w.acct.ENI(w.eni)
	if !ok || e.Attachment == nil {
		return ""
	}
	return e.Attachment.InstanceID
}

// selfProbe is what a host's agent sees on loopback.
func (w *world) selfProbe(h *host, now time.Time) signal.Status {
	switch h.proc {
	case prestoStarting:
		if now.Before(h.readyAt) {
			return signal.Starting
		}
		h.proc = prestoUp
		return signal.Healthy
	case prestoUp:
		return signal.Healthy
	case prestoSlow:
		if w.rng.IntN(2) == 0 {
			return signal.Healthy
		}
		return signal.Unhealthy
	}
	return signal.Unhealthy
}

// doorbell plays the agent's doorbell: the first round of a failure of the active in
// this host's eyes rings the health check (the real Lambda doorbell through the host's
// own role), and again after agent.DoorbellRepeat while it goes on.
func (w *world) doorbell(id string, h *host, reason string, now time.Time) {
	if !h.bell.Due(reason, now) {
		return
	}
	bell := agent.NewLambdaDoorbell(w.pool.HostClients(id).Lambda, w.pool.HealthCheckFunction(), w.clk)
	if err := bell.Ring(context.Background(), id, reason); err == nil {
		h.bell.Rang(now) // a failed ring is due again at the next round
	}
}

// answers reports whether a witness reaches the active's coordinator through the ENI IP.
func (w *world) answers(from, active *host) bool {
	if active.silent || from.cutFrom || active.cutFrom || !w.serving() {
		return false
	}
	switch active.proc {
	case prestoUp, prestoStarting:
		return true
	case prestoSlow:
		return w.rng.IntN(2) == 0
	}
	return false
}

// agentsTick is one probe round of every running host's agent: a self-report and, on
// standbys, a witness report of the active, sent to CloudWatch (buffered while the path
// is cut or CloudWatch refuses, as the real agent does).
func (w *world) agentsTick() {
	now := w.clk.Now()
	holder := w.holder()
	ids := make([]string, 0, len(w.hosts))
	for id := range w.hosts {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		h := w.hosts[id]
		inst, ok := w.acct.Instance(id)
		if !ok || inst.State != "running" || h.agentDead {
			continue
		}
		stamp := agent.NextStamp(h.lastStamp, now.Add(-h.skew)) // the agent's own clock (clock_skew), never two in one second
		h.lastStamp = stamp
		self := w.selfProbe(h, now)
		d := []cwtypes.MetricDatum{signal.HealthDatum(w.cfg.Cluster, id, self, stamp)}
		knows := w.knowsItHolds(id)
		round, ring := self.String(), ""
		if knows && self != signal.Healthy {
			ring = "the active's own probe: " + self.String()
		}
		// A standby witnesses the active through the ENI IP; so does a new holder until its
		// instance metadata lists the ENI (imds_lag): it then probes itself, and the
		// health check ignores the holder's own witness reports.
		if holder != "" && (holder != id || !knows) {
			if a, ok := w.hosts[holder]; ok {
				reached := w.answers(h, a)
				d = append(d, signal.WitnessDatum(w.cfg.Cluster, id, reached, stamp))
				round += fmt.Sprintf("/reached=%v", reached)
				if !reached {
					ring = "the coordinator does not answer at the ENI IP"
				}
			}
		}
		h.buffered = append(h.buffered, d...)
		if len(h.buffered) > 4096 {
			h.buffered = h.buffered[len(h.buffered)-4096:]
		}
		urgent := round != h.lastRound || knows != h.lastRole || self != signal.Healthy || ring != ""
		h.lastRound, h.lastRole = round, knows
		if h.heldSince.IsZero() {
			h.heldSince = now
		}
		if h.silent || h.cwCut {
			continue // off the network, or no path to AWS: no report, no ring
		}
		w.doorbell(id, h, ring, now)
		wait := agent.DefaultStandbyPublish
		if knows {
			wait = agent.DefaultPublishInterval
		}
		if !urgent && now.Sub(h.heldSince) < wait {
			continue // a healthy repeat waits for the publish interval
		}
		h.heldSince = time.Time{}
		for len(h.buffered) > 0 {
			n := min(len(h.buffered), 1000)
			_, err := w.pool.HostClients(id).CloudWatch.PutMetricData(context.Background(), &cloudwatch.PutMetricDataInput{
				Namespace: aws.String(w.pool.ReportNamespace(id)), MetricData: h.buffered[:n]})
			if err != nil {
				break // kept for the next round
			}
			h.buffered = h.buffered[n:]
		}
	}
}
