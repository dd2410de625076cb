package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/awsapi"
	"github.com/prestoha/coordinator-ha/internal/clock"
)

// Doorbell wakes the health check when this agent sees the active coordinator fail, so
// that the evaluation does not wait for the next tick (the health check evaluates once
// a minute while everything is healthy; see internal/healthcheck, "Calm and suspect").
type Doorbell interface {
	Ring(ctx context.Context, instanceID, reason string) error
}

// DoorbellRepeat is how soon the agent rings again while the failure it rang for goes
// on: shorter than the health check's LoopSpan (80 s), so while an agent sees the
// failure one invocation or the next is always evaluating every check interval, even
// when a tick in between found the cluster calm (a witness blip over, reports not yet
// visible); and it covers a ring that was lost. One invocation a minute per ringing
// agent, only while a failure lasts.
const DoorbellRepeat = time.Minute

// LambdaDoorbell rings by invoking the health check function asynchronously
// (InvocationType Event: Lambda queues the event and answers 202 at once, and retries
// the invocation itself). The host role may invoke that one function only.
type LambdaDoorbell struct {
	client   awsapi.LambdaAPI
	function string
	clock    clock.Clock
}

// NewLambdaDoorbell returns a doorbell that invokes function (a name or ARN).
func NewLambdaDoorbell(client awsapi.LambdaAPI, function string, clk clock.Clock) *LambdaDoorbell {
	if clk == nil {
		clk = clock.Real{}
	}
	return &LambdaDoorbell{client: client, function: function, clock: clk}
}

// DoorbellEvent is the event a ring delivers: a ScheduleEvent with the doorbell's
// source and detail type, naming the ringing instance and why. It carries no evidence.
func DoorbellEvent(instanceID, reason string, at time.Time) events.ScheduleEvent {
	detail, _ := json.Marshal(map[string]string{"reason": reason})
	return events.ScheduleEvent{Version: "0", ID: fmt.Sprintf("doorbell-%s-%d", instanceID, at.UnixMilli()),
		DetailType: events.DoorbellDetailType, Source: events.DoorbellSource, Time: at.UTC().Truncate(time.Second),
		Resources: []string{instanceID}, Detail: detail}
}

// Ring invokes the health check once.
func (d *LambdaDoorbell) Ring(ctx context.Context, instanceID, reason string) error {
	payload, err := json.Marshal(DoorbellEvent(instanceID, reason, d.clock.Now()))
	if err != nil {
		return err
	}
	_, err = d.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(d.function),
		InvocationType: lambdatypes.InvocationTypeEvent, Payload: payload})
	if err != nil {
		return fmt.Errorf("ringing the health check %s: %w", d.function, err)
	}
	return nil
}
