// Package drill is the local failover drill (make demo) and benchmark (make bench).
//
// A drill scenario builds a fresh coordinator cluster in the simulated AWS account
// (internal/sim): an Auto Scaling group of coordinators in one subnet and the
// coordinator ENI. Every coordinator instance that reaches "running" gets a simulated
// Presto/Trino server (internal/drill/host: a real loopback HTTP server answering
// GET /v1/info, starting then ready) and the real on-host agent (internal/agent)
// publishing to the simulated CloudWatch, with a role source backed by the simulated ENI
// (what IMDS would say). The real health check (internal/healthcheck) runs on its
// schedule: Handle once a minute of drill time. At first start it finds the ENI
// unattached and its execution attaches it (with KeepCoordinatorNode=yes the drill
// attaches it, as an operator would). When it starts an execution, the simulated Step
// Functions calls the drill, which runs the product's one state machine definition
// (internal/statemachine) through internal/sfnlocal with the real step handlers
// (internal/failover) and finishes the execution in the account with the real outcome.
//
// A reverse proxy stands in for the coordinator IP (internal/drill/vip): it forwards
// every request to whichever host holds the ENI in the simulation at that moment, and
// the standbys' witness probes to the ENI's private IP are routed to it. A client calls
// GET /v1/info through it all the time and records when the coordinator URL serves
// again and who answered.
//
// Time is compressed (drillClock, like clock.Scaled): every component sees production
// timings (grace, check interval, probe and publish intervals, EC2 transitions), run N
// times faster on the wall clock, so reported seconds are production-equivalent. HTTP
// timeouts, which net/http enforces on the wall clock, are scaled down (with a floor).
// Drill time stands still while the local Step Functions interpreter (Node.js) starts for
// an execution, a laptop artefact that would otherwise add seconds to every failover.
//
// Each scenario injects one fault into the active coordinator, waits for the outcome,
// and checks invariants: at most one ENI attachment at any sample (every few wall
// milliseconds) and exactly one at the end, the holder healthy, the failed instance
// fenced (shutting down or stopped, ENI off it) before the ENI started to move, and no
// second execution for the same failure.
//
// The bench (Bench) repeats the failover scenarios for timing distributions and
// measures the Lambdas' cold-start init (internal/drill/coldstart), the agent binary's
// CPU and RSS (internal/drill/procstat), the binaries' sizes and a monthly cost model
// from the AWS calls counted in a steady-state run.
package drill
