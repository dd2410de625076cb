// Command drill is the local failover drill and benchmark: `drill demo` (make demo)
// watches the control plane detect each kind of coordinator failure and move the
// coordinator IP inside a simulated AWS account on this machine, and `drill bench`
// (make bench) repeats the failover scenarios and measures timings, the agent's
// footprint, binary sizes, Lambda cold starts and a monthly cost, and `drill chaos`
// (make chaos) runs the randomized fault campaign, and `drill runbook` runs the README's
// runbook (the operator command, coordinator-ha) against a simulated cluster. The logic is in internal/harness/drill and
// internal/harness/chaos.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/prestoha/coordinator-ha/internal/harness/drill"
)

func main() {
	if len(os.Args) >= 2 && os.Args[1] == "chaos" {
		os.Exit(runChaos(os.Args[2:]))
	}
	if len(os.Args) >= 2 && os.Args[1] == "runbook" {
		// The README's runbook: the operator command against a simulated cluster.
		if err := drill.Runbook(context.Background(), os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "drill runbook:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if len(os.Args) >= 2 && os.Args[1] == "demo-trino" {
		os.Exit(runDemoTrino(os.Args[2:]))
	}
	if len(os.Args) < 2 || (os.Args[1] != "demo" && os.Args[1] != "bench") {
		fmt.Fprintln(os.Stderr, "usage: drill demo|demo-trino|bench|chaos|runbook [flags]  (drill demo -h for the flags)")
		os.Exit(2)
	}
	cmd := os.Args[1]
	fs := flag.NewFlagSet("drill "+cmd, flag.ExitOnError)
	scenarios := fs.String("scenarios", "", "comma-separated scenarios (default: all for demo, the failover ones for bench); one of: "+strings.Join(drill.ScenarioNames(), ", "))
	speed := fs.Float64("speed", 0, fmt.Sprintf("demo: time compression, drill seconds per wall second (default %d)", drill.DefaultDemoSpeed))
	production := fs.Bool("production", false, "demo: run at real time (speed 1) with production timings")
	loopback := fs.Bool("loopback", false, "demo: run on the compressed wall clock with loopback HTTP servers and aws-local-stepfunctions instead of paced simulated time (timings are then this machine's)")
	fast := fs.Bool("fast", false, "demo: simulated time as fast as this machine allows (no pacing)")
	out := fs.String("out", "", "output directory (default out/demo or out/bench)")
	runs := fs.Int("runs", 20, "bench: runs of each failover scenario")
	parallel := fs.Int("parallel", 0, "scenarios run at the same time (default 1 for demo, 2 for bench)")
	agentSeconds := fs.Int("agent-seconds", 40, "bench: wall seconds to measure the agent binary's CPU and RSS")
	coldRuns := fs.Int("cold-runs", 10, "bench: cold starts measured per Lambda")
	unkindRuns := fs.Int("unkind-runs", 0, "bench: runs of each failover scenario under the unkind model (default 5 x -runs)")
	_ = fs.Parse(os.Args[2:])

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var names []string
	for _, n := range strings.Split(*scenarios, ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	var err error
	switch cmd {
	case "demo":
		err = drill.Demo(ctx, drill.DemoOptions{Scenarios: names, Speed: *speed, Production: *production, Out: *out, Parallel: *parallel, Loopback: *loopback, Unpaced: *fast, Progress: os.Stdout})
	case "bench":
		err = drill.Bench(ctx, drill.BenchOptions{Scenarios: names, Out: *out,
			Runs: *runs, UnkindRuns: *unkindRuns, Parallel: *parallel, AgentSeconds: *agentSeconds, ColdStartRuns: *coldRuns, Progress: os.Stdout})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "drill "+cmd+":", err)
		os.Exit(1)
	}
}
