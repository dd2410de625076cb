// Package failover holds the steps of the failover state machine, one Lambda handler
// each, with the shape func(ctx, events.FailoverState) (events.FailoverState, error):
//
//	Terminate      fence the failed coordinator: terminate it through its Auto Scaling
//	               group, confirm it is shutting down, force the ENI off it (the
//	               instance is going away: a graceful detach would only wait for its
//	               shutdown), confirm the ENI is available.
//	AttachENI      attach the ENI to the best healthy standby, only after the fence is
//	               confirmed; protect it from scale-in and tag roles. Candidates are the
//	               Auto Scaling group's InService members (DescribeAutoScalingGroups),
//	               never instances found by a tag; their reports are read from their own
//	               namespaces, and a candidate whose reports were tampered with
//	               (signal.Check) is passed over.
//	               A planned switchover (events.FailoverState.TargetInstanceID, set
//	               by `coordinator-ha switchover`) goes to its target or nowhere: a
//	               target that does not qualify like any standby is refused with a
//	               PermanentError before the step changes anything.
//	LaunchStandby  bring the pool back to HACoordinatorsCount and tag newcomers standby.
//	Notify         one SNS message per execution with the outcome and the timeline.
//
// Authority: the steps act only on what IAM says is the cluster's. Terminate refuses, as
// a PermanentError before any change, to fence an instance that EC2 knows and that does
// not carry aws:autoscaling:groupName = the group (a manual execution naming an
// outsider); it terminates through the group, and through EC2 only as the fence's
// fallback (a lifecycle hook holding the member, a member EC2 answers NotFound for). The
// policies allow EC2 mutations, ec2:TerminateInstances included, only on instances with
// that tag, which only Auto Scaling can write, and on the coordinator ENI's exact ARN.
//
// AWS is eventually consistent and the steps are written for it (issue 11): AttachENI
// waits out reads that do not yet show the fence Terminate confirmed, and an attachment
// that does not show yet, within its budget; InvalidInstanceID.NotFound counts as gone
// only when every read for Timing.GoneConfirm says so, and such an instance is
// terminated anyway; an instance a Terminating:Wait lifecycle hook keeps running is
// terminated through EC2 after Timing.HookWait; the next active is protected from
// scale-in before it gets the ENI (a protection that keeps failing does not keep the
// cluster without a coordinator: it is repaired on the next sight); a standby health
// read whose query did not complete is read again.
//
// Every step validates the document, does its work, fills its result field, appends
// timeline entries and returns the whole document, so the execution's output in the
// Step Functions console is the failover's history. Every step is idempotent: re-run
// on the same input after a crash at any point, it finishes the job or reports it done.
//
// Each step retries AWS throttling and server faults itself (internal/retry:
// exponential backoff, full jitter) and bounds its waits by the context deadline less a
// margin, polling with the injected clock. Errors reach Step Functions as exactly one of *TransientError,
// *FenceNotConfirmedError, *InvalidInputError or *PermanentError; aws-lambda-go names
// the errorType after the Go type, so the state machine's Retry and Catch match
// "TransientError" and so on.
//
// Configuration (LoadConfig): CLUSTER_NAME (all), COORDINATOR_ASG_NAME (all but Notify),
// HA_COORDINATORS_COUNT (LaunchStandby), MIN_HEALTHY_REPORTS (default 3),
// MAX_ATTACH_ATTEMPTS (default 10), NOTIFICATION_TOPIC_ARN (Notify, optional),
// COORDINATOR_HOST_ROLE_ID (AttachENI: the hosts' role id, which names each candidate's
// report namespace) and COORDINATOR_ENI_ID (optional cross-check of the document's ENI).
package failover
