// Command healthcheck is the scheduled health check Lambda: EventBridge invokes it once a
// minute; it evaluates the coordinators every check interval and starts the failover
// state machine when a verdict calls for it and the guards allow.
// The logic is internal/healthcheck (Handler.Handle); this main only wires it up.
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
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/healthcheck"
)

func main() {
	log := lambdacontext.NewLogger()
	cfg, err := healthcheck.ConfigFromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		os.Exit(1)
	}
	aws, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck: loading AWS configuration:", err)
		os.Exit(1)
	}
	h, err := healthcheck.New(cfg, healthcheck.Deps{
		AutoScaling: autoscaling.NewFromConfig(aws),
		EC2:         ec2.NewFromConfig(aws),
		CloudWatch:  cloudwatch.NewFromConfig(aws),
		SFN:         sfn.NewFromConfig(aws),
		SNS:         sns.NewFromConfig(aws),
		Clock:       clock.Real{},
		Logger:      log,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}
