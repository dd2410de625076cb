package controlplane

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/prestoha/coordinator-ha/infra/cfn"
)

// AlarmPublishSid is the topic policy statement that lets this account's CloudWatch
// alarms publish to the topic.
const AlarmPublishSid = "CloudWatchAlarmsPublish"

// TopicProps configures the notification topic.
type TopicProps struct {
	Cluster string
	Email   cfn.Optional // subscribed when set
}

// Notifications is the encrypted topic for failovers and alarms.
type Notifications struct {
	constructs.Construct
	Topic awssns.Topic
	Key   awskms.Key // the stack's one KMS key: the topic, and the SSH host-key secret
}

// NewTopic builds the topic, encrypted with its own KMS key (rotated yearly). A
// customer managed key, not aws/sns, because CloudWatch alarms can publish only to
// topics whose key policy lets cloudwatch.amazonaws.com use the key. The stack also
// encrypts the SSH host-key secret with this key (see coordinator.Props.SecretKey).
func NewTopic(scope constructs.Construct, id string, p *TopicProps) *Notifications {
	n := &Notifications{Construct: constructs.NewConstruct(scope, jsii.String(id))}
	n.Key = awskms.NewKey(n.Construct, jsii.String("Key"), &awskms.KeyProps{
		Description:       jsii.String("Encrypts the coordinator HA notifications and SSH host-key secret of " + p.Cluster),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_DESTROY,
	})
	n.Key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CloudWatchAlarmsPublish"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()}},
	}), jsii.Bool(false))
	n.Topic = awssns.NewTopic(n.Construct, jsii.String("Topic"), &awssns.TopicProps{
		DisplayName: jsii.String("Coordinator HA " + p.Cluster),
		MasterKey:   n.Key,
		EnforceSSL:  jsii.Bool(true),
	})
	// EnforceSSL writes an AWS::SNS::TopicPolicy, and a topic policy replaces SNS's
	// default policy (which let the account's own principals publish). Without an Allow
	// for CloudWatch next to the TLS-only Deny no alarm could ever publish: CloudWatch
	// alarm actions publish as the service principal, not as an IAM principal of the
	// account. The conditions keep it to this account's alarms (confused deputy: another
	// account's alarm cannot use this topic).
	n.Topic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String(AlarmPublishSid),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("sns:Publish"),
		Resources:  &[]*string{n.Topic.TopicArn()},
		Conditions: &map[string]any{
			"ArnLike": map[string]any{"aws:SourceArn": "arn:" + *awscdk.Aws_PARTITION() + ":cloudwatch:" + *awscdk.Aws_REGION() + ":" +
				*awscdk.Aws_ACCOUNT_ID() + ":alarm:*"},
			"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()},
		},
	}))
	if p.Email.Set() {
		sub := awssns.NewCfnSubscription(n.Construct, jsii.String("Email"), &awssns.CfnSubscriptionProps{
			TopicArn: n.Topic.TopicArn(), Protocol: jsii.String("email"), Endpoint: p.Email.Value,
		})
		p.Email.Guard(sub)
	}
	return n
}
