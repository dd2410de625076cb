package operator_test

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/prestoha/coordinator-ha/internal/awsapi"
	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/harness/drill"
)

// racingSFN lets first run before the operator's first StartExecution: another starter
// taking the same name at the same moment.
type racingSFN struct {
	awsapi.SFNAPI
	first func(name string)
	done  bool
}

func (r *racingSFN) StartExecution(ctx context.Context, in *sfn.StartExecutionInput, opts ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	if !r.done {
		r.done = true
		r.first(aws.ToString(in.Name))
	}
	return r.SFNAPI.StartExecution(ctx, in, opts...)
}

func startInput(sm, name, input string) *sfn.StartExecutionInput {
	return &sfn.StartExecutionInput{StateMachineArn: aws.String(sm), Name: aws.String(name), Input: aws.String(input)}
}

// startSampler runs sample every second of the cluster's clock until ctx ends; the
// returned function waits (on the clock) for it to stop.
func startSampler(c *drill.Cluster, ctx context.Context, sample func()) func() {
	return clock.Start(c.Clock, func() {
		for c.Clock.Sleep(ctx, time.Second) == nil {
			sample()
		}
	})
}
