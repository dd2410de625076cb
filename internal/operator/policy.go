package operator

import (
	"fmt"
	"strings"

	"github.com/prestoha/coordinator-ha/internal/config"
	"github.com/prestoha/coordinator-ha/internal/permissions"
)

// Actions are the AWS calls the command makes (sts:GetCallerIdentity, which IAM allows
// every principal, aside). The tests record every call the subcommands make against the
// simulated account and check them against this list, under Policy.
var Actions = []string{
	"autoscaling:DescribeAutoScalingGroups",
	"autoscaling:SetDesiredCapacity",
	"autoscaling:TerminateInstanceInAutoScalingGroup",
	"cloudformation:DescribeStacks",
	"cloudwatch:GetMetricData",
	"ec2:CreateTags",
	"ec2:DeleteTags",
	"ec2:DescribeInstances",
	"ec2:DescribeNetworkInterfaces",
	"states:DescribeExecution",
	"states:ListExecutions",
	"states:StartExecution",
}

// ReadOnlyActions are what status and history need.
var ReadOnlyActions = []string{
	"autoscaling:DescribeAutoScalingGroups",
	"cloudformation:DescribeStacks",
	"cloudwatch:GetMetricData",
	"ec2:DescribeInstances",
	"ec2:DescribeNetworkInterfaces",
	"states:DescribeExecution",
	"states:ListExecutions",
}

// Policy is the IAM policy an operator needs to run every subcommand on one cluster,
// each action on the narrowest resource: the account's stacks (to find this one); the coordinator ENI's exact ARN for
// the pause tags, and only those four tag keys; the state machine and its executions;
// the cluster's group (carrying the cluster tag) for roll's capacity changes. Describe
// calls and GetMetricData support no resource-level permissions. Attach it to the
// operators' role (the stack does not create one: who operates a cluster is the
// account's decision). For status and history alone, ReadOnlyActions suffice.
func Policy(r permissions.Resources) []permissions.Statement {
	return []permissions.Statement{
		// Every stack of the account and region, not only this one: DescribeStacks is a
		// read, and a mistyped --stack then gets CloudFormation's own "Stack with id X
		// does not exist" (exit 5) rather than AccessDenied.
		{Sid: "FindTheStack", Actions: []string{"cloudformation:DescribeStacks"},
			Resources: []string{r.ARN("cloudformation", "stack/*")}},
		{Sid: "ReadTheCluster", Resources: []string{"*"}, Actions: []string{
			"autoscaling:DescribeAutoScalingGroups", "cloudwatch:GetMetricData", "ec2:DescribeInstances", "ec2:DescribeNetworkInterfaces"}},
		{Sid: "PauseTagsOnTheCoordinatorENI", Actions: []string{"ec2:CreateTags", "ec2:DeleteTags"},
			Resources: []string{r.ARN("ec2", "network-interface/"+r.ENIID)},
			// Null=false: a DeleteTags naming no key would delete every tag, and
			// ForAllValues holds for an empty set.
			Condition: map[string]map[string][]string{"ForAllValues:StringEquals": {"aws:TagKeys": config.PauseTags},
				"Null": {"aws:TagKeys": {"false"}}}},
		{Sid: "FailoverLease", Actions: []string{"states:ListExecutions", "states:StartExecution"}, Resources: []string{r.StateMachineARN}},
		{Sid: "FailoverHistory", Actions: []string{"states:DescribeExecution"},
			Resources: []string{r.ARN("states", "execution:"+r.StateMachineName+":*")}},
		{Sid: "RollTheGroup", Actions: []string{"autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"},
			Resources: []string{r.ARN("autoscaling", "autoScalingGroup:*:autoScalingGroupName/"+r.ASGName)},
			Condition: map[string]map[string][]string{"StringEquals": {"aws:ResourceTag/" + config.TagCluster: {r.Cluster}}}},
	}
}

// PolicyDocument is Policy for this stack as an IAM policy document (JSON-ready), for
// `coordinator-ha policy`: partition, region and account from the stack's id.
func (o *Operator) PolicyDocument() (map[string]any, error) {
	parts := strings.SplitN(o.Stack.ID, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return nil, fmt.Errorf("stack id %q is not an ARN", o.Stack.ID)
	}
	smName := o.Stack.StateMachineARN[strings.LastIndex(o.Stack.StateMachineARN, ":")+1:]
	r := permissions.Resources{Partition: parts[1], Region: parts[3], Account: parts[4], Cluster: o.Stack.Cluster,
		ASGName: o.Stack.ASGName, ENIID: o.Stack.ENIID, StateMachineARN: o.Stack.StateMachineARN, StateMachineName: smName}
	var stmts []map[string]any
	for _, s := range Policy(r) {
		st := map[string]any{"Sid": s.Sid, "Effect": "Allow", "Action": s.Actions, "Resource": s.Resources}
		if len(s.Condition) > 0 {
			st["Condition"] = s.Condition
		}
		stmts = append(stmts, st)
	}
	return map[string]any{"Version": "2012-10-17", "Statement": stmts}, nil
}
