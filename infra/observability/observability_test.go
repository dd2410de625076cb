package observability

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/jsii-runtime-go"

	"github.com/prestoha/coordinator-ha/infra/internal/cdktest"
	"github.com/prestoha/coordinator-ha/internal/config"
	"github.com/prestoha/coordinator-ha/internal/signal"
)

// A bare stack with a stand-in state machine, function and topic, synthesized once.
var tpl assertions.Template

func TestMain(m *testing.M) {
	cdktest.Main(m, func(assets string) error {
		app := awscdk.NewApp(nil)
		st := awscdk.NewStack(app, jsii.String("Bare"), nil)
		sm := awsstepfunctions.NewStateMachine(st, jsii.String("SM"), &awsstepfunctions.StateMachineProps{
			DefinitionBody: awsstepfunctions.DefinitionBody_FromChainable(awsstepfunctions.NewPass(st, jsii.String("Pass"), nil))})
		fn := awslambda.NewFunction(st, jsii.String("Fn"), &awslambda.FunctionProps{
			Runtime: awslambda.Runtime_NODEJS_22_X(), Handler: jsii.String("index.handler"),
			Code: awslambda.Code_FromInline(jsii.String("x"))})
		cond := awscdk.NewCfnCondition(st, jsii.String("HasStandbys"), &awscdk.CfnConditionProps{
			Expression: awscdk.Fn_ConditionEquals(jsii.String("a"), jsii.String("a"))})
		New(st, "Observability", &Props{Cluster: "unit", StateMachine: sm, HealthCheck: fn,
			Topic: awssns.NewTopic(st, jsii.String("Topic"), nil), HasStandbys: cond})
		tpl = assertions.Template_FromStack(st, nil)
		return nil
	})
}

func TestDashboard(t *testing.T) {
	raw := cdktest.JSON(t, tpl)
	var body string
	for _, d := range cdktest.OfType(raw, "AWS::CloudWatch::Dashboard") {
		body = cdktest.Flatten(cdktest.Props(d)["DashboardBody"])
	}
	for _, want := range []string{
		`SEARCH('{` + signal.Namespace + `,Cluster,InstanceId} MetricName=\"` + signal.MetricVerdict + `\" Cluster=\"unit\"'`,
		`SEARCH('MetricName=\"` + signal.MetricHealth + `\" Cluster=\"unit\"', 'Minimum', 60)`, signal.MetricTampering,
		signal.MetricHealthyStandbys, signal.MetricFailoversStarted, signal.MetricBreakerOpen, signal.MetricGuardBlocked,
		"ExecutionsSucceeded", "ExecutionsFailed", "ExecutionTime", "0 HEALTHY", `"PrestoCoordinatorHA","` + config.MetricPaused + `","Cluster","unit"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("dashboard lacks %s", want)
		}
	}
}

func TestAlarms(t *testing.T) {
	cdktest.Check(t, "four alarms, all to the topic", func() {
		tpl.ResourceCountIs(jsii.String("AWS::CloudWatch::Alarm"), jsii.Number(4))
		tpl.AllResourcesProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
			"AlarmActions": []any{map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^Topic"))}}})
	})
	for _, c := range []struct {
		desc string
		cond any
		op   string
	}{
		{"^A failover execution", assertions.Match_Absent(), "GreaterThanOrEqualToThreshold"},
		{"^The failover circuit breaker", assertions.Match_Absent(), "GreaterThanOrEqualToThreshold"},
		{"^No healthy standby", "HasStandbys", "LessThanThreshold"},
		{"^The health check Lambda", assertions.Match_Absent(), "GreaterThanOrEqualToThreshold"},
	} {
		cdktest.Check(t, c.desc, func() {
			tpl.HasResource(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
				"Condition": c.cond,
				"Properties": assertions.Match_ObjectLike(&map[string]any{
					"AlarmDescription": assertions.Match_StringLikeRegexp(jsii.String(c.desc)), "ComparisonOperator": c.op, "Threshold": 1}),
			})
		})
	}
}
