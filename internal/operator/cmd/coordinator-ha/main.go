// Command coordinator-ha operates a coordinator-ha cluster: status, history, planned
// switchover, pause and resume of automatic failover, and rolling the coordinators to
// the launch template's current version. It finds every resource from the stack name
// (--stack) and uses the default AWS credential chain. See internal/operator.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/operator"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := operator.Run(ctx, os.Args[1:], os.Stdout, os.Stderr, open)
	stop()
	os.Exit(code)
}

// open builds the real clients from the default credential chain, checks that there
// are credentials at all (a clear error rather than the first call's), and finds the
// stack.
func open(ctx context.Context, stack string, progress io.Writer) (*operator.Operator, error) {
	if stack == "" {
		return nil, &operator.UsageError{Msg: "--stack is required (or COORDINATOR_HA_STACK)"}
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, &operator.UsageError{Msg: "no AWS region: set AWS_REGION (or a region in the profile)"}
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		return nil, fmt.Errorf("no AWS credentials (default chain: environment, AWS_PROFILE, SSO, instance role): %w",
			errors.Join(errors.New("failed to retrieve credentials"), err))
	}
	c := operator.Clients{
		CloudFormation: cloudformation.NewFromConfig(cfg),
		EC2:            ec2.NewFromConfig(cfg),
		AutoScaling:    autoscaling.NewFromConfig(cfg),
		CloudWatch:     cloudwatch.NewFromConfig(cfg),
		SFN:            sfn.NewFromConfig(cfg),
		STS:            sts.NewFromConfig(cfg),
	}
	o, err := operator.Open(ctx, c, clock.Real{}, stack, operator.Options{Progress: progress})
	if err != nil {
		return nil, err
	}
	o.SetProbe(operator.HTTPProber{URL: o.Stack.URL, Client: &http.Client{Timeout: 2 * time.Second}})
	return o, nil
}
