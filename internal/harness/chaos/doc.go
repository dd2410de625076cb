// Package chaos is the randomized fault campaign (`make chaos`; a short campaign runs in
// `make test`). Each run is seeded and reproducible (`go run ./drill chaos -seed N` replays one
// with a verbose log): on the simulated account (internal/harness/sim) and a simulated clock it
// builds a coordinator pool (3 coordinators, sometimes 1 to 5) in an Auto Scaling group,
// simulates each host's Presto and agent in-process (a self-report every 5 s and, on
// standbys, a witness report of the active, buffered while CloudWatch is unreachable),
// runs the health check's Evaluate every check interval, and runs every execution it
// starts through the real state machine definition (internal/statemachine), interpreted
// by internal/harness/asl on the campaign clock, with the real step handlers.
// A step's waits let the rest of the world go on (agents report, the health check
// evaluates, faults fire), so a failover meets the faults as it would in an account.
// Executions run one at a time, in start order.
//
// The campaign is a type (campaign.go: setup, the world's schedule, the main loop; the
// invariants in invariants.go), and its fault kinds are one table (faults.go,
// faultTable): each entry says whom the kind hits, whether it is a real failure (a
// failover of that coordinator is justified) and a primary one (runs centre on it), how
// much it blinds the witnesses, how it is injected and how the heal ends it. Adding a
// kind is adding an entry. The step Lambdas come from statemachine.Tasks.
//
// Faults (FaultKinds): Presto exit (sometimes restarted), hang, slow answers; agent
// death; host silence; instance terminated from outside; agent path to CloudWatch cut;
// partition of the ENI path; throttling, 5xx, stale reads and lost replies on any AWS
// operation and caller (sim.Inject); the ENI stuck detaching; the ASG slow or suspended;
// a step crashing half-way (its context is cancelled after N AWS calls, as when the
// Lambda dies; the name Step Functions sees decides between Retry and Catch); duplicate
// and overlapping schedule ticks; a standby failing during a failover; KeepCoordinatorNode
// flipped for a while. AWS as its documentation describes it (issue 11): per run, the
// account's eventual consistency (sim.DefaultConsistency), rate(1 minute) ticks spaced
// 8 to 71 s over up to three overlapping health-check sandboxes (schedule.go), Step
// Functions transitions and step cold starts, the guest OS configuring a moved ENI
// before it serves, instance metadata lag (sim.DefaultRealism); as faults, stale
// Step Functions listings, EC2 reads stale after mutations, NotFound for instances that
// exist, per-query GetMetricData errors and partial data, SetInstanceProtection failing,
// a CloudWatch visibility tail, a termination lifecycle hook, attachments stuck
// attaching, and agent clocks 5 to 35 s off. Most runs centre on one real failure of the active coordinator
// with the other faults around it. After the faults every process is restarted (the heal)
// and the run settles.
//
// Invariants, checked after every step and background event, or at the end:
//   - single-attachment: the ENI never shows more than one attachment;
//   - fence: the ENI is never attached to a new instance while the instance that held it
//     before is still running (checked on every AttachNetworkInterface);
//   - settled-attachment and recovery: at the end the ENI is attached to a running,
//     healthy coordinator, healthy for good within RecoveryBound of the last fault
//     (not required when the circuit breaker held a failover back: that is its job);
//   - single-failover: exactly one execution acts per failure: one fences the failed
//     instance (asks for its termination or forces the ENI off it) and one moves the ENI.
//     The health check's next attempt after one that ended without finishing (a step
//     crashed after the fence) is allowed to complete the job, fencing nothing again and
//     attaching once: holding it back would leave the cluster without a coordinator; an
//     attempt that finds the ENI moved ends SUPERSEDED and acts on nothing;
//   - false-failover: no failover of a coordinator whose Presto never failed, unless the
//     run also impaired the witnesses (partition, silence, several dead agents, AWS
//     faults, a pool of one);
//   - circuit-breaker: no failover of an instance with BreakerMax executions already in
//     the window (re-attaching an ENI nobody holds to a healthy standby is exempt);
//   - one-at-a-time: no two executions of the cluster RUNNING at once, whoever started
//     them (the failover lease); with single-failover: exactly one execution acts per
//     failure;
//   - holder-gap: never without an ENI holder, while a healthy standby exists, for longer
//     than one check interval plus one failover (holderGapBound), unless
//     KeepCoordinatorNode held every action back;
//   - evaluation-gap: no two consecutive evaluations more than one check interval apart,
//     whatever the ticks' spacing;
//   - no-running-execution: none left RUNNING;
//   - history: every execution's document has a timeline with an entry from every step
//     that completed; execution-input: the health check's input passes the steps' checks.
package chaos
