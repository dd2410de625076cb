// Package report holds the local drill's results: the JSON report (out/demo/report.json),
// a readable timeline per scenario, and a hand-written SVG picture of all scenarios on
// one time axis (out/demo/timeline.svg). Times are seconds of drill time after the
// injected fault; drill time is production-equivalent time (the Scaled clock compresses
// wall time, not the timings the control plane sees).
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/prestoha/coordinator-ha/events"
)

// Mark names, in the order they happen in a failover.
const (
	MarkFault    = "fault"
	MarkDetected = "detected"
	MarkFenced   = "fenced"
	MarkAttached = "attached"
	MarkServing  = "serving"
	MarkReplaced = "replaced"
)

// Scenario is the result of one drill scenario.
type Scenario struct {
	Name           string `json:"name"`
	Description    string `json:"description"`
	ExpectFailover bool   `json:"expect_failover"`
	FailedOver     bool   `json:"failed_over"`
	OK             bool   `json:"ok"`
	// Seed of the run, and whether it ran on simulated time (then the same seed replays
	// it exactly).
	Seed      int64 `json:"seed"`
	Simulated bool  `json:"simulated"`

	// Seconds after the fault (drill time), set when the moment happened.
	DetectS          *float64 `json:"detect_s,omitempty"`
	FencedS          *float64 `json:"fenced_s,omitempty"`
	ENIAttachedS     *float64 `json:"eni_attached_s,omitempty"`
	ServingS         *float64 `json:"serving_s,omitempty"`
	StandbyReplacedS *float64 `json:"standby_replaced_s,omitempty"`

	FaultAt         time.Time              `json:"fault_at"`
	FailedInstance  string                 `json:"failed_instance,omitempty"`
	NewHolder       string                 `json:"new_holder,omitempty"`
	Verdict         string                 `json:"verdict,omitempty"`
	Execution       string                 `json:"execution,omitempty"`
	ExecutionStatus string                 `json:"execution_status,omitempty"`
	Executions      int                    `json:"executions"`
	Timeline        []events.TimelineEntry `json:"timeline,omitempty"`
	Observed        []string               `json:"observed,omitempty"` // what the drill saw, for the reader
	Violations      []string               `json:"violations,omitempty"`
	MaxAttachments  int                    `json:"max_attachments"`
	// StandbyNoise counts self-reports other than healthy from coordinators that were
	// not faulted, after the warm-up: noise of the machine (a probe that missed its
	// scaled timeout), which can break a standby's healthy streak.
	StandbyNoise int     `json:"standby_noise_reports"`
	Samples      int     `json:"invariant_samples"`
	WallSeconds  float64 `json:"wall_s"`
	DrillSeconds float64 `json:"drill_s"`
	// Client is what the real client saw (the real-Trino drill only).
	Client *ClientRecord `json:"client,omitempty"`
}

// ClientRecord is what a real client running a query through the coordinator IP saw
// around the fault, in seconds after the fault (negative: before it).
type ClientRecord struct {
	Query         string   `json:"query"`
	Rounds        int      `json:"rounds"`
	LastOKBeforeS *float64 `json:"last_ok_before_s,omitempty"` // the last round that returned the rows before the fault
	FirstOKAfterS *float64 `json:"first_ok_after_s,omitempty"` // the first that did after it (fault to first successful query)
	// WorkerSeenS is the first round after the fault in which a coordinator other than
	// the failed one listed the worker (it announced itself to the new coordinator).
	WorkerSeenS *float64      `json:"worker_seen_s,omitempty"`
	Errors      []ClientError `json:"errors,omitempty"` // every failed round in between, runs of one name merged
}

// ClientError is a run of failed rounds with the same error name.
type ClientError struct {
	FromS   float64 `json:"from_s"`
	ToS     float64 `json:"to_s"`
	Name    string  `json:"name"` // Trino's error name (SERVER_STARTING_UP, ...), or the client's failure class
	Count   int     `json:"count"`
	Example string  `json:"example"`
}

// Marks returns the scenario's moments in time order, fault first.
func (s *Scenario) Marks() []Mark {
	m := []Mark{{MarkFault, 0}}
	add := func(name string, v *float64) {
		if v != nil {
			m = append(m, Mark{name, *v})
		}
	}
	add(MarkDetected, s.DetectS)
	add(MarkFenced, s.FencedS)
	add(MarkAttached, s.ENIAttachedS)
	add(MarkServing, s.ServingS)
	add(MarkReplaced, s.StandbyReplacedS)
	sort.SliceStable(m, func(i, j int) bool { return m[i].S < m[j].S })
	return m
}

// Mark is one moment, in seconds after the fault.
type Mark struct {
	Name string
	S    float64
}

// Settings are the production-equivalent timings the drill ran with.
type Settings struct {
	Speed            float64 `json:"speed"` // drill seconds per wall second
	Production       bool    `json:"production"`
	GraceS           float64 `json:"grace_s"`
	CheckIntervalS   float64 `json:"check_interval_s"`
	ProbeIntervalS   float64 `json:"probe_interval_s"`
	PublishIntervalS float64 `json:"publish_interval_s"`
	IngestionDelayS  string  `json:"ingestion_delay_s"`
	PendingToRunS    float64 `json:"pending_to_running_s"`
	StartupS         float64 `json:"coordinator_startup_s"`
	ScheduleS        float64 `json:"schedule_s"`
	Coordinators     int     `json:"coordinators"`
}

// Report is out/demo/report.json.
type Report struct {
	GeneratedAt time.Time  `json:"generated_at"`
	Settings    Settings   `json:"settings"`
	OK          bool       `json:"ok"`
	Scenarios   []Scenario `json:"scenarios"`
}

// Seconds returns a pointer to d in seconds, rounded to milliseconds.
func Seconds(d time.Duration) *float64 {
	v := float64(d.Round(time.Millisecond)) / float64(time.Second)
	return &v
}

// Write writes report.json and timeline.svg into dir.
func (r *Report) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the drill report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing the drill report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "timeline.svg"), []byte(SVG(r.Scenarios)), 0o644); err != nil {
		return fmt.Errorf("writing the timeline picture: %w", err)
	}
	return nil
}

func fmtS(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.1fs", *v)
}

// PrintTimeline writes a readable account of one scenario.
func PrintTimeline(w io.Writer, s *Scenario) {
	status := "ok"
	if !s.OK {
		status = "FAILED"
	}
	want := "must not fail over"
	if s.ExpectFailover {
		want = "must fail over"
	}
	fmt.Fprintf(w, "\n== %s (%s): %s [%s]\n", s.Name, want, s.Description, status)
	for _, m := range s.Marks() {
		fmt.Fprintf(w, "   T+%7.1fs  %s\n", m.S, markText(s, m.Name))
	}
	if s.Execution != "" {
		fmt.Fprintf(w, "   execution %s: %s\n", s.Execution, s.ExecutionStatus)
		for _, e := range s.Timeline {
			d := ""
			if e.Detail != "" {
				d = ": " + e.Detail
			}
			fmt.Fprintf(w, "     %s  %-14s %s%s\n", e.At.Sub(s.FaultAt).Round(100*time.Millisecond).String(), e.Step, e.Event, d)
		}
	}
	for _, o := range s.Observed {
		fmt.Fprintf(w, "   - %s\n", o)
	}
	for _, v := range s.Violations {
		fmt.Fprintf(w, "   ! %s\n", v)
	}
	fmt.Fprintf(w, "   invariants: %d samples, at most %d ENI attachment(s) at once; %.1fs of drill time in %.1fs wall\n",
		s.Samples, s.MaxAttachments, s.DrillSeconds, s.WallSeconds)
}

func markText(s *Scenario, name string) string {
	switch name {
	case MarkFault:
		return "fault injected on " + s.FailedInstance
	case MarkDetected:
		return "health check decided " + s.Verdict + ", started the failover"
	case MarkFenced:
		return s.FailedInstance + " fenced (terminated, ENI detached and available)"
	case MarkAttached:
		return "ENI attached to " + s.NewHolder
	case MarkServing:
		return "coordinator URL answers healthy again (from " + s.NewHolder + ")"
	case MarkReplaced:
		return "replacement standby launched"
	}
	return name
}

// PrintSummary writes one line per scenario.
func PrintSummary(w io.Writer, scenarios []Scenario) {
	fmt.Fprintf(w, "\n%-22s %-9s %-11s %-4s %9s %9s %9s %9s\n", "scenario", "expect", "failed over", "ok", "detect", "attached", "serving", "replaced")
	fmt.Fprintln(w, strings.Repeat("-", 90))
	for i := range scenarios {
		s := &scenarios[i]
		exp := "stay"
		if s.ExpectFailover {
			exp = "failover"
		}
		ok := "yes"
		if !s.OK {
			ok = "NO"
		}
		fmt.Fprintf(w, "%-22s %-9s %-11v %-4s %9s %9s %9s %9s\n", s.Name, exp, s.FailedOver, ok,
			fmtS(s.DetectS), fmtS(s.ENIAttachedS), fmtS(s.ServingS), fmtS(s.StandbyReplacedS))
	}
}
