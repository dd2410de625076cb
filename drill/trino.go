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

// runDemoTrino is `drill demo-trino` (make demo-trino): the real-Trino drill. Ctrl-C
// (or SIGTERM) ends the run through its context, which kills every process it started
// and removes its namespaces; a run killed harder is cleaned up by the next one.
func runDemoTrino(args []string) int {
	fs := flag.NewFlagSet("drill demo-trino", flag.ExitOnError)
	scenarios := fs.String("scenarios", "", "comma-separated scenarios (default all): host-unresponsive, instance-gone, process-exit, process-hang, short-pause")
	out := fs.String("out", "", "output directory (default out/demo-trino)")
	_ = fs.Parse(args)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	var names []string
	for _, n := range strings.Split(*scenarios, ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	if _, err := drill.DemoTrino(ctx, drill.TrinoDemoOptions{Scenarios: names, Out: *out, Progress: os.Stdout}); err != nil {
		fmt.Fprintln(os.Stderr, "drill demo-trino:", err)
		return 1
	}
	return 0
}
