package permissions

import (
	"fmt"
	"sort"
	"strings"
)

// Callers: the components that call AWS, with the names internal/harness/sim records.
const (
	Healthcheck   = "healthcheck"
	Terminate     = "terminate"
	AttachENI     = "attacheni"
	LaunchStandby = "launchstandby"
	Notify        = "notify"
	Teardown      = "teardown"
	Agent         = "agent"
)

// Callers lists every key of Actions in a fixed order.
var Callers = []string{Healthcheck, Terminate, AttachENI, LaunchStandby, Notify, Teardown, Agent}

// Actions is what each caller may call: exactly the AWS API calls its Go code makes
// through internal/awsapi.
var Actions = map[string][]string{
	Healthcheck: {
		"autoscaling:DescribeAutoScalingGroups",
		"autoscaling:SetInstanceProtection",
		"cloudwatch:GetMetricData",
		"cloudwatch:PutMetricData",
		"ec2:DescribeInstances",
		"ec2:DescribeNetworkInterfaces",
		"sns:Publish",
		"states:DescribeExecution",
		"states:ListExecutions",
		"states:StartExecution",
	},
	Terminate: {
		"autoscaling:DescribeAutoScalingGroups",
		"autoscaling:TerminateInstanceInAutoScalingGroup",
		"ec2:CreateTags",
		"ec2:DescribeInstances",
		"ec2:DescribeNetworkInterfaces",
		"ec2:DetachNetworkInterface",
		"ec2:TerminateInstances",
	},
	AttachENI: {
		"autoscaling:DescribeAutoScalingGroups",
		"autoscaling:SetInstanceProtection",
		"cloudwatch:GetMetricData",
		"ec2:AttachNetworkInterface",
		"ec2:CreateTags",
		"ec2:DescribeInstances",
		"ec2:DescribeNetworkInterfaces",
	},
	LaunchStandby: {
		"autoscaling:DescribeAutoScalingGroups",
		"autoscaling:SetDesiredCapacity",
		"ec2:CreateTags",
		"ec2:DescribeInstances",
		"ec2:DescribeNetworkInterfaces",
	},
	Notify: {
		"sns:Publish",
	},
	// The delete-time step (internal/teardown): releases the group at stack deletion.
	Teardown: {
		"autoscaling:DescribeAutoScalingGroups",
		"autoscaling:SetInstanceProtection",
		"autoscaling:UpdateAutoScalingGroup",
	},
	Agent: {
		"cloudwatch:PutMetricData",
		"lambda:InvokeFunction", // the doorbell (internal/agent): asynchronously, the health check only
	},
}

// Ungated are calls that IAM always allows, whatever the policy says; nothing grants
// them. The agent asks STS who it is (GetCallerIdentity) to learn its report namespace.
var Ungated = []string{"sts:GetCallerIdentity"}

// BootActions is what the coordinator hosts' boot script (infra/coordinator/bootstrap.sh)
// calls with the AWS CLI: on the stack's SSH host-key secret, the Secrets Manager calls
// (read; write only while unlocked; lock) and the KMS calls Secrets Manager makes on the
// host's behalf with the key that encrypts the secret (Decrypt to read it,
// GenerateDataKey to write it); on its own Auto Scaling group, SetInstanceHealth (a
// fatal boot error marks the instance Unhealthy); on the stack, SignalResource (the
// ready signal of the group's CreationPolicy and UpdatePolicy); DescribeNetworkInterfaces
// of the coordinator ENI, for the MAC its static systemd-networkd file matches (EC2 allows
// no resource-level scope on Describe calls, and CloudFormation does not expose the MAC).
// The agent binaries' S3 download is granted by its own statement, on exactly the two
// agent objects. bootstrap_test.go checks that the script calls exactly these.
var BootActions = []string{
	"autoscaling:SetInstanceHealth",
	"cloudformation:SignalResource",
	"ec2:DescribeNetworkInterfaces",
	"kms:Decrypt",
	"kms:GenerateDataKey",
	"secretsmanager:GetSecretValue",
	"secretsmanager:PutSecretValue",
	"secretsmanager:TagResource",
}

// Scope says how the stack narrows an action's resources.
type Scope int

// Scopes of actions.
const (
	// AnyResource: the action supports no resource-level permissions (Describe*,
	// GetMetricData), so the statement is on "*".
	AnyResource Scope = iota + 1
	// GroupInstances: EC2 mutations, on the instances Auto Scaling launched for the
	// cluster's group (aws:ResourceTag/aws:autoscaling:groupName, a tag only Auto
	// Scaling can write) and, for the ENI moves, on the coordinator ENI's exact ARN.
	// Nobody can grant an instance this authority by tagging it.
	GroupInstances
	// ClusterGroup: Auto Scaling mutations, on the cluster's group ARN, which also
	// carries the cluster tag.
	ClusterGroup
	// MetricNamespace: PutMetricData, limited by the cloudwatch:namespace condition to
	// signal.Namespace (the health check's own metrics).
	MetricNamespace
	// OwnReportNamespace: the agent's PutMetricData, limited by the
	// cloudwatch:namespace condition to signal.HostNamespace of the caller's own
	// aws:userid (<role id>:<instance id>): a host can write only its own reports.
	OwnReportNamespace
	// StateMachine: on the failover state machine's ARN.
	StateMachine
	// Execution: on the failover state machine's executions.
	Execution
	// Topic: on the notification topic.
	Topic
	// HostKeySecret: on the SSH host-key secret.
	HostKeySecret
	// HostKeySecretKey: on the KMS key of the SSH host-key secret, only through Secrets
	// Manager and only for that secret (kms:ViaService, kms:EncryptionContext:SecretARN).
	HostKeySecretKey
	// HostKeySecretFirstWrite: on the SSH host-key secret while it does not carry the
	// lock tag (config.TagHostKeyLock): only the first writer sets the key.
	HostKeySecretFirstWrite
	// HostKeySecretLock: on the SSH host-key secret, adding only the lock tag, with the
	// value "set" (there is no grant to remove it).
	HostKeySecretLock
	// ClusterGroupTagged: on any Auto Scaling group that CloudFormation tagged as this
	// stack's (aws:cloudformation:stack-id, which no user can write). For the hosts, whose
	// policy cannot name the group: the group waits for the hosts' signals
	// (CreationPolicy), so their policy must exist before it.
	ClusterGroupTagged
	// Stack: on this CloudFormation stack.
	Stack
	// HealthCheckFunction: on the health check Lambda function (the agents' doorbell).
	HealthCheckFunction
)

func (s Scope) String() string {
	switch s {
	case AnyResource:
		return "any-resource"
	case GroupInstances:
		return "group-instances"
	case ClusterGroup:
		return "cluster-group"
	case MetricNamespace:
		return "metric-namespace"
	case OwnReportNamespace:
		return "own-report-namespace"
	case StateMachine:
		return "state-machine"
	case Execution:
		return "execution"
	case Topic:
		return "topic"
	case HostKeySecret:
		return "host-key-secret"
	case HostKeySecretKey:
		return "host-key-secret-key"
	case HostKeySecretFirstWrite:
		return "host-key-secret-first-write"
	case HostKeySecretLock:
		return "host-key-secret-lock"
	case ClusterGroupTagged:
		return "cluster-group-tagged"
	case Stack:
		return "stack"
	case HealthCheckFunction:
		return "health-check-function"
	}
	return fmt.Sprintf("scope(%d)", int(s))
}

// Scopes gives every action in Actions and BootActions its resource scope.
var Scopes = map[string]Scope{
	"autoscaling:DescribeAutoScalingGroups":           AnyResource,
	"cloudwatch:GetMetricData":                        AnyResource,
	"ec2:DescribeInstances":                           AnyResource,
	"ec2:DescribeNetworkInterfaces":                   AnyResource,
	"ec2:AttachNetworkInterface":                      GroupInstances,
	"ec2:CreateTags":                                  GroupInstances,
	"ec2:DetachNetworkInterface":                      GroupInstances,
	"ec2:TerminateInstances":                          GroupInstances,
	"autoscaling:SetDesiredCapacity":                  ClusterGroup,
	"autoscaling:SetInstanceProtection":               ClusterGroup,
	"autoscaling:TerminateInstanceInAutoScalingGroup": ClusterGroup,
	"autoscaling:UpdateAutoScalingGroup":              ClusterGroup,
	"cloudwatch:PutMetricData":                        MetricNamespace,
	"states:StartExecution":                           StateMachine,
	"states:ListExecutions":                           StateMachine,
	"states:DescribeExecution":                        Execution,
	"sns:Publish":                                     Topic,
	"secretsmanager:GetSecretValue":                   HostKeySecret,
	"secretsmanager:PutSecretValue":                   HostKeySecretFirstWrite,
	"secretsmanager:TagResource":                      HostKeySecretLock,
	"autoscaling:SetInstanceHealth":                   ClusterGroupTagged,
	"cloudformation:SignalResource":                   Stack,
	"kms:Decrypt":                                     HostKeySecretKey,
	"kms:GenerateDataKey":                             HostKeySecretKey,
	"lambda:InvokeFunction":                           HealthCheckFunction,
}

// ScopeOf is the scope of action when caller calls it: the agent's PutMetricData is
// limited to its own report namespace, everyone else's to the product's namespace.
func ScopeOf(caller, action string) Scope {
	if caller == Agent && action == "cloudwatch:PutMetricData" {
		return OwnReportNamespace
	}
	s, ok := Scopes[action]
	if !ok {
		panic("permissions: action " + action + " has no scope")
	}
	return s
}

// ByScope groups a caller's actions by scope, each group sorted. It panics on an
// action without a scope: the table is a program constant and TestScopes keeps it whole.
func ByScope(actions []string) map[Scope][]string { return ByScopeFor("", actions) }

// ByScopeFor is ByScope with the caller's own scopes (ScopeOf).
func ByScopeFor(caller string, actions []string) map[Scope][]string {
	out := map[Scope][]string{}
	for _, a := range actions {
		s := ScopeOf(caller, a)
		out[s] = append(out[s], a)
	}
	for _, v := range out {
		sort.Strings(v)
	}
	return out
}

// Diff compares the actions a caller was seen to call with the actions it is granted.
// missing are called but not granted (the caller would get AccessDenied in AWS); unused
// are granted but never called (more privilege than needed).
func Diff(called, granted []string) (missing, unused []string) {
	g := map[string]bool{}
	for _, a := range Ungated {
		g[a] = true
	}
	for _, a := range granted {
		g[a] = true
	}
	c := map[string]bool{}
	for _, a := range called {
		c[a] = true
		if !g[a] {
			missing = append(missing, a)
		}
	}
	for _, a := range granted {
		if !c[a] {
			unused = append(unused, a)
		}
	}
	sort.Strings(missing)
	sort.Strings(unused)
	return missing, unused
}

// Service returns the service prefix of an action ("ec2" of "ec2:CreateTags").
func Service(action string) string {
	s, _, _ := strings.Cut(action, ":")
	return s
}
