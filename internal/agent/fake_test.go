package agent

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/prestoha/coordinator-ha/internal/awsapi"
	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/signal"
)

// fakeCW records PutMetricData calls and fails the next calls with queued errors.
type fakeCW struct {
	mu     sync.Mutex
	calls  []*cloudwatch.PutMetricDataInput // every call, failed ones too
	failed int
	ok     [][]cwtypes.MetricDatum // datums of the successful calls
	errs   []error                 // consumed one per call
	always error                   // when set, every call fails with it
}

func (f *fakeCW) PutMetricData(ctx context.Context, in *cloudwatch.PutMetricDataInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cp := *in
	cp.MetricData = append([]cwtypes.MetricDatum(nil), in.MetricData...)
	f.calls = append(f.calls, &cp)
	if len(in.MetricData) > MaxDatumsPerCall {
		return nil, errors.New("test: more than 1000 datums in one call")
	}
	if f.always != nil {
		f.failed++
		return nil, f.always
	}
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		f.failed++
		return nil, err
	}
	f.ok = append(f.ok, cp.MetricData)
	return &cloudwatch.PutMetricDataOutput{}, nil
}

func (f *fakeCW) GetMetricData(context.Context, *cloudwatch.GetMetricDataInput, ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error) {
	return nil, errors.New("test: not used")
}

func (f *fakeCW) setAlways(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.always = err
}

// accepted returns the datums of the successful calls, in order.
func (f *fakeCW) accepted() []cwtypes.MetricDatum {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []cwtypes.MetricDatum
	for _, b := range f.ok {
		out = append(out, b...)
	}
	return out
}

func (f *fakeCW) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func valueOf(d cwtypes.MetricDatum) float64 { return aws.ToFloat64(d.Value) }

func slogTo(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// testUserID is the aws:userid the fake STS answers: the host role's id and the instance.
const testUserID = "AROAEXAMPLEHOSTROLE01:" + testInstance

// testNamespace is the report namespace that identity may write.
var testNamespace = signal.HostNamespace(testUserID)

// fakeSTS answers GetCallerIdentity as STS does for an instance role session.
type fakeSTS struct{}

func (fakeSTS) GetCallerIdentity(context.Context, *sts.GetCallerIdentityInput, ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error) {
	return &sts.GetCallerIdentityOutput{Account: aws.String("123456789012"), UserId: aws.String(testUserID),
		Arn: aws.String("arn:aws:sts::123456789012:assumed-role/hosts/" + testInstance)}, nil
}

// testPublisher is NewPublisher with the namespace already known.
func testPublisher(cw awsapi.CloudWatchAPI, clk clock.Clock, log *slog.Logger, maxBuffered int) *Publisher {
	p := NewPublisher(cw, clk, log, maxBuffered)
	p.SetNamespace(testNamespace)
	return p
}
