// Command teardown is the stack's delete-time step, a CloudFormation custom resource:
// when the stack is deleted it removes the coordinators' scale-in protection and lets
// the Auto Scaling group go, so the delete does not hang. The logic is internal/teardown;
// this main builds the client once at cold start and starts the handler.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"

	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/teardown"
)

func main() {
	aws, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "teardown: loading AWS configuration:", err)
		os.Exit(1)
	}
	r := &teardown.Releaser{
		AutoScaling: autoscaling.NewFromConfig(aws),
		Clock:       clock.Real{},
		Log:         lambdacontext.NewLogger(),
	}
	lambda.Start(cfn.LambdaWrap(r.Handler))
}
