package drill

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/prestoha/coordinator-ha/internal/awsapi"
	"github.com/prestoha/coordinator-ha/internal/signal"
)

type nopCW struct{ awsapi.CloudWatchAPI }

func (nopCW) PutMetricData(context.Context, *cloudwatch.PutMetricDataInput, ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error) {
	return &cloudwatch.PutMetricDataOutput{}, nil
}
func (nopCW) GetMetricData(context.Context, *cloudwatch.GetMetricDataInput, ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error) {
	return &cloudwatch.GetMetricDataOutput{}, nil
}

func TestCWCounter(t *testing.T) {
	c := NewCWCounter(nopCW{})
	ctx := context.Background()
	now := aws.Time(fixedTime)
	_, _ = c.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String(signal.Namespace), MetricData: []cwtypes.MetricDatum{
		signal.HealthDatum("demo", "i-0123456789abcdef0", signal.Healthy, *now),
		signal.HealthDatum("demo", "i-0123456789abcdef0", signal.Healthy, *now),
		signal.WitnessDatum("demo", "i-0123456789abcdef0", true, *now),
	}})
	q, err := signal.Query("demo", "AROAEXAMPLEHOSTROLE01", []string{"i-0123456789abcdef0", "i-0123456789abcdef1"}, fixedTime, fixedTime.Add(60e9))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = c.GetMetricData(ctx, q)
	q.NextToken = aws.String("page2")
	_, _ = c.GetMetricData(ctx, q) // a second page is not a second request of the metrics
	got := c.Counts()
	if got.Puts != 1 || got.Datums != 3 || got.Gets != 1 || got.MetricsRequested != 6 || len(got.Metrics) != 2 {
		t.Fatalf("counts %+v", got)
	}
}

func TestMonthlyCost(t *testing.T) {
	// One hour of steady state: 3 agents flushing every 10 s, one health check a minute
	// running 60 s and reading 6 metrics every 10 s.
	in := CostInput{WindowS: 3600, Coordinators: 3, AgentPuts: 3 * 360, HealthCheckGets: 360, MetricsRequested: 360 * 6,
		CustomMetrics: make([]string, 6), Invocations: 59, InvocationSeconds: 59 * 60, FailoverTransitions: 8}
	c := MonthlyCost(in)
	want := map[string]float64{
		"CloudWatch PutMetricData (agents)": 3 * 360 * 730 * 0.01 / 1000,
		"CloudWatch GetMetricData":          360 * 6 * 730 * 0.01 / 1000,
		"CloudWatch custom metrics":         6 * 0.30,
		"Lambda requests (health check)":    60 * 730 * 0.2 / 1e6,
	}
	total := 0.0
	for _, l := range c.Lines {
		total += l.MonthlyUSD
		if w, ok := want[l.Item]; ok && math.Abs(w-l.MonthlyUSD) > 1e-9 {
			t.Errorf("%s: %.6f, want %.6f", l.Item, l.MonthlyUSD, w)
		}
		if strings.HasPrefix(l.Item, "Lambda duration") {
			// 730 h of continuous 128 MB execution
			if w := 730 * 3600 * 0.125 * PriceLambdaGBSecond; math.Abs(w-l.MonthlyUSD) > 1e-6 {
				t.Errorf("lambda duration %.4f, want %.4f", l.MonthlyUSD, w)
			}
		}
	}
	if math.Abs(total-c.TotalUSD) > 1e-9 || c.TotalUSD <= 0 {
		t.Fatalf("total %.4f vs lines %.4f", c.TotalUSD, total)
	}
	var b strings.Builder
	c.WriteMarkdown(&b)
	if !strings.Contains(b.String(), "**total**") || !strings.Contains(b.String(), "Prices: ") {
		t.Fatalf("markdown:\n%s", b.String())
	}
}
