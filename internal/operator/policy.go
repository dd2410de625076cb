package operator

import (
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
