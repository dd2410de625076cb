package operator

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/awserr"
	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/healthcheck"
)

// Prober says whether clients are served through the coordinator IP right now.
type Prober interface {
	Served(ctx context.Context) bool
}

// HTTPProber probes GET <URL>/v1/info: served when it answers 200 with coordinator
// true and starting false (the agent's rule, without the state field's subtleties).
type HTTPProber struct {
	URL    string // the stack's PrestoCoordinatorURL
	Client *http.Client
}

// Served implements Prober.
func (p HTTPProber) Served(ctx context.Context) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(p.URL, "/")+"/v1/info", nil)
	if err != nil {
		return false
	}
	resp, err := p.Client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var info struct {
		Coordinator bool `json:"coordinator"`
		Starting    bool `json:"starting"`
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return err == nil && resp.StatusCode == http.StatusOK && json.Unmarshal(body, &info) == nil && info.Coordinator && !info.Starting
}

// probeTimeout bounds one probe.
const probeTimeout = 2 * time.Second

// maxReadFailures is how many transient read failures in a row a long wait (switchover,
// roll) absorbs before it gives up.
const maxReadFailures = 10

// SwitchoverResult is what a switchover did.
type SwitchoverResult struct {
	Failover
	From string `json:"from"`
	To   string `json:"to"`
	// ClientGap is the client-visible gap the probe measured: from the last answer
	// before the move to the first answer after it (one probe a second, so within a
	// second). Nil when the coordinator IP was not reachable from here before the move.
	ClientGap *Seconds `json:"clientGapSeconds,omitempty"`
	// Probes counts the probes and those that were not served.
	Probes    int `json:"probes"`
	NotServed int `json:"notServed"`
}

// Switchover moves the coordinator IP to a healthy standby (to, or the best one: the
// longest healthy streak, as AttachENI ranks them) by a failover execution whose input
// names the active coordinator (fenced and replaced as in any failover) and the target.
// It takes the failover lease like the health check does, so it never runs beside an
// automatic failover: when one holds the lease, or takes it first, the error is a
// FailoverRunningError. It waits for the execution to end, printing its progress.
func (o *Operator) Switchover(ctx context.Context, to, reason string) (*SwitchoverResult, error) {
	v, err := o.look(ctx, false)
	if err != nil {
		return nil, err
	}
	active := v.member(v.Holder)
	switch {
	case v.Holder == "":
		return nil, fmt.Errorf("no instance holds the coordinator ENI %s: there is nothing to switch over from (the health check attaches it to the best healthy standby)", o.Stack.ENIID)
	case active == nil || active.Lifecycle == "":
		return nil, fmt.Errorf("the ENI is on %s, which is not a coordinator of this cluster: not touching it", v.Holder)
	case to != "" && to == v.Holder:
		return nil, &NothingToDoError{Why: to + " is already the active coordinator"}
	}
	var target *member
	if to != "" {
		m := v.member(to)
		if m == nil {
			return nil, fmt.Errorf("--to %s is not a coordinator of cluster %s", to, o.Stack.Cluster)
		}
		if why := o.whyNotStandby(v, m); why != "" {
			return nil, fmt.Errorf("--to %s is not a healthy standby: %s", to, why)
		}
		target = m
	} else {
		best := o.healthyStandbys(v)
		if len(best) == 0 {
			return nil, fmt.Errorf("no healthy standby to switch over to (%s); a switchover never leaves the cluster to the slow path", o.standbySummary(v))
		}
		target = best[0]
	}
	who, err := o.caller(ctx)
	if err != nil {
		return nil, err
	}
	if reason = strings.TrimSpace(reason); reason == "" {
		reason = "planned switchover"
	}
	now := o.clk.Now().UTC()
	state := events.FailoverState{Cluster: o.Stack.Cluster, ENIID: o.Stack.ENIID, FailedInstanceID: v.Holder,
		TargetInstanceID: target.ID, Verdict: events.VerdictManual, DetectedAt: now,
		Reason: fmt.Sprintf("switchover by %s: %s", who, reason)}
	state.AddEvent(events.StepDetect, "switchover", now, fmt.Sprintf("planned move of %s from %s to %s (%d consecutive healthy reports)", o.Stack.ENIIP, v.Holder, target.ID, target.Streak))

	// A pause holds back the health check, not an operator: a switchover is an explicit
	// action, so it goes ahead (and says so).
	if p, err := healthcheck.ParsePause(v.Tags, o.clk.Now()); err == nil && p != nil {
		o.progress("automatic failover is paused (by %s until %s: %s); the switchover goes ahead: it is an operator's explicit action",
			p.By, p.Until.Format(time.RFC3339), p.Reason)
	}
	// Is the IP reachable from here? Only then can the gap be measured.
	probing := o.opt.Probe != nil && o.served(ctx)
	if o.opt.Probe != nil && !probing {
		o.progress("the coordinator IP %s does not answer from here: the client-visible gap will not be measured (the execution's timeline still gives the ENI's)", o.Stack.ENIIP)
	}
	e, err := o.takeLease(ctx, state)
	if err != nil {
		return nil, err
	}
	o.progress("switchover %s started: %s -> %s (lease generation %d)", e.Name, v.Holder, target.ID, e.Gen)
	res := &SwitchoverResult{From: v.Holder, To: target.ID}
	final, err := o.follow(ctx, e, probing, res)
	if err != nil {
		return res, err
	}
	res.Failover = final.failover(o.clk.Now())
	if final.Status != "SUCCEEDED" || res.NewActive != target.ID {
		return res, fmt.Errorf("switchover %s ended %s (new active %q): %s", final.Name, final.Status, res.NewActive, res.Error)
	}
	return res, nil
}

func (o *Operator) standbySummary(v *view) string {
	var parts []string
	for _, m := range v.Members {
		if !m.Active {
			parts = append(parts, m.ID+": "+o.whyNotStandby(v, m))
		}
	}
	if len(parts) == 0 {
		return "the pool has no other member"
	}
	return strings.Join(parts, "; ")
}

func (o *Operator) served(ctx context.Context) bool {
	pctx, cancel := clock.WithTimeout(ctx, o.clk, probeTimeout)
	defer cancel()
	return o.opt.Probe.Served(pctx)
}

// follow waits for an execution to end, printing each change of the ENI's holder and
// each new timeline entry; with probing, it probes every second and measures the gap.
func (o *Operator) follow(ctx context.Context, e *execution, probing bool, res *SwitchoverResult) (*execution, error) {
	var lastOK, gapStart time.Time
	lastHolder, shown, failures := "?", 0, 0
	next := o.clk.Now()
	for {
		now := o.clk.Now()
		if probing {
			ok := o.served(ctx)
			res.Probes++
			switch {
			case ok && !gapStart.IsZero() && res.ClientGap == nil:
				res.ClientGap = secs(o.clk.Now().Sub(gapStart))
				o.progress("clients served again through %s (gap %.1f s)", o.Stack.ENIIP, float64(*res.ClientGap))
			case ok:
				lastOK = o.clk.Now()
			case gapStart.IsZero():
				res.NotServed++
				gapStart = lastOK
				if gapStart.IsZero() {
					gapStart = now
				}
				o.progress("clients not served through %s", o.Stack.ENIIP)
			default:
				res.NotServed++
			}
		}
		if !now.Before(next) {
			next = now.Add(o.opt.Poll)
			cur, err := o.describeGen(ctx, e.Gen)
			if err != nil {
				// A throttled or failed read (after the SDK's own retries) does not end the
				// wait: the execution goes on regardless. Only a run of them does.
				if failures++; failures >= maxReadFailures || !awserr.IsTransient(err) {
					return nil, err
				}
				o.progress("reading %s failed (%v); reading again", e.Name, err)
				cur = e
			} else {
				failures = 0
			}
			if cur == nil { // DescribeExecution may lag the start (eventual consistency)
				cur = e
			}
			st := cur.Input
			if cur.Output != nil {
				st = *cur.Output
			}
			for _, t := range st.Timeline[min(shown, len(st.Timeline)):] {
				o.progress("  %+6.1fs %-14s %-18s %s", t.At.Sub(cur.Start).Seconds(), t.Step, t.Event, t.Detail)
			}
			shown = max(shown, len(st.Timeline))
			if v, err := o.look(ctx, false); err == nil && v.Holder+"/"+v.AttachStatus != lastHolder {
				lastHolder = v.Holder + "/" + v.AttachStatus
				if v.Holder == "" {
					o.progress("ENI %s is available (no holder)", o.Stack.ENIID)
				} else {
					o.progress("ENI %s is %s to %s", o.Stack.ENIID, v.AttachStatus, v.Holder)
				}
			}
			if !cur.Running {
				if cur.Output == nil { // the output may show after the status
					cur.Output = &st
				}
				if probing && res.ClientGap == nil && !gapStart.IsZero() {
					// not served again yet: keep probing a little for the gap's end
					if o.waitServed(ctx, gapStart, res) {
						o.progress("clients served again through %s (gap %.1f s)", o.Stack.ENIIP, float64(*res.ClientGap))
					}
				}
				if probing && gapStart.IsZero() {
					res.ClientGap = secs(0)
				}
				o.progress("%s ended %s", cur.Name, cur.Status)
				return cur, nil
			}
		}
		step := time.Second
		if !probing {
			step = o.opt.Poll
		}
		if err := o.clk.Sleep(ctx, step); err != nil {
			return nil, fmt.Errorf("waiting for %s (it goes on without this command; see history): %w", e.Name, err)
		}
	}
}

// waitServed probes every second for up to a minute after the execution ended.
func (o *Operator) waitServed(ctx context.Context, gapStart time.Time, res *SwitchoverResult) bool {
	end := o.clk.Now().Add(time.Minute)
	for o.clk.Now().Before(end) {
		if err := o.clk.Sleep(ctx, time.Second); err != nil {
			return false
		}
		res.Probes++
		if o.served(ctx) {
			res.ClientGap = secs(o.clk.Now().Sub(gapStart))
			return true
		}
		res.NotServed++
	}
	return false
}
