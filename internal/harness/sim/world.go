package sim

import (
	"maps"
	"time"
)

// world is the part of the account's state that Describe* calls read, so that it can
// be snapshotted for stale reads. Every map has an insertion-order slice beside it so
// that answers are deterministic.
type world struct {
	instances map[string]*instance
	instOrder []string
	enis      map[string]*eni
	eniOrder  []string
	asgs      map[string]*group
	asgOrder  []string
	execs     map[string]*execution
	execOrder []string
}

func newWorld() *world {
	return &world{
		instances: map[string]*instance{},
		enis:      map[string]*eni{},
		asgs:      map[string]*group{},
		execs:     map[string]*execution{},
	}
}

type instance struct {
	id, subnetID, az, privateIP string
	instanceType, imageID       string
	asg                         string // owning group, "" for none
	reservationID               string
	tags                        map[string]string
	state                       string
	stateSince                  time.Time
	launchTime                  time.Time
	shutdownFor                 time.Duration // override of ShuttingDownToTerminated; 0 = timings
	hookUntil                   time.Time     // a Terminating:Wait lifecycle hook holds it running until then
	primaryENI                  string
}

type eni struct {
	id, subnetID, az, privateIP, description string
	tags                                     map[string]string
	primary                                  bool // created with an instance, deleted with it
	att                                      *attachment
	stuckUntil                               time.Time // non-forced detaches do not complete before this
}

type attachment struct {
	id                  string
	instanceID          string
	deviceIndex         int32
	status              string // attaching, attached, detaching
	attachTime          time.Time
	doneAt              time.Time // when attaching/detaching completes
	deleteOnTermination bool
}

type group struct {
	name, subnetID, az    string
	min, max, desired     int
	instanceType, imageID string
	tags                  map[string]string
	suspended             bool
	members               []*member
	created               time.Time
	reconcileAt           time.Time // zero: nothing scheduled
	newInstancesProtected bool
	ltVersion             string // the launch template version the group launches (see SetLaunchTemplateVersion)
}

type member struct {
	instanceID string
	lifecycle  string // Pending, InService, Terminating
	health     string // Healthy, Unhealthy
	protected  bool
	lostAt     time.Time // when the EC2 instance left pending/running outside the group's control
	noticed    bool
	ltVersion  string // the launch template version it was launched with
}

type execution struct {
	arn, name, stateMachineARN string
	input, output              string
	status                     string
	start, stop                time.Time
	caller                     string
}

func (w *world) clone() *world {
	c := &world{
		instances: make(map[string]*instance, len(w.instances)),
		instOrder: append([]string(nil), w.instOrder...),
		enis:      make(map[string]*eni, len(w.enis)),
		eniOrder:  append([]string(nil), w.eniOrder...),
		asgs:      make(map[string]*group, len(w.asgs)),
		asgOrder:  append([]string(nil), w.asgOrder...),
		execs:     make(map[string]*execution, len(w.execs)),
		execOrder: append([]string(nil), w.execOrder...),
	}
	for k, v := range w.instances {
		i := *v
		i.tags = maps.Clone(v.tags)
		c.instances[k] = &i
	}
	for k, v := range w.enis {
		e := *v
		e.tags = maps.Clone(v.tags)
		if v.att != nil {
			at := *v.att
			e.att = &at
		}
		c.enis[k] = &e
	}
	for k, v := range w.asgs {
		g := *v
		g.tags = maps.Clone(v.tags)
		g.members = make([]*member, len(v.members))
		for i, m := range v.members {
			mm := *m
			g.members[i] = &mm
		}
		c.asgs[k] = &g
	}
	for k, v := range w.execs {
		e := *v
		c.execs[k] = &e
	}
	return c
}

func (w *world) addInstance(i *instance) {
	w.instances[i.id] = i
	w.instOrder = append(w.instOrder, i.id)
}

func (w *world) removeInstance(id string) {
	delete(w.instances, id)
	w.instOrder = removeString(w.instOrder, id)
}

func (w *world) addENI(e *eni) {
	w.enis[e.id] = e
	w.eniOrder = append(w.eniOrder, e.id)
}

func (w *world) removeENI(id string) {
	delete(w.enis, id)
	w.eniOrder = removeString(w.eniOrder, id)
}

func removeString(s []string, v string) []string {
	out := s[:0]
	for _, x := range s {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}

// attachmentsOf returns the ENIs attached (in any attachment state) to instance id.
func (w *world) attachmentsOf(id string) []*eni {
	var out []*eni
	for _, eid := range w.eniOrder {
		if e := w.enis[eid]; e.att != nil && e.att.instanceID == id {
			out = append(out, e)
		}
	}
	return out
}

// snapshot is the world as it was at a point in time, for StaleRead faults.
type snapshot struct {
	at time.Time
	w  *world
}

// historyKeep bounds how far back a stale read can look.
const historyKeep = 15 * time.Minute

// commit records a snapshot if the world changed since the last one. Callers hold the
// lock.
func (a *Account) commit() {
	if !a.dirty {
		return
	}
	a.dirty = false
	now := a.clk.Now()
	a.history = append(a.history, snapshot{at: now, w: a.w.clone()})
	a.queueAttachmentChanges(now)
	// Keep one snapshot older than the horizon so that reads at the horizon have an answer.
	cut := 0
	for cut+1 < len(a.history) && now.Sub(a.history[cut+1].at) > historyKeep {
		cut++
	}
	if cut > 0 {
		a.history = append([]snapshot(nil), a.history[cut:]...)
	}
}

// snapshotAt returns the world as last committed at or before t (an empty world if the
// account is younger than that). Callers hold the lock.
func (a *Account) snapshotAt(t time.Time) *world {
	for i := len(a.history) - 1; i >= 0; i-- {
		if !a.history[i].at.After(t) {
			return a.history[i].w
		}
	}
	return newWorld()
}

// advance applies every scheduled transition due at or before now, earliest first, so
// that cascades (a termination releasing an ENI, a group noticing and replacing the lost
// member, the replacement becoming running) happen at the right simulated times.
// Callers hold the lock.
func (a *Account) advance(now time.Time) {
	for range 1_000_000 {
		at, apply := a.nextEvent()
		if apply == nil || at.After(now) {
			return
		}
		apply(at)
		a.dirty = true
	}
	panic("sim: transition loop did not settle")
}

// nextEvent finds the earliest pending transition.
func (a *Account) nextEvent() (time.Time, func(time.Time)) {
	var best time.Time
	var apply func(time.Time)
	consider := func(t time.Time, f func(time.Time)) {
		if apply == nil || t.Before(best) {
			best, apply = t, f
		}
	}
	w := a.w
	for _, id := range w.instOrder {
		i := w.instances[id]
		if !i.hookUntil.IsZero() && i.state == stateRunning {
			consider(i.hookUntil, func(t time.Time) { i.hookUntil = time.Time{}; a.beginTermination(i, t) })
			continue
		}
		switch i.state {
		case statePending:
			consider(i.stateSince.Add(a.timings.PendingToRunning), func(t time.Time) { a.setState(i, stateRunning, t) })
		case stateShuttingDown:
			consider(i.stateSince.Add(a.shutdownFor(i)), func(t time.Time) { a.finishTermination(i, t) })
		case stateStopping:
			consider(i.stateSince.Add(a.timings.StoppingToStopped), func(t time.Time) { a.setState(i, stateStopped, t) })
		case stateTerminated:
			consider(i.stateSince.Add(a.timings.TerminatedVisibleFor), func(time.Time) { w.removeInstance(i.id) })
		}
	}
	for _, id := range w.eniOrder {
		e := w.enis[id]
		if e.att == nil {
			continue
		}
		switch e.att.status {
		case attAttaching:
			consider(e.att.doneAt, func(time.Time) { e.att.status = attAttached })
		case attDetaching:
			consider(e.att.doneAt, func(time.Time) { e.att = nil })
		}
	}
	for _, name := range w.asgOrder {
		g := w.asgs[name]
		for _, m := range g.members {
			if !m.lostAt.IsZero() && !m.noticed {
				consider(m.lostAt.Add(a.timings.ASGReplaceDelay), func(t time.Time) { a.noticeLost(g, m, t) })
			}
		}
		if !g.reconcileAt.IsZero() {
			consider(g.reconcileAt, func(t time.Time) { g.reconcileAt = time.Time{}; a.reconcile(g, t) })
		}
	}
	return best, apply
}

func (a *Account) shutdownFor(i *instance) time.Duration {
	if i.shutdownFor > 0 {
		return i.shutdownFor
	}
	return a.timings.ShuttingDownToTerminated
}
