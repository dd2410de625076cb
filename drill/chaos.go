package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"

	"github.com/prestoha/coordinator-ha/internal/harness/chaos"
)

// runChaos is `drill chaos`: the randomized fault campaign against the simulated AWS
// account (see internal/harness/chaos). It writes out/chaos/report.json and returns 1 when any
// run broke an invariant; -seed N replays one run with a verbose log.
func runChaos(args []string) int {
	fs := flag.NewFlagSet("drill chaos", flag.ExitOnError)
	runs := fs.Int("runs", 2000, "number of seeded runs")
	first := fs.Uint64("first-seed", 1, "seed of the first run; run i uses first-seed+i")
	seed := fs.Int64("seed", -1, "replay this one seed with a verbose log (overrides -runs)")
	workers := fs.Int("workers", runtime.NumCPU(), "runs in parallel")
	out := fs.String("out", "out/chaos/report.json", "report path")
	faults := fs.String("faults", "", "comma-separated fault kinds to draw from (default: all of "+strings.Join(chaos.FaultKinds, ",")+")")
	maxFaults := fs.Int("max-faults", 0, "most faults per run (default 6)")
	crashRuns := fs.Int("crash-runs", 0, "after the main campaign, this many runs with the crash-focused fault mix (chaos.CrashFocus, at most 5 faults)")
	_ = fs.Parse(args)
	opts := chaos.Options{MaxFaults: *maxFaults}
	if *faults != "" {
		opts.Faults = strings.Split(*faults, ",")
		for _, k := range opts.Faults {
			if !slices.Contains(chaos.FaultKinds, k) {
				fmt.Fprintf(os.Stderr, "unknown fault kind %q (known: %s)\n", k, strings.Join(chaos.FaultKinds, ","))
				return 2
			}
		}
	}

	if *seed >= 0 {
		opts.Log = os.Stderr
		r := chaos.Run(uint64(*seed), opts)
		fmt.Printf("seed %d: %d coordinators, faults %v\n", r.Seed, r.HACount, r.Faults)
		if r.BreakerOpen {
			fmt.Println("  the circuit breaker held a failover back: recovery is not required")
		} else if r.RecoveryExempt != "" {
			fmt.Println("  recovery not required:", r.RecoveryExempt)
		}
		for _, e := range r.Executions {
			fmt.Printf("  execution %s: %s %s %s states %v retries %d timeline %d\n", e.Name, e.Verdict, e.Status, e.Outcome, e.States, e.Retries, e.Timeline)
		}
		for _, v := range r.Violations {
			fmt.Printf("  VIOLATION %s: %s\n", v.Invariant, v.Description)
		}
		if len(r.Violations) > 0 {
			return 1
		}
		fmt.Println("  no violation")
		return 0
	}
	rep := chaos.Campaign(*runs, *first, *workers, opts)
	if *crashRuns > 0 {
		rep.Merge(chaos.Campaign(*crashRuns, *first+uint64(*runs), *workers, chaos.Options{Faults: chaos.CrashFocus, MaxFaults: 5}))
	}
	if err := rep.Write(*out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Printf("chaos: %d runs, %d faults injected, %d failover executions %v, %d runs with the breaker open, %d without a healthy coordinator to recover to, %d violations (%.1fs); report %s\n",
		rep.Runs, rep.FaultsInjected.Total, rep.Executions, rep.ByStatus, rep.BreakerRuns, rep.ExemptRuns, len(rep.Violations), rep.WallSeconds, *out)
	for _, v := range rep.Violations {
		fmt.Printf("  VIOLATION seed %d %s: %s\n    replay: %s\n", v.Seed, v.Invariant, v.Description, v.Replay)
	}
	for _, p := range rep.Parts {
		fmt.Printf("  seeds %d..%d replay: %s\n", p.FirstSeed, p.FirstSeed+uint64(p.Runs)-1, p.Replay)
	}
	if len(rep.Violations) > 0 {
		return 1
	}
	return 0
}
