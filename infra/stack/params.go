package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/prestoha/coordinator-ha/internal/healthcheck"
)

// The defaults of the grace window and the check interval are the health check's own,
// so the stack and a Lambda run without the variables agree.
var (
	defaultGraceSeconds    = healthcheck.DefaultGrace.Seconds()
	defaultIntervalSeconds = healthcheck.DefaultCheckInterval.Seconds()
)

// Parameter names (the CloudFormation parameter logical ids users pass to
// `cdk deploy --parameters`).
const (
	ParamHACount        = "HACoordinatorsCount"
	ParamKeep           = "KeepCoordinatorNode"
	ParamVpc            = "VpcId"
	ParamSubnet         = "SubnetId"
	ParamInstanceType   = "CoordinatorInstanceType"
	ParamKeyName        = "KeyName"
	ParamImage          = "ImageId"
	ParamPort           = "PrestoHttpPort"
	ParamGrace          = "GraceSeconds"
	ParamInterval       = "CheckIntervalSeconds"
	ParamEmail          = "NotificationEmail"
	ParamClientCidr     = "ClientCidr"
	ParamClientSG       = "ClientSecurityGroupId"
	ParamPrivateIP      = "CoordinatorPrivateIp"
	ParamPinnedImage    = "PinnedImageId"
	ParamConcurrency    = "LambdaConcurrency"
	DefaultImageParam   = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
	DefaultInstanceType = "m7g.xlarge"
)

// Params are the stack's parameters.
type Params struct {
	HACount, Keep, Vpc, Subnet, InstanceType, KeyName, Image, Port, Grace, Interval,
	Email, ClientCidr, ClientSG, PrivateIP, PinnedImage, Concurrency awscdk.CfnParameter
}

// Patterns of the address parameters (CloudFormation AllowedPattern: Java regex, whole
// value). Every octet is 0-255; a client CIDR must lie in a private range (RFC 1918, or
// the RFC 6598 shared space VPCs may use), with a prefix no shorter than the range's.
const (
	octet = `(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])`
	// PrivateCIDRPattern accepts 10.0.0.0/8..32, 172.16.0.0/12..32, 192.168.0.0/16..32,
	// 100.64.0.0/10..32, or empty.
	PrivateCIDRPattern = `^$|^10\.` + octet + `\.` + octet + `\.` + octet + `/([89]|[12][0-9]|3[0-2])$` +
		`|^172\.(1[6-9]|2[0-9]|3[01])\.` + octet + `\.` + octet + `/(1[2-9]|2[0-9]|3[0-2])$` +
		`|^192\.168\.` + octet + `\.` + octet + `/(1[6-9]|2[0-9]|3[0-2])$` +
		`|^100\.(6[4-9]|[7-9][0-9]|1[01][0-9]|12[0-7])\.` + octet + `\.` + octet + `/(1[0-9]|2[0-9]|3[0-2])$`
	// IPv4Pattern accepts a dotted IPv4 address, or empty.
	IPv4Pattern = `^$|^` + octet + `\.` + octet + `\.` + octet + `\.` + octet + `$`
)

type paramSpec struct {
	id, label string
	props     awscdk.CfnParameterProps
}

var groups = []struct {
	label string
	ids   []string
}{
	{"Coordinator high availability", []string{ParamHACount, ParamKeep, ParamGrace, ParamInterval, ParamEmail}},
	{"Network", []string{ParamVpc, ParamSubnet, ParamPrivateIP, ParamClientCidr, ParamClientSG}},
	{"Coordinator hosts", []string{ParamInstanceType, ParamImage, ParamPinnedImage, ParamKeyName, ParamPort}},
	{"Account", []string{ParamConcurrency}},
}

func specs() []paramSpec {
	n := func(v float64) *float64 { return &v }
	s := jsii.String
	return []paramSpec{
		{ParamHACount, "Coordinators (active + hot standbys)", awscdk.CfnParameterProps{Type: s("Number"), Default: n(2), MinValue: n(1), MaxValue: n(5),
			Description:           s("How many coordinators run: one active plus hot standbys. 1 means no standby (a failover then launches a new coordinator: several minutes)."),
			ConstraintDescription: s("must be a whole number from 1 to 5")}},
		{ParamKeep, "Keep the coordinator (pause automatic failover)", awscdk.CfnParameterProps{Type: s("String"), Default: s("no"), AllowedValues: jsii.Strings("yes", "no"),
			Description: s("yes: health verdicts are computed, published and alarmed on, but no failover is started. Use during maintenance.")}},
		{ParamVpc, "VPC", awscdk.CfnParameterProps{Type: s("AWS::EC2::VPC::Id"),
			Description: s("The VPC of the subnet below (a rule checks that the subnet belongs to it). Cannot change after creation.")}},
		{ParamSubnet, "Subnet (one Availability Zone)", awscdk.CfnParameterProps{Type: s("AWS::EC2::Subnet::Id"),
			Description: s("The coordinator ENI and every coordinator live in this subnet: an ENI can only attach to instances in its own Availability Zone. Cannot change after creation (a new subnet means a new ENI, so a new coordinator IP).")}},
		{ParamInstanceType, "Coordinator instance type", awscdk.CfnParameterProps{Type: s("String"), Default: s(DefaultInstanceType),
			AllowedPattern:        s(`^[a-z][a-z0-9-]*\.[a-z0-9]+$`),
			Description:           s("EC2 instance type of every coordinator, e.g. m7g.xlarge (arm64) or m7i.xlarge (x86_64); it must match the AMI's architecture."),
			ConstraintDescription: s("must be an EC2 instance type such as m7g.xlarge")}},
		{ParamImage, "AMI", awscdk.CfnParameterProps{Type: s("AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>"), Default: s(DefaultImageParam),
			Description: s("SSM parameter naming the coordinators' AMI: an image with Presto/Trino installed as a service, or the Amazon Linux 2023 default (then install Presto/Trino yourself). Needs systemd, bash, curl, the AWS CLI and ssh-keygen. CloudFormation re-reads it on every deploy, so a newly published image rolls the pool: set PinnedImageId in production.")}},
		{ParamPinnedImage, "Pinned AMI (optional)", awscdk.CfnParameterProps{Type: s("String"), Default: s(""),
			AllowedPattern:        s(`^$|^ami-([0-9a-f]{8}|[0-9a-f]{17})$`),
			Description:           s("An AMI id (ami-...) that overrides ImageId and never changes by itself: the pool is rolled only when you change it. Empty: follow ImageId."),
			ConstraintDescription: s("must be an AMI id (ami- and 8 or 17 hex digits) or empty")}},
		{ParamKeyName, "EC2 key pair (optional)", awscdk.CfnParameterProps{Type: s("String"), Default: s(""),
			AllowedPattern: s(`^[\x20-\x7E]{0,255}$`),
			Description:    s("Name of an existing EC2 key pair for ec2-user; empty for none.")}},
		{ParamPort, "Presto/Trino HTTP port", awscdk.CfnParameterProps{Type: s("Number"), Default: n(8080), MinValue: n(1), MaxValue: n(65535),
			Description: s("The coordinator's HTTP(S) port (http-server.http.port or https.port).")}},
		{ParamGrace, "Grace window (seconds)", awscdk.CfnParameterProps{Type: s("Number"), Default: n(defaultGraceSeconds), MinValue: n(15), MaxValue: n(300),
			Description: s("How long the active coordinator must be failing before it is declared FAILED; absorbs GC pauses and blips.")}},
		{ParamInterval, "Check interval (seconds)", awscdk.CfnParameterProps{Type: s("Number"), Default: n(defaultIntervalSeconds), MinValue: n(5), MaxValue: n(60),
			Description: s("How often the health check evaluates within each one-minute invocation.")}},
		{ParamEmail, "Notification e-mail (optional)", awscdk.CfnParameterProps{Type: s("String"), Default: s(""),
			AllowedPattern:        s(`^$|^[^@\s]+@[^@\s]+\.[^@\s]+$`),
			Description:           s("Subscribed to failover notifications and alarms (confirm the subscription e-mail). Empty for none."),
			ConstraintDescription: s("must be an e-mail address or empty")}},
		{ParamClientCidr, "Client CIDR (optional)", awscdk.CfnParameterProps{Type: s("String"), Default: s(""),
			AllowedPattern:        s(PrivateCIDRPattern),
			Description:           s("Private IPv4 CIDR allowed to reach the Presto/Trino port and SSH on the coordinators, e.g. 10.0.0.0/16: inside 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 or 100.64.0.0/10 (the coordinators are never open to the internet). Empty for none."),
			ConstraintDescription: s("must be a private IPv4 CIDR inside 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 or 100.64.0.0/10, such as 10.0.0.0/16, or empty")}},
		{ParamClientSG, "Client security group (optional)", awscdk.CfnParameterProps{Type: s("String"), Default: s(""),
			AllowedPattern:        s(`^$|^sg-[0-9a-f]{8,17}$`),
			Description:           s("Security group whose members may reach the Presto/Trino port and SSH. Empty for none."),
			ConstraintDescription: s("must be a security group id (sg-...) or empty")}},
		{ParamPrivateIP, "Coordinator IP (optional)", awscdk.CfnParameterProps{Type: s("String"), Default: s(""),
			AllowedPattern:        s(IPv4Pattern),
			Description:           s("Fixed private IPv4 address of the coordinator ENI inside the subnet; empty lets the subnet assign one. Cannot change after creation (a new value means a new ENI)."),
			ConstraintDescription: s("must be an IPv4 address or empty")}},
		{ParamConcurrency, "Lambda concurrency reservations", awscdk.CfnParameterProps{Type: s("String"), Default: s("unreserved"), AllowedValues: jsii.Strings("unreserved", "reserved"),
			Description: s("reserved: the health check reserves 8 concurrent executions and each failover step 2 (16 in all), so no other function of the account can starve them; the account's concurrency limit must then be at least 26, since Lambda keeps 10 unreserved. unreserved (default): fits a new account whose limit is 10; failover safety does not depend on it.")}},
	}
}

// newParams declares the parameters and the console interface metadata.
func newParams(st awscdk.Stack) *Params {
	byID := map[string]awscdk.CfnParameter{}
	labels := map[string]any{}
	for _, sp := range specs() {
		props := sp.props
		byID[sp.id] = awscdk.NewCfnParameter(st, jsii.String(sp.id), &props)
		labels[sp.id] = map[string]any{"default": sp.label}
	}
	var pg []any
	for _, g := range groups {
		pg = append(pg, map[string]any{"Label": map[string]any{"default": g.label}, "Parameters": g.ids})
	}
	st.TemplateOptions().SetMetadata(&map[string]any{
		"AWS::CloudFormation::Interface": map[string]any{"ParameterGroups": pg, "ParameterLabels": labels},
	})
	return &Params{
		HACount: byID[ParamHACount], Keep: byID[ParamKeep], Vpc: byID[ParamVpc], Subnet: byID[ParamSubnet],
		InstanceType: byID[ParamInstanceType], KeyName: byID[ParamKeyName], Image: byID[ParamImage], Port: byID[ParamPort],
		Grace: byID[ParamGrace], Interval: byID[ParamInterval], Email: byID[ParamEmail], ClientCidr: byID[ParamClientCidr],
		ClientSG: byID[ParamClientSG], PrivateIP: byID[ParamPrivateIP], PinnedImage: byID[ParamPinnedImage],
		Concurrency: byID[ParamConcurrency],
	}
}
