// Command attacheni is the StepAttachENI step Lambda of the failover state machine: move the coordinator ENI to the best healthy standby once the fence is confirmed.
// The logic is internal/failover (Steps.AttachENI); this main only wires it up.
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
	cfg, err := failover.LoadConfig(os.LookupEnv, events.StepAttachENI)
	if err != nil {
		fmt.Fprintln(os.Stderr, "attacheni:", err)
		os.Exit(1)
	}
	aws, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "attacheni: loading AWS configuration:", err)
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
		fmt.Fprintln(os.Stderr, "attacheni:", err)
		os.Exit(1)
	}
	lambda.StartWithOptions(steps.AttachENI, lambda.WithDisallowUnknownFields(true))
}
