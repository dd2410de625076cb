package sim

import (
	"time"
)

// Consistency is the account's eventual-consistency model, off (zero) by default. Each
// field follows a documented AWS behaviour; SetConsistency switches them on.
type Consistency struct {
	// EC2ReadLag: a read of EC2 or Auto Scaling (Describe*) answers, with probability
	// EC2ReadLagP, from the state as it was up to EC2ReadLag ago (uniform), so a read
	// right after a mutation may show the old state. EC2 API reference, "Eventual
	// consistency in the Amazon EC2 API": "the result of an API command you run that
	// creates or modifies resources might not be immediately available to all subsequent
	// commands". AWS publishes no figure; the campaign draws up to a few seconds.
	EC2ReadLag  time.Duration
	EC2ReadLagP float64
	// StatesReadLag: ListExecutions and DescribeExecution answer from the state up to
	// StatesReadLag ago (uniform), always. Step Functions ListExecutions reference:
	// "This operation is eventually consistent. The results are best effort and may not
	// reflect very recent updates and changes" (DescribeExecution carries the same note).
	StatesReadLag time.Duration
	// NewInstanceNotFound: DescribeInstances naming an instance launched less than this
	// long ago answers InvalidInstanceID.NotFound (EC2 API reference, eventual
	// consistency: "If you try to describe a resource that you just created... you might
	// get an InvalidInstanceID.NotFound error").
	NewInstanceNotFound time.Duration

	// TerminationHook: a Terminating:Wait lifecycle hook on the groups. An instance
	// terminated through TerminateInstanceInAutoScalingGroup stays running, lifecycle Terminating:Wait, for this long before it shuts down
	// (Amazon EC2 Auto Scaling user guide, "Lifecycle hooks": "the instance remains in a
	// wait state until you complete the lifecycle action or the timeout period ends",
	// default heartbeat timeout 3600 s). TerminateInstances through EC2 is not held.
	TerminationHook time.Duration

	// AttachStuckP and AttachStuckMax: with this probability an attachment stays
	// "attaching" for up to AttachStuckMax more (uniform) before it is "attached". No
	// published distribution: reports of attachments that stay in a transitional state
	// (ansible amazon.aws PR #501: "detaching" after 200 s; amazon-ecs-agent #1520:
	// "attached" long before usable).
	AttachStuckP   float64
	AttachStuckMax time.Duration

	// MetricTailP and MetricTailMax: with this probability the datapoints of a
	// PutMetricData call become visible to GetMetricData up to MetricTailMax (uniform)
	// later than Timings.MetricIngestionDelay. CloudWatch publishes no visibility
	// latency for fresh data (PutMetricData reference: "data points... typically"
	// become available within a short time; older time stamps take far longer).
	MetricTailP   float64
	MetricTailMax time.Duration
}

// draw returns up to max with probability p (uniform), else 0. Callers hold the lock.
func (a *Account) draw(p float64, max time.Duration) time.Duration {
	if p <= 0 || max <= 0 || a.rng.Float64() >= p {
		return 0
	}
	return time.Duration(a.rng.Int64N(int64(max) + 1))
}

// SetConsistency switches the eventual-consistency model (zero: strongly consistent).
func (a *Account) SetConsistency(c Consistency) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.cons = c
}

// readLag draws how stale one read is. Callers hold the lock.
func (a *Account) readLag(service, op string, mutating bool) time.Duration {
	if mutating || !readOps[op] {
		return 0
	}
	c := a.cons
	switch service {
	case "ec2", "autoscaling":
		if c.EC2ReadLag > 0 && a.rng.Float64() < c.EC2ReadLagP {
			return time.Duration(a.rng.Int64N(int64(c.EC2ReadLag) + 1))
		}
	case "states":
		if c.StatesReadLag > 0 {
			return time.Duration(a.rng.Int64N(int64(c.StatesReadLag) + 1))
		}
	}
	return 0
}

// justCreated reports whether any of ids was launched less than NewInstanceNotFound
// ago. Callers hold the lock.
func (a *Account) justCreated(w *world, ids []string) bool {
	if a.cons.NewInstanceNotFound <= 0 {
		return false
	}
	now := a.clk.Now()
	for _, id := range ids {
		if i, ok := w.instances[id]; ok && now.Sub(i.launchTime) < a.cons.NewInstanceNotFound {
			return true
		}
	}
	return false
}
