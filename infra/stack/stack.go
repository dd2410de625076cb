package stack

import (
	"fmt"
	"path/filepath"
	"regexp"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/prestoha/coordinator-ha/infra/cfn"
	"github.com/prestoha/coordinator-ha/infra/controlplane"
	"github.com/prestoha/coordinator-ha/infra/coordinator"
	"github.com/prestoha/coordinator-ha/infra/observability"
	"github.com/prestoha/coordinator-ha/internal/operator"
	"github.com/prestoha/coordinator-ha/internal/permissions"
)

// ClusterPattern is what a cluster name may look like: it becomes a tag value, a metric
// dimension and the prefix of execution names (<cluster>-<instance id>, at most 80).
var ClusterPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,40}$`)

// Output names.
const (
	OutURL          = "PrestoCoordinatorURL"
	OutSSH          = "PrestoSSH"
	OutConsole      = "StateMachineConsoleURL"
	OutDashboard    = "DashboardURL"
	OutENI          = "CoordinatorENIId"
	OutENIIP        = "CoordinatorIP"
	OutASG          = "CoordinatorAutoScalingGroupName"
	OutClusterSG    = "ClusterSecurityGroupId"
	OutStateMachine = "StateMachineArn"
	OutTopic        = "NotificationTopicArn"
	// What the operator command (internal/operator) finds the cluster by, with the
	// outputs above; the test checks operator.RequiredOutputs are all here.
	OutCluster         = operator.OutCluster
	OutHostRoleID      = operator.OutHostRoleID
	OutHealthCheckLogs = operator.OutHealthCheckLogs
)

// Props configures the stack.
type Props struct {
	awscdk.StackProps
	Cluster string // cluster name, see ClusterPattern
	// AssetDir holds lambda/<name>/bootstrap for the five Lambdas and
	// agent/coordinator-agent-linux-{arm64,amd64} (what `make build` writes to bin/).
	AssetDir string
	// AgentUnit is the agent's systemd unit; "" uses coordinator.DefaultUnit.
	AgentUnit string
	// Definition overrides the state machine definition (tests); "" uses internal/statemachine.
	Definition   string
	Placeholders []string
}

// Stack is the synthesized cluster stack and its parts.
type Stack struct {
	awscdk.Stack
	Params        *Params
	Coordinator   *coordinator.Coordinator
	Notifications *controlplane.Notifications
	ControlPlane  *controlplane.ControlPlane
	Observability *observability.Observability
}

// New builds the stack of one cluster.
func New(scope constructs.Construct, id string, p *Props) *Stack {
	if !ClusterPattern.MatchString(p.Cluster) {
		panic(fmt.Sprintf("stack: cluster name %q must match %s", p.Cluster, ClusterPattern))
	}
	if p.AssetDir == "" {
		panic("stack: AssetDir is required")
	}
	sp := p.StackProps
	if sp.Description == nil {
		sp.Description = jsii.String("Presto/Trino coordinator high availability for cluster " + p.Cluster +
			": coordinator ENI, hot standbys, health check and failover state machine")
	}
	st := awscdk.NewStack(scope, jsii.String(id), &sp)
	s := &Stack{Stack: st, Params: newParams(st)}
	pr := s.Params

	notEmpty := func(id string, param awscdk.CfnParameter) awscdk.CfnCondition {
		return awscdk.NewCfnCondition(st, jsii.String(id), &awscdk.CfnConditionProps{
			Expression: awscdk.Fn_ConditionNot(awscdk.Fn_ConditionEquals(param.ValueAsString(), jsii.String(""))),
		})
	}
	hasKey := notEmpty("HasKeyName", pr.KeyName)
	hasIP := notEmpty("HasCoordinatorPrivateIp", pr.PrivateIP)
	hasEmail := notEmpty("HasNotificationEmail", pr.Email)
	hasCidr := notEmpty("HasClientCidr", pr.ClientCidr)
	hasSG := notEmpty("HasClientSecurityGroup", pr.ClientSG)
	hasPinnedImage := notEmpty("HasPinnedImageId", pr.PinnedImage)
	reserve := awscdk.NewCfnCondition(st, jsii.String("ReserveLambdaConcurrency"), &awscdk.CfnConditionProps{
		Expression: awscdk.Fn_ConditionEquals(pr.Concurrency.ValueAsString(), jsii.String("reserved")),
	})
	// The subnet must be in VpcId: checked before any resource is created, instead of
	// failing at the ENI (the security groups live in VpcId, the ENI in the subnet).
	awscdk.NewCfnRule(st, jsii.String("SubnetInVpc"), &awscdk.CfnRuleProps{Assertions: &[]*awscdk.CfnRuleAssertion{{
		// Every AWS::EC2::Subnet::Id parameter (SubnetId is the only one) has VpcId's VPC.
		Assert:            awscdk.Fn_ConditionEachMemberEquals(awscdk.Fn_ValueOfAll(jsii.String("AWS::EC2::Subnet::Id"), jsii.String("VpcId")), pr.Vpc.ValueAsString()),
		AssertDescription: jsii.String(ParamSubnet + " must be a subnet of " + ParamVpc),
	}}})
	hasStandbys := awscdk.NewCfnCondition(st, jsii.String("HasStandbys"), &awscdk.CfnConditionProps{
		Expression: awscdk.Fn_ConditionNot(awscdk.Fn_ConditionEquals(pr.HACount.ValueAsString(), jsii.String("1"))),
	})
	// MaxSize = HACoordinatorsCount + 1 (CloudFormation has no arithmetic).
	pool := map[string]*map[string]any{}
	for i := 1; i <= 5; i++ {
		pool[fmt.Sprint(i)] = &map[string]any{"Max": fmt.Sprint(i + 1)}
	}
	poolSize := awscdk.NewCfnMapping(st, jsii.String("PoolSize"), &awscdk.CfnMappingProps{Mapping: &pool})
	maxSize := poolSize.FindInMap(pr.HACount.ValueAsString(), jsii.String("Max"), nil)

	s.Notifications = controlplane.NewTopic(st, "Notifications", &controlplane.TopicProps{
		Cluster: p.Cluster, Email: cfn.Optional{Value: pr.Email.ValueAsString(), If: hasEmail},
	})
	s.Coordinator = coordinator.New(st, "Coordinator", &coordinator.Props{
		Cluster:             p.Cluster,
		VpcID:               pr.Vpc.ValueAsString(),
		SubnetID:            pr.Subnet.ValueAsString(),
		InstanceType:        pr.InstanceType.ValueAsString(),
		ImageID:             cfn.Optional{Value: pr.PinnedImage.ValueAsString(), If: hasPinnedImage}.OrElse(pr.Image.ValueAsString()),
		KeyName:             cfn.Optional{Value: pr.KeyName.ValueAsString(), If: hasKey},
		PrivateIP:           cfn.Optional{Value: pr.PrivateIP.ValueAsString(), If: hasIP},
		PrestoPort:          pr.Port.ValueAsString(),
		HACount:             pr.HACount.ValueAsString(),
		MaxSize:             maxSize,
		ClientCIDR:          cfn.Optional{Value: pr.ClientCidr.ValueAsString(), If: hasCidr},
		ClientSecurityGroup: cfn.Optional{Value: pr.ClientSG.ValueAsString(), If: hasSG},
		AgentArm64:          filepath.Join(p.AssetDir, "agent", "coordinator-agent-linux-arm64"),
		AgentAmd64:          filepath.Join(p.AssetDir, "agent", "coordinator-agent-linux-amd64"),
		AgentUnit:           p.AgentUnit,
		SecretKey:           s.Notifications.Key,
	})
	s.ControlPlane = controlplane.New(st, "ControlPlane", &controlplane.Props{
		Cluster:              p.Cluster,
		ENIID:                s.Coordinator.ENIID,
		ASGName:              s.Coordinator.GroupName,
		HostRoleID:           s.Coordinator.RoleID,
		Topic:                s.Notifications.Topic,
		TopicKey:             s.Notifications.Key,
		LambdaDir:            filepath.Join(p.AssetDir, "lambda"),
		HACount:              pr.HACount.ValueAsString(),
		KeepCoordinator:      pr.Keep.ValueAsString(),
		GraceSeconds:         pr.Grace.ValueAsString(),
		CheckIntervalSeconds: pr.Interval.ValueAsString(),
		PrestoPort:           pr.Port.ValueAsString(),
		Definition:           p.Definition,
		Placeholders:         p.Placeholders,
		ReserveConcurrency:   reserve,
	})
	s.Observability = observability.New(st, "Observability", &observability.Props{
		Cluster:         p.Cluster,
		StateMachine:    s.ControlPlane.StateMachine,
		HealthCheck:     s.ControlPlane.Functions["healthcheck"],
		Topic:           s.Notifications.Topic,
		HasStandbys:     hasStandbys,
		HealthCheckLogs: s.ControlPlane.LogGroups[permissions.Healthcheck],
	})

	region := *awscdk.Aws_REGION()
	console := "https://" + region + ".console." + *awscdk.Aws_URL_SUFFIX()
	out := func(id, desc string, v *string) {
		awscdk.NewCfnOutput(st, jsii.String(id), &awscdk.CfnOutputProps{Value: v, Description: jsii.String(desc)})
	}
	ip := *s.Coordinator.ENIIP
	out(OutURL, "Presto/Trino Web UI and REST endpoint: the coordinator ENI, whichever coordinator holds it",
		jsii.String("http://"+ip+":"+*pr.Port.ValueAsString()))
	out(OutSSH, "SSH to the current active coordinator (every coordinator presents the same host key)",
		jsii.String("ssh ec2-user@"+ip))
	out(OutConsole, "Failover history: one execution per failover", jsii.String(console+"/states/home?region="+region+
		"#/statemachines/view/"+*s.ControlPlane.StateMachine.StateMachineArn()))
	out(OutDashboard, "Verdicts, standbys, failovers and the circuit breaker", jsii.String(console+"/cloudwatch/home?region="+region+
		"#dashboards:name="+*s.Observability.Dashboard.DashboardName()))
	out(OutENI, "The coordinator ENI", s.Coordinator.ENIID)
	out(OutENIIP, "The coordinator's fixed private IP (use it as discovery.uri on workers)", s.Coordinator.ENIIP)
	out(OutASG, "The coordinator Auto Scaling group", s.Coordinator.GroupName)
	out(OutClusterSG, "Attach this security group to the workers: coordinators and workers reach each other on the Presto port",
		s.Coordinator.ClusterSecurityGroup.AttrGroupId())
	out(OutStateMachine, "The failover state machine", s.ControlPlane.StateMachine.StateMachineArn())
	out(OutTopic, "Failover notifications and alarms", s.Notifications.Topic.TopicArn())
	out(OutCluster, "The cluster's name (execution names, metrics, tags)", jsii.String(p.Cluster))
	out(OutHostRoleID, "Unique id of the coordinator hosts' role: names each host's report namespace", s.Coordinator.RoleID)
	out(OutHealthCheckLogs, "The health check's log group (verdicts, actions, pauses)", s.ControlPlane.LogGroups[permissions.Healthcheck].LogGroupName())
	return s
}
