// Package drill is the local failover drill (make demo) and benchmark (make bench).
//
// A drill scenario builds a fresh coordinator cluster in the simulated AWS account
// (internal/sim): an Auto Scaling group of coordinators in one subnet and the
// coordinator ENI attached to the first. Every coordinator instance gets a simulated
// Presto/Trino server (internal/drill/host: a real loopback HTTP server answering
// GET /v1/info) and the real on-host agent (internal/agent) publishing to the simulated
// CloudWatch. The real health check (internal/healthcheck) runs on its schedule; when it
// starts a failover, the simulated Step Functions hands the execution to
// internal/sfnlocal, which runs the product's one state machine definition
// (internal/statemachine) with the real step handlers (internal/failover). A reverse
// proxy stands in for the coordinator IP (internal/drill/vip) and always forwards to
// whichever host holds the ENI in the simulation; a client calls it all the time and
// records when the coordinator URL serves again.
//
// Time is compressed with clock.Scaled: every component sees production timings
// (grace, check interval, probe and publish intervals, EC2 transitions), run N times
// faster on the wall clock. Reported seconds are drill seconds, which are
// production-equivalent seconds.
//
// Each scenario injects one fault into the active coordinator, waits for the outcome,
// and checks invariants: at most one ENI attachment at any time and exactly one at the
// end, the holder healthy, the failed instance fenced before the ENI moved, and no
// second execution for the same failure.
package drill
