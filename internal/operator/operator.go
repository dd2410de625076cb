package operator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/awsapi"
	"github.com/prestoha/coordinator-ha/internal/awserr"
	"github.com/prestoha/coordinator-ha/internal/clock"
)

// Clients are the AWS clients the command calls, each a narrow interface with the exact
// SDK signatures (internal/awsapi), so the real clients and the simulated account's fit.
// Policy lists the IAM statements these calls need.
type Clients struct {
	CloudFormation awsapi.CloudFormationAPI
	EC2            awsapi.OperatorEC2API
	AutoScaling    awsapi.AutoScalingAPI
	CloudWatch     awsapi.CloudWatchAPI
	SFN            awsapi.SFNAPI
	STS            awsapi.STSAPI
}

// Options tune an Operator. The zero value is the production behaviour.
type Options struct {
	// Progress receives one line per step of a long operation; nil discards them.
	Progress io.Writer
	// Probe, when set, is asked during a switchover whether clients are served through
	// the coordinator IP; it measures the client-visible gap. The command probes
	// GET /v1/info at the stack's PrestoCoordinatorURL.
	Probe Prober
	// Poll is how often long operations look at AWS (default 2 s); the probe runs every
	// second.
	Poll time.Duration
	// MinHealthyReports a standby needs to count as healthy (default 3, as AttachENI).
	MinHealthyReports int
	// WaitHealthy bounds how long roll waits for a new coordinator to become healthy
	// (default 20 minutes).
	WaitHealthy time.Duration
}

// Defaults of Options.
const (
	DefaultPoll              = 2 * time.Second
	DefaultMinHealthyReports = 3
	DefaultWaitHealthy       = 20 * time.Minute
	// healthMaxGap breaks a healthy streak, as in AttachENI (failover.DefaultTiming).
	healthMaxGap = 30 * time.Second
	// healthLookback is how far back self-reports are read, as in AttachENI.
	healthLookback = 5 * time.Minute
)

// Operator runs the subcommands against one stack. Build it with Open.
type Operator struct {
	c     Clients
	clk   clock.Clock
	opt   Options
	Stack Stack
	who   string // the caller's ARN, once asked
}

// Open finds the stack's resources (DescribeStacks) and returns an Operator for it.
func Open(ctx context.Context, c Clients, clk clock.Clock, stackName string, opt Options) (*Operator, error) {
	if c.CloudFormation == nil || c.EC2 == nil || c.AutoScaling == nil || c.CloudWatch == nil || c.SFN == nil || c.STS == nil || clk == nil {
		return nil, errors.New("operator: every client and the clock are required")
	}
	if opt.Poll <= 0 {
		opt.Poll = DefaultPoll
	}
	if opt.MinHealthyReports <= 0 {
		opt.MinHealthyReports = DefaultMinHealthyReports
	}
	if opt.WaitHealthy <= 0 {
		opt.WaitHealthy = DefaultWaitHealthy
	}
	if opt.Progress == nil {
		opt.Progress = io.Discard
	}
	c = withRetries(c, clk) // retrying.go
	st, err := resolveStack(ctx, c.CloudFormation, stackName)
	if err != nil {
		return nil, err
	}
	return &Operator{c: c, clk: clk, opt: opt, Stack: st}, nil
}

func (o *Operator) progress(format string, a ...any) {
	fmt.Fprintf(o.opt.Progress, "%s  %s\n", o.clk.Now().UTC().Format("15:04:05"), fmt.Sprintf(format, a...))
}

// caller is the ARN of whoever runs the command (sts:GetCallerIdentity, which IAM
// allows every principal).
func (o *Operator) caller(ctx context.Context) (string, error) {
	if o.who != "" {
		return o.who, nil
	}
	out, err := o.c.STS.GetCallerIdentity(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("asking STS who is calling: %w", err)
	}
	o.who = aws.ToString(out.Arn)
	return o.who, nil
}

// Stack is what the command needs of a cluster, from its stack's outputs.
type Stack struct {
	Name, ID        string
	Status          string
	Cluster         string // ClusterName
	ENIID, ENIIP    string // CoordinatorENIId, CoordinatorIP
	URL             string // PrestoCoordinatorURL
	ASGName         string // CoordinatorAutoScalingGroupName
	StateMachineARN string // StateMachineArn
	HostRoleID      string // CoordinatorHostRoleId
	HealthCheckLogs string // HealthCheckLogGroup
}

// The stack outputs the command reads (infra/stack declares them; its test checks
// every one of RequiredOutputs is there).
const (
	OutCluster         = "ClusterName"
	OutENI             = "CoordinatorENIId"
	OutENIIP           = "CoordinatorIP"
	OutURL             = "PrestoCoordinatorURL"
	OutASG             = "CoordinatorAutoScalingGroupName"
	OutStateMachine    = "StateMachineArn"
	OutHostRoleID      = "CoordinatorHostRoleId"
	OutHealthCheckLogs = "HealthCheckLogGroup"
)

// RequiredOutputs are the outputs without which the command cannot work.
var RequiredOutputs = []string{OutCluster, OutENI, OutENIIP, OutURL, OutASG, OutStateMachine, OutHostRoleID, OutHealthCheckLogs}

func resolveStack(ctx context.Context, cfn awsapi.CloudFormationAPI, name string) (Stack, error) {
	if name == "" {
		return Stack{}, &UsageError{Msg: "--stack is required (the name of the cluster's CloudFormation stack)"}
	}
	out, err := cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
	if awserr.Code(err) == awserr.CodeValidationError && strings.Contains(err.Error(), "does not exist") {
		return Stack{}, &NoSuchStackError{Stack: name}
	}
	if err != nil {
		return Stack{}, fmt.Errorf("describing stack %s: %w", name, err)
	}
	if len(out.Stacks) != 1 {
		return Stack{}, fmt.Errorf("describing stack %s: got %d stacks", name, len(out.Stacks))
	}
	s := out.Stacks[0]
	outs := map[string]string{}
	for _, o := range s.Outputs {
		outs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	var missing []string
	for _, k := range RequiredOutputs {
		if outs[k] == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return Stack{}, fmt.Errorf("stack %s (%s) lacks the outputs %s: is it a coordinator-ha stack, deployed from this version?",
			name, s.StackStatus, strings.Join(missing, ", "))
	}
	st := Stack{Name: aws.ToString(s.StackName), ID: aws.ToString(s.StackId), Status: string(s.StackStatus),
		Cluster: outs[OutCluster], ENIID: outs[OutENI], ENIIP: outs[OutENIIP], URL: outs[OutURL], ASGName: outs[OutASG],
		StateMachineARN: outs[OutStateMachine], HostRoleID: outs[OutHostRoleID], HealthCheckLogs: outs[OutHealthCheckLogs]}
	if !events.ValidCluster(st.Cluster) || !events.ValidENIID(st.ENIID) {
		return Stack{}, fmt.Errorf("stack %s: outputs %s=%q and %s=%q are not a cluster name and an ENI id", name, OutCluster, st.Cluster, OutENI, st.ENIID)
	}
	return st, nil
}

// Errors with their own exit codes (ExitCode).

// UsageError is a wrong command line.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// NoSuchStackError: DescribeStacks says the stack does not exist.
type NoSuchStackError struct{ Stack string }

func (e *NoSuchStackError) Error() string {
	return fmt.Sprintf("no stack %q in this account and region (CloudFormation: Stack with id %s does not exist); check --stack, AWS_REGION and AWS_PROFILE", e.Stack, e.Stack)
}

// FailoverRunningError: the failover lease is held (or was just taken) by another
// execution.
type FailoverRunningError struct {
	Execution string
	Detail    string
}

func (e *FailoverRunningError) Error() string {
	return fmt.Sprintf("another failover is running: %s (%s); wait for it to end (coordinator-ha history) and try again", e.Execution, e.Detail)
}

// NothingToDoError: the command would change nothing.
type NothingToDoError struct{ Why string }

func (e *NothingToDoError) Error() string { return "nothing to do: " + e.Why }

// Exit codes of the command (documented in doc.go and the README).
const (
	ExitHealthy     = 0  // status: healthy; other commands: done
	ExitDegraded    = 1  // status: serving, but something needs attention
	ExitDown        = 2  // status: clients are not served
	ExitFailed      = 3  // the operation failed (an execution failed, an AWS error)
	ExitCredentials = 4  // no credentials, or IAM refused a call
	ExitNoStack     = 5  // no such stack
	ExitRunning     = 6  // another failover is running
	ExitNothingToDo = 7  // nothing to do
	ExitUsage       = 64 // a wrong command line
)

// ExitCode maps an error of a subcommand to the command's exit code.
func ExitCode(err error) int {
	var (
		usage   *UsageError
		stack   *NoSuchStackError
		running *FailoverRunningError
		nothing *NothingToDoError
	)
	switch {
	case err == nil:
		return ExitHealthy
	case errors.As(err, &usage):
		return ExitUsage
	case errors.As(err, &stack):
		return ExitNoStack
	case errors.As(err, &running):
		return ExitRunning
	case errors.As(err, &nothing):
		return ExitNothingToDo
	case awserr.IsAccessDenied(err) || isCredentialsError(err):
		return ExitCredentials
	}
	return ExitFailed
}

// isCredentialsError recognises the SDK's failure to find or use credentials.
func isCredentialsError(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "failed to retrieve credentials") || strings.Contains(msg, "no EC2 IMDS role found") ||
		strings.Contains(msg, "get credentials") || awserr.Code(err) == "ExpiredToken" || awserr.Code(err) == "InvalidClientTokenId" ||
		awserr.Code(err) == "UnrecognizedClientException"
}

// SetProbe sets the prober of the client-visible gap (it needs the stack's URL, known
// only after Open).
func (o *Operator) SetProbe(p Prober) { o.opt.Probe = p }
