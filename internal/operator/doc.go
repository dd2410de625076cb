// Package operator is the operator command, coordinator-ha (issue 15): one tool for
// what an operator does to a running cluster, built on the same pieces the control
// plane uses, and tested against the simulated account (internal/harness/sim) with the
// real client path.
//
//	coordinator-ha status     --stack S [--json]      exit 0 healthy, 1 degraded, 2 down
//	coordinator-ha history    --stack S [--since 24h] [--json]
//	coordinator-ha switchover --stack S [--to i-...] [--reason ...]
//	coordinator-ha pause      --stack S [--for 2h] --reason ...
//	coordinator-ha resume     --stack S
//	coordinator-ha roll       --stack S [--reason ...]
//	coordinator-ha policy     --stack S                  the operators' IAM policy for S
//
// # Where it lives
//
// The top-level directories are fixed by the product brief (lambdas/, infra/,
// internal/, events/, testdata/, agent/, drill/), so the library is internal/operator
// and its main package internal/operator/cmd/coordinator-ha. A main package under
// internal/ builds with `go build ./internal/operator/cmd/coordinator-ha` like any other
// (the internal rule restricts imports, not builds: nothing imports a main package), so
// `make operator` (part of `make build`) puts the binary into bin/ beside the agent and
// the Lambdas. The command is thin: flags, the real AWS clients from the default
// credential chain, and Run; everything else is here and runs in tests against the
// simulated account.
//
// # Finding the cluster
//
// Only the stack name is needed: DescribeStacks' outputs name the cluster, the ENI and
// its IP, the coordinator URL, the group, the state machine, the hosts' role id (which
// names each host's report namespace) and the health check's log group
// (RequiredOutputs; infra/stack declares them and its test checks them against this
// list). A stack that does not exist is CloudFormation's ValidationError "Stack with id
// X does not exist", reported as such (exit 5).
//
// # Serialized with automatic failovers: the same lease
//
// switchover starts a failover execution exactly as the health check does: it takes the
// next generation of the cluster's failover lease (lease.go; the execution is named
// events.LeaseName, "<cluster>-failover-<generation>", and generation N is started only
// after N-1 was seen ended). Step Functions refuses a second execution of one name, so
// of a switchover and an automatic failover that compute the same generation exactly one
// starts; the other sees ExecutionAlreadyExists (the switchover reports "another
// failover is running", exit 6; the health check reports blocked-running and acts at a
// later evaluation if still needed). A running execution found while walking the lease
// is the same error. No decision rests on a listing: ListExecutions only hints where the
// walk starts.
//
// The execution's input names the active coordinator as failedInstanceId (verdict
// MANUAL) and the chosen standby as targetInstanceId: Terminate fences and replaces the
// old active as in any failover (never two coordinators at one IP), AttachENI attaches
// the target or refuses, as a PermanentError before it changes anything, a target that
// does not qualify. The command checks the target by the same rule before it starts
// (a running InService member in the ENI's AZ, MinHealthyReports consecutive healthy
// self-reports, reports not tampered with); if the target fails in the seconds between
// that check and AttachENI, the execution fails, the ENI is left available, and the
// health check's next evaluation attaches it to the best healthy standby (UNATTACHED is
// exempt from the circuit breaker).
//
// The client-visible gap: the command probes GET /v1/info at the stack's coordinator URL
// every second while the execution runs (from where it runs: when the IP does not answer
// from there before the move, the gap is not measured and says so); the ENI gap from the
// execution's timeline (the fence's first action to the attach) is always reported.
//
// # Pause without a stack update
//
// pause writes four tags on the coordinator ENI (config.PauseTags: paused-until in RFC
// 3339, paused-by = the caller's ARN from sts:GetCallerIdentity, paused-at, the reason).
// The health check already describes the ENI at every evaluation, so reading the pause
// costs nothing and needs no new service; while paused-until is in the future it acts as
// with KeepCoordinatorNode=yes (healthcheck/pause.go: a log line with who, why and until
// at every evaluation, the Paused metric only while paused, a dashboard widget). The
// pause ends by itself; resume removes the tags. Neither the hosts nor the Lambdas can
// write these tags (internal/permissions grants the hosts no CreateTags and the steps
// CreateTags only of the role tag on instances; a sim test checks every product caller
// is refused).
//
// # Roll
//
// roll replaces every member whose launch template version (as DescribeAutoScalingGroups
// shows it per instance) is not the group's: standbys first, each surge-first (desired
// capacity +1, wait until the newcomer is a healthy standby, then terminate the old one
// through the group with the desired capacity lowered), then one more surge and a
// switchover off the active; the group's replacement of the fenced active is then the
// one member too many and is terminated (never left to the group's scale-in, which might
// pick a healthy standby). It is written as a loop over what the cluster looks like at
// each look, not as a script (roll.go), so an automatic failover in the middle (which
// fences a member without lowering the desired capacity) is just another state; it waits
// for a running failover and never acts beside one. An old standby is terminated, and
// the switchover made, only when every other live member is the holder or a healthy
// standby and there is one more of them than the group's size, so the cluster never
// has fewer healthy standbys than when the roll started (a failure in the middle
// consumes one, as it would without a roll). The group's MaxSize (HACoordinatorsCount
// + 1) leaves room for exactly that one surge.
//
// # AWS is unkind here too
//
// Every call is retried on throttling and server faults with backoff and jitter on the
// command's clock (retrying.go, internal/retry, on top of the SDK's own retries), and
// every call is safe to repeat. Long waits (a switchover's, a roll's) read again after a
// failed read rather than give up. No decision rests on one read: the lease decides who
// starts, the roll re-reads the whole cluster before each action, and the tests run a
// switchover and a roll under the simulated account's unkind model (eventually
// consistent reads, Step Functions and Lambda latency) with the command's reads throttled.
//
// # IAM
//
// The operator's own IAM is the account's to grant: Policy is the statement table of
// what every subcommand needs, each on the narrowest resource (the pause tags only on
// the ENI's ARN and only those four keys). The tests run every subcommand under exactly
// that policy in the simulated account and compare the calls made with Actions.
//
// # Exit codes
//
//	0 healthy (status) or done      1 degraded (status)       2 down (status)
//	3 the operation failed          4 no credentials, or IAM refused a call
//	5 no such stack                 6 another failover is running
//	7 nothing to do                 64 a wrong command line
package operator
