package events

// Verdict is the health check's judgement of one coordinator (see design.md).
type Verdict string

// The verdicts. Only GONE and FAILED of the ENI holder lead to a failover; UNATTACHED
// (no instance holds the ENI) leads to the attach path; MANUAL marks an operator's run.
// New verdicts go at the end of Verdicts: their index is their metric value.
const (
	VerdictHealthy     Verdict = "HEALTHY"
	VerdictStarting    Verdict = "STARTING"
	VerdictSuspect     Verdict = "SUSPECT"
	VerdictAgentLost   Verdict = "AGENT_LOST"
	VerdictPartitioned Verdict = "PARTITIONED"
	VerdictFailed      Verdict = "FAILED"
	VerdictGone        Verdict = "GONE"
	VerdictUnattached  Verdict = "UNATTACHED"
	VerdictManual      Verdict = "MANUAL"
	// VerdictForeignHolder: the ENI is attached to an instance that is not a live
	// coordinator of the cluster (someone moved it by hand). Alert only: the health
	// check never takes the IP from an instance it does not manage.
	VerdictForeignHolder Verdict = "FOREIGN_HOLDER"
)

// Verdicts lists every verdict in a stable order (used for metrics and validation).
var Verdicts = []Verdict{VerdictHealthy, VerdictStarting, VerdictSuspect, VerdictAgentLost,
	VerdictPartitioned, VerdictFailed, VerdictGone, VerdictUnattached, VerdictManual, VerdictForeignHolder}

// Valid reports whether v is one of the known verdicts.
func (v Verdict) Valid() bool {
	for _, k := range Verdicts {
		if v == k {
			return true
		}
	}
	return false
}

// TriggersFailover reports whether a verdict on the ENI holder calls for the failover
// state machine (subject to the guards).
func (v Verdict) TriggersFailover() bool {
	return v == VerdictFailed || v == VerdictGone || v == VerdictUnattached || v == VerdictManual
}

// Code is the numeric value of a verdict in the health check's Verdict metric.
func (v Verdict) Code() float64 {
	for i, k := range Verdicts {
		if v == k {
			return float64(i)
		}
	}
	return -1
}
