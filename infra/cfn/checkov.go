package cfn

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Skip is one checkov check that does not apply to a resource, with the reason why.
type Skip struct {
	ID      string // checkov check, e.g. CKV_AWS_117
	Comment string // why the check does not apply (make scan prints it; required)
}

// CheckovSkip records checkov skips on the CloudFormation resource of construct, as the
// resource Metadata checkov reads for CloudFormation templates:
//
//	"Metadata": {"checkov": {"skip": [{"id": "CKV_AWS_117", "comment": "..."}]}}
//
// Other Metadata keys (cdk_nag's) are kept. Give all of a resource's skips in one call:
// a second call on the same resource panics rather than silently replacing the first.
func CheckovSkip(construct constructs.IConstruct, skips ...Skip) {
	res, ok := construct.(awscdk.CfnResource)
	if !ok {
		res, ok = construct.Node().DefaultChild().(awscdk.CfnResource)
	}
	if !ok {
		panic("cfn.CheckovSkip: " + *construct.Node().Path() + " has no CloudFormation resource")
	}
	if res.GetMetadata(jsii.String("checkov")) != nil {
		panic("cfn.CheckovSkip: " + *construct.Node().Path() + " already has checkov skips; give them in one call")
	}
	var list []map[string]string
	for _, s := range skips {
		if len(s.Comment) < 10 {
			panic("cfn.CheckovSkip: " + s.ID + " needs a comment of at least 10 characters")
		}
		list = append(list, map[string]string{"id": s.ID, "comment": s.Comment})
	}
	res.AddMetadata(jsii.String("checkov"), map[string]any{"skip": list})
}
