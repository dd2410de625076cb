package coordinator

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/jsii-runtime-go"

	"github.com/prestoha/coordinator-ha/infra/cfn"
	"github.com/prestoha/coordinator-ha/infra/internal/cdktest"
	"github.com/prestoha/coordinator-ha/internal/config"
	"github.com/prestoha/coordinator-ha/internal/signal"
)

// One bare stack, synthesized once: literal values, a KeyName guarded by a condition,
// a client CIDR and no client security group.
var (
	c   *Coordinator
	tpl assertions.Template
	raw map[string]any
)

func TestMain(m *testing.M) {
	cdktest.Main(m, func(assets string) error {
		app := awscdk.NewApp(nil)
		st := awscdk.NewStack(app, jsii.String("Bare"), nil)
		key := awscdk.NewCfnParameter(st, jsii.String("Key"), &awscdk.CfnParameterProps{Type: jsii.String("String"), Default: jsii.String("")})
		hasKey := awscdk.NewCfnCondition(st, jsii.String("HasKey"), &awscdk.CfnConditionProps{
			Expression: awscdk.Fn_ConditionNot(awscdk.Fn_ConditionEquals(key.ValueAsString(), jsii.String("")))})
		secretKey := awskms.NewKey(st, jsii.String("StackKey"), nil)
		c = New(st, "Coordinator", &Props{
			Cluster: "unit", VpcID: jsii.String("vpc-1234"), SubnetID: jsii.String("subnet-1234"),
			InstanceType: jsii.String("m7g.large"), ImageID: jsii.String("ami-1234"),
			KeyName:    cfn.Optional{Value: key.ValueAsString(), If: hasKey},
			PrestoPort: jsii.String("8443"), HACount: jsii.String("3"), MaxSize: jsii.String("4"),
			ClientCIDR: cfn.Optional{Value: jsii.String("10.0.0.0/16")},
			AgentArm64: filepath.Join(assets, "agent", "coordinator-agent-linux-arm64"),
			AgentAmd64: filepath.Join(assets, "agent", "coordinator-agent-linux-amd64"),
			SecretKey:  secretKey,
		})
		tpl = assertions.Template_FromStack(st, nil)
		return nil
	})
}

func TestENIAndGroups(t *testing.T) {
	cdktest.Check(t, "ENI", func() {
		tpl.HasResourceProperties(jsii.String("AWS::EC2::NetworkInterface"), map[string]any{
			"SubnetId": "subnet-1234",
			"Tags":     assertions.Match_ArrayWith(&[]any{map[string]any{"Key": config.TagCluster, "Value": "unit"}}),
			// no fixed IP given: the key is absent
			"PrivateIpAddress": assertions.Match_Absent(),
		})
	})
	cdktest.Check(t, "two security groups", func() { tpl.ResourceCountIs(jsii.String("AWS::EC2::SecurityGroup"), jsii.Number(2)) })
	// Cluster rule + CIDR for Presto and SSH; no client-group rules when none is given.
	cdktest.Check(t, "three ingress rules", func() { tpl.ResourceCountIs(jsii.String("AWS::EC2::SecurityGroupIngress"), jsii.Number(3)) })
	for _, port := range []float64{8443, 22} {
		cdktest.Check(t, fmt.Sprintf("client CIDR to %g", port), func() {
			tpl.HasResourceProperties(jsii.String("AWS::EC2::SecurityGroupIngress"), map[string]any{
				"CidrIp": "10.0.0.0/16", "FromPort": port, "ToPort": port, "IpProtocol": "tcp"})
		})
	}
	cdktest.Check(t, "members reach each other on the Presto port", func() {
		tpl.HasResourceProperties(jsii.String("AWS::EC2::SecurityGroupIngress"), map[string]any{
			"FromPort": 8443, "SourceSecurityGroupId": assertions.Match_AnyValue()})
	})
}

func TestLaunchTemplateAndGroup(t *testing.T) {
	cdktest.Check(t, "launch template: IMDSv2, encrypted gp3, monitoring, conditional key", func() {
		tpl.HasResourceProperties(jsii.String("AWS::EC2::LaunchTemplate"), map[string]any{
			"LaunchTemplateData": assertions.Match_ObjectLike(&map[string]any{
				"ImageId": "ami-1234", "InstanceType": "m7g.large",
				"MetadataOptions":     map[string]any{"HttpTokens": "required", "HttpEndpoint": "enabled", "HttpPutResponseHopLimit": 2, "InstanceMetadataTags": "enabled"},
				"BlockDeviceMappings": []any{map[string]any{"DeviceName": "/dev/xvda", "Ebs": map[string]any{"Encrypted": true, "VolumeType": "gp3", "VolumeSize": 30, "DeleteOnTermination": true}}},
				"Monitoring":          map[string]any{"Enabled": true},
				"KeyName":             map[string]any{"Fn::If": []any{"HasKey", map[string]any{"Ref": "Key"}, map[string]any{"Ref": "AWS::NoValue"}}},
			}),
		})
	})
	lt := assertions.NewCapture(nil)
	cdktest.Check(t, "group", func() {
		tpl.HasResourceProperties(jsii.String("AWS::AutoScaling::AutoScalingGroup"), map[string]any{
			"MinSize": "3", "DesiredCapacity": "3", "MaxSize": "4", "HealthCheckType": "EC2",
			"VPCZoneIdentifier": []any{"subnet-1234"},
			"LaunchTemplate":    map[string]any{"LaunchTemplateId": lt, "Version": assertions.Match_AnyValue()},
			"Tags": assertions.Match_ArrayWith(&[]any{
				map[string]any{"Key": config.TagCluster, "Value": "unit", "PropagateAtLaunch": true},
				map[string]any{"Key": config.TagRole, "Value": config.RoleStandby, "PropagateAtLaunch": true},
			}),
		})
	})
	if ref := lt.AsObject(); ref == nil || !strings.HasPrefix(fmt.Sprint((*ref)["Ref"]), "CoordinatorLaunchTemplate") {
		t.Errorf("group uses launch template %v", ref)
	}
}

func TestRoleAndSecret(t *testing.T) {
	raw = cdktest.JSON(t, tpl)
	cdktest.Check(t, "secret starts as the placeholder", func() {
		tpl.HasResourceProperties(jsii.String("AWS::SecretsManager::Secret"), map[string]any{"SecretString": HostKeyPlaceholder,
			"KmsKeyId": map[string]any{"Fn::GetAtt": []any{assertions.Match_StringLikeRegexp(jsii.String("^StackKey")), "Arn"}}})
	})
	roles := cdktest.OfType(raw, "AWS::IAM::Role")
	if len(roles) != 1 {
		t.Fatalf("%d roles, want 1", len(roles))
	}
	var got []string
	for id := range roles {
		for _, st := range cdktest.Statements(raw, id) {
			acts := cdktest.Actions(st)
			got = append(got, acts...)
			switch acts[0] {
			case "cloudwatch:PutMetricData":
				// Each host writes only into the namespace of its own role session.
				if cdktest.Flatten(st["Condition"]) != `{"StringEquals":{"cloudwatch:namespace":"`+signal.HostNamespace("${aws:userid}")+`"}}` {
					t.Errorf("PutMetricData condition %v", st["Condition"])
				}
			case "s3:GetObject":
				// Exactly the two agent objects, not the asset bucket.
				res := cdktest.Flatten(st["Resource"])
				if strings.Count(res, ".zip")+strings.Count(res, "Fn::Join") < 2 || strings.Contains(res, `/*"`) || strings.Contains(res, `/*]`) {
					t.Errorf("asset read on %s, want the two agent objects only", res)
				}
			case "kms:Decrypt":
				res := cdktest.Flatten(st["Resource"])
				cond := cdktest.Flatten(st["Condition"])
				if !strings.Contains(res, "StackKey") || !strings.Contains(cond, `"kms:ViaService":{"Fn::Join":["",["secretsmanager.",{"Ref":"AWS::Region"},".amazonaws.com"]]}`) ||
					!strings.Contains(cond, `"kms:EncryptionContext:SecretARN":{"Ref":"CoordinatorHostKey`) {
					t.Errorf("key statement on %s with %s, want the stack key, through Secrets Manager, for the host key only", res, cond)
				}
			case "secretsmanager:PutSecretValue":
				if cdktest.Flatten(st["Condition"]) != `{"Null":{"aws:ResourceTag/`+config.TagHostKeyLock+`":"true"}}` {
					t.Errorf("PutSecretValue condition %v, want: only while the lock tag is absent", st["Condition"])
				}
			case "secretsmanager:TagResource":
				if c := cdktest.Flatten(st["Condition"]); c != `{"ForAllValues:StringEquals":{"aws:TagKeys":["`+config.TagHostKeyLock+`"]},"StringEquals":{"aws:RequestTag/`+config.TagHostKeyLock+`":"set"}}` {
					t.Errorf("TagResource condition %s, want the lock tag only, value set", c)
				}
			case "autoscaling:SetInstanceHealth":
				// This stack's group, by the tag only CloudFormation writes: a second stack with
				// the same cluster name cannot reach it.
				if c := cdktest.Flatten(st["Condition"]); c != `{"StringEquals":{"aws:ResourceTag/aws:cloudformation:stack-id":{"Ref":"AWS::StackId"}}}` {
					t.Errorf("SetInstanceHealth condition %s, want this stack's aws:cloudformation:stack-id", c)
				}
			case "ec2:DescribeNetworkInterfaces":
				// The boot script reads the ENI's MAC: a Describe call, which EC2 lets no
				// policy scope to a resource; nothing else rides on the wildcard.
				if st["Resource"] != "*" || len(acts) != 1 || st["Condition"] != nil {
					t.Errorf("describe statement %v on %v, want ec2:DescribeNetworkInterfaces alone on *", acts, st["Resource"])
				}
			case "lambda:InvokeFunction":
				// The doorbell: the health check function only, by the ARN built from its
				// name (the stack id's UUID), not by a reference to the function.
				if r := cdktest.Flatten(st["Resource"]); r != `arn:{"Ref":"AWS::Partition"}:lambda:{"Ref":"AWS::Region"}:{"Ref":"AWS::AccountId"}:function:coordinator-ha-{"Fn::Select":[2,{"Fn::Split":["/",{"Ref":"AWS::StackId"}]}]}` {
					t.Errorf("InvokeFunction on %s, want the health check function's ARN", r)
				}
				if len(acts) != 1 || st["Condition"] != nil {
					t.Errorf("doorbell statement %v, want lambda:InvokeFunction alone, unconditioned", st)
				}
			case "cloudformation:SignalResource":
				if r := cdktest.Flatten(st["Resource"]); r != `{"Ref":"AWS::StackId"}` {
					t.Errorf("SignalResource on %s, want this stack", r)
				}
			case "secretsmanager:GetSecretValue":
				if ref, _ := st["Resource"].(map[string]any)["Ref"].(string); !strings.HasPrefix(ref, "CoordinatorHostKey") {
					t.Errorf("secret statement on %v, want the host key only", st["Resource"])
				}
			}
		}
	}
	want := "ec2:DescribeNetworkInterfaces cloudwatch:PutMetricData secretsmanager:GetSecretValue kms:Decrypt kms:GenerateDataKey secretsmanager:PutSecretValue secretsmanager:TagResource autoscaling:SetInstanceHealth cloudformation:SignalResource lambda:InvokeFunction s3:GetObject"
	if strings.Join(got, " ") != want {
		t.Errorf("host role actions %v, want %s", got, want)
	}
}

func TestUserData(t *testing.T) {
	raw = cdktest.JSON(t, tpl)
	var ud string
	for _, lt := range cdktest.OfType(raw, "AWS::EC2::LaunchTemplate") {
		ud = cdktest.Flatten(cdktest.Props(lt)["LaunchTemplateData"].(map[string]any)["UserData"])
	}
	for _, want := range []string{
		`case "$(uname -m)" in`, "AGENT_URL_ARM64='{\"Fn::Sub\":\"s3://", "AGENT_URL_AMD64='{\"Fn::Sub\":\"s3://",
		"aws s3 cp", "CLUSTER='unit'\n", "PORT='8443'\n", "PROBE_URL=\"http://127.0.0.1:${PORT}/v1/info\"",
		"ENI_IP='" + `{"Fn::GetAtt":["CoordinatorENI`,
		"[Service]", // the default unit, since none was given
		"DISCOVERY_LINE=\"discovery.uri=http://${ENI_IP}:${PORT}\"", "/etc/trino/config.properties",
		"--client-request-token \"$HOSTKEY_TOKEN\"", `HOSTKEY_TOKEN='`, `"Fn::Select":[2,{"Fn::Split":["/",{"Ref":"AWS::StackId"}]}]`,
		`STACK_NAME='{"Ref":"AWS::StackName"}'`, "SIGNAL_RESOURCE='CoordinatorGroup", "STARTUP_BUDGET=600\n",
		`DOORBELL_FUNCTION='coordinator-ha-{"Fn::Select":[2,{"Fn::Split":["/",{"Ref":"AWS::StackId"}]}]}'` + "\n",
		`"AGENT_DOORBELL_FUNCTION=$DOORBELL_FUNCTION"`,
		"ssh-keygen -q -t ed25519", "HostKey /etc/ssh/ssh_host_ed25519_key", "systemctl restart coordinator-agent.service",
	} {
		if !strings.Contains(ud, want) {
			t.Errorf("user data lacks %q", want)
		}
	}
}

// TestUserDataScript checks the script itself: bash accepts it, and the given unit is used.
func TestUserDataScript(t *testing.T) {
	s := userData(userDataValues{Region: "eu-west-1", Cluster: "c", ENIID: "eni-1", ENIIP: "10.0.0.5", Port: "8080",
		AgentArm64: "s3://b/arm", AgentAmd64: "s3://b/amd", Unit: "[Unit]\nDescription=x", SecretARN: "arn:secret", HostKeyToken: "uuid",
		StackName: "s", SignalID: "G", StartupBudgetSeconds: 600, DoorbellFunction: "coordinator-ha-uuid"})
	if !strings.Contains(s, "[Unit]\nDescription=x\nCOORDINATOR_HA_UNIT\n") {
		t.Error("unit without a final newline is not closed properly")
	}
	if strings.Count(s, "PLACEHOLDER='"+HostKeyPlaceholder+"'") != 1 {
		t.Error("the placeholder comparison is missing")
	}
	f := filepath.Join(t.TempDir(), "ud.sh")
	if err := os.WriteFile(f, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runBashSyntax(f); err != nil {
		t.Fatalf("bash -n: %v\n%s", err, out)
	}
}

// TestNoPublicIP: the primary interface never gets a public address, and carries both
// security groups.
func TestNoPublicIP(t *testing.T) {
	cdktest.Check(t, "launch template network interface", func() {
		tpl.HasResourceProperties(jsii.String("AWS::EC2::LaunchTemplate"), map[string]any{
			"LaunchTemplateData": assertions.Match_ObjectLike(&map[string]any{
				"NetworkInterfaces": []any{map[string]any{"DeviceIndex": 0, "AssociatePublicIpAddress": false, "DeleteOnTermination": true,
					"Groups": []any{assertions.Match_AnyValue(), assertions.Match_AnyValue()}}},
				"SecurityGroupIds": assertions.Match_Absent(),
			}),
		})
	})
}

// TestCreationAndUpdatePolicy: the stack completes only when every coordinator signals
// (timeout: boot allowance + startup budget), and a launch template change rolls the
// pool one at a time, never below HACoordinatorsCount in service, each replacement
// signalling before an old member goes.
func TestCreationAndUpdatePolicy(t *testing.T) {
	timeout := "PT20M"
	cdktest.Check(t, "group policies", func() {
		tpl.HasResource(jsii.String("AWS::AutoScaling::AutoScalingGroup"), map[string]any{
			"CreationPolicy": map[string]any{"ResourceSignal": map[string]any{"Count": 3, "Timeout": timeout}},
			"UpdatePolicy": map[string]any{"AutoScalingRollingUpdate": map[string]any{
				"MaxBatchSize": 1, "MinInstancesInService": 3, "PauseTime": timeout, "WaitOnResourceSignals": true,
				"SuspendProcesses": []any{"AZRebalance", "AlarmNotification", "ScheduledActions"},
			}},
			"DependsOn": assertions.Match_ArrayWith(&[]any{assertions.Match_StringLikeRegexp(jsii.String("^CoordinatorRoleDefaultPolicy"))}),
		})
	})
	if got := (BootAllowance + StartupBudget).Minutes(); got != 20 {
		t.Errorf("timeout %v min, the assertion above expects 20", got)
	}
}

// TestStatefulPolicies: the ENI (the coordinator's address) and the host-key secret have
// explicit deletion and replacement policies.
func TestStatefulPolicies(t *testing.T) {
	cdktest.Check(t, "ENI: deleted with the stack, kept on replacement", func() {
		tpl.HasResource(jsii.String("AWS::EC2::NetworkInterface"), map[string]any{"DeletionPolicy": "Delete", "UpdateReplacePolicy": "Retain"})
	})
	cdktest.Check(t, "secret: deleted with the stack and on replacement", func() {
		tpl.HasResource(jsii.String("AWS::SecretsManager::Secret"), map[string]any{"DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete"})
	})
}
