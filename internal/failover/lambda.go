package failover

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/prestoha/coordinator-ha/internal/clock"
)

// Start is the whole main of a step Lambda (lambdas/terminate, attacheni, launchstandby,
// notify): at cold start it reads the step's configuration from the environment (exit 1
// with every problem named), builds the AWS clients once, and hands the step's handler
// to the Lambda runtime, which rejects input with unknown fields. It does not return.
func Start(step string) {
	name := strings.ToLower(step) // the Lambda's directory: terminate, attacheni, ...
	fail := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "%s: %s\n", name, fmt.Sprintf(format, args...))
		os.Exit(1)
	}
	cfg, err := LoadConfig(os.LookupEnv, step)
	if err != nil {
		fail("%v", err)
	}
	aws, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		fail("loading AWS configuration: %v", err)
	}
	steps, err := New(cfg, Deps{
		EC2:         ec2.NewFromConfig(aws),
		AutoScaling: autoscaling.NewFromConfig(aws),
		CloudWatch:  cloudwatch.NewFromConfig(aws),
		SNS:         sns.NewFromConfig(aws),
		Clock:       clock.Real{},
		Log:         lambdacontext.NewLogger().With("cluster", cfg.Cluster, "step", step),
	})
	if err != nil {
		fail("%v", err)
	}
	handler, ok := steps.Handlers()[step]
	if !ok {
		fail("no handler for step %q", step)
	}
	lambda.StartWithOptions(handler, lambda.WithDisallowUnknownFields(true))
}
