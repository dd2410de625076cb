package controlplane

import (
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/prestoha/coordinator-ha/infra/cfn"
	"github.com/prestoha/coordinator-ha/infra/internal/cdktest"
	"github.com/prestoha/coordinator-ha/internal/config"
	"github.com/prestoha/coordinator-ha/internal/healthcheck"
	"github.com/prestoha/coordinator-ha/internal/permissions"
	"github.com/prestoha/coordinator-ha/internal/statemachine"
	"github.com/prestoha/coordinator-ha/internal/teardown"
)

// One bare stack with the topic and the control plane, synthesized once, with the real
// state machine definition.
var (
	cp  *ControlPlane
	tpl assertions.Template
	raw map[string]any
)

func TestMain(m *testing.M) {
	cdktest.Main(m, func(assets string) error {
		app := awscdk.NewApp(nil)
		st := awscdk.NewStack(app, jsii.String("Bare"), nil)
		n := NewTopic(st, "Notifications", &TopicProps{Cluster: "unit", Email: cfn.Optional{Value: jsii.String("ops@example.com")}})
		cp = New(st, "ControlPlane", &Props{
			Cluster: "unit", ENIID: jsii.String("eni-0123456789abcdef0"), ASGName: jsii.String("unit-asg"),
			HostRoleID: jsii.String("AROAEXAMPLEHOSTROLE01"),
			Topic:      n.Topic, TopicKey: n.Key, LambdaDir: assets + "/lambda",
			HACount: jsii.String("2"), KeepCoordinator: jsii.String("no"), GraceSeconds: jsii.String("30"),
			CheckIntervalSeconds: jsii.String("10"), PrestoPort: jsii.String("8080"),
		})
		tpl = assertions.Template_FromStack(st, nil)
		return nil
	})
}

func TestLambdas(t *testing.T) {
	cdktest.Check(t, "six functions", func() {
		tpl.ResourceCountIs(jsii.String("AWS::Lambda::Function"), jsii.Number(len(statemachine.Lambdas)))
	})
	cdktest.Check(t, "no other function (no CDK helper Lambdas)", func() {
		tpl.AllResourcesProperties(jsii.String("AWS::Lambda::Function"), map[string]any{
			"Runtime": "provided.al2023", "Architectures": []any{"arm64"}, "Handler": "bootstrap",
			"LoggingConfig": assertions.Match_ObjectLike(&map[string]any{"LogFormat": "JSON", "LogGroup": assertions.Match_AnyValue()}),
			"Environment": map[string]any{"Variables": assertions.Match_ObjectLike(&map[string]any{
				config.EnvCluster: "unit", config.EnvENIID: "eni-0123456789abcdef0", config.EnvASGName: "unit-asg",
				config.EnvHACount: "2", config.EnvTopicARN: assertions.Match_AnyValue()})},
		})
	})
	cdktest.Check(t, "health check: 100 s, overlapping loops (3), state machine and guards in its env", func() {
		tpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), map[string]any{
			"Timeout": HealthCheckTimeoutSeconds, "ReservedConcurrentExecutions": HealthCheckReservedConcurrency,
			"Environment": map[string]any{"Variables": assertions.Match_ObjectLike(&map[string]any{
				config.EnvStateMachineARN: map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^ControlPlaneFailover"))},
				config.EnvKeepCoordinator: "no", config.EnvGraceSeconds: "30", config.EnvCheckInterval: "10",
				config.EnvDoorbell: "yes"})},
		})
	})
	cdktest.Check(t, "health check: named from the stack id alone (the agents' doorbell names it)", func() {
		tpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), map[string]any{
			"Timeout": HealthCheckTimeoutSeconds,
			"FunctionName": map[string]any{"Fn::Join": []any{"", []any{"coordinator-ha-",
				map[string]any{"Fn::Select": []any{2, map[string]any{"Fn::Split": []any{"/", map[string]any{"Ref": "AWS::StackId"}}}}}}}},
		})
	})
	cdktest.Check(t, "only the health check has a fixed name", func() {
		tpl.ResourcePropertiesCountIs(jsii.String("AWS::Lambda::Function"), map[string]any{"FunctionName": assertions.Match_AnyValue()}, jsii.Number(1))
	})
	cdktest.Check(t, "health check: asynchronous ticks are not retried and expire after a minute", func() {
		tpl.ResourceCountIs(jsii.String("AWS::Lambda::EventInvokeConfig"), jsii.Number(1))
		tpl.HasResourceProperties(jsii.String("AWS::Lambda::EventInvokeConfig"), map[string]any{
			"FunctionName":         map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^ControlPlaneHealthCheck"))},
			"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 60, "Qualifier": "$LATEST"})
	})
	for ph, name := range StepFunctions {
		cdktest.Check(t, name+" timeout", func() {
			tpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), map[string]any{
				"Description": "Coordinator HA " + name + " of unit", "Timeout": statemachine.LambdaTimeoutSeconds[ph],
				"ReservedConcurrentExecutions": StepReservedConcurrency})
		})
	}
	cdktest.Check(t, "log groups with retention", func() {
		tpl.ResourceCountIs(jsii.String("AWS::Logs::LogGroup"), jsii.Number(7))
		tpl.AllResourcesProperties(jsii.String("AWS::Logs::LogGroup"), map[string]any{"RetentionInDays": 30})
	})
	// Checkov skips (make scan): on every function and log group, each with its reason.
	raw = cdktest.JSON(t, tpl)
	for typ, want := range map[string][]string{
		"AWS::Lambda::Function": {"CKV_AWS_117", "CKV_AWS_116", "CKV_AWS_173"},
		"AWS::Logs::LogGroup":   {"CKV_AWS_158"},
	} {
		for id, r := range cdktest.OfType(raw, typ) {
			w := want
			if strings.HasPrefix(id, "ControlPlaneTeardown") && typ == "AWS::Lambda::Function" {
				w = []string{"CKV_AWS_117", "CKV_AWS_173", "CKV_AWS_116", "CKV_AWS_115"} // the delete-time step
			}
			if got := strings.Join(cdktest.CheckovSkips(t, id, r), " "); got != strings.Join(w, " ") {
				t.Errorf("%s: checkov skips %q, want %q", id, got, strings.Join(w, " "))
			}
		}
	}
}

func TestRolesFromTheTable(t *testing.T) {
	raw = cdktest.JSON(t, tpl)
	for id, r := range cdktest.OfType(raw, "AWS::IAM::Role") {
		if _, ok := cdktest.Props(r)["ManagedPolicyArns"]; ok {
			t.Errorf("role %s has a managed policy", id)
		}
	}
	for name, fn := range cp.Functions {
		roleID := *awscdk.Stack_Of(fn).GetLogicalId(fn.Role().Node().DefaultChild().(awscdk.CfnElement))
		roleID = resolveID(t, roleID)
		var got []string
		for _, st := range cdktest.Statements(raw, roleID) {
			for _, a := range cdktest.Actions(st) {
				if !strings.HasPrefix(a, "logs:") && !strings.HasPrefix(a, "kms:") && !strings.HasPrefix(a, "xray:") {
					got = append(got, a)
				}
			}
		}
		sort.Strings(got)
		got = slices.Compact(got) // an ENI move is granted twice: on group instances and on the ENI's ARN
		if strings.Join(got, " ") != strings.Join(permissions.Actions[name], " ") {
			t.Errorf("%s role grants %v, the table says %v", name, got, permissions.Actions[name])
		}
	}
}

// resolveID maps a logical id token to the id in the template by matching the roles.
func resolveID(t *testing.T, tok string) string {
	for id := range cdktest.OfType(raw, "AWS::IAM::Role") {
		if id == tok {
			return id
		}
	}
	resolved := awscdk.Stack_Of(cp).Resolve(jsii.String(tok))
	if s, ok := resolved.(string); ok {
		return s
	}
	t.Fatalf("cannot resolve logical id %s", tok)
	return ""
}

func TestStateMachine(t *testing.T) {
	subs := map[string]any{}
	for _, ph := range statemachine.Placeholders {
		subs[ph] = map[string]any{"Fn::GetAtt": []any{assertions.Match_StringLikeRegexp(jsii.String("^ControlPlane")), "Arn"}}
	}
	cdktest.Check(t, "standard, logging ALL, tracing, substitutions", func() {
		tpl.HasResourceProperties(jsii.String("AWS::StepFunctions::StateMachine"), map[string]any{
			"StateMachineType":        "STANDARD",
			"DefinitionString":        statemachine.Definition(),
			"DefinitionSubstitutions": subs,
			"LoggingConfiguration":    assertions.Match_ObjectLike(&map[string]any{"Level": "ALL", "IncludeExecutionData": true}),
			"TracingConfiguration":    map[string]any{"Enabled": true},
		})
	})
	cdktest.Check(t, "the state machine invokes exactly the four step functions", func() {
		tpl.HasResourceProperties(jsii.String("AWS::IAM::Policy"), map[string]any{
			"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{map[string]any{
				"Sid": "InvokeStepFunctions", "Action": "lambda:InvokeFunction", "Effect": "Allow",
				"Resource": assertions.Match_ArrayWith(&[]any{}),
			}})},
		})
	})
}

func TestScheduleAndTopic(t *testing.T) {
	cdktest.Check(t, "every minute, no retry, a missed tick expires", func() {
		tpl.HasResourceProperties(jsii.String("AWS::Events::Rule"), map[string]any{
			"ScheduleExpression": "rate(1 minute)", "State": "ENABLED",
			"Targets": []any{assertions.Match_ObjectLike(&map[string]any{
				"RetryPolicy": map[string]any{"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 60}})},
		})
	})
	cdktest.Check(t, "topic encrypted with its key", func() {
		tpl.HasResourceProperties(jsii.String("AWS::SNS::Topic"), map[string]any{
			"KmsMasterKeyId": map[string]any{"Fn::GetAtt": []any{assertions.Match_StringLikeRegexp(jsii.String("^NotificationsKey")), "Arn"}}})
		tpl.HasResourceProperties(jsii.String("AWS::KMS::Key"), map[string]any{"EnableKeyRotation": true})
	})
	cdktest.Check(t, "e-mail subscription", func() {
		tpl.HasResourceProperties(jsii.String("AWS::SNS::Subscription"), map[string]any{"Protocol": "email", "Endpoint": "ops@example.com"})
	})
}

// TestAlarmsCanPublish: the topic policy (which replaces SNS's default policy) keeps the
// TLS-only Deny and allows this account's CloudWatch alarms to publish; without the
// Allow no alarm notification is ever delivered.
func TestAlarmsCanPublish(t *testing.T) {
	raw = cdktest.JSON(t, tpl)
	pols := cdktest.OfType(raw, "AWS::SNS::TopicPolicy")
	if len(pols) != 1 {
		t.Fatalf("%d topic policies, want 1", len(pols))
	}
	var allow, deny map[string]any
	for _, p := range pols {
		if topics := cdktest.Flatten(cdktest.Props(p)["Topics"]); !strings.Contains(topics, "NotificationsTopic") {
			t.Errorf("topic policy on %s, want the notification topic", topics)
		}
		for _, s := range cdktest.Props(p)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			st := s.(map[string]any)
			switch st["Effect"] {
			case "Allow":
				if allow != nil {
					t.Errorf("more than one Allow: %v", st)
				}
				allow = st
			case "Deny":
				deny = st
			}
		}
	}
	if deny == nil || cdktest.Flatten(deny["Condition"]) != `{"Bool":{"aws:SecureTransport":"false"}}` {
		t.Errorf("TLS-only Deny missing or changed: %v", deny)
	}
	if allow == nil {
		t.Fatal("no Allow statement: CloudWatch alarms cannot publish to the topic")
	}
	if allow["Sid"] != AlarmPublishSid || cdktest.Flatten(allow["Principal"]) != `{"Service":"cloudwatch.amazonaws.com"}` ||
		allow["Action"] != "sns:Publish" || !strings.Contains(cdktest.Flatten(allow["Resource"]), `"Ref":"NotificationsTopic`) {
		t.Errorf("alarm Allow is %s, want cloudwatch.amazonaws.com publishing to the topic", cdktest.Flatten(allow))
	}
	cond := cdktest.Flatten(allow["Condition"])
	for _, want := range []string{
		`"ArnLike":{"aws:SourceArn":{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":cloudwatch:",{"Ref":"AWS::Region"},":",{"Ref":"AWS::AccountId"},":alarm:*"]]}}`,
		`"StringEquals":{"aws:SourceAccount":{"Ref":"AWS::AccountId"}}`,
	} {
		if !strings.Contains(cond, want) {
			t.Errorf("alarm Allow condition %s lacks %s", cond, want)
		}
	}
	// The key lets CloudWatch use it for the encrypted topic (same account only).
	cdktest.Check(t, "key policy: CloudWatch may use the topic key", func() {
		tpl.HasResourceProperties(jsii.String("AWS::KMS::Key"), map[string]any{"KeyPolicy": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{
			assertions.Match_ObjectLike(&map[string]any{"Sid": "CloudWatchAlarmsPublish", "Principal": map[string]any{"Service": "cloudwatch.amazonaws.com"}}),
		})}})
	})
}

// TestTeardownOrder: the delete-time step is a custom resource on the group, served by
// the teardown Lambda, and every other control-plane role, the state machine's and the
// schedule depend on it, so CloudFormation deletes the control plane before it runs.
func TestTeardownOrder(t *testing.T) {
	raw = cdktest.JSON(t, tpl)
	crs := cdktest.OfType(raw, teardown.ResourceType)
	if len(crs) != 1 {
		t.Fatalf("%d %s resources, want 1", len(crs), teardown.ResourceType)
	}
	var crID string
	for id, cr := range crs {
		crID = id
		props := cdktest.Props(cr)
		if props[teardown.PropGroupName] != "unit-asg" || !strings.Contains(cdktest.Flatten(props["ServiceToken"]), "ControlPlaneTeardown") {
			t.Errorf("custom resource properties %s", cdktest.Flatten(props))
		}
	}
	dependsOnCR := func(r map[string]any) bool {
		d, _ := r["DependsOn"].([]any)
		for _, x := range d {
			if x == crID {
				return true
			}
		}
		return false
	}
	n := 0
	for id, r := range cdktest.OfType(raw, "AWS::IAM::Role") {
		if strings.HasPrefix(id, "ControlPlaneTeardown") {
			if dependsOnCR(r) {
				t.Errorf("%s: the teardown's own role depends on the custom resource (a cycle)", id)
			}
			continue
		}
		n++
		if !dependsOnCR(r) {
			t.Errorf("role %s does not depend on the teardown custom resource: it could outlive it at a delete", id)
		}
	}
	if n != len(statemachine.Lambdas) { // the other Lambdas' roles and the state machine's
		t.Errorf("%d roles checked, want %d", n, len(statemachine.Lambdas))
	}
	for id, r := range cdktest.OfType(raw, "AWS::Events::Rule") {
		if !dependsOnCR(r) {
			t.Errorf("schedule %s does not depend on the teardown custom resource", id)
		}
	}
	cdktest.Check(t, "teardown: 600 s, no reservation, tracing", func() {
		tpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), map[string]any{
			"Description": "Coordinator HA teardown of unit", "Timeout": TeardownTimeoutSeconds,
			"ReservedConcurrentExecutions": assertions.Match_Absent(), "TracingConfig": map[string]any{"Mode": "Active"}})
	})
}

// EC2 mutations: on instances only with the tag aws:autoscaling:groupName = the group
// (only Auto Scaling writes aws: tags), on the coordinator ENI only by its exact ARN;
// nothing is conditioned on the cluster tag anyone can add.
func TestEC2MutationsNeedGroupMembership(t *testing.T) {
	raw = cdktest.JSON(t, tpl)
	seen := map[string]bool{}
	for id := range cdktest.OfType(raw, "AWS::IAM::Role") {
		for _, st := range cdktest.Statements(raw, id) {
			res, cond := cdktest.Flatten(st["Resource"]), cdktest.Flatten(st["Condition"])
			for _, a := range cdktest.Actions(st) {
				if !strings.HasPrefix(a, "ec2:") || strings.HasPrefix(a, "ec2:Describe") {
					continue
				}
				switch {
				case strings.Contains(res, ":instance/*"):
					if !strings.Contains(cond, `"aws:ResourceTag/aws:autoscaling:groupName":"unit-asg"`) {
						t.Errorf("%s on instances with condition %s, want the group's aws: tag", a, cond)
					}
					seen[a+" instance"] = true
				case strings.Contains(res, ":network-interface/eni-0123456789abcdef0"):
					seen[a+" eni"] = true
				default:
					t.Errorf("%s on %s: neither group instances nor the coordinator ENI", a, res)
				}
				if strings.Contains(cond, "aws:ResourceTag/"+config.TagCluster) {
					t.Errorf("%s conditioned on the cluster tag, which anyone can add: %s", a, cond)
				}
			}
		}
	}
	for _, want := range []string{"ec2:AttachNetworkInterface instance", "ec2:AttachNetworkInterface eni", "ec2:DetachNetworkInterface instance",
		"ec2:DetachNetworkInterface eni", "ec2:CreateTags instance"} {
		if !seen[want] {
			t.Errorf("no statement grants %s", want)
		}
	}
	if seen["ec2:TerminateInstances eni"] || !seen["ec2:TerminateInstances instance"] {
		t.Error("ec2:TerminateInstances (the fence's fallback) must be granted on the group's instances only")
	}
}

// The health check's timeout covers its loop (healthcheck.LoopSpan), the deadline margin
// and one last evaluation, so the loop, not Lambda, ends each invocation.
func TestHealthCheckTimeoutCoversTheLoop(t *testing.T) {
	if got, need := time.Duration(HealthCheckTimeoutSeconds)*time.Second, healthcheck.LoopSpan+healthcheck.DeadlineMargin+10*time.Second; got < need {
		t.Fatalf("timeout %s, the loop needs %s", got, need)
	}
}
