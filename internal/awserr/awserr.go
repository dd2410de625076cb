// Package awserr classifies AWS errors in one place, so that retry decisions and
// idempotency checks read the same way everywhere (modelled on karpenter's pkg/errors).
package awserr

import (
	"context"
	"errors"
	"strings"

	"github.com/aws/smithy-go"
)

// Error codes AWS returns for the situations the control plane reacts to. The simulated
// account returns exactly these codes, so the classification below is exercised by tests.
const (
	CodeThrottling                        = "Throttling"
	CodeThrottlingException               = "ThrottlingException"
	CodeRequestLimitExceeded              = "RequestLimitExceeded"
	CodeTooManyRequests                   = "TooManyRequestsException"
	CodeInternalError                     = "InternalError"
	CodeInternalFailure                   = "InternalFailure"
	CodeServiceUnavailable                = "ServiceUnavailable"
	CodeInvalidInstanceIDNotFound         = "InvalidInstanceID.NotFound"
	CodeInvalidNetworkInterfaceIDNotFound = "InvalidNetworkInterfaceID.NotFound"
	CodeInvalidAttachmentIDNotFound       = "InvalidAttachmentID.NotFound"
	CodeIncorrectInstanceState            = "IncorrectInstanceState"
	CodeIncorrectState                    = "IncorrectState"
	CodeInvalidParameterValue             = "InvalidParameterValue"
	CodeInvalidParameterCombination       = "InvalidParameterCombination"
	CodeOperationNotPermitted             = "OperationNotPermitted"
	CodeResourceInUse                     = "ResourceInUse"
	CodeValidationError                   = "ValidationError"
	CodeScalingActivityInProgress         = "ScalingActivityInProgress"
	CodeResourceContention                = "ResourceContention"
	CodeExecutionAlreadyExists            = "ExecutionAlreadyExists"
	CodeExecutionDoesNotExist             = "ExecutionDoesNotExist"
	CodeStateMachineDoesNotExist          = "StateMachineDoesNotExist"
	CodeExecutionLimitExceeded            = "ExecutionLimitExceeded"
	CodeInvalidName                       = "InvalidName"
	CodeNotFound                          = "NotFound"
	CodeResourceNotFound                  = "ResourceNotFound"
	CodeAccessDenied                      = "AccessDenied"          // CloudWatch, Auto Scaling, STS
	CodeAccessDeniedException             = "AccessDeniedException" // Step Functions
	CodeUnauthorizedOperation             = "UnauthorizedOperation" // EC2
	CodeAuthorizationError                = "AuthorizationError"    // SNS
)

var throttleCodes = map[string]bool{
	CodeThrottling: true, CodeThrottlingException: true, CodeRequestLimitExceeded: true,
	CodeTooManyRequests: true, "Throttled": true, "SlowDown": true, "PriorRequestNotComplete": true,
	"ProvisionedThroughputExceededException": true, "EC2ThrottledException": true,
	CodeResourceContention: true,
}

var transientCodes = map[string]bool{
	CodeInternalError: true, CodeInternalFailure: true, CodeServiceUnavailable: true,
	"Unavailable": true, "RequestTimeout": true, "RequestTimeoutException": true,
	"ServiceUnavailableException": true, "InternalServerError": true,
}

// Code returns the AWS error code of err, or "" when err does not carry one.
func Code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// IsThrottle reports whether err is AWS asking the caller to slow down.
func IsThrottle(err error) bool { return throttleCodes[Code(err)] }

// IsTransient reports whether err is worth retrying: throttling, a 5xx-class server
// fault, or a request that timed out on its own (not because the caller's context ended).
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	code := Code(err)
	if throttleCodes[code] || transientCodes[code] {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorFault() == smithy.FaultServer {
		return true
	}
	return false
}

// IsNotFound reports whether err says the named resource does not exist.
func IsNotFound(err error) bool {
	code := Code(err)
	return strings.HasSuffix(code, ".NotFound") || strings.HasSuffix(code, "NotFound") ||
		code == CodeExecutionDoesNotExist || code == CodeStateMachineDoesNotExist
}

// IsAlreadyExists reports whether err says the thing being created exists already.
func IsAlreadyExists(err error) bool {
	code := Code(err)
	return code == CodeExecutionAlreadyExists || strings.HasSuffix(code, "AlreadyExists") ||
		strings.HasSuffix(code, ".Duplicate")
}

// IsInvalidState reports whether err says the resource is in the wrong state for the call
// (an instance not running, an ENI already attached or still detaching, a scaling activity).
func IsInvalidState(err error) bool {
	switch Code(err) {
	case CodeIncorrectInstanceState, CodeIncorrectState, CodeResourceInUse,
		CodeScalingActivityInProgress, CodeOperationNotPermitted:
		return true
	}
	return false
}

// IsAccessDenied reports whether err is IAM refusing the call (each service spells it
// its own way).
func IsAccessDenied(err error) bool {
	switch Code(err) {
	case CodeAccessDenied, CodeAccessDeniedException, CodeUnauthorizedOperation, CodeAuthorizationError:
		return true
	}
	return false
}

// IsContextDone reports whether err comes from the caller's context ending.
func IsContextDone(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// New builds an API error with AWS's shape, for the simulated account and for tests.
func New(code, message string, fault smithy.ErrorFault) error {
	return &smithy.GenericAPIError{Code: code, Message: message, Fault: fault}
}
