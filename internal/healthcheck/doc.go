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
// Then, for the active coordinator's verdict:
//   - FAILED or GONE: start a failover; UNATTACHED (no instance holds the ENI) starts
//     the attach path
//     (FailoverState without FailedInstanceID). Only through the guards, in this order:
//     KeepCoordinatorNode=yes (log and FailoverBlocked metric, no call at all); one
//     failover at a time (ListExecutions RUNNING); the circuit breaker (executions
//     started within the window, counted from ListExecutions newest first; when open,
//     CircuitBreakerOpen=1 and an SNS alert). The execution is named
//     events.ExecutionName, so a second trigger for the same failure collides:
//     ExecutionAlreadyExists means it was handled before and is logged, not an error.
//   - AGENT_LOST, PARTITIONED or FOREIGN_HOLDER (the ENI is attached to an instance
//     that is not a live coordinator of the cluster: someone moved it by hand): an SNS alert (when a topic is configured), at most once
//     per invocation per instance and verdict; never a failover. Operators get the rest
//     from the dashboard and its alarms on the Verdict metric, which every evaluation
//     publishes.
//
// Every evaluation ends with one PutMetricData (Verdict with Cluster only for the active
// coordinator or UNATTACHED, so an alarm survives a failover; Verdict per member with
// InstanceId; HealthyStandbys; FailoversStarted; CircuitBreakerOpen; FailoverBlocked;
// ReportTampering)
// and slog JSON lines ("verdict" per member, "evaluation", and one per guard or
// action) carrying cluster, instance, verdict, reason and evidence, so an operator can
// reconstruct every decision from the logs.
//
// # The loop (Handler.Handle)
//
// EventBridge invokes the Lambda once a minute (its minimum rate). One invocation
// evaluates every check interval for one schedule period, stopping early when the
// Lambda's deadline minus DeadlineMargin is near, and returns a Summary. It keeps
// evaluating after a failover started: the guards make duplicates impossible. At most
// one evaluator runs at a time: the stack sets the function's reserved concurrency to 1
// (and a timeout above one schedule period plus the margin), and Handle refuses to start
// a second loop in the same process (ErrLoopRunning), which the local drill relies on.
package healthcheck
