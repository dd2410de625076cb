package operator

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/healthcheck"
)

// Health is the cluster's state in one word, and the status exit code.
type Health string

// Healths.
const (
	Healthy  Health = "healthy"  // the active coordinator is HEALTHY, a healthy standby waits (when the pool has standbys), nothing is held back
	Degraded Health = "degraded" // clients are served, but something needs attention (Problems)
	Down     Health = "down"     // no coordinator serves at the IP, or the health check judges it failed
)

// ExitCode is the status command's exit code for h.
func (h Health) ExitCode() int {
	switch h {
	case Healthy:
		return ExitHealthy
	case Degraded:
		return ExitDegraded
	}
	return ExitDown
}

// Coordinator is one member in the status.
type Coordinator struct {
	InstanceID string `json:"instanceId"`
	Role       string `json:"role"`  // active, standby, leaving (terminating), joining (pending)
	State      string `json:"state"` // EC2
	Lifecycle  string `json:"lifecycle,omitempty"`
	AZ         string `json:"az"`
	Protected  bool   `json:"scaleInProtected"`
	Version    string `json:"launchTemplateVersion,omitempty"`
	Current    bool   `json:"currentVersion"`
	// Verdict is the health check's newest published verdict ("" when none in the last
	// three minutes), VerdictAge its age.
	Verdict    events.Verdict `json:"verdict,omitempty"`
	VerdictAge *Seconds       `json:"verdictAgeSeconds,omitempty"`
	// LastReport is the newest self-report's value and age.
	LastReport    string   `json:"lastReport,omitempty"`
	LastReportAge *Seconds `json:"lastReportAgeSeconds,omitempty"`
	HealthyStreak int      `json:"healthyStreak"`
	// Standby: "" when it could take the ENI now, otherwise why not.
	NotReady string `json:"notReady,omitempty"`
}

// Status is the cluster at a glance.
type Status struct {
	Stack           string             `json:"stack"`
	Cluster         string             `json:"cluster"`
	At              time.Time          `json:"at"`
	Health          Health             `json:"health"`
	Problems        []string           `json:"problems"`
	ENIID           string             `json:"eniId"`
	IP              string             `json:"ip"`
	ENIStatus       string             `json:"eniStatus"`
	Holder          string             `json:"holder,omitempty"`
	Coordinators    []Coordinator      `json:"coordinators"`
	HealthyStandbys int                `json:"healthyStandbys"`
	Desired         int                `json:"desiredCapacity"`
	Version         string             `json:"launchTemplateVersion,omitempty"`
	Pause           *healthcheck.Pause `json:"pause,omitempty"`
	BreakerCount    int                `json:"breakerCount"`
	BreakerMax      int                `json:"breakerMax"`
	BreakerWindow   string             `json:"breakerWindow"`
	Running         *Failover          `json:"running,omitempty"`
	Recent          []Failover         `json:"recentFailovers"`
}

// The circuit breaker's settings: the health check's defaults (the stack does not
// change them).
const (
	breakerMax    = healthcheck.DefaultBreakerMax
	breakerWindow = healthcheck.DefaultBreakerWindow
	recentShown   = 3
)

// Status reads the cluster: the ENI's holder, every coordinator with the health
// check's verdict, its newest self-report, role, scale-in protection and AZ; the
// healthy standbys (by AttachENI's rule); the pause; the circuit breaker's count; the
// running and last failovers.
func (o *Operator) Status(ctx context.Context) (*Status, error) {
	v, err := o.look(ctx, true)
	if err != nil {
		return nil, err
	}
	now := o.clk.Now()
	s := &Status{Stack: o.Stack.Name, Cluster: o.Stack.Cluster, At: v.At, ENIID: o.Stack.ENIID, IP: o.Stack.ENIIP,
		ENIStatus: v.ENIStatus, Holder: v.Holder, Desired: v.Desired, Version: v.Version, BreakerMax: breakerMax,
		BreakerWindow: breakerWindow.String(), Problems: []string{}, Recent: []Failover{}}
	if v.AttachStatus != "" {
		s.ENIStatus += "/" + v.AttachStatus
	}
	for _, m := range v.Members {
		c := Coordinator{InstanceID: m.ID, State: m.State, Lifecycle: m.Lifecycle, AZ: m.AZ, Protected: m.Protected,
			Version: m.Version, Current: m.Version == v.Version, Verdict: m.Verdict, HealthyStreak: m.Streak}
		switch {
		case m.Active:
			c.Role = "active"
		case m.Lifecycle == "" || m.State == "shutting-down" || m.State == "stopping" || m.State == "stopped" ||
			strings.HasPrefix(m.Lifecycle, "Terminating"):
			c.Role = "leaving"
		case m.State == "pending" || m.Lifecycle == "Pending":
			c.Role = "joining"
		default:
			c.Role = "standby"
		}
		if !m.VerdictAt.IsZero() {
			c.VerdictAge = secs(now.Sub(m.VerdictAt))
		}
		if !m.LastReport.IsZero() {
			c.LastReport, c.LastReportAge = m.LastStatus.String(), secs(now.Sub(m.LastReport))
		}
		if !m.Active {
			c.NotReady = o.whyNotStandby(v, m)
		}
		s.Coordinators = append(s.Coordinators, c)
	}
	s.HealthyStandbys = len(o.healthyStandbys(v))
	if p, err := healthcheck.ParsePause(v.Tags, now); err != nil {
		s.Problems = append(s.Problems, err.Error())
	} else {
		s.Pause = p
	}

	// The breaker counts the lease's generations started within its window (as the
	// health check does); past breakerMax of them it is open whatever the rest.
	hist, err := o.History(ctx, time.Time{}, breakerMax+recentShown)
	if err != nil {
		return nil, err
	}
	for _, f := range hist {
		if f.Stopped == nil && s.Running == nil {
			running := f
			s.Running = &running
		}
		if f.Generation > 0 && !f.Started.Before(now.Add(-breakerWindow)) {
			s.BreakerCount++
		}
	}
	s.Recent = hist[:min(len(hist), recentShown)]
	o.judge(s, v)
	return s, nil
}

// judge sets Health and Problems.
func (o *Operator) judge(s *Status, v *view) {
	down, degraded := []string{}, []string{}
	active := v.member(v.Holder)
	switch {
	case v.Holder == "":
		down = append(down, "no instance holds the coordinator ENI: clients are not served")
	case active == nil || active.Lifecycle == "":
		down = append(down, fmt.Sprintf("the ENI is on %s, which is not a coordinator of this cluster", v.Holder))
	case v.AttachStatus != "attached":
		down = append(down, fmt.Sprintf("the ENI is %s on %s", v.AttachStatus, v.Holder))
	case active.State != "running":
		down = append(down, fmt.Sprintf("the active coordinator %s is %s", active.ID, active.State))
	case active.Verdict == events.VerdictFailed || active.Verdict == events.VerdictGone:
		down = append(down, fmt.Sprintf("the health check judges the active coordinator %s %s", active.ID, active.Verdict))
	case active.Verdict == "":
		degraded = append(degraded, fmt.Sprintf("no verdict on the active coordinator %s in the last %s: is the health check running?", active.ID, verdictLookback))
	case active.Verdict != events.VerdictHealthy:
		degraded = append(degraded, fmt.Sprintf("the health check judges the active coordinator %s %s", active.ID, active.Verdict))
	}
	if s.HealthyStandbys == 0 && v.Desired > 1 {
		degraded = append(degraded, "no healthy standby: a failover would take the slow path (launch, then attach)")
	}
	if s.Pause != nil {
		degraded = append(degraded, fmt.Sprintf("automatic failover is paused until %s by %s: %s", s.Pause.Until.Format(time.RFC3339), s.Pause.By, s.Pause.Reason))
	}
	if s.BreakerCount >= breakerMax {
		degraded = append(degraded, fmt.Sprintf("the circuit breaker is open: %d failovers in the last %s", s.BreakerCount, breakerWindow))
	}
	if s.Running != nil {
		degraded = append(degraded, "a failover is running: "+s.Running.Execution)
	}
	s.Problems = append(append(s.Problems, down...), degraded...)
	switch {
	case len(down) > 0:
		s.Health = Down
	case len(s.Problems) > 0:
		s.Health = Degraded
	default:
		s.Health = Healthy
	}
}
