package failover

import (
	"errors"
	"strings"
	"testing"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/signal"
)

// A planned switchover names its target: AttachENI attaches the ENI there even when
// another standby has the longer healthy streak (and would win a failover).
func TestSwitchoverTargetIsHonoured(t *testing.T) {
	w := newWorld(t, worldOpts{haCount: 3, healthyReports: 4})
	w.report(w.standbys[1], signal.Healthy, 9) // the one a failover would choose
	in := w.input()
	in.Verdict, in.TargetInstanceID = events.VerdictManual, w.standbys[0]
	st, err := w.run(events.StepTerminate, in)
	must(t, err)
	st, err = w.run(events.StepAttachENI, st)
	must(t, err)
	if st.Attach.InstanceID != w.standbys[0] {
		t.Fatalf("attached to %s, want the target %s:\n%s", st.Attach.InstanceID, w.standbys[0], timeline(st))
	}
	if !candidateRejected(st, w.standbys[1], "not the switchover target") || !hasEvent(st, events.StepAttachENI, "target") {
		t.Errorf("the other standby was not passed over as not the target: %+v\n%s", st.Attach.Candidates, timeline(st))
	}
}

// A target that does not qualify is refused with a PermanentError, and AttachENI
// changes nothing: no attach, no scale-in protection, no tags.
func TestSwitchoverTargetThatDoesNotQualifyIsRefused(t *testing.T) {
	cases := []struct {
		name   string
		target func(w *world) string
		want   string
	}{
		{"unhealthy", func(w *world) string { w.report(w.standbys[0], signal.Unhealthy, 3); return w.standbys[0] }, "consecutive healthy reports"},
		{"not a member", func(w *world) string { return "i-0123456789abcdef0" }, "not a member of the pool"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t, worldOpts{haCount: 3})
			in := w.input()
			in.Verdict = events.VerdictManual
			st, err := w.run(events.StepTerminate, in)
			must(t, err)
			st.TargetInstanceID = c.target(w)
			before := len(w.acct.Calls())
			_, err = w.run(events.StepAttachENI, st)
			var pe *PermanentError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), st.TargetInstanceID) {
				t.Fatalf("AttachENI with target %s: %v, want a PermanentError naming it and %q", st.TargetInstanceID, err, c.want)
			}
			for _, call := range w.acct.Calls()[before:] {
				if call.Operation == "AttachNetworkInterface" || call.Operation == "SetInstanceProtection" || call.Operation == "CreateTags" {
					t.Errorf("AttachENI called %s before refusing", call.Action())
				}
			}
			if h, _ := w.pool.Holder(); h != "" {
				t.Errorf("the ENI is on %s", h)
			}
		})
	}
}
