package drill

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"time"
)

// logCapture is a slog.Handler that keeps the health check's and the steps' records
// for the drill's account of what the control plane saw and did.
type logCapture struct {
	c     *Cluster
	attrs []slog.Attr
}

type logRecord struct {
	At    time.Time // drill time
	Level slog.Level
	Msg   string
	Attrs map[string]string
}

func (l *logCapture) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelInfo }

func (l *logCapture) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{At: l.c.Clock.Now(), Level: r.Level, Msg: r.Message, Attrs: map[string]string{}}
	for _, a := range l.attrs {
		rec.Attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.Attrs[a.Key] = a.Value.String()
		return true
	})
	l.c.logMu.Lock()
	l.c.logs = append(l.c.logs, rec)
	l.c.logMu.Unlock()
	return nil
}

func (l *logCapture) WithAttrs(as []slog.Attr) slog.Handler {
	return &logCapture{c: l.c, attrs: append(append([]slog.Attr(nil), l.attrs...), as...)}
}

func (l *logCapture) WithGroup(string) slog.Handler { return l }

func (c *Cluster) logger() *slog.Logger { return slog.New(&logCapture{c: c}) }

// Logs returns the captured records.
func (c *Cluster) Logs() []logRecord {
	c.logMu.Lock()
	defer c.logMu.Unlock()
	return append([]logRecord(nil), c.logs...)
}

// progress prints a line when the drill reports progress.
func (c *Cluster) progress(format string, a ...any) {
	if c.report != nil {
		c.report(format, a...)
	}
}

// stamp is the drill time since the fault (or since the start before it), for progress lines.
func (c *Cluster) stamp() string {
	c.mu.Lock()
	f := c.fault
	c.mu.Unlock()
	if f.IsZero() {
		return fmt.Sprintf("[warm-up %6.1fs]", c.Clock.Now().Sub(c.started).Seconds())
	}
	return fmt.Sprintf("[T+%7.1fs]", c.Clock.Now().Sub(f).Seconds())
}

func (c *Cluster) setFault(t time.Time) {
	c.mu.Lock()
	c.fault = t
	c.mu.Unlock()
}

// observed summarizes, in order, how the health check's view of the active coordinator
// changed after the fault, and what it did about it.
func (c *Cluster) observed() []string {
	fault := c.faultAt()
	var out []string
	last := ""
	for _, r := range c.Logs() {
		if r.At.Before(fault) || r.Msg != "evaluation" {
			continue
		}
		v := r.Attrs["verdict"]
		action := r.Attrs["action"]
		key := v + "/" + action
		if v == "" || key == last {
			continue
		}
		last = key
		line := fmt.Sprintf("T+%.1fs health check: %s %s", r.At.Sub(fault).Seconds(), v, r.Attrs["instance"])
		if action != "" {
			line += ", action " + action
		}
		if d := r.Attrs["actionDetail"]; d != "" && action != "none" {
			line += ": " + d
		}
		if reason := r.Attrs["reason"]; reason != "" && !strings.Contains(line, reason) {
			line += " (" + reason + ")"
		}
		out = append(out, strings.TrimSpace(line))
	}
	return out
}

// verdictPath is the sequence of the health check's verdicts on the active coordinator
// after the fault, repeats collapsed ("HEALTHY -> SUSPECT -> HEALTHY").
func (c *Cluster) verdictPath() string {
	fault := c.faultAt()
	var path []string
	for _, r := range c.Logs() {
		v := r.Attrs["verdict"]
		if r.Msg != "evaluation" || v == "" || r.At.Before(fault) {
			continue
		}
		if len(path) == 0 || path[len(path)-1] != v {
			path = append(path, v)
		}
	}
	return strings.Join(path, " -> ")
}

// costSnapshot is the billed calls so far.
type costSnapshot struct {
	At          time.Time
	Agent, HC   CWCounts
	Invocations []invocation
	Calls       map[string]int // caller/service:operation
}

func (c *Cluster) costSnapshot() costSnapshot {
	s := costSnapshot{At: c.Clock.Now(), Agent: c.AgentCW.Counts(), Calls: map[string]int{}}
	if c.HCCW != nil {
		s.HC = c.HCCW.Counts()
	}
	c.mu.Lock()
	s.Invocations = append([]invocation(nil), c.invocations...)
	c.mu.Unlock()
	for _, call := range c.Acct.Calls() {
		s.Calls[call.Caller+"/"+call.Action()]++
	}
	return s
}

func (c *Cluster) setWarm(t time.Time) {
	c.mu.Lock()
	c.warm = t
	c.mu.Unlock()
}

func (c *Cluster) warmAt() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.warm
}
