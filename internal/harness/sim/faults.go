package sim

import (
	"fmt"
	"time"

	"github.com/aws/smithy-go"

	"github.com/prestoha/coordinator-ha/internal/awserr"
)

// FaultKind says what an injected fault does to a matching call.
type FaultKind int

const (
	// Throttle fails the call with the service's own throttling code (ec2
	// RequestLimitExceeded, autoscaling Throttling, cloudwatch Throttling, states
	// ThrottlingException, sns Throttled) as a client fault. The call has no effect.
	Throttle FaultKind = iota + 1
	// ServerError fails the call with the service's 5xx-class code (ec2 InternalError,
	// autoscaling InternalFailure, cloudwatch InternalServiceError, states
	// ServiceUnavailable, sns InternalError) as a server fault. The call has no effect.
	ServerError
	// Latency delays the call by Fault.Latency on the account's clock (Clock.Sleep,
	// honouring ctx) before it is answered normally.
	Latency
	// StaleRead makes read calls (Describe*, List*, GetMetricData is unaffected) answer
	// from the state as it was Fault.Latency ago (5s when zero): precisely, from the
	// last state the account committed at or before now-Latency, which is an empty
	// account when it is younger than that. This models EC2's and Auto Scaling's
	// eventual consistency (a new instance not yet found, an ENI still shown attached).
	// Mutating calls are not affected and do not consume the fault.
	StaleRead
	// LostReply applies the call and then fails it with the 5xx-class code, as when the
	// response is lost after AWS acted: the caller must not assume nothing happened.
	// As with every error, the caller gets no output.
	LostReply
	// QueryError answers GetMetricData normally at the call level, but every query's
	// result carries StatusCode InternalError and no datapoints. GetMetricData
	// reference, MetricDataResult.StatusCode: "InternalError indicates that an error
	// occurred"; the call itself succeeds, so a caller that only checks the call's
	// error reads the query as silence.
	QueryError
	// QueryPartial answers every query with StatusCode PartialData and only the older
	// half of its datapoints (newest ones missing). The reference: "PartialData means
	// that an incomplete set of data points were returned"; AWS adds a NextToken to
	// fetch the rest, which the simulated account does not (a stricter case: the
	// missing points are not to be had in this call).
	QueryPartial
	// NotFound answers DescribeInstances with InvalidInstanceID.NotFound for the ids
	// asked for, although they exist (EC2 API reference, "Eventual consistency in the
	// Amazon EC2 API": "If you try to describe a resource that you just created... you
	// might get an InvalidInstanceID.NotFound error"). Only calls that name instance ids
	// are affected.
	NotFound
)

func (k FaultKind) String() string {
	switch k {
	case Throttle:
		return "Throttle"
	case ServerError:
		return "ServerError"
	case Latency:
		return "Latency"
	case StaleRead:
		return "StaleRead"
	case LostReply:
		return "LostReply"
	case QueryError:
		return "QueryError"
	case QueryPartial:
		return "QueryPartial"
	case NotFound:
		return "NotFound"
	}
	return fmt.Sprintf("FaultKind(%d)", int(k))
}

// Fault is an injected failure. Empty Service, Operation and Caller match any.
type Fault struct {
	Service   string // "ec2", "autoscaling", "cloudwatch", "states", "sns"
	Operation string // e.g. "AttachNetworkInterface"
	Caller    string
	Kind      FaultKind
	Times     int           // how many matching calls it affects; 0 = until ClearFaults
	Latency   time.Duration // for Latency; the staleness for StaleRead
}

type faultRule struct {
	Fault
	left int // remaining uses; -1 = unlimited
}

// Inject adds a fault. Faults are matched in the order they were injected; a call is
// affected by at most one fault of each kind.
func (a *Account) Inject(f Fault) {
	a.mu.Lock()
	defer a.mu.Unlock()
	left := f.Times
	if left <= 0 {
		left = -1
	}
	a.faults = append(a.faults, &faultRule{Fault: f, left: left})
}

// ClearFaults removes every injected fault.
func (a *Account) ClearFaults() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.faults = nil
}

// PendingFaults returns the injected faults that still have uses left; Times is the
// number of uses left (0 = unlimited).
func (a *Account) PendingFaults() []Fault {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []Fault
	for _, r := range a.faults {
		if r.left != 0 {
			f := r.Fault
			f.Times = max(r.left, 0)
			out = append(out, f)
		}
	}
	return out
}

// faultPlan is what the matching faults do to one call.
type faultPlan struct {
	latency   time.Duration
	err       error // fail before applying
	staleBy   time.Duration
	lostReply error     // fail after applying
	query     FaultKind // QueryError or QueryPartial: GetMetricData's per-query status
	notFound  bool      // DescribeInstances by id answers NotFound
}

// readOps are the operations StaleRead applies to.
var readOps = map[string]bool{
	"DescribeInstances": true, "DescribeNetworkInterfaces": true,
	"DescribeAutoScalingGroups": true, "ListExecutions": true, "DescribeExecution": true,
}

// matchFaults consumes the faults that apply to a call. Callers hold the lock.
func (a *Account) matchFaults(caller, service, op string) faultPlan {
	var p faultPlan
	used := map[FaultKind]bool{}
	for _, r := range a.faults {
		if r.left == 0 || used[r.Kind] {
			continue
		}
		if (r.Service != "" && r.Service != service) || (r.Operation != "" && r.Operation != op) ||
			(r.Caller != "" && r.Caller != caller) {
			continue
		}
		switch r.Kind {
		case Latency:
			p.latency = r.Latency
		case Throttle:
			if p.err != nil {
				continue
			}
			p.err = throttleError(service, op)
		case ServerError:
			if p.err != nil {
				continue
			}
			p.err = serverError(service, op)
		case StaleRead:
			if !readOps[op] {
				continue
			}
			p.staleBy = r.Latency
			if p.staleBy <= 0 {
				p.staleBy = 5 * time.Second
			}
		case LostReply:
			p.lostReply = serverError(service, op)
		case QueryError, QueryPartial:
			if op != "GetMetricData" || p.query != 0 {
				continue
			}
			p.query = r.Kind
		case NotFound:
			if op != "DescribeInstances" {
				continue
			}
			p.notFound = true
		default:
			continue
		}
		used[r.Kind] = true
		if r.left > 0 {
			r.left--
		}
	}
	return p
}

func throttleError(service, op string) error {
	code := map[string]string{
		"ec2": awserr.CodeRequestLimitExceeded, "autoscaling": awserr.CodeThrottling,
		"cloudwatch": awserr.CodeThrottling, "states": awserr.CodeThrottlingException,
		"sns": "Throttled",
	}[service]
	if code == "" {
		code = awserr.CodeThrottling
	}
	return awserr.New(code, fmt.Sprintf("Rate exceeded (simulated throttling of %s:%s)", service, op), smithy.FaultClient)
}

func serverError(service, op string) error {
	code := map[string]string{
		"ec2": awserr.CodeInternalError, "autoscaling": awserr.CodeInternalFailure,
		"cloudwatch": "InternalServiceError", "states": awserr.CodeServiceUnavailable,
		"sns": awserr.CodeInternalError,
	}[service]
	if code == "" {
		code = awserr.CodeInternalError
	}
	return awserr.New(code, fmt.Sprintf("An internal error has occurred (simulated %s:%s)", service, op), smithy.FaultServer)
}
