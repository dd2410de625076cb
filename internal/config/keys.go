// Package config names the environment variables and tags that the stack (infra/), the
// Lambdas, the agent and the local drill must agree on, and parses them once, failing
// fast with a clear message (after aws-node-termination-handler's pkg/config).
package config

// Environment variables of the Lambdas. infra/ sets exactly these; each Lambda's config
// reads the ones it needs.
const (
	EnvCluster          = "CLUSTER_NAME"             // cluster name; tags, metrics and execution names
	EnvENIID            = "COORDINATOR_ENI_ID"       // the coordinator ENI
	EnvASGName          = "COORDINATOR_ASG_NAME"     // the coordinator Auto Scaling group
	EnvStateMachineARN  = "STATE_MACHINE_ARN"        // the failover state machine (health check)
	EnvTopicARN         = "NOTIFICATION_TOPIC_ARN"   // SNS topic for failovers and alerts
	EnvKeepCoordinator  = "KEEP_COORDINATOR_NODE"    // "yes": compute and report verdicts, never act
	EnvHACount          = "HA_COORDINATORS_COUNT"    // pool size, 1 to 5
	EnvGraceSeconds     = "GRACE_SECONDS"            // how long a coordinator must be failing before FAILED
	EnvCheckInterval    = "CHECK_INTERVAL_SECONDS"   // evaluation interval inside one health-check invocation
	EnvStartupBudget    = "STARTUP_BUDGET_SECONDS"   // how long STARTING is tolerated
	EnvIngestionDelay   = "INGESTION_DELAY_SECONDS"  // CloudWatch ingestion allowance
	EnvBreakerMax       = "BREAKER_MAX_FAILOVERS"    // circuit breaker: failovers allowed per window
	EnvBreakerWindow    = "BREAKER_WINDOW_MINUTES"   // circuit breaker window
	EnvMinHealthyReport = "MIN_HEALTHY_REPORTS"      // consecutive healthy reports a standby needs
	EnvDoorbell         = "AGENTS_RING_DOORBELL"     // "yes": the agents ring the health check (AGENT_DOORBELL_FUNCTION), so a calm tick may evaluate once
	EnvPrestoPort       = "PRESTO_HTTP_PORT"         // coordinator HTTP(S) port
	EnvHostRoleID       = "COORDINATOR_HOST_ROLE_ID" // unique id (AROA...) of the coordinator hosts' IAM role: names their report namespaces
)

// Tags on coordinator instances and the ENI. The Auto Scaling group propagates TagCluster
// to every instance it launches; the steps maintain TagRole. Both are labels for people:
// anyone allowed to tag can set them, so no decision and no IAM grant rests on them.
const (
	// TagASGName is the tag Auto Scaling writes on every instance it launches; only AWS
	// can write tags that begin with "aws:", so it is the one tag that proves membership.
	TagASGName = "aws:autoscaling:groupName"
	TagCluster = "coordinator-ha:cluster"
	TagRole    = "coordinator-ha:role"
	TagName    = "Name"
	// TagHostKeyLock is set (value "set") on the SSH host-key secret by the first
	// coordinator that sees it hold a key; the hosts may write the secret only while the
	// tag is absent, so only the first writer sets the key.
	TagHostKeyLock = "coordinator-ha:host-key"
)

// Values of TagRole.
const (
	RoleActive  = "active"
	RoleStandby = "standby"
	RoleFenced  = "fenced"
)
