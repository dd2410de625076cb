package healthcheck

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"

	"github.com/prestoha/coordinator-ha/internal/awsapi"
)

// pagedCW answers GetMetricData in two pages: the first half of the results with a
// NextToken, then the rest.
type pagedCW struct {
	awsapi.CloudWatchAPI
	calls int
}

func (p *pagedCW) GetMetricData(ctx context.Context, in *cloudwatch.GetMetricDataInput, opt ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error) {
	p.calls++
	whole := *in
	whole.NextToken = nil
	out, err := p.CloudWatchAPI.GetMetricData(ctx, &whole, opt...)
	if err != nil {
		return nil, err
	}
	half := len(out.MetricDataResults) / 2
	if in.NextToken == nil {
		return &cloudwatch.GetMetricDataOutput{MetricDataResults: out.MetricDataResults[:half], NextToken: aws.String("page-2")}, nil
	}
	if aws.ToString(in.NextToken) != "page-2" {
		return nil, errors.New("unexpected NextToken " + aws.ToString(in.NextToken))
	}
	return &cloudwatch.GetMetricDataOutput{MetricDataResults: out.MetricDataResults[half:]}, nil
}

// A GetMetricData answer in pages is read whole: the same verdicts as in one page, one
// read per page.
func TestReportsReadAcrossPages(t *testing.T) {
	w := newWorld(t)
	one, err := w.handler(w.config()).Evaluate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c := w.pool.ClientsOf("healthcheck")
	cw := &pagedCW{CloudWatchAPI: c.CloudWatch}
	h, err := New(w.config(), Deps{AutoScaling: c.AutoScaling, EC2: c.EC2, CloudWatch: cw, SFN: c.SFN, SNS: c.SNS, Clock: agentClock{w},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	two, err := h.Evaluate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if cw.calls != 2 || two.Calls.Reads != one.Calls.Reads+1 {
		t.Fatalf("%d GetMetricData calls, %d reads (one page: %d); want 2 calls and one read more", cw.calls, two.Calls.Reads, one.Calls.Reads)
	}
	if len(two.Coordinators) != len(one.Coordinators) || two.Verdict != one.Verdict {
		t.Fatalf("paged %s %+v, whole %s %+v", two.Verdict, two.Coordinators, one.Verdict, one.Coordinators)
	}
	for i := range one.Coordinators {
		a, b := one.Coordinators[i], two.Coordinators[i]
		if a.Verdict != b.Verdict || a.ConsecutiveHealthy != b.ConsecutiveHealthy || a.Evidence.SelfReports.Healthy != b.Evidence.SelfReports.Healthy {
			t.Fatalf("%s: paged %s (%d healthy), whole %s (%d healthy)", a.InstanceID, b.Verdict, b.ConsecutiveHealthy, a.Verdict, a.ConsecutiveHealthy)
		}
	}
}
