package drill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prestoha/coordinator-ha/internal/harness/drill/report"
)

// DemoOptions configure Demo.
//
// By default the scenarios run on simulated time (clock.Sim), paced to Speed times the
// wall clock for people to watch: every verdict and invariant is the same on a busy
// machine as on an idle one (a busy machine only makes the run slower). Loopback runs
// them on the compressed wall clock instead, with real loopback HTTP servers, a
// loopback proxy for the coordinator IP and aws-local-stepfunctions: closer to the
// processes of a real deployment, but its timings (and, on a very busy machine, its
// probes' scaled-down timeouts) are the machine's.
type DemoOptions struct {
	Scenarios  []string // empty: all
	Speed      float64  // 0: DefaultDemoSpeed
	Production bool     // speed 1
	Out        string   // "" : out/demo
	Parallel   int      // scenarios at once; 0: 1
	Loopback   bool     // the compressed wall clock with loopback HTTP and aws-local-stepfunctions
	Unpaced    bool     // simulated time as fast as the machine allows (tests)
	Progress   io.Writer
	Settings   *Settings // nil: DefaultSettings
}

// DefaultDemoSpeed compresses the demo so that all scenarios take a few minutes.
const DefaultDemoSpeed = 15

// ErrMisbehaved is returned when a scenario did not behave as it must.
var ErrMisbehaved = errors.New("a scenario misbehaved")

// Demo runs the scenarios, prints their timelines and writes report.json and
// timeline.svg. It returns ErrMisbehaved (wrapped) when any scenario is not ok.
func Demo(ctx context.Context, o DemoOptions) error {
	r, err := RunDemo(ctx, o)
	if err != nil {
		return err
	}
	out := o.Out
	if out == "" {
		out = filepath.Join("out", "demo")
	}
	if err := r.Write(out); err != nil {
		return err
	}
	w := o.Progress
	if w == nil {
		w = io.Discard
	}
	for i := range r.Scenarios {
		report.PrintTimeline(w, &r.Scenarios[i])
	}
	report.PrintSummary(w, r.Scenarios)
	fmt.Fprintf(w, "\nwrote %s and %s\n", filepath.Join(out, "report.json"), filepath.Join(out, "timeline.svg"))
	return misbehaved(r)
}

// misbehaved returns ErrMisbehaved naming the scenarios that were not ok, or nil.
func misbehaved(r *report.Report) error {
	if r.OK {
		return nil
	}
	var bad []string
	for _, s := range r.Scenarios {
		if !s.OK {
			bad = append(bad, s.Name)
		}
	}
	return fmt.Errorf("%w: %s", ErrMisbehaved, strings.Join(bad, ", "))
}

// RunDemo runs the scenarios and returns the report without writing it.
func RunDemo(ctx context.Context, o DemoOptions) (*report.Report, error) {
	st := DefaultSettings()
	if o.Settings != nil {
		st = *o.Settings
	}
	st.Speed = DefaultDemoSpeed
	if o.Speed > 0 {
		st.Speed = o.Speed
	}
	if o.Production {
		st.Speed = 1
	}
	scs, err := selectScenarios(st, o.Scenarios, false)
	if err != nil {
		return nil, err
	}
	w := o.Progress
	if w == nil {
		w = io.Discard
	}
	var pmu sync.Mutex
	switch {
	case o.Loopback:
		fmt.Fprintf(w, "coordinator failover drill: %d scenarios over loopback HTTP, drill time runs %gx faster than the wall clock\n", len(scs), st.Speed)
	case o.Unpaced:
		fmt.Fprintf(w, "coordinator failover drill: %d scenarios on simulated time, as fast as this machine allows\n", len(scs))
	default:
		fmt.Fprintf(w, "coordinator failover drill: %d scenarios on simulated time, shown at up to %gx the wall clock\n", len(scs), st.Speed)
	}
	fmt.Fprintf(w, "settings: grace %s, check interval %s, schedule %s, probe %s, publish %s, ingestion %s-%s (allowance %s), pending->running %s, Presto start-up %s\n",
		st.Grace, st.CheckInterval, st.Schedule, st.ProbeInterval, st.PublishInterval, st.IngestionMin, st.IngestionMax, st.IngestionAllow, st.PendingToRun, st.Startup)
	results := make([]report.Scenario, len(scs))
	par := max(o.Parallel, 1)
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i, sc := range scs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			prog := func(format string, a ...any) {
				pmu.Lock()
				defer pmu.Unlock()
				fmt.Fprintf(w, "%-22s%s\n", sc.Name, fmt.Sprintf(format, a...))
			}
			prog("  starting (%s)", sc.Description)
			ro := runOptions{Settings: st, Seed: int64(i + 1), Simulated: !o.Loopback, Progress: prog}
			if ro.Simulated && !o.Unpaced {
				ro.Pace = st.Speed
			}
			res, _ := runScenario(ctx, sc, ro)
			verdict := "ok"
			if !res.OK {
				verdict = "MISBEHAVED: " + strings.Join(res.Violations, "; ")
			}
			prog("  done in %.1fs wall: failed over %v, %s", res.WallSeconds, res.FailedOver, verdict)
			results[i] = res
		}()
		if ctx.Err() != nil {
			break
		}
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r := &report.Report{GeneratedAt: time.Now().UTC(), Settings: reportSettings(st), Scenarios: results, OK: true}
	for _, s := range results {
		r.OK = r.OK && s.OK
	}
	return r, nil
}

func reportSettings(st Settings) report.Settings {
	return report.Settings{
		Speed: st.Speed, Production: st.Speed == 1, GraceS: st.Grace.Seconds(), CheckIntervalS: st.CheckInterval.Seconds(),
		ProbeIntervalS: st.ProbeInterval.Seconds(), PublishIntervalS: st.PublishInterval.Seconds(),
		IngestionDelayS: fmt.Sprintf("%g-%g (allowance %g)", st.IngestionMin.Seconds(), st.IngestionMax.Seconds(), st.IngestionAllow.Seconds()),
		PendingToRunS:   st.PendingToRun.Seconds(), StartupS: st.Startup.Seconds(), ScheduleS: st.Schedule.Seconds(), Coordinators: st.Coordinators,
	}
}

var _ = os.Stdout
