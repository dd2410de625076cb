package chaos

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Report is out/chaos/report.json.
type Report struct {
	Runs           int            `json:"runs"`
	FirstSeed      uint64         `json:"firstSeed"`
	FaultsInjected FaultTotals    `json:"faults_injected"`
	Violations     []Violation    `json:"violations"`
	Executions     int            `json:"executions"`
	ByStatus       map[string]int `json:"executionsByStatus"`
	BreakerRuns    int            `json:"runsWithBreakerOpen"`
	ExemptRuns     int            `json:"runsWithoutHealthyCandidate"`
	HACounts       map[int]int    `json:"runsByHACount"`
	RecoveryMax    string         `json:"recoveryAfterLastFaultMax"`
	RecoveryMedian string         `json:"recoveryAfterLastFaultMedian"`
	AWSCalls       int            `json:"awsCalls"`
	WallSeconds    float64        `json:"wallSeconds"`
	// Parts are the campaigns merged into this report (seeds and fault mix of each).
	Parts []Part `json:"parts"`
	// Reproduce: how to replay one run with a verbose log.
	Reproduce string `json:"reproduce"`
}

// Part is one campaign of a report.
type Part struct {
	Runs      int      `json:"runs"`
	FirstSeed uint64   `json:"firstSeed"`
	Faults    []string `json:"faults"`
	MaxFaults int      `json:"maxFaults"`
	Replay    string   `json:"replay"` // the command that replays seed N of this part
}

// FaultTotals counts injected faults.
type FaultTotals struct {
	Total  int            `json:"total"`
	ByKind map[string]int `json:"byKind"`
}

// Campaign runs runs seeded runs from firstSeed on workers goroutines.
func Campaign(runs int, firstSeed uint64, workers int, opts Options) Report {
	start := time.Now()
	if workers < 1 {
		workers = 1
	}
	results := make([]RunResult, runs)
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i] = Run(firstSeed+uint64(i), opts)
			}
		}()
	}
	for i := range runs {
		next <- i
	}
	close(next)
	wg.Wait()
	o := opts.withDefaults()
	replay := "go run ./drill chaos -seed N"
	if len(opts.Faults) > 0 {
		replay += " -faults " + strings.Join(opts.Faults, ",")
	}
	if opts.MaxFaults > 0 {
		replay += fmt.Sprintf(" -max-faults %d", opts.MaxFaults)
	}
	r := Report{Runs: runs, FirstSeed: firstSeed, FaultsInjected: FaultTotals{ByKind: map[string]int{}},
		Violations: []Violation{}, ByStatus: map[string]int{}, HACounts: map[int]int{},
		Reproduce: "go run ./drill chaos -seed N, with the -faults and -max-faults of the seed's part (see parts)"}
	r.Parts = []Part{{Runs: runs, FirstSeed: firstSeed, Faults: o.Faults, MaxFaults: o.MaxFaults, Replay: replay}}
	for _, k := range FaultKinds {
		r.FaultsInjected.ByKind[k] = 0
	}
	var rec []time.Duration
	for _, res := range results {
		for k, n := range res.FaultCounts {
			r.FaultsInjected.ByKind[k] += n
			r.FaultsInjected.Total += n
		}
		for _, v := range res.Violations {
			v.Replay = strings.Replace(replay, "-seed N", fmt.Sprintf("-seed %d", v.Seed), 1)
			r.Violations = append(r.Violations, v)
		}
		r.Executions += len(res.Executions)
		for _, e := range res.Executions {
			r.ByStatus[e.Status]++
		}
		if res.BreakerOpen {
			r.BreakerRuns++
		} else if res.RecoveryExempt != "" {
			r.ExemptRuns++
		}
		r.HACounts[res.HACount]++
		if res.RecoveredIn != nil {
			rec = append(rec, *res.RecoveredIn)
		}
		r.AWSCalls += res.AWSCalls
	}
	sort.Slice(rec, func(i, j int) bool { return rec[i] < rec[j] })
	if len(rec) > 0 {
		r.RecoveryMax, r.RecoveryMedian = rec[len(rec)-1].String(), rec[len(rec)/2].String()
	}
	r.WallSeconds = time.Since(start).Seconds()
	return r
}

// Write stores the report as JSON at path, creating the directory.
func (r Report) Write(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("writing chaos report: %w", err)
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// CrashFocus is the fault mix of the crash-focused part of `make chaos`: real failures of
// the active coordinator and step crashes (weighted three times), so crashes meet
// failovers at every point of their steps.
var CrashFocus = []string{FaultPrestoExit, FaultHostSilence, FaultTerminatedOutside, FaultStepCrash, FaultStepCrash, FaultStepCrash,
	// AWS as documented, switched on per run as in the mixed campaign (never drawn as faults).
	FaultEventual, FaultLateTicks, FaultLatency, FaultGuestDelay, FaultIMDSLag}

// Merge adds another campaign's report to r.
func (r *Report) Merge(o Report) {
	r.Runs += o.Runs
	r.FaultsInjected.Total += o.FaultsInjected.Total
	for k, n := range o.FaultsInjected.ByKind {
		r.FaultsInjected.ByKind[k] += n
	}
	r.Violations = append(r.Violations, o.Violations...)
	r.Executions += o.Executions
	for k, n := range o.ByStatus {
		r.ByStatus[k] += n
	}
	r.BreakerRuns += o.BreakerRuns
	r.ExemptRuns += o.ExemptRuns
	for k, n := range o.HACounts {
		r.HACounts[k] += n
	}
	if d1, e1 := time.ParseDuration(r.RecoveryMax); e1 != nil || func() bool { d2, e2 := time.ParseDuration(o.RecoveryMax); return e2 == nil && d2 > d1 }() {
		r.RecoveryMax = o.RecoveryMax
	}
	r.AWSCalls += o.AWSCalls
	r.WallSeconds += o.WallSeconds
	r.Parts = append(r.Parts, o.Parts...)
}
