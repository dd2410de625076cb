// Package sim is the project's simulated AWS account: EC2 instances and ENIs, one or
// more Auto Scaling groups, CloudWatch custom metrics, Step Functions executions and
// SNS topics, behind clients that implement the internal/awsapi interfaces exactly.
// Every test and the local drill run against it.
//
// # Time
//
// The account has no goroutines. Every state change (pending -> running, attaching ->
// attached, an Auto Scaling group replacing a member, a metric datapoint becoming
// visible) is scheduled at a point in time and applied lazily, in time order, on the
// next call that looks at the account (any client call, any getter, or Tick). With a
// clock.Virtual everything is deterministic and runs in microseconds; with a Scaled
// or Real clock the account is safe for concurrent use by many goroutines (one mutex
// guards all state; hooks run outside it).
//
// # Setup and assertions
//
// New builds the account; AddSubnet, CreateNetworkInterface, LaunchInstance,
// CreateAutoScalingGroup, CreateStateMachine and CreateTopic populate it;
// TerminateFromOutside, StopInstance, SetASGSuspended, StickENIDetach,
// StickInstanceShutdown, SetTimings and FinishExecution act as the world outside the
// control plane; Instance, Instances, ENI, ASG, Executions, Datapoints, Messages, Calls
// and Actions are for assertions. Clients(caller) hands out the awsapi clients.
//
// NewPool builds the coordinator pool most tests start from in one call: a subnet, the
// cluster's coordinator ENI, an Auto Scaling group of coordinators, optionally a state
// machine and a topic, and, with AttachActive, the instances running and the ENI on
// the first of them; Pool.Report publishes an agent's self-reports.
//
// # IAM
//
// Every client has a principal (ClientsAs; Clients(caller) is an unrestricted one). A
// role given a policy with SetPolicy is evaluated as IAM would (iam.go): identity-based
// Allow statements, exact actions, resource ARNs with wildcards, the condition keys the
// stack uses (aws:ResourceTag/*, aws:TagKeys, cloudwatch:namespace) and the policy
// variable ${aws:userid}, which is "<role id>:<instance id>" for an instance role
// session; a refusal is AccessDenied in each service's spelling. Pool.EnforcePolicies
// attaches to each caller's role the statements the stack synthesizes
// (permissions.Statements), so the proof, the drill, the chaos campaign and the attack
// tests run under the real policies. STS GetCallerIdentity answers every principal.
// Auto Scaling writes aws:autoscaling:groupName on the instances it launches; CreateTags
// and LaunchInstance refuse aws: keys, as AWS does.
//
// # Strictness
//
// Unlike moto, which accepts most calls whatever the state, the simulation rejects
// what AWS rejects, with AWS's error code: attaching an ENI to an instance that is not
// running (or stopped: warm attach is legal in AWS and allowed here), across
// Availability Zones, while the ENI is attached, attaching or detaching anywhere, at a
// device index in use; detaching the primary ENI; unknown and malformed ids; scale-in
// below MinSize; protection on instances outside the group; CloudWatch namespaces in
// "AWS/", non-finite values, bad periods and query ids; Step Functions execution names
// and the StartExecution idempotency rule; SNS topics that do not exist. Each rule names
// the AWS behaviour it models next to its code and in a test.
//
// # Not modelled
//
// VPCs beyond one implicit VPC, security groups, RunInstances (instances come from the
// setup API and from Auto Scaling groups), instance status checks, launch templates
// beyond one opaque version per group and per member (SetLaunchTemplateVersion),
// CloudFormation beyond DescribeStacks of a complete stack (CreateStack), lifecycle hooks, warm pools, AZ rebalancing, CloudWatch alarms and metric math
// (an Expression query fails with ValidationError), running a state machine (the
// OnStartExecution hook and FinishExecution let a test or the drill play it), SNS
// subscriptions and delivery. Pagination tokens are accepted and ignored except by
// ListExecutions, which pages.
//
// # Faults
//
// Inject adds throttling, 5xx errors, latency, stale reads and lost replies (the call
// is applied but the caller gets a 5xx error) per service, operation and caller, once,
// a set number of times or until cleared. Every call, faulted or not, is recorded with
// its caller, so tests can assert who did what and derive the IAM actions each
// component needs (Actions).
package sim
