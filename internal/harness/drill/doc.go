// Package drill is the local failover drill (make demo, and TestDrillShort in make test)
// and benchmark (make bench).
//
// A drill scenario builds a fresh coordinator cluster in the simulated AWS account
// (internal/harness/sim, pool from sim.NewPool): an Auto Scaling group of coordinators in
// one subnet and the coordinator ENI. Every coordinator instance that reaches "running"
// gets a simulated Presto/Trino process (internal/harness/drill/host: answers GET
// /v1/info, starting then ready, and misbehaves on demand) and the real on-host agent
// (internal/agent) publishing to the simulated CloudWatch, with a role source backed by
// the simulated ENI (what IMDS would say). The real health check (internal/healthcheck)
// runs on its schedule: Handle once a minute of drill time. At first start it finds the
// ENI unattached and its execution attaches it (with KeepCoordinatorNode=yes the drill
// attaches it, as an operator would). When it starts an execution, the simulated Step
// Functions calls the drill, which runs the product's one state machine definition
// (internal/statemachine) with the real step handlers (internal/failover), one per
// statemachine.Tasks entry, and finishes the execution in the account with the real
// outcome. A client calls GET /v1/info at the coordinator IP every second and records
// when it is served again and by whom.
//
// # Two clocks
//
// Simulated (the default; TestDrillShort, make demo, make bench): everything runs on a
// clock.Sim, a discrete-event clock that advances only when every component (agents,
// health-check invocations, executions, the client, the sampler) waits on it. The
// network is in-process (hostNet: a host's 127.0.0.1 is its own coordinator, the ENI's
// IP is the holder's, nothing is dialled), so a hung coordinator holds its caller in
// simulated time until the caller's simulated timeout cuts it. Executions run in the Go
// States Language interpreter (internal/harness/asl), which its differential test holds
// to aws-local-stepfunctions on the same definition. No wall-clock timeout decides
// anything, so a run gives the same verdicts and timings on an idle laptop and on a
// machine busy with other work, and replays exactly from its seed. make demo paces it
// (clock.Sim.SetPace) so that people can watch; a busy machine only makes it slower.
//
// Loopback (make demo DEMO_FLAGS=-loopback): the compressed wall clock (drillClock, drill
// time N times faster than wall time, standing still while aws-local-stepfunctions
// starts for an execution), real HTTP servers on 127.0.0.1, a reverse proxy standing in
// for the coordinator IP (internal/harness/drill/vip), and aws-local-stepfunctions
// (internal/harness/sfnlocal). Closer to the processes of a deployment, but its timings
// are this machine's: timeouts are scaled down onto the wall clock (with a floor), and a
// very busy machine can make a healthy probe miss one.
//
// # Real Trino (make demo-trino, TestRealTrinoFailover in make test-trino)
//
// The third kind (trino.go, internal/harness/realtrino) runs on the wall clock at real
// time with real processes: Trino 368 (fetched once, verified, pruned to tpch) as two
// coordinators and a worker, each coordinator instance in its own network namespace
// with its primary address from the simulated subnet (198.18.1.0/24), the real agent
// per host reading a local IMDSv2 stub backed by the simulated account, and the ENI a
// real veth interface that the account's attach and detach (sim.OnAttachmentChange) move
// into the holder's namespace, configured as amazon-ec2-net-utils does. The worker
// announces to, and the client (github.com/trinodb/trino-go-client, in its own
// namespace) queries, only the ENI's address; served means SELECT count(*) FROM
// tpch.tiny.nation returned 25. Executions run in aws-local-stepfunctions with the
// definition's own waits. Terminating an instance kills its processes and removes its
// namespace. After each scenario Network.CheckIsolated proves from the kernel's tables
// that no packet could leave the drill's namespaces.
//
// Each scenario injects one fault into the active coordinator, waits for the outcome,
// and checks invariants: at most one ENI attachment at any sample (every 100 ms of drill
// time) and exactly one at the end, the holder healthy, the failed instance fenced
// (shutting down or stopped, ENI off it) before the ENI started to move, and no second
// execution for the same failure. The switchover scenario's "fault" is the operator's
// action: `coordinator-ha switchover` run through operator.Run on the drill's clock, as
// an operator under the operators' IAM policy (operator.go); its output, with the
// client-visible gap the command measured, goes to the report.
//
// The operator command's tests use the same cluster (WithSimCluster, Opener), and `drill
// runbook` (Runbook) prints the README's runbook session from it.
//
// The bench (Bench) repeats the unplanned failover scenarios on simulated time with seeds hashed
// from each scenario's name and run, the fault at a seeded phase of the schedule, for
// deterministic timing distributions and the modeled production fault-to-serving time.
// It also measures, on this machine's wall clock and labelled with its load, the
// Lambdas' cold-start init (internal/harness/drill/coldstart), the agent binary's CPU
// and RSS (internal/harness/drill/procstat) and the binaries' sizes, and computes a
// monthly cost model from the AWS calls counted in a simulated steady-state run.
package drill
