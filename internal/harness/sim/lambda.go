package sim

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	"github.com/prestoha/coordinator-ha/internal/awserr"
)

// Invocation is an asynchronous Lambda invocation the account accepted.
type Invocation struct {
	Function string // function name
	Payload  []byte
	Caller   string
	At       time.Time
}

// CreateFunction registers a Lambda function by name and returns its ARN. The account
// runs no code: OnInvoke hooks hear each accepted asynchronous invocation, and the
// harness runs the function (the drill's health check sandboxes).
func (a *Account) CreateFunction(name string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.functions == nil {
		a.functions = map[string]bool{}
	}
	a.functions[name] = true
	return a.FunctionARN(name)
}

// FunctionARN is the ARN of the function named name in this account.
func (a *Account) FunctionARN(name string) string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", a.region, a.accountID, name)
}

// OnInvoke registers f to hear every accepted invocation, after the call returns.
func (a *Account) OnInvoke(f func(Invocation)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.onInvoke = append(a.onInvoke, f)
}

// lambdaClient implements awsapi.LambdaAPI for one caller.
type lambdaClient struct{ client }

// Invoke implements Lambda Invoke with InvocationType Event, the only type the product
// uses: FunctionName is a name or this account's function ARN (ResourceNotFoundException
// for an unknown function, InvalidParameterValueException for another account's ARN or
// another type); the payload must be JSON of at most 256 KiB (Lambda's limit for
// asynchronous invocation; RequestTooLargeException). The answer is 202, as Lambda
// queues the event; the OnInvoke hooks hear it.
func (c *lambdaClient) Invoke(ctx context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	return write(ctx, c.client, "InvokeFunction", in, c.invoke)
}

func lambdaErr(code, format string, args ...any) error {
	return awserr.New(code, fmt.Sprintf(format, args...), smithy.FaultClient)
}

func (c *lambdaClient) invoke(in *lambda.InvokeInput) (*lambda.InvokeOutput, error) {
	a := c.a
	name := aws.ToString(in.FunctionName)
	if strings.HasPrefix(name, "arn:") {
		prefix := a.FunctionARN("")
		if !strings.HasPrefix(name, prefix) {
			return nil, lambdaErr("InvalidParameterValueException", "function ARN %s is not in this account and region", name)
		}
		name = strings.TrimPrefix(name, prefix)
	}
	if !a.functions[name] {
		return nil, lambdaErr("ResourceNotFoundException", "Function not found: %s", a.FunctionARN(name))
	}
	if in.InvocationType != lambdatypes.InvocationTypeEvent {
		return nil, lambdaErr("InvalidParameterValueException", "the simulated account runs no code: only InvocationType Event, not %q", in.InvocationType)
	}
	if len(in.Payload) > 256*1024 {
		return nil, lambdaErr("RequestTooLargeException", "Request must be smaller than 262144 bytes for the InvokeAsync operation")
	}
	inv := Invocation{Function: name, Payload: append([]byte(nil), in.Payload...), Caller: c.caller, At: a.clk.Now()}
	for _, f := range a.onInvoke {
		a.hookQueue = append(a.hookQueue, func() { f(inv) })
	}
	return &lambda.InvokeOutput{StatusCode: 202}, nil
}
