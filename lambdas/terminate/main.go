// Command terminate is the StepTerminate step Lambda of the failover state machine: fence the failed coordinator (terminate it, detach the ENI, confirm).
// The logic is internal/failover (Steps.Terminate); this main only starts it (failover.Start).
package main

import (
	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/failover"
)

func main() { failover.Start(events.StepTerminate) }
