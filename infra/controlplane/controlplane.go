package controlplane

import (
	"fmt"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/prestoha/coordinator-ha/infra/cfn"
	"github.com/prestoha/coordinator-ha/infra/policy"
	"github.com/prestoha/coordinator-ha/internal/config"
	"github.com/prestoha/coordinator-ha/internal/permissions"
	"github.com/prestoha/coordinator-ha/internal/statemachine"
	"github.com/prestoha/coordinator-ha/internal/teardown"
)

// HealthCheckTimeoutSeconds is the health check's Lambda timeout: an invocation that
// does not find the cluster calm evaluates every CheckIntervalSeconds for up to
// healthcheck.LoopSpan (80 s: longer than any reported spacing of rate(1 minute) ticks)
// and stops before its deadline, so while anything is suspect consecutive invocations
// overlap and no evaluation gap exceeds one check interval; a calm tick evaluates once
// (the agents ring the doorbell when the active fails) (internal/healthcheck, package doc).
const HealthCheckTimeoutSeconds = 100

// HealthCheckReservedConcurrency (with LambdaConcurrency=reserved): while the cluster
// is not calm up to three ticks fall within one LoopSpan (one per minute slot, each
// anywhere in its minute), so three invocations may loop at once, and a failure of the
// active rings the doorbell from up to five agents (the active's own and each
// standby's, HACoordinatorsCount at most 5), each an invocation: 3 + 5. A throttled
// tick or ring would start late. Overlapping evaluators are safe: a failover starts
// only by taking the cluster's failover lease. While calm a tick evaluates once and
// returns, so the reservation is mostly idle.
const HealthCheckReservedConcurrency = 8

// StepReservedConcurrency is the reserved concurrency of each failover step Lambda
// (the health check has 1): the steps run one at a time, so 2 leaves room for one
// overlapping retry or a manual execution while taking little of the account's pool.
const StepReservedConcurrency = 2

// Checkov checks that do not apply to the Lambdas and their log groups (make scan).
var (
	noVPC       = cfn.Skip{ID: "CKV_AWS_117", Comment: "The function calls only AWS APIs (EC2, Auto Scaling, CloudWatch, Step Functions, SNS), never a host in the VPC; inside a VPC it would need a NAT gateway or five interface endpoints for no isolation gain."}
	noEnvKey    = cfn.Skip{ID: "CKV_AWS_173", Comment: "The environment holds only names, ARNs, ids and numbers (cluster, ENI, group, topic, state machine, timings), no secret; the default AWS-managed key encrypts it at rest."}
	lambdaSkips = map[bool][]cfn.Skip{
		// The step Lambdas.
		false: {noVPC, {ID: "CKV_AWS_116", Comment: "Invoked synchronously (request-response) by the failover state machine only, whose Retry, Catch and Notify step handle failures; a dead-letter queue receives only failed asynchronous invocations, so it would never receive anything."}, noEnvKey},
		// The health check.
		true: {noVPC, {ID: "CKV_AWS_116", Comment: "Invoked asynchronously by the one-minute schedule and by the agents' doorbell (an agent that sees the active fail), with no retry and a 60 s maximum event age (the rule target, and the function's event invoke config, which covers the doorbell too): a failed or late tick or ring is dropped on purpose, the next tick re-evaluates (an agent rings again while the failure lasts), and a failing or silent health check raises the HealthCheckErrors alarm. A dead-letter queue would hold only stale ticks and rings."}, noEnvKey},
	}
	// The delete-time step (teardown).
	teardownSkips = []cfn.Skip{noVPC, noEnvKey,
		{ID: "CKV_AWS_116", Comment: "Invoked by CloudFormation as the custom resource's handler: CloudFormation waits for the answer at the response URL and shows a failure or a timeout in the stack events; a dead-letter queue would hold an event nobody can answer CloudFormation with any more."},
		{ID: "CKV_AWS_115", Comment: "Runs once, when the stack (or its group) is deleted: a reservation would take concurrency from the account for the life of the stack to guard one invocation, and a new account's limit of 10 allows none."},
	}
	logGroupSkip = cfn.Skip{ID: "CKV_AWS_158", Comment: "The logs hold instance ids, verdicts and step results, no secrets; CloudWatch Logs encrypts every log group at rest. A customer managed key would need a key policy for the logs service and adds nothing here."}
)

// StepFunctions maps each state machine placeholder to the Lambda that fills it.
var StepFunctions = map[string]string{
	statemachine.TerminateFunctionArn:     permissions.Terminate,
	statemachine.AttachENIFunctionArn:     permissions.AttachENI,
	statemachine.LaunchStandbyFunctionArn: permissions.LaunchStandby,
	statemachine.NotifyFunctionArn:        permissions.Notify,
}

// Props configures the control plane. String fields may be tokens.
type Props struct {
	Cluster string // literal cluster name

	ENIID   *string
	ASGName *string
	// HostRoleID is the unique id of the coordinator hosts' role: the health check and
	// AttachENI read each host's reports from signal.ReportNamespace(HostRoleID, id).
	HostRoleID *string
	Topic      awssns.ITopic
	TopicKey   interface{ KeyArn() *string } // the topic's KMS key: publishers need it
	LambdaDir  string                        // holds <name>/bootstrap for each Lambda

	HACount              *string // HACoordinatorsCount
	KeepCoordinator      *string // "yes" or "no"
	GraceSeconds         *string
	CheckIntervalSeconds *string
	PrestoPort           *string

	// Definition is the state machine's ASL with ${...} placeholders; "" uses
	// statemachine.Definition().
	Definition string
	// Placeholders are the placeholders Definition uses; nil uses statemachine.Placeholders.
	Placeholders []string

	LogRetention awslogs.RetentionDays // default one month

	// ReserveConcurrency, when not nil, is the condition under which the Lambdas get
	// their reserved concurrency (the stack's LambdaConcurrency=reserved); nil reserves
	// always. See function() for why reservations are optional.
	ReserveConcurrency awscdk.CfnCondition
}

// ControlPlane is the constructed control plane.
type ControlPlane struct {
	constructs.Construct
	Functions    map[string]awslambda.Function // by caller name (permissions.Healthcheck ...)
	LogGroups    map[string]awslogs.LogGroup
	StateMachine awsstepfunctions.StateMachine
	Schedule     awsevents.Rule
	// Teardown is the delete-time step (internal/teardown): a custom resource on the
	// group that every other control-plane resource depends on, so that on a stack
	// delete the control plane goes first, then Teardown releases the group.
	Teardown awscdk.CustomResource
}

// TeardownTimeoutSeconds is the delete-time step's Lambda timeout: long enough for the
// coordinators to terminate (a minute or two), well under CloudFormation's one-hour wait.
const TeardownTimeoutSeconds = 600

// New builds the control plane.
func New(scope constructs.Construct, id string, p *Props) *ControlPlane {
	if p.Cluster == "" || p.ENIID == nil || p.ASGName == nil || p.HostRoleID == nil || p.Topic == nil || p.TopicKey == nil || p.LambdaDir == "" ||
		p.HACount == nil || p.KeepCoordinator == nil || p.GraceSeconds == nil || p.CheckIntervalSeconds == nil || p.PrestoPort == nil {
		panic("controlplane.New: every field but Definition, Placeholders and LogRetention is required")
	}
	if p.Definition == "" {
		p.Definition = statemachine.Definition()
	}
	if p.Placeholders == nil {
		p.Placeholders = statemachine.Placeholders
	}
	if p.LogRetention == "" {
		p.LogRetention = awslogs.RetentionDays_ONE_MONTH
	}
	c := &ControlPlane{
		Construct: constructs.NewConstruct(scope, jsii.String(id)),
		Functions: map[string]awslambda.Function{},
		LogGroups: map[string]awslogs.LogGroup{},
	}
	env := map[string]*string{
		config.EnvCluster:  jsii.String(p.Cluster),
		config.EnvENIID:    p.ENIID,
		config.EnvASGName:  p.ASGName,
		config.EnvTopicARN: p.Topic.TopicArn(),
		config.EnvHACount:  p.HACount,
	}
	res := policy.Resources{Cluster: p.Cluster, ASGName: p.ASGName, ENIID: p.ENIID, TopicARN: p.Topic.TopicArn()}

	// The delete-time step first: everything below depends on it (see function).
	td := c.function(p, permissions.Teardown, TeardownTimeoutSeconds, env, nil, res) // the common env: the group comes with each request
	c.Teardown = awscdk.NewCustomResource(c.Construct, jsii.String("ReleaseGroupOnDelete"), &awscdk.CustomResourceProps{
		ServiceToken: td.FunctionArn(),
		ResourceType: jsii.String(teardown.ResourceType),
		Properties:   &map[string]any{teardown.PropGroupName: p.ASGName},
	})

	steps := []string{permissions.Terminate, permissions.AttachENI, permissions.LaunchStandby, permissions.Notify}
	timeouts := map[string]int{}
	for ph, name := range StepFunctions {
		timeouts[name] = statemachine.LambdaTimeoutSeconds[ph]
	}
	for _, name := range steps {
		var extra map[string]*string
		if name == permissions.AttachENI {
			extra = map[string]*string{config.EnvHostRoleID: p.HostRoleID}
		}
		c.function(p, name, timeouts[name], env, extra, res)
	}

	// The state machine: the one definition, with the step Lambdas' ARNs substituted.
	smLogs := awslogs.NewLogGroup(c.Construct, jsii.String("FailoverLogs"), &awslogs.LogGroupProps{
		Retention: p.LogRetention, RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	cfn.CheckovSkip(smLogs, logGroupSkip)
	subs := map[string]*string{}
	var arns []*string
	for _, ph := range p.Placeholders {
		name, ok := StepFunctions[ph]
		if !ok {
			panic("controlplane: the definition uses placeholder " + ph + ", which names no step Lambda")
		}
		subs[ph] = c.Functions[name].FunctionArn()
		arns = append(arns, c.Functions[name].FunctionArn())
	}
	c.StateMachine = awsstepfunctions.NewStateMachine(c.Construct, jsii.String("Failover"), &awsstepfunctions.StateMachineProps{
		Comment:                 jsii.String("Coordinator failover of " + p.Cluster + ": one execution per failover, named <cluster>-failover-<generation> (the failover lease)"),
		StateMachineType:        awsstepfunctions.StateMachineType_STANDARD,
		DefinitionBody:          awsstepfunctions.DefinitionBody_FromString(jsii.String(p.Definition)),
		DefinitionSubstitutions: &subs,
		Logs:                    &awsstepfunctions.LogOptions{Destination: smLogs, Level: awsstepfunctions.LogLevel_ALL, IncludeExecutionData: jsii.Bool(true)},
		TracingEnabled:          jsii.Bool(true),
		RemovalPolicy:           awscdk.RemovalPolicy_DESTROY,
	})
	// Invoke exactly the step functions (unqualified ARNs, as the definition uses them).
	c.StateMachine.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("InvokeStepFunctions"), Actions: jsii.Strings("lambda:InvokeFunction"), Resources: &arns,
	}))
	cfn.DependOnPolicyOnly(c.StateMachine, c.StateMachine.Role())
	c.StateMachine.Role().Node().AddDependency(c.Teardown)
	cfn.Suppress(c.StateMachine, cfn.Suppression{ID: "AwsSolutions-IAM5",
		Reason:    "Added by CDK for logging and tracing: the CloudWatch Logs delivery actions (logs:CreateLogDelivery, GetLogDelivery, UpdateLogDelivery, DeleteLogDelivery, ListLogDeliveries, PutResourcePolicy, DescribeResourcePolicies, DescribeLogGroups) and X-Ray (xray:PutTraceSegments, PutTelemetryRecords, GetSamplingRules, GetSamplingTargets) support no resource-level permissions.",
		AppliesTo: []string{"Resource::*"}})

	// The health check: the only Lambda that starts failovers.
	res.StateMachineARN = c.StateMachine.StateMachineArn()
	res.StateMachineName = c.StateMachine.StateMachineName()
	hcEnv := map[string]*string{
		config.EnvStateMachineARN: c.StateMachine.StateMachineArn(),
		config.EnvKeepCoordinator: p.KeepCoordinator,
		config.EnvGraceSeconds:    p.GraceSeconds,
		config.EnvCheckInterval:   p.CheckIntervalSeconds,
		config.EnvPrestoPort:      p.PrestoPort,
		config.EnvHostRoleID:      p.HostRoleID,
		// The agents ring the doorbell (infra/coordinator: AGENT_DOORBELL_FUNCTION), so a
		// calm tick evaluates once instead of looping for LoopSpan.
		config.EnvDoorbell: jsii.String("yes"),
	}
	hc := c.function(p, permissions.Healthcheck, HealthCheckTimeoutSeconds, env, hcEnv, res)

	// Every minute (the EventBridge minimum). A tick that cannot be delivered is dropped,
	// not retried: the next tick is a minute away and a late evaluation is a stale one.
	c.Schedule = awsevents.NewRule(c.Construct, jsii.String("Schedule"), &awsevents.RuleProps{
		Description: jsii.String("Coordinator health check of " + p.Cluster + " every minute"),
		Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(1))),
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(hc, &awseventstargets.LambdaFunctionProps{
			RetryAttempts: jsii.Number(0),
			MaxEventAge:   awscdk.Duration_Seconds(jsii.Number(60)),
		})},
	})
	c.Schedule.Node().AddDependency(c.Teardown)
	return c
}

// function builds one Lambda with its own log group and a role from the permissions table.
func (c *ControlPlane) function(p *Props, name string, timeout int, env, extra map[string]*string, res policy.Resources) awslambda.Function {
	if timeout <= 0 {
		panic(fmt.Sprintf("controlplane: no timeout for %s", name))
	}
	id := map[string]string{
		permissions.Healthcheck: "HealthCheck", permissions.Terminate: "Terminate", permissions.AttachENI: "AttachENI",
		permissions.LaunchStandby: "LaunchStandby", permissions.Notify: "Notify", permissions.Teardown: "Teardown",
	}[name]
	logs := awslogs.NewLogGroup(c.Construct, jsii.String(id+"Logs"), &awslogs.LogGroupProps{
		Retention: p.LogRetention, RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	role := awsiam.NewRole(c.Construct, jsii.String(id+"Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("Coordinator HA " + name + " Lambda of " + p.Cluster),
	})
	logs.GrantWrite(role)
	if c.Teardown != nil {
		// Deleted before the delete-time step runs (the function depends on its role's
		// policy, which depends on the role): no failover step can act once it releases
		// the group.
		role.Node().AddDependency(c.Teardown)
	}
	cfn.Suppress(role, cfn.Suppression{ID: "AwsSolutions-IAM5",
		Reason:    "Added by CDK for active X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions.",
		AppliesTo: []string{"Resource::*"}})
	acts := permissions.Actions[name]
	for _, st := range policy.Statements(name, res) {
		role.AddToPolicy(st)
	}
	for _, a := range acts {
		if a == "sns:Publish" {
			// Publishing to a KMS-encrypted topic needs the key as well.
			role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid: jsii.String("EncryptedTopicKey"), Actions: jsii.Strings("kms:Decrypt", "kms:GenerateDataKey"),
				Resources: &[]*string{p.TopicKey.KeyArn()},
			}))
		}
	}
	if len(permissions.ByScope(acts)[permissions.AnyResource])+len(permissions.ByScope(acts)[permissions.MetricNamespace]) > 0 {
		cfn.Suppress(role, cfn.Suppression{ID: "AwsSolutions-IAM5",
			Reason:    "ec2:DescribeInstances, ec2:DescribeNetworkInterfaces, autoscaling:DescribeAutoScalingGroups and cloudwatch:GetMetricData support no resource-level permissions; cloudwatch:PutMetricData neither, and is limited by the cloudwatch:namespace condition instead.",
			AppliesTo: []string{"Resource::*"}})
	}
	if len(permissions.ByScope(acts)[permissions.GroupInstances]) > 0 {
		cfn.Suppress(role, cfn.Suppression{ID: "AwsSolutions-IAM5",
			Reason:    "EC2 mutations (attach, detach, tag) apply to instances launched by the Auto Scaling group, whose ids are not known when the policy is written; the wildcard is limited by the condition aws:ResourceTag/" + config.TagASGName + " = this stack's group, a tag only Auto Scaling can write, and tagging to the role tag. The ENI side of an attach or detach is the coordinator ENI's exact ARN.",
			AppliesTo: []string{"Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:instance/*"}})
	}
	if len(permissions.ByScope(acts)[permissions.ClusterGroup]) > 0 {
		cfn.Suppress(role, cfn.Suppression{ID: "AwsSolutions-IAM5",
			Reason:    "An Auto Scaling group ARN contains a UUID assigned at creation; the wildcard stands for that UUID only, the group name is exact and the cluster tag condition applies too.",
			AppliesTo: []string{"/^Resource::arn:<AWS::Partition>:autoscaling:<AWS::Region>:<AWS::AccountId>:autoScalingGroup:\\*:autoScalingGroupName\\/<.*>$/g"}})
	}
	if len(permissions.ByScope(acts)[permissions.Execution]) > 0 {
		cfn.Suppress(role, cfn.Suppression{ID: "AwsSolutions-IAM5",
			Reason:    "Executions of the failover state machine are named at start (<cluster>-failover-<generation>, the failover lease); the wildcard covers this state machine's executions only.",
			AppliesTo: []string{"/^Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:<.*>:\\*$/g"}})
	}
	environment := map[string]*string{}
	for k, v := range env {
		environment[k] = v
	}
	for k, v := range extra {
		environment[k] = v
	}
	// At most one evaluator at a time: two overlapping health checks could both decide
	// to act. A failover invokes each step once, plus the state machine's retries, and
	// failovers are rare (the circuit breaker caps them): StepReservedConcurrency leaves
	// room for a manual execution beside an automatic one and caps what a runaway
	// caller could start. A throttled step is retried by the state machine
	// (Lambda.TooManyRequestsException is in every Retry).
	//
	// Reservations are optional (LambdaConcurrency): Lambda keeps 10 executions of the
	// account unreserved, so any reservation needs an account limit above 10, and new
	// accounts often have exactly 10. Without them safety still holds: a second health
	// check that overlaps the first starts the same deterministically named execution
	// (<cluster>-<failed instance id>), which collapses into the first, and no check
	// starts one while an execution runs; a throttled step is retried by the state
	// machine.
	reserved := jsii.Number(StepReservedConcurrency)
	// Asynchronous invocations (the schedule's ticks and the agents' doorbell rings): no
	// retry, and an event older than a minute is dropped. Without this Lambda itself
	// would retry a failed tick or ring twice and keep one throttled by the reserved
	// concurrency queued for up to six hours; a stale ring is worth nothing (the next
	// tick evaluates, and an agent rings again while the failure lasts).
	var retries *float64
	var maxAge awscdk.Duration
	// The health check's name depends on the stack id only (policy.HealthCheckFunctionName):
	// the hosts' policy and user data name it without a reference to the function, which
	// would close a cycle (function env -> group -> host policy -> function).
	var fnName *string
	if name == permissions.Healthcheck {
		reserved = jsii.Number(HealthCheckReservedConcurrency)
		retries, maxAge = jsii.Number(0), awscdk.Duration_Seconds(jsii.Number(60))
		fnName = policy.HealthCheckFunctionName()
	}
	if name == permissions.Teardown {
		reserved = nil // one invocation in the life of the stack
	}
	if p.ReserveConcurrency != nil && reserved != nil {
		reserved = awscdk.Token_AsNumber(awscdk.Fn_ConditionIf(p.ReserveConcurrency.LogicalId(), reserved, awscdk.Aws_NO_VALUE()))
	}
	fn := awslambda.NewFunction(c.Construct, jsii.String(id), &awslambda.FunctionProps{
		FunctionName:  fnName,
		Description:   jsii.String("Coordinator HA " + name + " of " + p.Cluster),
		Runtime:       awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:  awslambda.Architecture_ARM_64(),
		Handler:       jsii.String("bootstrap"),
		Code:          awslambda.Code_FromAsset(jsii.String(filepath.Join(p.LambdaDir, name)), nil),
		MemorySize:    jsii.Number(128),
		Timeout:       awscdk.Duration_Seconds(jsii.Number(float64(timeout))),
		Role:          role,
		LogGroup:      logs,
		LoggingFormat: awslambda.LoggingFormat_JSON,
		Environment:   &environment,
		// Traced like the state machine, so one failover is one X-Ray trace across
		// the execution and its step invocations.
		Tracing: awslambda.Tracing_ACTIVE,

		ReservedConcurrentExecutions: reserved,
		RetryAttempts:                retries,
		MaxEventAge:                  maxAge,
	})
	cfn.DependOnPolicyOnly(fn, role)
	if name == permissions.Teardown {
		cfn.CheckovSkip(fn, teardownSkips...)
	} else {
		cfn.CheckovSkip(fn, lambdaSkips[name == permissions.Healthcheck]...)
	}
	cfn.CheckovSkip(logs, logGroupSkip)
	c.Functions[name] = fn
	c.LogGroups[name] = logs
	return fn
}
