package events

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Step names, used in the timeline and as the state names of the state machine.
const (
	StepDetect    = "Detect"
	StepTerminate = "Terminate"
	StepAttachENI = "AttachENI"
	StepLaunch    = "LaunchStandby"
	StepWait      = "WaitForStandby"
	StepNotify    = "Notify"
)

// Outcomes of the whole execution, set by Notify.
const (
	OutcomeFailedOver = "FAILED_OVER"
	OutcomeSuperseded = "SUPERSEDED"
	OutcomeFailed     = "FAILED"
)

// FailoverState is the one document that flows through the failover state machine.
// The health check starts an execution with the input fields set (cluster .. detectedAt,
// and a first timeline entry); each step Lambda receives the whole document and returns
// it with its own result and one or more timeline entries added. The execution's output
// is therefore the complete history of the failover: what failed, why, and when each
// step happened. A Catch stores the error in Error and goes on to Notify; the Catch of
// the success-path Notify stores its own error in NotifyError.
type FailoverState struct {
	Cluster          string `json:"cluster"`
	ENIID            string `json:"eniId"`
	FailedInstanceID string `json:"failedInstanceId,omitempty"` // empty when no instance held the ENI
	// TargetInstanceID, when set, is the standby the ENI must go to (a planned
	// switchover, verdict MANUAL): AttachENI attaches it there or nowhere, refusing, as a
	// PermanentError before any change of its own, a target that is not a healthy
	// InService member. Empty: the best healthy standby, as in every failover.
	TargetInstanceID string    `json:"targetInstanceId,omitempty"`
	Verdict          Verdict   `json:"verdict"`
	Reason           string    `json:"reason"`
	Evidence         *Evidence `json:"evidence,omitempty"`
	DetectedAt       time.Time `json:"detectedAt"`
	// Lease is the cluster-wide failover lease this execution holds (see LeaseName); set
	// by whoever started the execution through the lease protocol.
	Lease *Lease `json:"lease,omitempty"`

	Terminate *TerminateResult `json:"terminate,omitempty"`
	Attach    *AttachResult    `json:"attach,omitempty"`
	Launch    *LaunchResult    `json:"launch,omitempty"`
	Notify    *NotifyResult    `json:"notify,omitempty"`
	Error     *CatchError      `json:"error,omitempty"`
	// NotifyError is set by the Catch of the success-path Notify state when the
	// notification could not be sent: the failover itself worked, so the execution
	// still succeeds, and this field (not Error) says the message is missing.
	NotifyError *CatchError `json:"notifyError,omitempty"`

	Timeline []TimelineEntry `json:"timeline"`
}

// Evidence is what the health check saw when it decided; it travels with the
// execution so the console shows why a failover happened.
type Evidence struct {
	EC2State    string          `json:"ec2State"`
	WindowStart time.Time       `json:"windowStart"`
	WindowEnd   time.Time       `json:"windowEnd"`
	SelfReports ReportSummary   `json:"selfReports"`
	Witnesses   []WitnessReport `json:"witnesses"`
	Note        string          `json:"note,omitempty"`
}

// ReportSummary counts a coordinator's self-reports inside the evaluation window.
type ReportSummary struct {
	Healthy       int        `json:"healthy"`
	Unhealthy     int        `json:"unhealthy"`
	Starting      int        `json:"starting"`
	LastReportAt  *time.Time `json:"lastReportAt,omitempty"`
	LastHealthyAt *time.Time `json:"lastHealthyAt,omitempty"`
}

// WitnessReport is one standby's view of the active coordinator through the ENI IP.
type WitnessReport struct {
	InstanceID   string     `json:"instanceId"`
	Reached      int        `json:"reached"`
	Unreached    int        `json:"unreached"`
	LastReportAt *time.Time `json:"lastReportAt,omitempty"`
	// LastReached is what the witness's latest report said (nil without one).
	LastReached *bool `json:"lastReached,omitempty"`
}

// TimelineEntry is one moment of a failover.
type TimelineEntry struct {
	Step   string    `json:"step"`
	Event  string    `json:"event"`
	At     time.Time `json:"at"`
	Detail string    `json:"detail,omitempty"`
}

// Terminate outcomes.
const (
	TerminateFenced     = "FENCED"     // the failed instance was terminated and the ENI is available
	TerminateSuperseded = "SUPERSEDED" // the ENI is no longer on the failed instance: someone else moved it
	TerminateNoHolder   = "NO_HOLDER"  // no instance held the ENI (UNATTACHED); nothing to fence
)

// TerminateResult is the Terminate (fence) step's result.
type TerminateResult struct {
	Outcome       string    `json:"outcome"`
	InstanceState string    `json:"instanceState,omitempty"` // of the failed instance when confirmed
	ENIStatus     string    `json:"eniStatus"`               // of the ENI when the step ended
	ENIHolder     string    `json:"eniHolder,omitempty"`     // with SUPERSEDED: who holds it now
	ForcedDetach  bool      `json:"forcedDetach"`
	FencedAt      time.Time `json:"fencedAt"`
}

// AttachENI outcomes.
const (
	AttachAttached  = "ATTACHED"
	AttachNoStandby = "NO_STANDBY"
)

// AttachResult is the AttachENI step's result.
type AttachResult struct {
	Outcome      string      `json:"outcome"`
	InstanceID   string      `json:"instanceId,omitempty"`
	AttachmentID string      `json:"attachmentId,omitempty"`
	DeviceIndex  int32       `json:"deviceIndex,omitempty"`
	AttachedAt   *time.Time  `json:"attachedAt,omitempty"`
	Candidates   []Candidate `json:"candidates"`
	Attempts     int         `json:"attempts"` // AttachENI runs so far in this execution (slow path loops)
	MaxAttempts  int         `json:"maxAttempts,omitempty"`
}

// Candidate is one coordinator AttachENI considered, and why it was or was not chosen.
type Candidate struct {
	InstanceID     string `json:"instanceId"`
	AZ             string `json:"az,omitempty"`
	State          string `json:"state,omitempty"`
	HealthyReports int    `json:"healthyReports"`
	Rejected       string `json:"rejected,omitempty"` // empty for the chosen one
}

// LaunchStandby outcomes.
const (
	LaunchRequested  = "REQUESTED"   // capacity was raised or a replacement is on its way
	LaunchAtCapacity = "AT_CAPACITY" // the pool already has HACoordinatorsCount live members
)

// LaunchResult is the LaunchStandby step's result.
type LaunchResult struct {
	Outcome         string   `json:"outcome"`
	DesiredCapacity int32    `json:"desiredCapacity"`
	Live            int32    `json:"live"` // pending or in service, not terminating
	NewInstanceIDs  []string `json:"newInstanceIds"`
	TaggedStandby   []string `json:"taggedStandby"`
}

// NotifyResult is the Notify step's result.
type NotifyResult struct {
	Outcome   string `json:"outcome"`
	Subject   string `json:"subject"`
	MessageID string `json:"messageId,omitempty"`
}

// CatchError is what a Step Functions Catch with ResultPath "$.error" (or
// "$.notifyError") stores.
type CatchError struct {
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}

var (
	instanceIDRe = regexp.MustCompile(`^i-[0-9a-f]{8,17}$`)
	eniIDRe      = regexp.MustCompile(`^eni-[0-9a-f]{8,17}$`)
	clusterRe    = regexp.MustCompile(`^[A-Za-z0-9_-]{1,40}$`)
)

// ValidInstanceID reports whether s has the shape of an EC2 instance id.
func ValidInstanceID(s string) bool { return instanceIDRe.MatchString(s) }

// ValidENIID reports whether s has the shape of an ENI id.
func ValidENIID(s string) bool { return eniIDRe.MatchString(s) }

// ValidCluster reports whether s can name a cluster: it becomes part of execution names
// (at most 80 characters of letters, digits, '-' and '_'), so it is kept to 40.
func ValidCluster(s string) bool { return clusterRe.MatchString(s) }

// Validate checks the input fields every step relies on.
func (s *FailoverState) Validate() error {
	var errs fieldErrors
	errs.require(s.Cluster != "", "cluster")
	errs.check(s.Cluster == "" || ValidCluster(s.Cluster), fmt.Sprintf("cluster %q: use 1 to 40 letters, digits, '-' or '_'", s.Cluster))
	errs.require(s.ENIID != "", "eniId")
	errs.check(s.ENIID == "" || ValidENIID(s.ENIID), fmt.Sprintf("eniId %q is not an ENI id (eni-...)", s.ENIID))
	errs.check(s.Verdict.Valid(), fmt.Sprintf("verdict %q is not one of %v", s.Verdict, Verdicts))
	errs.check(!s.Verdict.Valid() || s.Verdict.TriggersFailover(), fmt.Sprintf("verdict %s does not call for a failover", s.Verdict))
	if s.Verdict != VerdictUnattached {
		errs.require(s.FailedInstanceID != "", "failedInstanceId (required unless the verdict is UNATTACHED)")
	}
	errs.check(s.FailedInstanceID == "" || ValidInstanceID(s.FailedInstanceID), fmt.Sprintf("failedInstanceId %q is not an instance id (i-...)", s.FailedInstanceID))
	errs.check(s.TargetInstanceID == "" || ValidInstanceID(s.TargetInstanceID), fmt.Sprintf("targetInstanceId %q is not an instance id (i-...)", s.TargetInstanceID))
	errs.check(s.TargetInstanceID == "" || s.TargetInstanceID != s.FailedInstanceID, fmt.Sprintf("targetInstanceId %s is the instance to fence", s.TargetInstanceID))
	errs.require(!s.DetectedAt.IsZero(), "detectedAt")
	if s.Lease != nil {
		errs.check(s.Lease.Generation > 0, fmt.Sprintf("lease generation %d: must be at least 1", s.Lease.Generation))
	}
	return errs.err("failover state")
}

// DecodeFailoverState parses and validates the document a step receives.
func DecodeFailoverState(data []byte) (*FailoverState, error) {
	var s FailoverState
	if err := decodeStrict(data, &s, "failover state"); err != nil {
		return nil, err
	}
	return &s, s.Validate()
}

// AddEvent appends a timeline entry.
func (s *FailoverState) AddEvent(step, event string, at time.Time, detail string) {
	s.Timeline = append(s.Timeline, TimelineEntry{Step: step, Event: event, At: at.UTC(), Detail: detail})
}

// Lease is the cluster's failover lease an execution holds: its generation (the number
// in its name, LeaseName) and a token unique to the starter, so that two starters never
// send the same input (StartExecution returns an existing RUNNING execution instead of
// failing when name and input are both the same).
type Lease struct {
	Generation int    `json:"generation"`
	Holder     string `json:"holder"` // who took it: "healthcheck/<token>", "manual/<who>"
}

// LeasePrefix is the part of every failover execution name before the generation.
func LeasePrefix(cluster string) string { return cluster + "-failover-" }

// LeaseName is the name of the execution that holds generation gen of the cluster's
// failover lease: "<cluster>-failover-<gen, 6 digits>". Step Functions refuses a second
// execution with a name already used on the state machine (ExecutionAlreadyExists, for
// 90 days after it ended), atomically and not eventually: taking generation gen is a
// conditional create. internal/lease takes gen only after seeing gen-1
// ended, so at most one execution of a cluster runs at a time.
func LeaseName(cluster string, gen int) string {
	return fmt.Sprintf("%s%06d", LeasePrefix(cluster), gen)
}

// ParseLeaseName returns the generation of a lease name of cluster, or false.
func ParseLeaseName(cluster, name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, LeasePrefix(cluster))
	if !ok || rest == "" || len(rest) > 9 {
		return 0, false
	}
	n := 0
	for _, r := range rest {
		if r < '0' || r > '9' {
			return 0, false
		}
		n = n*10 + int(r-'0')
	}
	return n, n > 0
}

// AttemptName is the name of the attempt-th execution for one failure (attempt 1 is
// name itself): when an earlier execution ended without curing the failure (the same
// instance still holds the ENI and still fails), the health check tries again under
// "<name>-a<attempt>", which stays deterministic and within 80 characters.
func AttemptName(name string, attempt int) string {
	if attempt <= 1 {
		return name
	}
	suffix := fmt.Sprintf("-a%d", attempt)
	if len(name)+len(suffix) > 80 {
		name = name[:80-len(suffix)]
	}
	return name + suffix
}

// ExecutionName is the deterministic name of the failover execution for a failure:
// "<cluster>-<failed instance id>", or "<cluster>-unattached-<eni id>-<minute>" when no
// instance held the ENI. A second trigger for the same failure therefore collides with
// the first instead of starting a second failover.
func ExecutionName(cluster, failedInstanceID, eniID string, detectedAt time.Time) string {
	var name string
	if failedInstanceID != "" {
		name = cluster + "-" + failedInstanceID
	} else {
		name = fmt.Sprintf("%s-unattached-%s-%s", cluster, eniID, detectedAt.UTC().Format("20060102T1504"))
	}
	if len(name) > 80 {
		name = name[:80]
	}
	return name
}
