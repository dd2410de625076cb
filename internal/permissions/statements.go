package permissions

import (
	"fmt"
	"sort"

	"github.com/prestoha/coordinator-ha/internal/config"
	"github.com/prestoha/coordinator-ha/internal/signal"
)

// Statement is one IAM Allow statement in plain Go. The CDK stack turns each into an
// awsiam.PolicyStatement as it is (infra/policy), and the simulated account evaluates
// the very same statements (internal/harness/sim), so the attack tests run against the
// policies the stack synthesizes. Condition maps an operator ("StringEquals",
// "ForAllValues:StringEquals") to condition keys and their allowed values; a value may
// hold the policy variable ${aws:userid}.
type Statement struct {
	Sid       string
	Actions   []string
	Resources []string
	Condition map[string]map[string][]string
}

// UserIDVariable is the IAM policy variable of the caller's unique id: for an EC2
// instance role session, "<role id>:<instance id>".
const UserIDVariable = "${aws:userid}"

// Resources are the concrete resources the scopes refer to. The stack fills them with
// CloudFormation tokens, the simulated account with its own ids. A scope whose
// resource is empty cannot be granted; Statements panics, since that is a wiring mistake.
type Resources struct {
	Partition, Region, Account string
	Cluster                    string // value of the cluster tag (the group's own tag)
	ASGName                    string // the coordinator Auto Scaling group (GroupInstances, ClusterGroup)
	ENIID                      string // the coordinator ENI (GroupInstances)
	StateMachineARN            string // StateMachine
	StateMachineName           string // Execution
	TopicARN                   string // Topic
	SecretARN                  string // HostKeySecret
	SecretKeyARN               string // HostKeySecretKey: the KMS key that encrypts the secret
	StackID                    string // Stack, and the group's aws:cloudformation:stack-id tag (StackGroups)
	HealthCheckFunctionARN     string // HealthCheckFunction
}

// ARN builds an ARN in r's partition, region and account.
func (r Resources) ARN(service, resource string) string {
	return fmt.Sprintf("arn:%s:%s:%s:%s:%s", r.Partition, service, r.Region, r.Account, resource)
}

// GroupTagKey is the tag Auto Scaling writes on every instance it launches. Tags that
// begin with "aws:" can be written by AWS services only, so the condition on it is one
// nobody can satisfy by tagging an instance.
const GroupTagKey = config.TagASGName

// StackTagKey is the tag CloudFormation writes on the resources of a stack, naming the
// stack's id; like every aws: tag, no user can write it.
const StackTagKey = "aws:cloudformation:stack-id"

// Statements returns the statements of caller's policy: its Actions (and, for the
// agent, the BootActions of the coordinator hosts), each scope on the narrowest
// resources with the conditions that tie it to one cluster.
func Statements(caller string, r Resources) []Statement {
	actions := append([]string{}, Actions[caller]...)
	if caller == Agent {
		actions = append(actions, BootActions...)
	}
	groups := ByScopeFor(caller, actions)
	scopes := make([]int, 0, len(groups))
	for s := range groups {
		scopes = append(scopes, int(s))
	}
	sort.Ints(scopes)
	need := func(v, what string) string {
		if v == "" {
			panic("permissions: " + what + " is needed for " + caller)
		}
		return v
	}
	eq := func(key string, v ...string) map[string]map[string][]string {
		return map[string]map[string][]string{"StringEquals": {key: v}}
	}
	var out []Statement
	add := func(sid string, acts []string, res []string, cond map[string]map[string][]string) {
		if len(acts) > 0 {
			out = append(out, Statement{Sid: sid, Actions: acts, Resources: res, Condition: cond})
		}
	}
	for _, si := range scopes {
		s := Scope(si)
		acts := groups[s]
		switch s {
		case AnyResource:
			add("DescribeNoResourceLevel", acts, []string{"*"}, nil)
		case GroupInstances:
			var moves, tags, terminate []string
			for _, a := range acts {
				switch a {
				case "ec2:CreateTags":
					tags = append(tags, a)
				case "ec2:TerminateInstances":
					terminate = append(terminate, a)
				default:
					moves = append(moves, a)
				}
			}
			group := eq("aws:ResourceTag/"+GroupTagKey, need(r.ASGName, "ASGName"))
			instances := []string{r.ARN("ec2", "instance/*")}
			add("GroupInstances", moves, instances, group)
			add("CoordinatorENI", moves, []string{r.ARN("ec2", "network-interface/"+need(r.ENIID, "ENIID"))}, nil)
			// The fence's fallback (a lifecycle hook holding a member, a member EC2 answers
			// NotFound for): only on the group's own instances.
			add("GroupInstancesTerminate", terminate, instances, group)
			add("GroupInstancesRoleTagOnly", tags, instances, map[string]map[string][]string{
				"StringEquals":              {"aws:ResourceTag/" + GroupTagKey: {r.ASGName}},
				"ForAllValues:StringEquals": {"aws:TagKeys": {config.TagRole}},
			})
		case ClusterGroup:
			add("ClusterAutoScalingGroup", acts,
				[]string{r.ARN("autoscaling", "autoScalingGroup:*:autoScalingGroupName/"+need(r.ASGName, "ASGName"))},
				eq("aws:ResourceTag/"+config.TagCluster, r.Cluster))
		case MetricNamespace:
			add("MetricsInProductNamespace", acts, []string{"*"}, eq("cloudwatch:namespace", signal.Namespace))
		case OwnReportNamespace:
			add("ReportsInOwnNamespace", acts, []string{"*"}, eq("cloudwatch:namespace", signal.HostNamespace(UserIDVariable)))
		case StateMachine:
			add("FailoverStateMachine", acts, []string{need(r.StateMachineARN, "StateMachineARN")}, nil)
		case Execution:
			add("FailoverExecutions", acts, []string{r.ARN("states", "execution:"+need(r.StateMachineName, "StateMachineName")+":*")}, nil)
		case Topic:
			add("NotificationTopic", acts, []string{need(r.TopicARN, "TopicARN")}, nil)
		case HostKeySecret:
			add("HostKeySecret", acts, []string{need(r.SecretARN, "SecretARN")}, nil)
		case HostKeySecretKey:
			add("HostKeySecretKey", acts, []string{need(r.SecretKeyARN, "SecretKeyARN")}, map[string]map[string][]string{"StringEquals": {
				"kms:ViaService":                  {"secretsmanager." + r.Region + ".amazonaws.com"},
				"kms:EncryptionContext:SecretARN": {need(r.SecretARN, "SecretARN")},
			}})
		case HostKeySecretFirstWrite:
			add("HostKeySecretFirstWriteOnly", acts, []string{need(r.SecretARN, "SecretARN")}, map[string]map[string][]string{
				"Null": {"aws:ResourceTag/" + config.TagHostKeyLock: {"true"}},
			})
		case HostKeySecretLock:
			add("HostKeySecretLockTagOnly", acts, []string{need(r.SecretARN, "SecretARN")}, map[string]map[string][]string{
				"StringEquals":              {"aws:RequestTag/" + config.TagHostKeyLock: {"set"}},
				"ForAllValues:StringEquals": {"aws:TagKeys": {config.TagHostKeyLock}},
			})
		case ClusterGroupTagged:
			// The hosts' policy cannot name the group (it must exist before the group, which
			// waits for the hosts' signals), so it names the stack instead: CloudFormation
			// tags what it creates with aws:cloudformation:stack-id, a tag no user can write.
			// The cluster tag would let a second stack with the same cluster name reach this
			// group.
			add("ThisStacksAutoScalingGroup", acts, []string{r.ARN("autoscaling", "autoScalingGroup:*:autoScalingGroupName/*")},
				eq("aws:ResourceTag/"+StackTagKey, need(r.StackID, "StackID")))
		case Stack:
			add("ThisStack", acts, []string{need(r.StackID, "StackID")}, nil)
		case HealthCheckFunction:
			add("HealthCheckDoorbell", acts, []string{need(r.HealthCheckFunctionARN, "HealthCheckFunctionARN")}, nil)
		default:
			panic("permissions: unhandled scope " + s.String())
		}
	}
	return out
}
