// Command launchstandby is the StepLaunch step Lambda of the failover state machine: bring the coordinator pool back to HACoordinatorsCount.
// The logic is internal/failover (Steps.LaunchStandby); this main only starts it (failover.Start).
package main

import (
	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/failover"
)

func main() { failover.Start(events.StepLaunch) }
