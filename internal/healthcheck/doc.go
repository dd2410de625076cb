// Package healthcheck is the scheduled health check: it reads who holds the coordinator
// ENI, the coordinator pool and every agent's reports, judges each coordinator with
// internal/verdict, and starts the failover state machine when the active coordinator's
// verdict calls for it and the guards allow.
//
// # One evaluation (Handler.Evaluate)
//
// Three reads: DescribeNetworkInterfaces on the ENI (holder, attachment status and
// attach time), DescribeInstances filtered by the tag aws:autoscaling:groupName = the
// group (the pool, every state but terminated: only Auto Scaling writes aws: tags, so
// no one can add an instance to the pool by tagging it; the cluster tag is not proof),
// and one GetMetricData (signal.Query) for every member's self-reports, their count per
// second and witness reports, each member's from its own report namespace
// (signal.ReportNamespace with COORDINATOR_HOST_ROLE_ID), which only that instance's
// role session can write. The lookback is the grace window plus the ingestion allowance, and
// at least the startup budget so a long start is measured from its first report
// (GetMetricData is priced per metric, not per datapoint). Evaluation.Calls counts the
// calls; the reads are 3 unless a listing pages.
//
// Tampering (tamper.go): samples no agent writes (values outside the encoding, two
// self-reports in one second) can only come from a second writer holding the member's
// own credentials. They are set aside before any verdict (signal.Check); a FAILED
// verdict on an active whose reports were tampered with becomes SUSPECT (a failover is
// never decided on a record someone else wrote into; GONE, which rests on EC2 alone,
// still fails over); and every finding is alerted on: an error log line, the
// ReportTampering metric and one SNS message per member and invocation.
//
// One guard goes beyond the design table: when the active coordinator is silent and so
// is every standby that had been reporting, the verdict is AGENT_LOST, not FAILED (the
// path to CloudWatch is down, not the coordinator; see metricsPathGuard).
//
// Agent clocks are measured too (skew.go): each agent's skew is estimated from which
// reports arrived between two evaluations, its reports are judged corrected by that
// lower bound (at most MaxClockSkew), and AgentClockSkew per instance goes to the
// dashboard. A clock 35 s behind no longer eats the grace window.
//
// Then, for the active coordinator's verdict:
//   - FAILED or GONE: start a failover; UNATTACHED (no instance holds the ENI) starts
//     the attach path
//     (FailoverState without FailedInstanceID). Only through the guards, in this order:
//     KeepCoordinatorNode=yes (log and FailoverBlocked metric, no call at all); a pause
//     in force (pause.go: tags on the ENI written by `coordinator-ha pause`, read from the
//     ENI describe every evaluation makes anyway; logged with who, why and until at every
//     evaluation, the Paused metric only while it lasts; it expires by itself); one
//     failover at a time, by the cluster's failover lease (internal/lease: executions are
//     named events.LeaseName, "<cluster>-failover-<generation>", and generation N is
//     taken with StartExecution only after generation N-1 was seen ended; Step
//     Functions' name uniqueness makes that a conditional create, so the lease is a
//     lock, not a listing; manual executions take it the same way); a newest generation
//     that SUCCEEDED on the same failed instance means the failure was handled (a stale
//     read), and at most maxAttempts uncured attempts in a row are made; the circuit
//     breaker (generations started within the window, by their start dates; when open,
//     CircuitBreakerOpen=1 and an SNS alert), except for UNATTACHED with a healthy
//     standby: attaching an ENI nobody holds fences nothing, so it is never held back.
//   - AGENT_LOST, PARTITIONED or FOREIGN_HOLDER (the ENI is attached to an instance
//     that is not a live coordinator of the cluster: someone moved it by hand): an SNS alert (when a topic is configured), at most once
//     per invocation per instance and verdict; never a failover. Operators get the rest
//     from the dashboard and its alarms on the Verdict metric, which every evaluation
//     publishes.
//
// A GetMetricData query whose own StatusCode is not Complete (InternalError, PartialData)
// makes the evaluation fail: it is never read as silence (signal.CheckStatus). The holder
// of the ENI is kept protected from scale-in: its protection is looked at when the holder
// changes and every minute, and repaired when missing (protect.go).
//
// Every evaluation ends with one PutMetricData (Verdict with Cluster only for the active
// coordinator or UNATTACHED, so an alarm survives a failover; Verdict per member with
// InstanceId; HealthyStandbys; and, only when not zero, FailoversStarted,
// CircuitBreakerOpen, FailoverBlocked, ReportTampering and AgentClockSkew: a custom
// metric is billed for the hours it receives data, and their alarms treat missing data
// as not breaching)
// and slog JSON lines ("verdict" per member, "evaluation", and one per guard or
// action) carrying cluster, instance, verdict, reason and evidence, so an operator can
// reconstruct every decision from the logs.
//
// # The loop (Handler.Handle)
//
// EventBridge invokes the Lambda on a rate(1 minute) schedule (its minimum rate), and
// the agents' doorbell invokes it when one of them sees the active fail. One invocation
// evaluates every check interval until an evaluation is calm (below), for at most
// LoopSpan, stopping early when the Lambda's deadline minus DeadlineMargin is near, and
// returns a Summary. It keeps evaluating after a failover started: the lease makes
// duplicates impossible.
//
// # Calm and suspect (issue 14: a third of the cost, the same failover time)
//
// Evaluating every 5 s around the clock cost more than the instances it protects
// (GetMetricData is priced per metric requested, PutMetricData per request, Lambda per
// second). Most of that bought nothing: while every report is healthy there is nothing
// to decide. So:
//   - calm (calm()): the active is HEALTHY with a fresh report (aging reports are the
//     start of a silence nobody may ring for), at least one standby reaches it through the
//     ENI with a fresh report, and every witness's latest report says it reaches it (an earlier "cannot reach" is history:
//     a failure that is still on shows in its agent's latest report, and that agent
//     rang), no action or guard fired, nothing was tampered with, and the agents ring the doorbell
//     (Config.Doorbell, AGENTS_RING_DOORBELL=yes). A tick that finds the cluster calm
//     evaluates once and returns;
//   - the doorbell (events.ScheduleEvent.IsDoorbell): an agent whose own probe fails on
//     the active, or a standby whose probe through the ENI IP fails, invokes this Lambda
//     asynchronously at once (internal/agent, doorbell.go) and sends its reports at once.
//     A doorbell invocation evaluates every check interval for at least DoorbellSpan (the
//     grace window plus the ingestion allowance: the failure is in CloudWatch by then, or
//     was a blip) and then until calm, for at most LoopSpan;
//   - suspect (not calm): every invocation evaluates every check interval for LoopSpan,
//     as before, so the argument below holds while anything is suspect.
//
// Why detection is not slower: the verdict is measured on report timestamps (the grace
// runs from the first unhealthy report, or from the last report before silence), not
// from when the health check looks. Every way the active can fail is seen first by a
// live agent: its own probe (process exit, hang, Trino unhealthy) or a witness's through
// the ENI IP (host unresponsive, instance gone, the ENI detached), within one probe
// interval; that agent rings, and fast evaluations start a queue latency later, long
// before the grace window ends. Calm requires a witness that reaches the active, so
// someone is always there to ring; HACoordinatorsCount=1, or standbys starting or down,
// are never calm and keep the fast loop. A ring that is lost (throttled beyond the
// event age, the agent's path to AWS cut) is repeated at the agent's next probe while
// the failure goes on, and the next tick (within MaxTickSpacing) sees the suspect
// state and loops fast. A forged ring (any host can invoke this function) costs
// evaluations, never a decision: the event carries no evidence.
//
// What the calm/suspect split guarantees, and the chaos campaign checks: after an
// evaluation whose verdict could lead to a failover (FAILED, GONE, UNATTACHED, SUSPECT,
// or a failed evaluation), the next comes within one check interval; after any other
// (calm, or HEALTHY, AGENT_LOST, PARTITIONED, which only alert) within LoopSpan. A
// verdict on its way to a failover is always one some agent rang for (the active's own
// failing probe, or a witness that cannot reach it) or one a tick found, and both loop
// every check interval; a state nobody rings for (the active's agent cut off while the
// witnesses reach it) is one no failover is decided on, and the next tick looks again.
//
// # No evaluation gap longer than one check interval while suspect
//
// The ticks of rate(1 minute) are not punctual: each fires somewhere within its minute,
// and spacings from 8 s to 71 s have been reported. An invocation that evaluated for one
// schedule period (60 s) and a next tick 71 s later left an 11 s hole; with reserved
// concurrency 1, an early tick was throttled and its retry came late, another hole.
// The design:
//   - every invocation that finds the cluster suspect evaluates for LoopSpan =
//     MaxTickSpacing (75 s) + TickStartAllowance (5 s), at start + k*CheckInterval;
//   - claim: no two consecutive evaluations are more than one check interval I apart.
//     The invocation of tick T_i evaluates at T_i, T_i+I, ... up to at least
//     T_i + LoopSpan - I; the next tick's invocation evaluates from
//     T_{i+1} + start <= T_i + MaxTickSpacing + TickStartAllowance = T_i + LoopSpan.
//     So the next invocation's first evaluation is no later than one interval after
//     this one's last, and within each invocation evaluations are I apart: no gap
//     exceeds I, whatever the spacing between 0 and MaxTickSpacing;
//   - suspect invocations overlap (each runs 80 s per ~60 s); at most three ticks fall
//     within one LoopSpan (one per minute slot), and up to five agents ring for one
//     failure, so with LambdaConcurrency=reserved the stack reserves 8 (a throttled
//     tick would be late) and sets the timeout above LoopSpan plus the margin. Overlapping evaluators are safe: a failover starts only by taking the
//     lease (lease.go), and alerts are at most one per invocation and key;
//   - Handle still refuses a second loop in the same process (ErrLoopRunning): Lambda
//     never runs two invocations in one sandbox, and the drill gives each overlapping
//     invocation its own handler, as Lambda gives it its own sandbox.
//
// While calm the gap between evaluations is the tick spacing (up to MaxTickSpacing) or
// less, when a doorbell rings. A tick that EventBridge drops entirely is not covered: it
// is not documented to happen, and the next tick evaluates within a minute.
package healthcheck
