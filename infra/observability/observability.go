// Package observability is the CDK construct for what an operator looks at: a
// CloudWatch dashboard of the health check's verdicts and the failover history, and the
// alarms (failover failed, circuit breaker open, no healthy standby, health check
// failing) that publish to the notification topic.
package observability

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/config"
	"github.com/prestoha/coordinator-ha/internal/signal"
)

// Props configures the dashboard and alarms.
type Props struct {
	Cluster      string
	StateMachine awsstepfunctions.IStateMachine
	HealthCheck  awslambda.IFunction
	Topic        awssns.ITopic
	// HasStandbys, when set, guards the no-healthy-standby alarm (HACoordinatorsCount > 1).
	HasStandbys awscdk.CfnCondition
	// HealthCheckLogs, when set, is the health check's log group: the dashboard shows its
	// "failover paused" lines (who paused, why, until when).
	HealthCheckLogs awslogs.ILogGroup
}

// Observability is the constructed dashboard and alarms.
type Observability struct {
	constructs.Construct
	Dashboard         awscloudwatch.Dashboard
	FailoverFailed    awscloudwatch.Alarm
	BreakerOpen       awscloudwatch.Alarm
	NoHealthyStandby  awscloudwatch.Alarm
	HealthCheckErrors awscloudwatch.Alarm
}

// VerdictLegend explains the Verdict metric's values (events.Verdict.Code).
func VerdictLegend() string {
	var parts []string
	for _, v := range events.Verdicts {
		parts = append(parts, fmt.Sprintf("%g %s", v.Code(), v))
	}
	return strings.Join(parts, ", ")
}

// New builds the dashboard and alarms.
func New(scope constructs.Construct, id string, p *Props) *Observability {
	if p.Cluster == "" || p.StateMachine == nil || p.HealthCheck == nil || p.Topic == nil {
		panic("observability.New: Cluster, StateMachine, HealthCheck and Topic are required")
	}
	o := &Observability{Construct: constructs.NewConstruct(scope, jsii.String(id))}
	minute := awscdk.Duration_Minutes(jsii.Number(1))
	clusterMetric := func(name, stat, label string) awscloudwatch.Metric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String(signal.Namespace), MetricName: jsii.String(name),
			DimensionsMap: &map[string]*string{signal.DimCluster: jsii.String(p.Cluster)},
			Statistic:     jsii.String(stat), Period: minute, Label: jsii.String(label),
		})
	}
	search := func(name, stat string) awscloudwatch.MathExpression {
		return awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression: jsii.String(fmt.Sprintf(`SEARCH('{%s,%s,%s} MetricName="%s" %s="%s"', '%s', 60)`,
				signal.Namespace, signal.DimCluster, signal.DimInstance, name, signal.DimCluster, p.Cluster, stat)),
			Label:  jsii.String(""),
			Period: minute,
		})
	}
	// The self-reports live in one namespace per host (PrestoCoordinatorHA/<role id>:<instance
	// id>), which a schema cannot name: the graph searches every namespace by metric name
	// and cluster. It is a picture only: a series another principal writes in its own
	// namespace can show here, while verdicts read each host's own namespace alone.
	reports := awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression: jsii.String(fmt.Sprintf(`SEARCH('MetricName="%s" %s="%s"', 'Minimum', 60)`, signal.MetricHealth, signal.DimCluster, p.Cluster)),
		Label:      jsii.String(""),
		Period:     minute,
	})
	tampering := clusterMetric(signal.MetricTampering, "Maximum", "Members with tampered reports (alerted, never acted on)")
	healthyStandbys := clusterMetric(signal.MetricHealthyStandbys, "Minimum", "Healthy standbys (minimum per minute)")
	breaker := clusterMetric(signal.MetricBreakerOpen, "Maximum", "Circuit breaker open (1 = open)")
	started := clusterMetric(signal.MetricFailoversStarted, "Sum", "Failovers started")
	blocked := clusterMetric(signal.MetricGuardBlocked, "Sum", "Failover verdicts held back by a guard")

	o.Dashboard = awscloudwatch.NewDashboard(o.Construct, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DefaultInterval: awscdk.Duration_Hours(jsii.Number(3)),
	})
	o.Dashboard.AddWidgets(
		awscloudwatch.NewTextWidget(&awscloudwatch.TextWidgetProps{Width: jsii.Number(24), Height: jsii.Number(2), Markdown: jsii.String(
			"## Coordinator HA: " + p.Cluster + "\nVerdict values: " + VerdictLegend() +
				". Each failover is one execution of the failover state machine, named `<cluster>-failover-<generation>` (the cluster's failover lease); its input names the failed instance.")}),
	)
	o.Dashboard.AddWidgets(
		awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{Title: jsii.String("Verdict per coordinator (maximum)"), Width: jsii.Number(12),
			Left: &[]awscloudwatch.IMetric{search(signal.MetricVerdict, "Maximum")}}),
		awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{Title: jsii.String("Self-reports per coordinator (1 healthy, 0 unhealthy, 2 starting)"), Width: jsii.Number(12),
			Left: &[]awscloudwatch.IMetric{reports}}),
	)
	o.Dashboard.AddWidgets(
		awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{Title: jsii.String("Healthy standbys"), Width: jsii.Number(8),
			Left: &[]awscloudwatch.IMetric{healthyStandbys}}),
		awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{Title: jsii.String("Failovers started and held back"), Width: jsii.Number(8),
			Left: &[]awscloudwatch.IMetric{started, blocked, tampering}}),
		awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{Title: jsii.String("Circuit breaker"), Width: jsii.Number(8),
			Left: &[]awscloudwatch.IMetric{breaker}}),
	)
	// The pause of automatic failover (coordinator-ha pause): the health check publishes
	// Paused=1 at every evaluation while one is in force, nothing otherwise, and logs who,
	// why and until when.
	paused := clusterMetric(config.MetricPaused, "Maximum", "Automatic failover paused (1 = paused)")
	pauseRow := []awscloudwatch.IWidget{awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
		Title: jsii.String("Automatic failover paused (coordinator-ha pause)"), Width: jsii.Number(8), Left: &[]awscloudwatch.IMetric{paused}})}
	if p.HealthCheckLogs != nil {
		pauseRow = append(pauseRow, awscloudwatch.NewLogQueryWidget(&awscloudwatch.LogQueryWidgetProps{
			Title: jsii.String("Pauses: who, why, until (health check log)"), Width: jsii.Number(16),
			LogGroupNames: &[]*string{p.HealthCheckLogs.LogGroupName()},
			QueryLines: &[]*string{jsii.String("fields @timestamp, pausedBy, reason, until"), jsii.String(`filter msg = "failover paused"`),
				jsii.String("stats latest(until) as until by pausedBy, reason"), jsii.String("limit 10")}}))
	}
	o.Dashboard.AddWidgets(pauseRow...)
	sm := p.StateMachine
	o.Dashboard.AddWidgets(
		awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{Title: jsii.String("Failover executions"), Width: jsii.Number(12),
			Left: &[]awscloudwatch.IMetric{
				sm.MetricStarted(&awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String("Sum")}),
				sm.MetricSucceeded(&awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String("Sum")}),
				sm.MetricFailed(&awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String("Sum")}),
				sm.MetricTimedOut(&awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String("Sum")}),
			}}),
		awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{Title: jsii.String("Failover duration (ExecutionTime, ms)"), Width: jsii.Number(12),
			Left: &[]awscloudwatch.IMetric{
				sm.MetricTime(&awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String("Maximum"), Label: jsii.String("longest")}),
				sm.MetricTime(&awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String("Average"), Label: jsii.String("average")}),
			}}),
	)
	o.Dashboard.AddWidgets(
		awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{Title: jsii.String("Agent clock skew per coordinator (s, positive: behind; corrected up to 60 s)"), Width: jsii.Number(12),
			Left: &[]awscloudwatch.IMetric{search(signal.MetricClockSkew, "Maximum")},
			LeftAnnotations: &[]*awscloudwatch.HorizontalAnnotation{
				{Value: jsii.Number(10), Label: jsii.String("10 s")}, {Value: jsii.Number(-10), Label: jsii.String("-10 s")}}}),
		awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{Title: jsii.String("Health check Lambda"), Width: jsii.Number(12),
			Left: &[]awscloudwatch.IMetric{
				p.HealthCheck.MetricInvocations(&awscloudwatch.MetricOptions{Period: minute}),
				p.HealthCheck.MetricErrors(&awscloudwatch.MetricOptions{Period: minute}),
				p.HealthCheck.MetricThrottles(&awscloudwatch.MetricOptions{Period: minute}),
			},
			Right: &[]awscloudwatch.IMetric{p.HealthCheck.MetricDuration(&awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String("Maximum")})},
		}),
	)

	action := awscloudwatchactions.NewSnsAction(p.Topic)
	alarm := func(id, desc string, m awscloudwatch.IMetric, op awscloudwatch.ComparisonOperator, threshold, periods float64, missing awscloudwatch.TreatMissingData) awscloudwatch.Alarm {
		a := awscloudwatch.NewAlarm(o.Construct, jsii.String(id), &awscloudwatch.AlarmProps{
			AlarmDescription: jsii.String(desc), Metric: m, ComparisonOperator: op,
			Threshold: jsii.Number(threshold), EvaluationPeriods: jsii.Number(periods), TreatMissingData: missing,
		})
		a.AddAlarmAction(action)
		return a
	}
	o.FailoverFailed = alarm("FailoverFailed",
		"A failover execution of "+p.Cluster+" failed or timed out: the coordinator ENI may be unattached. Open the state machine's failed execution in the Step Functions console.",
		awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression: jsii.String("failed + timedout"), Label: jsii.String("Failed or timed-out failovers"), Period: minute,
			UsingMetrics: &map[string]awscloudwatch.IMetric{
				"failed":   sm.MetricFailed(&awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String("Sum")}),
				"timedout": sm.MetricTimedOut(&awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String("Sum")}),
			},
		}),
		awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD, 1, 1, awscloudwatch.TreatMissingData_NOT_BREACHING)
	o.BreakerOpen = alarm("CircuitBreakerOpen",
		"The failover circuit breaker of "+p.Cluster+" is open: too many failovers in the window, automatic failover is paused. See the runbook in infra/README.md.",
		breaker, awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD, 1, 1, awscloudwatch.TreatMissingData_NOT_BREACHING)
	o.NoHealthyStandby = alarm("NoHealthyStandby",
		"No healthy standby coordinator in "+p.Cluster+" for 5 minutes: a failover now would take the slow path (launch, wait, attach).",
		healthyStandbys, awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD, 1, 5, awscloudwatch.TreatMissingData_BREACHING)
	if p.HasStandbys != nil {
		o.NoHealthyStandby.Node().DefaultChild().(awscloudwatch.CfnAlarm).CfnOptions().SetCondition(p.HasStandbys)
	}
	o.HealthCheckErrors = alarm("HealthCheckErrors",
		"The health check Lambda of "+p.Cluster+" failed or did not run for 3 minutes: failures are not being detected. Check its log group.",
		awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression: jsii.String("IF(FILL(invocations, 0) < 1, 1, FILL(errors, 0))"), Label: jsii.String("Health check errors (1 when it did not run)"), Period: minute,
			UsingMetrics: &map[string]awscloudwatch.IMetric{
				"invocations": p.HealthCheck.MetricInvocations(&awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String("Sum")}),
				"errors":      p.HealthCheck.MetricErrors(&awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String("Sum")}),
			},
		}),
		awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD, 1, 3, awscloudwatch.TreatMissingData_BREACHING)
	return o
}
