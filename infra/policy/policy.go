// Package policy turns the actions of internal/permissions into IAM policy statements:
// each action on the narrowest resources its scope allows, with the conditions that
// tie it to one cluster. Both the Lambdas' roles and the coordinator hosts' role are
// built here, so the grants come from one table.
package policy

import (
	"fmt"
	"sort"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"

	"github.com/prestoha/coordinator-ha/internal/config"
	"github.com/prestoha/coordinator-ha/internal/permissions"
	"github.com/prestoha/coordinator-ha/internal/signal"
)

// Resources are the concrete resources the scopes refer to. A scope whose resource is
// nil cannot be granted; Statements panics, since that is a wiring mistake.
type Resources struct {
	Cluster          string  // value of the cluster tag
	ASGName          *string // the coordinator Auto Scaling group (ClusterGroup)
	StateMachineARN  *string // StateMachine
	StateMachineName *string // Execution
	TopicARN         *string // Topic
	SecretARN        *string // HostKeySecret
	SecretKeyARN     *string // HostKeySecretKey: the KMS key that encrypts the secret
}

// ARN builds an ARN in this stack's partition, region and account.
func ARN(service, resource string) *string {
	return jsii.String(fmt.Sprintf("arn:%s:%s:%s:%s:%s", *awscdk.Aws_PARTITION(), service, *awscdk.Aws_REGION(), *awscdk.Aws_ACCOUNT_ID(), resource))
}

// Statements returns the statements granting actions, one per scope (CreateTags gets
// its own, limited to the role tag).
func Statements(actions []string, r Resources) []awsiam.PolicyStatement {
	groups := permissions.ByScope(actions)
	scopes := make([]int, 0, len(groups))
	for s := range groups {
		scopes = append(scopes, int(s))
	}
	sort.Ints(scopes)
	tagged := map[string]any{"StringEquals": map[string]any{"aws:ResourceTag/" + config.TagCluster: r.Cluster}}
	need := func(v *string, what string) *string {
		if v == nil {
			panic("policy: " + what + " is needed for " + fmt.Sprint(actions))
		}
		return v
	}
	var out []awsiam.PolicyStatement
	add := func(sid string, acts []string, res []*string, cond map[string]any) {
		if len(acts) == 0 {
			return
		}
		p := &awsiam.PolicyStatementProps{Sid: jsii.String(sid), Actions: jsii.Strings(acts...), Resources: &res}
		if cond != nil {
			p.Conditions = &cond
		}
		out = append(out, awsiam.NewPolicyStatement(p))
	}
	for _, si := range scopes {
		s := permissions.Scope(si)
		acts := groups[s]
		switch s {
		case permissions.AnyResource:
			add("DescribeNoResourceLevel", acts, []*string{jsii.String("*")}, nil)
		case permissions.ClusterTagged:
			var other []string
			var tags []string
			for _, a := range acts {
				if a == "ec2:CreateTags" {
					tags = append(tags, a)
				} else {
					other = append(other, a)
				}
			}
			res := []*string{ARN("ec2", "instance/*"), ARN("ec2", "network-interface/*")}
			add("ClusterInstancesAndENI", other, res, tagged)
			add("ClusterRoleTagOnly", tags, res, map[string]any{
				"StringEquals":              map[string]any{"aws:ResourceTag/" + config.TagCluster: r.Cluster},
				"ForAllValues:StringEquals": map[string]any{"aws:TagKeys": []string{config.TagRole}},
			})
		case permissions.ClusterGroup:
			add("ClusterAutoScalingGroup", acts,
				[]*string{ARN("autoscaling", "autoScalingGroup:*:autoScalingGroupName/"+*need(r.ASGName, "ASGName"))}, tagged)
		case permissions.MetricNamespace:
			add("MetricsInProductNamespace", acts, []*string{jsii.String("*")},
				map[string]any{"StringEquals": map[string]any{"cloudwatch:namespace": signal.Namespace}})
		case permissions.StateMachine:
			add("FailoverStateMachine", acts, []*string{need(r.StateMachineARN, "StateMachineARN")}, nil)
		case permissions.Execution:
			add("FailoverExecutions", acts, []*string{ARN("states", "execution:"+*need(r.StateMachineName, "StateMachineName")+":*")}, nil)
		case permissions.Topic:
			add("NotificationTopic", acts, []*string{need(r.TopicARN, "TopicARN")}, nil)
		case permissions.HostKeySecret:
			add("HostKeySecret", acts, []*string{need(r.SecretARN, "SecretARN")}, nil)
		case permissions.HostKeySecretKey:
			add("HostKeySecretKey", acts, []*string{need(r.SecretKeyARN, "SecretKeyARN")}, map[string]any{"StringEquals": map[string]any{
				"kms:ViaService":                  "secretsmanager." + *awscdk.Aws_REGION() + ".amazonaws.com",
				"kms:EncryptionContext:SecretARN": need(r.SecretARN, "SecretARN"),
			}})
		case permissions.HostKeySecretFirstWrite:
			add("HostKeySecretFirstWriteOnly", acts, []*string{need(r.SecretARN, "SecretARN")}, map[string]any{
				"Null": map[string]any{"aws:ResourceTag/" + config.TagHostKeyLock: "true"},
			})
		case permissions.HostKeySecretLock:
			add("HostKeySecretLockTagOnly", acts, []*string{need(r.SecretARN, "SecretARN")}, map[string]any{
				"StringEquals":              map[string]any{"aws:RequestTag/" + config.TagHostKeyLock: "set"},
				"ForAllValues:StringEquals": map[string]any{"aws:TagKeys": []string{config.TagHostKeyLock}},
			})
		case permissions.ClusterGroupTagged:
			add("ClusterTaggedAutoScalingGroup", acts, []*string{ARN("autoscaling", "autoScalingGroup:*:autoScalingGroupName/*")}, tagged)
		case permissions.Stack:
			add("ThisStack", acts, []*string{awscdk.Aws_STACK_ID()}, nil)
		default:
			panic("policy: unhandled scope " + s.String())
		}
	}
	return out
}
