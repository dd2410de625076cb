package coordinator

import (
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3assets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/prestoha/coordinator-ha/infra/cfn"
	"github.com/prestoha/coordinator-ha/infra/policy"
	"github.com/prestoha/coordinator-ha/internal/config"
	"github.com/prestoha/coordinator-ha/internal/healthcheck"
	"github.com/prestoha/coordinator-ha/internal/permissions"
)

// StartupBudget is how long a new coordinator may take to answer /v1/info before its
// ready signal reports FAILURE: the health check's own startup budget.
var StartupBudget = healthcheck.DefaultStartupBudget

// BootAllowance is the time the boot script may take before it starts waiting for the
// coordinator: IMDS, the agent download with its retries (up to about 7 minutes while S3
// fails), the host key.
const BootAllowance = 10 * time.Minute

// Props configures the coordinator hosts. String fields may be CDK tokens (parameter
// references); Cluster must be a literal, since it goes into IAM conditions and tags.
type Props struct {
	Cluster      string  // cluster name (tag value, metric dimension)
	VpcID        *string // the VPC of SubnetID
	SubnetID     *string // the ENI and every coordinator live in this subnet (one AZ)
	InstanceType *string
	ImageID      *string
	KeyName      cfn.Optional // EC2 key pair; none: SSH only with keys the AMI brings
	PrivateIP    cfn.Optional // fixed ENI IP; none: the subnet assigns one
	PrestoPort   *string      // Presto/Trino HTTP(S) port (a number token)

	HACount *string // desired size of the pool
	MaxSize *string // HACount + 1: headroom for a replacement launched beside a member

	ClientCIDR          cfn.Optional // who may reach the Presto port and SSH
	ClientSecurityGroup cfn.Optional // a security group whose members may reach them

	AgentArm64 string // path of the linux/arm64 agent binary (S3 asset)
	AgentAmd64 string // path of the linux/amd64 agent binary (S3 asset)
	AgentUnit  string // systemd unit of the agent; "" uses DefaultUnit

	// SecretKey is the stack's KMS key; it encrypts the SSH host-key secret, and the
	// hosts may use it only through Secrets Manager for that secret.
	SecretKey awskms.IKey

	VolumeGiB float64 // root volume size, default 30
}

// Coordinator is the constructed coordinator tier.
type Coordinator struct {
	constructs.Construct
	ENI                  awsec2.CfnNetworkInterface
	ENIID                *string
	ENIIP                *string
	SecurityGroup        awsec2.CfnSecurityGroup // clients -> coordinators (Presto port, SSH)
	ClusterSecurityGroup awsec2.CfnSecurityGroup // coordinators and workers, Presto port between members
	Role                 awsiam.Role
	RoleID               *string // the role's unique id (AROA...): its sessions' aws:userid is <RoleID>:<instance id>
	HostKeySecret        awssecretsmanager.CfnSecret
	LaunchTemplate       awsec2.CfnLaunchTemplate
	Group                awsautoscaling.CfnAutoScalingGroup
	GroupName            *string
	UserData             string // the boot script before token resolution
}

// New builds the coordinator tier.
func New(scope constructs.Construct, id string, p *Props) *Coordinator {
	if p.Cluster == "" || p.VpcID == nil || p.SubnetID == nil || p.InstanceType == nil || p.ImageID == nil ||
		p.PrestoPort == nil || p.HACount == nil || p.MaxSize == nil || p.AgentArm64 == "" || p.AgentAmd64 == "" || p.SecretKey == nil {
		panic("coordinator.New: Cluster, VpcID, SubnetID, InstanceType, ImageID, PrestoPort, HACount, MaxSize, AgentArm64, AgentAmd64 and SecretKey are required")
	}
	if p.VolumeGiB == 0 {
		p.VolumeGiB = 30
	}
	unit := p.AgentUnit
	if unit == "" {
		unit = DefaultUnit
	}
	c := &Coordinator{Construct: constructs.NewConstruct(scope, jsii.String(id))}
	port := awscdk.Token_AsNumber(p.PrestoPort)
	if !*awscdk.Token_IsUnresolved(p.PrestoPort) {
		n, err := strconv.Atoi(*p.PrestoPort)
		if err != nil || n < 1 || n > 65535 {
			panic(fmt.Sprintf("coordinator.New: PrestoPort %q is not a port", *p.PrestoPort))
		}
		port = jsii.Number(float64(n))
	}
	clusterTag := &awscdk.CfnTag{Key: jsii.String(config.TagCluster), Value: jsii.String(p.Cluster)}

	// Security groups. The cluster group is for coordinators and workers alike (output
	// for the workers' launch configuration): members reach each other on the Presto
	// port, which is also how standbys witness-probe the active through the ENI IP.
	c.ClusterSecurityGroup = awsec2.NewCfnSecurityGroup(c.Construct, jsii.String("ClusterSecurityGroup"), &awsec2.CfnSecurityGroupProps{
		VpcId:            p.VpcID,
		GroupDescription: jsii.String("Presto/Trino cluster " + p.Cluster + ": coordinators and workers reach each other on the Presto port"),
		Tags:             &[]*awscdk.CfnTag{clusterTag},
	})
	awsec2.NewCfnSecurityGroupIngress(c.Construct, jsii.String("ClusterPrestoPort"), &awsec2.CfnSecurityGroupIngressProps{
		GroupId: c.ClusterSecurityGroup.AttrGroupId(), IpProtocol: jsii.String("tcp"), FromPort: port, ToPort: port,
		SourceSecurityGroupId: c.ClusterSecurityGroup.AttrGroupId(),
		Description:           jsii.String("Presto/Trino between cluster members"),
	})
	c.SecurityGroup = awsec2.NewCfnSecurityGroup(c.Construct, jsii.String("CoordinatorSecurityGroup"), &awsec2.CfnSecurityGroupProps{
		VpcId:            p.VpcID,
		GroupDescription: jsii.String("Presto/Trino coordinators of " + p.Cluster + ": clients reach the Presto port and SSH"),
		Tags:             &[]*awscdk.CfnTag{clusterTag},
	})
	for _, r := range []struct {
		id, what string
		from     *float64
	}{{"Presto", "Presto/Trino", port}, {"SSH", "SSH", jsii.Number(22)}} {
		if p.ClientCIDR.Set() {
			in := awsec2.NewCfnSecurityGroupIngress(c.Construct, jsii.String("ClientCidr"+r.id), &awsec2.CfnSecurityGroupIngressProps{
				GroupId: c.SecurityGroup.AttrGroupId(), IpProtocol: jsii.String("tcp"), FromPort: r.from, ToPort: r.from,
				CidrIp: p.ClientCIDR.Value, Description: jsii.String(r.what + " from the client CIDR"),
			})
			p.ClientCIDR.Guard(in)
			cfn.Suppress(in, cfn.Suppression{ID: "CdkNagValidationFailure", AppliesTo: []string{"AwsSolutions-EC23"},
				Reason: "The client CIDR is a stack parameter, which EC23 cannot evaluate at synth time; the parameter's AllowedPattern accepts only private ranges (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10, with valid octets), so 0.0.0.0/0 or any public range cannot be given."})
		}
		if p.ClientSecurityGroup.Set() {
			in := awsec2.NewCfnSecurityGroupIngress(c.Construct, jsii.String("ClientGroup"+r.id), &awsec2.CfnSecurityGroupIngressProps{
				GroupId: c.SecurityGroup.AttrGroupId(), IpProtocol: jsii.String("tcp"), FromPort: r.from, ToPort: r.from,
				SourceSecurityGroupId: p.ClientSecurityGroup.Value, Description: jsii.String(r.what + " from the client security group"),
			})
			p.ClientSecurityGroup.Guard(in)
		}
	}
	groups := &[]*string{c.SecurityGroup.AttrGroupId(), c.ClusterSecurityGroup.AttrGroupId()}

	// The coordinator ENI: the cluster's fixed address. It belongs to the stack, not to
	// an instance, and is bound to SubnetID's Availability Zone.
	c.ENI = awsec2.NewCfnNetworkInterface(c.Construct, jsii.String("ENI"), &awsec2.CfnNetworkInterfaceProps{
		SubnetId:         p.SubnetID,
		GroupSet:         groups,
		PrivateIpAddress: p.PrivateIP.OrNoValue(),
		Description:      jsii.String("Presto/Trino coordinator address of " + p.Cluster + " (moves to a standby on failover)"),
		Tags: &[]*awscdk.CfnTag{clusterTag,
			{Key: jsii.String(config.TagName), Value: jsii.String(p.Cluster + "-coordinator")}},
	})
	// Explicit policies (cfn-lint I3011). Delete: a deleted stack leaves no ENI behind
	// (it is detached by then: the group goes first, since its user data names the ENI).
	// Retain on replacement: a changed SubnetId or CoordinatorPrivateIp would make a new
	// ENI with a new IP, and CloudFormation could not delete the old one anyway while
	// the active holds it. Keeping it keeps the old address allocated for the clients
	// until the operator moves them; the README lists these parameters as fixed after
	// creation.
	c.ENI.CfnOptions().SetDeletionPolicy(awscdk.CfnDeletionPolicy_DELETE)
	c.ENI.CfnOptions().SetUpdateReplacePolicy(awscdk.CfnDeletionPolicy_RETAIN)
	c.ENIID = c.ENI.Ref()
	c.ENIIP = c.ENI.AttrPrimaryPrivateIpAddress()

	// The SSH host key every coordinator presents. See userdata.go for the race-free
	// first write.
	c.HostKeySecret = awssecretsmanager.NewCfnSecret(c.Construct, jsii.String("HostKey"), &awssecretsmanager.CfnSecretProps{
		Description:  jsii.String("SSH host key (ed25519, OpenSSH format) shared by the coordinators of " + p.Cluster),
		SecretString: jsii.String(HostKeyPlaceholder),
		KmsKeyId:     p.SecretKey.KeyArn(),
		Tags:         &[]*awscdk.CfnTag{clusterTag},
	})
	// Deleted with the stack (Secrets Manager keeps it recoverable for its recovery
	// window); a replacement starts from the placeholder and the next coordinator to boot
	// writes a new key, which the rolling update then installs on every host.
	c.HostKeySecret.CfnOptions().SetDeletionPolicy(awscdk.CfnDeletionPolicy_DELETE)
	c.HostKeySecret.CfnOptions().SetUpdateReplacePolicy(awscdk.CfnDeletionPolicy_DELETE)
	cfn.Suppress(c.HostKeySecret, cfn.Suppression{ID: "AwsSolutions-SMG4",
		Reason: "An SSH host key is an identity, not a credential: rotating it would make every client see a changed host key, which is what the shared key exists to prevent."})

	// The hosts' role: the agent's metrics, the host key, the agent binaries.
	c.Role = awsiam.NewRole(c.Construct, jsii.String("Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("ec2.amazonaws.com"), nil),
		Description: jsii.String("Coordinator hosts of " + p.Cluster + ": agent metrics, the health check doorbell and the shared SSH host key"),
	})
	// The doorbell: the agents may invoke the health check function, named from the
	// stack id alone (policy.HealthCheckFunctionName), since this policy must exist
	// before the group and the health check names the group.
	for _, st := range policy.Statements(permissions.Agent, policy.Resources{Cluster: p.Cluster, SecretARN: c.HostKeySecret.Ref(), SecretKeyARN: p.SecretKey.KeyArn(),
		HealthCheckFunctionARN: policy.HealthCheckFunctionARN()}) {
		c.Role.AddToPolicy(st)
	}
	c.RoleID = c.Role.RoleId()
	arm := awss3assets.NewAsset(c.Construct, jsii.String("AgentArm64"), &awss3assets.AssetProps{Path: jsii.String(p.AgentArm64)})
	amd := awss3assets.NewAsset(c.Construct, jsii.String("AgentAmd64"), &awss3assets.AssetProps{Path: jsii.String(p.AgentAmd64)})
	// Exactly the two agent objects, not CDK's grantRead (s3:GetObject*, GetBucket*,
	// List* on the bucket and every object in it: the whole account's asset bucket).
	c.Role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("AgentBinaries"), Actions: jsii.Strings("s3:GetObject"),
		Resources: &[]*string{
			jsii.String(fmt.Sprintf("arn:%s:s3:::%s/%s", *awscdk.Aws_PARTITION(), *arm.S3BucketName(), *arm.S3ObjectKey())),
			jsii.String(fmt.Sprintf("arn:%s:s3:::%s/%s", *awscdk.Aws_PARTITION(), *amd.S3BucketName(), *amd.S3ObjectKey())),
		},
	}))
	cfn.Suppress(c.Role, cfn.Suppression{ID: "AwsSolutions-IAM5",
		Reason: "ec2:DescribeNetworkInterfaces (the boot script reads the coordinator ENI's MAC for its static network configuration) supports no resource-level permissions, like every EC2 Describe call. cloudwatch:PutMetricData has no resource-level permissions; it is limited by the cloudwatch:namespace condition to the host's own report namespace (PrestoCoordinatorHA/${aws:userid}). autoscaling:SetInstanceHealth cannot name the group (the hosts' policy must exist before the group, which waits for their signals): the wildcard stands for this stack's group only, by the condition aws:ResourceTag/aws:cloudformation:stack-id = this stack, a tag only CloudFormation writes.",
		AppliesTo: []string{"Resource::*",
			"Resource::arn:<AWS::Partition>:autoscaling:<AWS::Region>:<AWS::AccountId>:autoScalingGroup:*:autoScalingGroupName/*"}})
	profile := awsiam.NewCfnInstanceProfile(c.Construct, jsii.String("InstanceProfile"), &awsiam.CfnInstanceProfileProps{
		Roles: &[]*string{c.Role.RoleName()},
	})

	tagSpec := func(kind string) *awsec2.CfnLaunchTemplate_TagSpecificationProperty {
		return &awsec2.CfnLaunchTemplate_TagSpecificationProperty{ResourceType: jsii.String(kind), Tags: &[]*awscdk.CfnTag{clusterTag}}
	}
	c.LaunchTemplate = awsec2.NewCfnLaunchTemplate(c.Construct, jsii.String("LaunchTemplate"), &awsec2.CfnLaunchTemplateProps{
		LaunchTemplateData: &awsec2.CfnLaunchTemplate_LaunchTemplateDataProperty{
			ImageId:            p.ImageID,
			InstanceType:       p.InstanceType,
			KeyName:            p.KeyName.OrNoValue(),
			IamInstanceProfile: &awsec2.CfnLaunchTemplate_IamInstanceProfileProperty{Arn: profile.AttrArn()},
			// No public address, whatever the subnet's MapPublicIpOnLaunch says: the
			// coordinators are reached at the ENI's private IP only. The security groups
			// move into the primary interface's spec, where AWS requires them once
			// NetworkInterfaces is given.
			NetworkInterfaces: &[]*awsec2.CfnLaunchTemplate_NetworkInterfaceProperty{{
				DeviceIndex: jsii.Number(0), AssociatePublicIpAddress: jsii.Bool(false), Groups: groups, DeleteOnTermination: jsii.Bool(true),
			}},
			// IMDSv2 only. Hop limit 2 so a Presto/Trino running in a container on the
			// host can still use the instance role (e.g. for S3); the agent runs on the host.
			MetadataOptions: &awsec2.CfnLaunchTemplate_MetadataOptionsProperty{
				HttpTokens: jsii.String("required"), HttpEndpoint: jsii.String("enabled"),
				HttpPutResponseHopLimit: jsii.Number(2), InstanceMetadataTags: jsii.String("enabled"),
			},
			BlockDeviceMappings: &[]*awsec2.CfnLaunchTemplate_BlockDeviceMappingProperty{{
				DeviceName: jsii.String("/dev/xvda"),
				Ebs: &awsec2.CfnLaunchTemplate_EbsProperty{
					Encrypted: jsii.Bool(true), VolumeSize: jsii.Number(p.VolumeGiB), VolumeType: jsii.String("gp3"),
					DeleteOnTermination: jsii.Bool(true),
				},
			}},
			Monitoring:        &awsec2.CfnLaunchTemplate_MonitoringProperty{Enabled: jsii.Bool(true)},
			TagSpecifications: &[]*awsec2.CfnLaunchTemplate_TagSpecificationProperty{tagSpec("volume")},
		},
		TagSpecifications: &[]*awsec2.CfnLaunchTemplate_LaunchTemplateTagSpecificationProperty{{
			ResourceType: jsii.String("launch-template"), Tags: &[]*awscdk.CfnTag{clusterTag}}},
	})

	// The pool: desired = min = HACoordinatorsCount, max one more. Health check type EC2:
	// the control plane, not the group, decides that a running coordinator has failed.
	c.Group = awsautoscaling.NewCfnAutoScalingGroup(c.Construct, jsii.String("Group"), &awsautoscaling.CfnAutoScalingGroupProps{
		MinSize:                p.HACount,
		DesiredCapacity:        p.HACount,
		MaxSize:                p.MaxSize,
		VpcZoneIdentifier:      &[]*string{p.SubnetID},
		HealthCheckType:        jsii.String("EC2"),
		HealthCheckGracePeriod: jsii.Number(300),
		LaunchTemplate: &awsautoscaling.CfnAutoScalingGroup_LaunchTemplateSpecificationProperty{
			LaunchTemplateId: c.LaunchTemplate.Ref(),
			Version:          c.LaunchTemplate.AttrLatestVersionNumber(),
		},
		Tags: &[]*awsautoscaling.CfnAutoScalingGroup_TagPropertyProperty{
			{Key: jsii.String(config.TagCluster), Value: jsii.String(p.Cluster), PropagateAtLaunch: jsii.Bool(true)},
			{Key: jsii.String(config.TagRole), Value: jsii.String(config.RoleStandby), PropagateAtLaunch: jsii.Bool(true)},
			{Key: jsii.String(config.TagName), Value: jsii.String(fmt.Sprintf("%s-coordinator", p.Cluster)), PropagateAtLaunch: jsii.Bool(true)},
		},
	})
	c.GroupName = c.Group.Ref()
	st := awscdk.Stack_Of(c.Construct)
	// The instances need their role's policy from the first boot on (the agent download,
	// the host key, the ready signal): without this the group may launch them before the
	// policy is attached.
	c.Group.AddDependency(c.Role.Node().FindChild(jsii.String("DefaultPolicy")).Node().DefaultChild().(awscdk.CfnResource))

	// Creation: the stack completes only when every coordinator's boot script has seen
	// the agent running and its coordinator answering /v1/info as a coordinator (healthy
	// or starting), each signalling with its instance id. The timeout is the health
	// check's startup budget (what the ready signal waits) plus BootAllowance for the
	// boot itself (the agent download and its retries, the host key).
	timeout := fmt.Sprintf("PT%dM", int((BootAllowance + StartupBudget).Minutes()))
	haCount := awscdk.Token_AsNumber(p.HACount)
	if !*awscdk.Token_IsUnresolved(p.HACount) {
		n, err := strconv.Atoi(*p.HACount)
		if err != nil || n < 1 {
			panic(fmt.Sprintf("coordinator.New: HACount %q is not a count", *p.HACount))
		}
		haCount = jsii.Number(float64(n))
	}
	c.Group.CfnOptions().SetCreationPolicy(&awscdk.CfnCreationPolicy{
		ResourceSignal: &awscdk.CfnResourceSignal{Count: haCount, Timeout: jsii.String(timeout)},
	})
	// Updates that change the launch template (AMI, instance type, user data: the Presto
	// port, the agent) roll the pool one coordinator at a time, and never below
	// HACoordinatorsCount in service: CloudFormation launches the replacement first (the
	// group's max is one more than its size), waits for its ready signal, and only then
	// terminates an old member. When that member is the active, the control plane sees it
	// GONE and moves the ENI to a healthy standby at once, as in any failover (queries in
	// flight are lost; see the README for the planned switchover that avoids surprises).
	// Processes left running on purpose: Launch and Terminate (the failover steps use
	// them), HealthCheck and ReplaceUnhealthy (a boot script that fails marks its
	// instance Unhealthy and must be replaced). Suspended: the ones that could move or
	// add instances behind the update's back.
	c.Group.CfnOptions().SetUpdatePolicy(&awscdk.CfnUpdatePolicy{
		AutoScalingRollingUpdate: &awscdk.CfnAutoScalingRollingUpdate{
			MaxBatchSize:          jsii.Number(1),
			MinInstancesInService: haCount,
			PauseTime:             jsii.String(timeout),
			WaitOnResourceSignals: jsii.Bool(true),
			SuspendProcesses:      jsii.Strings("AZRebalance", "AlarmNotification", "ScheduledActions"),
		},
	})

	// The boot script names the group (its logical id, for the ready signal), so it is
	// written into the launch template once the group exists.
	c.UserData = userData(userDataValues{
		Region: *awscdk.Aws_REGION(), Cluster: p.Cluster, ENIID: *c.ENIID, ENIIP: *c.ENIIP, Port: *p.PrestoPort,
		AgentArm64: *arm.S3ObjectUrl(), AgentAmd64: *amd.S3ObjectUrl(), Unit: unit,
		SecretARN: *c.HostKeySecret.Ref(),
		// The agents ring the health check (AGENT_DOORBELL_FUNCTION) by its name.
		DoorbellFunction: *policy.HealthCheckFunctionName(),
		// The stack id ends in a UUID fixed for the life of the stack: the client
		// request token of the one host-key write that can succeed.
		HostKeyToken:         *awscdk.Fn_Select(jsii.Number(2), awscdk.Fn_Split(jsii.String("/"), awscdk.Aws_STACK_ID(), jsii.Number(3))),
		StackName:            *awscdk.Aws_STACK_NAME(),
		SignalID:             *st.GetLogicalId(c.Group),
		StartupBudgetSeconds: int(StartupBudget.Seconds()),
	})
	c.LaunchTemplate.AddPropertyOverride(jsii.String("LaunchTemplateData.UserData"), awscdk.Fn_Base64(jsii.String(c.UserData)))
	cfn.Suppress(c.Group, cfn.Suppression{ID: "AwsSolutions-AS3",
		Reason: "Scaling events are reported by the control plane: every failover and replacement is announced by the Notify step on the stack's topic, and a launch that fails makes LaunchStandby fail, which notifies too. Group notifications to the KMS-encrypted topic would also need a key grant to the Auto Scaling service-linked role, which may not exist yet when the stack is created."})
	return c
}
