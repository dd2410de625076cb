package sim

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Realism is the timing model of what happens around the account's API: the schedule's
// ticks, Step Functions and Lambda latencies, the guest OS configuring a moved ENI,
// instance metadata catching up, agent clocks. The harness (the chaos campaign, the
// drill and the bench) draws from it; the account's own eventual consistency is
// Consistency. Every distribution names its source; where AWS publishes no figure the
// field says so and the campaign draws wide.
type Realism struct {
	// Schedule ticks of EventBridge rate(1 minute). A rate rule fires at a fixed phase
	// within the minute (TickPhaseMax: the Trek10 measurement averaged 25 s of delay
	// after the minute), each tick up to TickJitter late (spacings up to 60+11 = 71 s,
	// the largest reported in Zappa issue #806), and with EarlyTickP an extra tick comes
	// 8 to 15 s after the previous one (the shortest reported spacing, 8 s, same issue).
	TickPhaseMax time.Duration
	TickJitter   time.Duration
	EarlyTickP   float64

	// Lambda cold start of a Go provided.al2023 arm64 function: 36 to 44 ms of init
	// (maxday/lambda-perf, 2025-12), paid by a new sandbox (ColdStartP of invocations).
	ColdStartMin, ColdStartMax time.Duration
	ColdStartP                 float64
	// Lambda's asynchronous invocation queue, from an Invoke (InvocationType Event,
	// answered 202 at once) to the function's start: AWS publishes no figure; drawn
	// AsyncInvokeMin to AsyncInvokeMax (an assumption on the wide side), plus a cold
	// start as above.
	AsyncInvokeMin, AsyncInvokeMax time.Duration
	// Step Functions Standard state transition latency, from one state's end to the next
	// Task's invocation. AWS publishes no distribution; drawn 20 to 250 ms (an assumption
	// on the wide side of the tens of milliseconds usually seen).
	TransitionMin, TransitionMax time.Duration

	// The guest OS configuring a hot-attached ENI until its IP serves: GuestMin to
	// GuestMax, and with GuestTailP up to GuestTailMax. What the time is made of, on
	// Amazon Linux 2023 (amazon-ec2-net-utils v2, read at v2.7.4,
	// https://github.com/amazonlinux/amazon-ec2-net-utils):
	//   - not instance metadata: the hypervisor hot-adds the device, the ena driver
	//     probes it, udev names it and systemd-networkd initializes the link. No
	//     distribution is published; the ECS agent's authors measured "an average of
	//     10ms for the ENI's mac address to show up on the instance" (the backoff of
	//     their udev watcher, https://github.com/aws/amazon-ecs-agent/pull/1148), and
	//     a boot log shows
	//     networkd configuring an interface in about 1 s, DHCP included
	//     (https://github.com/amazonlinux/amazon-ec2-net-utils/pull/77). On an
	//     unhealthy instance the device may not appear for minutes, although EC2 says
	//     "attached" (https://github.com/aws/amazon-ecs-agent/issues/1520): a broken
	//     host, not a latency tail, and not modelled.
	//   - instance metadata: the interface first gets DHCP (80-ec2.network), but traffic
	//     from its IP is "routed via the ENI associated with the source address" (the
	//     package's README) only once the source-based policy rule and route table
	//     exist; until then the main table sends replies to the subnet by the primary
	//     interface, whose route has the lower metric (512; the new interface's DHCP
	//     route has networkd's default, 1024, and 513 once ec2-net-utils is done).
	//     amazon-ec2-net-utils writes the rule and table from IMDS:
	//     udev -> policy-routes@IF.service -> setup-policy-routes IF start, which waits
	//     for the link, then (lib/lib.sh) retries the IMDS token up to 30 s, the
	//     network-card key up to 8 x 0.5 s, and the device-number (which reads 0 until
	//     it has propagated, issue #90) up to 60 x 0.1 s, failing the unit when it is
	//     still 0 (Restart=on-failure, RestartSec=1); local-ipv4s is read once, not
	//     retried ("we can't distinguish between an IMDS failure, a propagation delay,
	//     or a legitimately empty response"), so a key that has not propagated leaves
	//     the IP without its rule until refresh-policy-routes@IF.timer runs
	//     (OnActiveSec=30, RandomizedDelaySec=5). IMDS keys of a new interface can
	//     answer 404 after its MAC is listed (issue #38) and take up to 18 s
	//     (https://github.com/aws/amazon-ecs-cni-plugins/pull/66) or about 30 s
	//     (https://github.com/aws/amazon-vpc-cni-k8s/pull/1311) to appear.
	// GuestMin-GuestMax (1-3 s) covers the common case (PR #77); the tail up to
	// GuestTailMax (about 20 s) is the IMDS propagation figure, and GuestTailP (5 %)
	// an assumption: no frequency is published.
	GuestMin, GuestMax time.Duration
	GuestTailP         float64
	GuestTailMax       time.Duration
	// StaticENIConfig: the coordinator hosts carry a systemd-networkd file for the
	// coordinator ENI, matched by its MAC, with its fixed IP, prefix, policy rule and
	// route table (infra/coordinator/bootstrap.sh writes it at boot), sorting before
	// amazon-ec2-net-utils' generated files. networkd applies the first matching
	// .network file in lexical order across /etc, /run and /usr/lib (systemd.network(5);
	// the ec2-net-utils README: "Customers can override the behavior of the package by
	// creating configuration files in ... /etc/systemd/network"), so the IP serves once
	// the link is up, without waiting for IMDS: the IMDS-dependent tail is gone. The
	// device part (GuestMin-GuestMax, kept as it is: no source splits it further)
	// stays. Off, the model is ec2-net-utils alone (the bench reports both).
	StaticENIConfig bool
	// Instance metadata listing a newly attached ENI: up to IMDSLagMax (18 to 30 s in
	// amazon-ecs-cni-plugins PR #66 and amazon-vpc-cni-k8s PR #1311). The holder's agent
	// learns from it that its host holds the ENI; StaticENIConfig does not change it.
	IMDSLagMax time.Duration

	// Agent clock skew: with SkewP an agent's clock is off by up to SkewMax either way
	// (issue 11 reproduces 35 s behind); otherwise within SmallSkew (chrony with the
	// Amazon Time Sync Service keeps EC2 clocks far closer; no figure is relied on).
	SkewP     float64
	SkewMax   time.Duration
	SmallSkew time.Duration
}

// DefaultRealism is the model the chaos campaign and the bench's realistic runs use.
func DefaultRealism() Realism {
	return Realism{
		TickPhaseMax: 50 * time.Second, TickJitter: 11 * time.Second, EarlyTickP: 0.02,
		ColdStartMin: 36 * time.Millisecond, ColdStartMax: 44 * time.Millisecond, ColdStartP: 0.1,
		TransitionMin: 20 * time.Millisecond, TransitionMax: 250 * time.Millisecond,
		AsyncInvokeMin: 50 * time.Millisecond, AsyncInvokeMax: 2 * time.Second,
		GuestMin: time.Second, GuestMax: 3 * time.Second, GuestTailP: 0.05, GuestTailMax: 20 * time.Second,
		StaticENIConfig: true, // the stack ships the file (infra/coordinator/bootstrap.sh)
		IMDSLagMax:      30 * time.Second,
		SkewP:           0.05, SkewMax: 35 * time.Second, SmallSkew: 500 * time.Millisecond,
	}
}

// DefaultConsistency is the account's eventual-consistency model for the campaign and
// the bench's realistic runs.
func DefaultConsistency() Consistency {
	return Consistency{
		EC2ReadLag: 3 * time.Second, EC2ReadLagP: 0.2,
		StatesReadLag:       5 * time.Second,
		NewInstanceNotFound: 5 * time.Second,
		TerminationHook:     0, // on only where a run draws it: a hook is the stack owner's choice
		AttachStuckP:        0.05, AttachStuckMax: 30 * time.Second,
		MetricTailP: 0.05, MetricTailMax: 15 * time.Second,
	}
}

func uniform(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(rng.Int64N(int64(hi-lo)+1))
}

// Ticks returns the tick times of the schedule from start until end.
func (r Realism) Ticks(rng *rand.Rand, start, end time.Time) []time.Time {
	phase := uniform(rng, 0, r.TickPhaseMax)
	var out []time.Time
	for slot := start; slot.Before(end); slot = slot.Add(time.Minute) {
		t := slot.Add(phase + uniform(rng, 0, r.TickJitter))
		if len(out) > 0 && rng.Float64() < r.EarlyTickP {
			if extra := out[len(out)-1].Add(uniform(rng, 8*time.Second, 15*time.Second)); extra.Before(t) && extra.Before(end) {
				out = append(out, extra)
			}
		}
		if t.Before(end) {
			out = append(out, t)
		}
	}
	return out
}

// ColdStart draws the start-up of one Lambda invocation (0 when the sandbox is warm).
func (r Realism) ColdStart(rng *rand.Rand) time.Duration {
	if rng.Float64() >= r.ColdStartP {
		return 0
	}
	return uniform(rng, r.ColdStartMin, r.ColdStartMax)
}

// Transition draws one Step Functions state transition.
func (r Realism) Transition(rng *rand.Rand) time.Duration {
	return uniform(rng, r.TransitionMin, r.TransitionMax)
}

// AsyncInvoke draws how long Lambda's asynchronous queue takes to start an invocation,
// cold start included.
func (r Realism) AsyncInvoke(rng *rand.Rand) time.Duration {
	return uniform(rng, r.AsyncInvokeMin, r.AsyncInvokeMax) + r.ColdStart(rng)
}

// GuestConfig draws how long the guest OS takes to configure a hot-attached ENI until
// its IP serves. With StaticENIConfig the IMDS-dependent tail is gone. Either way it
// draws one coin and one duration, so a draw without the tail is the same in both
// models, and a run that draws no tail is the same run in both.
func (r Realism) GuestConfig(rng *rand.Rand) time.Duration {
	if rng.Float64() < r.GuestTailP && !r.StaticENIConfig {
		return uniform(rng, r.GuestMax, r.GuestTailMax)
	}
	return uniform(rng, r.GuestMin, r.GuestMax)
}

// IMDSLag draws how long instance metadata takes to list a newly attached ENI.
func (r Realism) IMDSLag(rng *rand.Rand) time.Duration { return uniform(rng, 0, r.IMDSLagMax) }

// ClockSkew draws an agent's clock offset (positive: behind).
func (r Realism) ClockSkew(rng *rand.Rand) time.Duration {
	if rng.Float64() < r.SkewP {
		return uniform(rng, -r.SkewMax, r.SkewMax)
	}
	return uniform(rng, -r.SmallSkew, r.SmallSkew)
}

// String prints the model's parameters (the bench's summary shows them).
func (r Realism) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "EventBridge ticks: phase 0-%s, jitter 0-%s late (spacing up to %s), early tick (8-15 s) p=%.2f; ",
		r.TickPhaseMax, r.TickJitter, time.Minute+r.TickJitter, r.EarlyTickP)
	fmt.Fprintf(&b, "Lambda cold start %s-%s p=%.2f; async invoke queue %s-%s; Step Functions transition %s-%s; ", r.ColdStartMin, r.ColdStartMax, r.ColdStartP, r.AsyncInvokeMin, r.AsyncInvokeMax, r.TransitionMin, r.TransitionMax)
	if r.StaticENIConfig {
		fmt.Fprintf(&b, "guest ENI configuration %s-%s (static ENI configuration: no IMDS tail); IMDS lag 0-%s; ", r.GuestMin, r.GuestMax, r.IMDSLagMax)
	} else {
		fmt.Fprintf(&b, "guest ENI configuration %s-%s, tail to %s p=%.2f (amazon-ec2-net-utils alone, waiting on IMDS); IMDS lag 0-%s; ", r.GuestMin, r.GuestMax, r.GuestTailMax, r.GuestTailP, r.IMDSLagMax)
	}
	fmt.Fprintf(&b, "agent clock skew ±%s, ±%s p=%.2f", r.SmallSkew, r.SkewMax, r.SkewP)
	return b.String()
}

// String prints the consistency model's parameters.
func (c Consistency) String() string {
	return fmt.Sprintf("EC2/Auto Scaling reads up to %s stale p=%.2f; ListExecutions/DescribeExecution up to %s stale; NotFound for %s after launch; "+
		"termination lifecycle hook %s; attach stuck attaching up to %s p=%.2f; CloudWatch visibility tail up to %s p=%.2f",
		c.EC2ReadLag, c.EC2ReadLagP, c.StatesReadLag, c.NewInstanceNotFound, c.TerminationHook, c.AttachStuckMax, c.AttachStuckP, c.MetricTailMax, c.MetricTailP)
}
