// Command notify is the StepNotify step Lambda of the failover state machine: one SNS message per failover with the outcome and the timeline.
// The logic is internal/failover (Steps.Notify); this main only wires it up.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/failover"
)

func main() {
	log := lambdacontext.NewLogger()
	cfg, err := failover.LoadConfig(os.LookupEnv, events.StepNotify)
	if err != nil {
		fmt.Fprintln(os.Stderr, "notify:", err)
		os.Exit(1)
	}
	aws, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "notify: loading AWS configuration:", err)
		os.Exit(1)
	}
	steps, err := failover.New(cfg, failover.Deps{
		EC2:         ec2.NewFromConfig(aws),
		AutoScaling: autoscaling.NewFromConfig(aws),
		CloudWatch:  cloudwatch.NewFromConfig(aws),
		SNS:         sns.NewFromConfig(aws),
		Clock:       clock.Real{},
		Log:         log.With("cluster", cfg.Cluster),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "notify:", err)
		os.Exit(1)
	}
	lambda.StartWithOptions(steps.Notify, lambda.WithDisallowUnknownFields(true))
}
