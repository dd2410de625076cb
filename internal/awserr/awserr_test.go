package awserr

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/smithy-go"
)

func TestClassification(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("attaching eni-1 to i-1: %w", err) }
	cases := []struct {
		name                                            string
		err                                             error
		throttle, transient, notFound, exists, badState bool
	}{
		{"ec2 throttle", New(CodeRequestLimitExceeded, "slow down", smithy.FaultClient), true, true, false, false, false},
		{"autoscaling throttle, wrapped", wrap(New(CodeThrottling, "Rate exceeded", smithy.FaultClient)), true, true, false, false, false},
		{"states throttle", New(CodeThrottlingException, "", smithy.FaultClient), true, true, false, false, false},
		{"sns throttle", New("Throttled", "", smithy.FaultClient), true, true, false, false, false},
		{"ec2 5xx", New(CodeInternalError, "", smithy.FaultServer), false, true, false, false, false},
		{"unknown server fault", New("SomethingBroke", "", smithy.FaultServer), false, true, false, false, false},
		{"instance not found", wrap(New(CodeInvalidInstanceIDNotFound, "", smithy.FaultClient)), false, false, true, false, false},
		{"eni not found", New(CodeInvalidNetworkInterfaceIDNotFound, "", smithy.FaultClient), false, false, true, false, false},
		{"attachment not found", New(CodeInvalidAttachmentIDNotFound, "", smithy.FaultClient), false, false, true, false, false},
		{"execution exists", New(CodeExecutionAlreadyExists, "", smithy.FaultClient), false, false, false, true, false},
		{"incorrect instance state", New(CodeIncorrectInstanceState, "", smithy.FaultClient), false, false, false, false, true},
		{"scaling activity", New(CodeScalingActivityInProgress, "", smithy.FaultClient), false, false, false, false, true},
		{"validation", New(CodeValidationError, "", smithy.FaultClient), false, false, false, false, false},
		{"plain error", errors.New("boom"), false, false, false, false, false},
		{"nil", nil, false, false, false, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := IsThrottle(c.err); got != c.throttle {
				t.Errorf("IsThrottle = %v", got)
			}
			if got := IsTransient(c.err); got != c.transient {
				t.Errorf("IsTransient = %v", got)
			}
			if got := IsNotFound(c.err); got != c.notFound {
				t.Errorf("IsNotFound = %v", got)
			}
			if got := IsAlreadyExists(c.err); got != c.exists {
				t.Errorf("IsAlreadyExists = %v", got)
			}
			if got := IsInvalidState(c.err); got != c.badState {
				t.Errorf("IsInvalidState = %v", got)
			}
		})
	}
}

func TestContextDone(t *testing.T) {
	if !IsContextDone(fmt.Errorf("waiting: %w", context.DeadlineExceeded)) || IsContextDone(errors.New("x")) {
		t.Fatal("IsContextDone misclassifies")
	}
	if Code(errors.New("x")) != "" || Code(New("A", "b", smithy.FaultClient)) != "A" {
		t.Fatal("Code misreads")
	}
}
