package chaos

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
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
	// Reproduce: how to replay one run with a verbose log.
	Reproduce string `json:"reproduce"`
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
	r := Report{Runs: runs, FirstSeed: firstSeed, FaultsInjected: FaultTotals{ByKind: map[string]int{}},
		Violations: []Violation{}, ByStatus: map[string]int{}, HACounts: map[int]int{},
		Reproduce: "go run ./chaos -seed N (verbose log of run N)"}
	for _, k := range FaultKinds {
		r.FaultsInjected.ByKind[k] = 0
	}
	var rec []time.Duration
	for _, res := range results {
		for k, n := range res.FaultCounts {
			r.FaultsInjected.ByKind[k] += n
			r.FaultsInjected.Total += n
		}
		r.Violations = append(r.Violations, res.Violations...)
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
