// Package cfn holds the small CloudFormation helpers the constructs share: optional
// values guarded by a condition, and the cdk-nag suppression helper that insists on a
// reason.
package cfn

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// Optional is a value that exists only when a condition holds (a parameter left
// empty has its condition false). With If nil the value is used when it is not empty.
type Optional struct {
	Value *string
	If    awscdk.CfnCondition
}

// Set reports whether the value may exist at all.
func (o Optional) Set() bool { return o.If != nil || (o.Value != nil && *o.Value != "") }

// OrNoValue returns the value, wrapped in Fn::If(condition, value, AWS::NoValue) when a
// condition guards it; nil when it is never set.
func (o Optional) OrNoValue() *string {
	if o.If != nil {
		return awscdk.Token_AsString(awscdk.Fn_ConditionIf(o.If.LogicalId(), o.Value, awscdk.Aws_NO_VALUE()), nil)
	}
	if o.Value == nil || *o.Value == "" {
		return nil
	}
	return o.Value
}

// OrElse returns Fn::If(condition, value, other) when a condition guards the value, the
// value when it is set, and other otherwise.
func (o Optional) OrElse(other *string) *string {
	if o.If != nil {
		return awscdk.Token_AsString(awscdk.Fn_ConditionIf(o.If.LogicalId(), o.Value, other), nil)
	}
	if o.Value == nil || *o.Value == "" {
		return other
	}
	return o.Value
}

// Guard puts res under the optional's condition, if any.
func (o Optional) Guard(res awscdk.CfnResource) {
	if o.If != nil {
		res.CfnOptions().SetCondition(o.If)
	}
}

// Suppression is one cdk-nag finding that is accepted, with the reason why.
type Suppression struct {
	ID        string   // rule, e.g. AwsSolutions-IAM5
	Reason    string   // why the finding is acceptable here (cdk-nag requires 10+ characters)
	AppliesTo []string // for rules with granular findings (IAM4, IAM5): exact findings, or /regex/g
}

// Suppress records accepted cdk-nag findings on a construct and its children. Every
// suppression carries its reason in the code next to the resource it concerns.
func Suppress(construct any, s ...Suppression) {
	var out []*cdknag.NagPackSuppression
	for _, x := range s {
		if len(x.Reason) < 10 {
			panic("cfn.Suppress: " + x.ID + " needs a reason of at least 10 characters")
		}
		p := &cdknag.NagPackSuppression{Id: jsii.String(x.ID), Reason: jsii.String(x.Reason)}
		if len(x.AppliesTo) > 0 {
			var at []any
			for _, a := range x.AppliesTo {
				if strings.HasPrefix(a, "/") {
					at = append(at, &cdknag.RegexAppliesTo{Regex: jsii.String(a)})
				} else {
					at = append(at, a)
				}
			}
			p.AppliesTo = &at
		}
		out = append(out, p)
	}
	cdknag.NagSuppressions_AddResourceSuppressions(construct, &out, jsii.Bool(true))
}
