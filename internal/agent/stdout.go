package agent

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"

	"github.com/prestoha/coordinator-ha/internal/awsapi"
)

var errStdoutUnsupported = errors.New("the stdout publisher only writes metrics")

// StdoutLine is one datum as the stdout publisher writes it: one JSON object per line.
type StdoutLine struct {
	Batch      int               `json:"batch"`
	Namespace  string            `json:"namespace"`
	Metric     string            `json:"metric"`
	Dimensions map[string]string `json:"dimensions"`
	Timestamp  time.Time         `json:"timestamp"`
	Value      float64           `json:"value"`
	Resolution int32             `json:"storageResolution"`
}

// StdoutCloudWatch stands in for CloudWatch with -publish=stdout: each PutMetricData
// batch is written as JSON lines, so the whole publishing path (batching, buffering) runs
// without AWS. It is the operator's dry run and how the agent's footprint is measured.
type StdoutCloudWatch struct {
	mu    sync.Mutex
	enc   *json.Encoder
	batch int
}

// NewStdoutCloudWatch writes batches to w.
func NewStdoutCloudWatch(w io.Writer) *StdoutCloudWatch {
	return &StdoutCloudWatch{enc: json.NewEncoder(w)}
}

var _ awsapi.CloudWatchAPI = (*StdoutCloudWatch)(nil)

// PutMetricData writes the batch.
func (s *StdoutCloudWatch) PutMetricData(ctx context.Context, in *cloudwatch.PutMetricDataInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batch++
	for _, d := range in.MetricData {
		line := StdoutLine{
			Batch:      s.batch,
			Namespace:  aws.ToString(in.Namespace),
			Metric:     aws.ToString(d.MetricName),
			Dimensions: map[string]string{},
			Timestamp:  aws.ToTime(d.Timestamp),
			Value:      aws.ToFloat64(d.Value),
			Resolution: aws.ToInt32(d.StorageResolution),
		}
		for _, dim := range d.Dimensions {
			line.Dimensions[aws.ToString(dim.Name)] = aws.ToString(dim.Value)
		}
		if err := s.enc.Encode(line); err != nil {
			return nil, err
		}
	}
	return &cloudwatch.PutMetricDataOutput{}, nil
}

// GetMetricData is not supported.
func (s *StdoutCloudWatch) GetMetricData(context.Context, *cloudwatch.GetMetricDataInput, ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error) {
	return nil, errStdoutUnsupported
}
