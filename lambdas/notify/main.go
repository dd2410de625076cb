// Command notify is the StepNotify step Lambda of the failover state machine: one SNS message per failover with the outcome and the timeline.
// The logic is internal/failover (Steps.Notify); this main only starts it (failover.Start).
package main

import (
	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/failover"
)

func main() { failover.Start(events.StepNotify) }
