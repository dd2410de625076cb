package cfn

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// DependOnPolicyOnly leaves on resource (a Lambda function or state machine) only the
// dependency on its role's default policy. CDK also lists the role itself in DependsOn,
// which the Fn::GetAtt of the role's ARN already enforces (cfn-lint W3005).
func DependOnPolicyOnly(resource constructs.IConstruct, role awsiam.IRole) {
	res, ok := resource.Node().DefaultChild().(awscdk.CfnResource)
	if !ok {
		panic("cfn.DependOnPolicyOnly: " + *resource.Node().Path() + " has no CloudFormation resource")
	}
	pol := role.Node().TryFindChild(jsii.String("DefaultPolicy"))
	if pol == nil {
		res.AddOverride(jsii.String("DependsOn"), &[]*string{})
		return
	}
	cp, ok := pol.Node().DefaultChild().(awscdk.CfnElement)
	if !ok {
		panic("cfn.DependOnPolicyOnly: the default policy of " + *role.Node().Path() + " has no CloudFormation resource")
	}
	res.AddOverride(jsii.String("DependsOn"), &[]*string{awscdk.Stack_Of(resource).GetLogicalId(cp)})
}
