package operator

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

func ago(s *Seconds) string {
	if s == nil {
		return "-"
	}
	return fmt.Sprintf("%.0fs ago", float64(*s))
}

func dur(s *Seconds) string {
	if s == nil {
		return "-"
	}
	return fmt.Sprintf("%.1fs", float64(*s))
}

// WriteStatus prints s for people.
func WriteStatus(w io.Writer, s *Status) {
	fmt.Fprintf(w, "cluster %s (stack %s) at %s: %s\n", s.Cluster, s.Stack, s.At.Format(time.RFC3339), strings.ToUpper(string(s.Health)))
	for _, p := range s.Problems {
		fmt.Fprintf(w, "  ! %s\n", p)
	}
	holder := s.Holder
	if holder == "" {
		holder = "nobody"
	}
	fmt.Fprintf(w, "coordinator IP %s (ENI %s, %s) held by %s\n", s.IP, s.ENIID, s.ENIStatus, holder)
	fmt.Fprintf(w, "healthy standbys %d; desired capacity %d; launch template version %s\n", s.HealthyStandbys, s.Desired, orDash(s.Version))
	if p := s.Pause; p != nil {
		fmt.Fprintf(w, "failover PAUSED until %s (%s left) by %s at %s: %s\n", p.Until.Format(time.RFC3339),
			p.Until.Sub(s.At).Round(time.Second), p.By, p.At.Format(time.RFC3339), p.Reason)
	} else {
		fmt.Fprintf(w, "failover not paused\n")
	}
	fmt.Fprintf(w, "circuit breaker %d of %d failovers in the last %s\n\n", s.BreakerCount, s.BreakerMax, s.BreakerWindow)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "INSTANCE\tROLE\tVERDICT\tLAST REPORT\tSTREAK\tSTATE\tAZ\tPROTECTED\tVERSION\tNOTE")
	for _, c := range s.Coordinators {
		verdict := string(c.Verdict)
		if verdict == "" {
			verdict = "-"
		} else {
			verdict += " (" + ago(c.VerdictAge) + ")"
		}
		report := "-"
		if c.LastReport != "" {
			report = c.LastReport + " " + ago(c.LastReportAge)
		}
		version := orDash(c.Version)
		if !c.Current && c.Version != "" {
			version += " (old)"
		}
		note := c.NotReady
		if c.Role == "standby" && note == "" {
			note = "ready"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%v\t%s\t%s\n", c.InstanceID, c.Role, verdict, report, c.HealthyStreak, c.State, c.AZ, c.Protected, version, note)
	}
	tw.Flush()
	if s.Running != nil {
		fmt.Fprintf(w, "\nrunning: %s (%s of %s) for %s\n", s.Running.Execution, s.Running.Verdict, orDash(s.Running.Failed), dur(s.Running.Duration))
	}
	if len(s.Recent) > 0 {
		fmt.Fprintf(w, "\nlast failovers:\n")
		writeHistoryTable(w, s.Recent)
	}
}

// WriteHistory prints the failovers, newest first, each with its timeline.
func WriteHistory(w io.Writer, fs []Failover) {
	if len(fs) == 0 {
		fmt.Fprintln(w, "no failover executions")
		return
	}
	writeHistoryTable(w, fs)
	for _, f := range fs {
		fmt.Fprintf(w, "\n%s  %s  %s\n  reason: %s\n", f.Execution, f.Status, f.Started.Format(time.RFC3339), f.Reason)
		if f.Error != "" {
			fmt.Fprintf(w, "  error: %s\n", f.Error)
		}
		for _, t := range f.Timeline {
			fmt.Fprintf(w, "  %+7.1fs  %-14s %-18s %s\n", t.At.Sub(f.Started).Seconds(), t.Step, t.Event, t.Detail)
		}
	}
}

func writeHistoryTable(w io.Writer, fs []Failover) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "EXECUTION\tSTARTED\tSTATUS\tVERDICT\tFROM\tTO\tDURATION\tENI GAP")
	for _, f := range fs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.Execution, f.Started.Format("2006-01-02 15:04:05"), f.Status, f.Verdict,
			orDash(f.Failed), orDash(f.NewActive), dur(f.Duration), dur(f.ENIGap))
	}
	tw.Flush()
}

// WriteSwitchover prints a switchover's result.
func WriteSwitchover(w io.Writer, r *SwitchoverResult) {
	fmt.Fprintf(w, "switchover %s %s: %s -> %s in %s\n", r.Execution, r.Status, r.From, orDash(r.NewActive), dur(r.Duration))
	fmt.Fprintf(w, "  ENI gap (fence to attach, from the timeline): %s\n", dur(r.ENIGap))
	if r.ClientGap != nil {
		fmt.Fprintf(w, "  client-visible gap (probing %s every second): %s (%d of %d probes not served)\n", "the coordinator IP", dur(r.ClientGap), r.NotServed, r.Probes)
	} else {
		fmt.Fprintf(w, "  client-visible gap: not measured (the coordinator IP does not answer from here)\n")
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
