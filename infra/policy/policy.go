// Package policy turns the statements of internal/permissions into IAM policy
// statements. Both the Lambdas' roles and the coordinator hosts' role are built here, so
// the grants come from one table, and the simulated account evaluates the very same
// statements (permissions.Statements) in the attack tests.
package policy

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"

	"github.com/prestoha/coordinator-ha/internal/permissions"
)

// Resources are the concrete resources the scopes refer to (CloudFormation tokens). A
// scope whose resource is nil cannot be granted; Statements panics, since that is a
// wiring mistake.
type Resources struct {
	Cluster          string  // value of the cluster tag
	ASGName          *string // the coordinator Auto Scaling group (ClusterGroup, GroupInstances)
	ENIID            *string // the coordinator ENI (GroupInstances)
	StateMachineARN  *string // StateMachine
	StateMachineName *string // Execution
	TopicARN         *string // Topic
	SecretARN        *string // HostKeySecret
	SecretKeyARN     *string // HostKeySecretKey: the KMS key that encrypts the secret
	// HealthCheckFunctionARN is the health check function (HealthCheckFunction: the
	// agents' doorbell); HealthCheckFunctionARN() builds it without naming the function.
	HealthCheckFunctionARN *string
}

// HealthCheckFunctionPrefix starts the health check function's name.
const HealthCheckFunctionPrefix = "coordinator-ha-"

// HealthCheckFunctionName is the health check Lambda's name: HealthCheckFunctionPrefix
// and the UUID that ends the stack id, 51 characters (Lambda allows 64), unique per
// stack and fixed for its life. It depends on no resource, only on AWS::StackId, so the
// hosts' policy and user data can name the function without waiting for it: the host
// role's policy must exist before the Auto Scaling group (the group waits for the
// hosts' signals), and the health check's environment names the group, so a reference
// to the function itself would close a cycle.
func HealthCheckFunctionName() *string {
	return awscdk.Fn_Join(jsii.String(""), &[]*string{
		jsii.String(HealthCheckFunctionPrefix),
		// No assumed length: with one, CDK renders the Select over a list of three Selects.
		awscdk.Fn_Select(jsii.Number(2), awscdk.Fn_Split(jsii.String("/"), awscdk.Aws_STACK_ID(), nil)),
	})
}

// HealthCheckFunctionARN is the unqualified ARN of HealthCheckFunctionName in this
// stack's partition, region and account (what an Invoke by name is authorized on).
func HealthCheckFunctionARN() *string {
	return ARN("lambda", "function:"+*HealthCheckFunctionName())
}

// single reports whether a condition operator takes one value as a plain string.
func single(op string, v []string) bool {
	return len(v) == 1 && !strings.HasPrefix(op, "ForAllValues:") && !strings.HasPrefix(op, "ForAnyValue:")
}

// ARN builds an ARN in this stack's partition, region and account.
func ARN(service, resource string) *string {
	return jsii.String(fmt.Sprintf("arn:%s:%s:%s:%s:%s", *awscdk.Aws_PARTITION(), service, *awscdk.Aws_REGION(), *awscdk.Aws_ACCOUNT_ID(), resource))
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// Statements returns caller's statements (permissions.Statements) as CDK statements.
func Statements(caller string, r Resources) []awsiam.PolicyStatement {
	res := permissions.Resources{
		Partition: *awscdk.Aws_PARTITION(), Region: *awscdk.Aws_REGION(), Account: *awscdk.Aws_ACCOUNT_ID(),
		Cluster: r.Cluster, ASGName: str(r.ASGName), ENIID: str(r.ENIID),
		StateMachineARN: str(r.StateMachineARN), StateMachineName: str(r.StateMachineName), TopicARN: str(r.TopicARN),
		SecretARN: str(r.SecretARN), SecretKeyARN: str(r.SecretKeyARN), StackID: *awscdk.Aws_STACK_ID(),
		HealthCheckFunctionARN: str(r.HealthCheckFunctionARN),
	}
	var out []awsiam.PolicyStatement
	for _, st := range permissions.Statements(caller, res) {
		p := &awsiam.PolicyStatementProps{Sid: jsii.String(st.Sid), Actions: jsii.Strings(st.Actions...), Resources: jsii.Strings(st.Resources...)}
		if len(st.Condition) > 0 {
			cond := map[string]any{}
			for op, keys := range st.Condition {
				m := map[string]any{}
				for k, v := range keys {
					if single(op, v) {
						m[k] = v[0]
					} else {
						m[k] = v
					}
				}
				cond[op] = m
			}
			p.Conditions = &cond
		}
		out = append(out, awsiam.NewPolicyStatement(p))
	}
	return out
}
