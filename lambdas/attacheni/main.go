// Command attacheni is the StepAttachENI step Lambda of the failover state machine: move the coordinator ENI to the best healthy standby once the fence is confirmed.
// The logic is internal/failover (Steps.AttachENI); this main only starts it (failover.Start).
package main

import (
	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/failover"
)

func main() { failover.Start(events.StepAttachENI) }
