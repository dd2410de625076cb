// Package agent is the on-host agent that runs beside every coordinator, active or
// standby (binary ./agent, coordinator-agent). Every ProbeInterval it probes the local
// server's /v1/info on loopback (package probe) and records a self-report; on a standby
// it also probes the active coordinator through the ENI IP and records a witness report.
// Both go to CloudWatch through package signal's datums, stamped with the time each
// probe finished.
//
// Role: a RoleSource says which instance this is and whether it holds the coordinator
// ENI. On EC2 that is IMDSRole (IMDSv2: instance-id, and the interface-id of every MAC
// under network/interfaces/macs/), re-checked every RoleInterval because a failover moves
// the ENI. The local drill supplies its own RoleSource. Until the first role check
// succeeds nothing is published (a sample needs an instance id); after that a failing
// check keeps the last known role.
//
// Witness: reached means the ENI IP answered HTTP 200 with a JSON /v1/info whose
// coordinator is true, whatever starting and state say (probe.Result.Answered). The
// question a witness answers is "is a coordinator process there and serving HTTP?": it
// tells a dead coordinator apart from a lost agent or a cut path to CloudWatch. Whether
// that coordinator is fit for work is its own self-report's job. The active does not
// witness itself.
//
// Publishing: samples accumulate in a bounded buffer (MaxBuffered, oldest dropped and
// counted, one warning per burst of drops) and a flusher sends them every
// PublishInterval in PutMetricData calls of at most 1000 datums. Throttling, 5xx and
// network errors are retried with exponential backoff and full jitter; a batch that still
// fails goes back to the buffer for the next flush, so a long CloudWatch outage costs
// neither memory (the buffer is bounded) nor a crash. Errors CloudWatch returns for the
// batch itself (validation, access denied) drop the batch with a log. On shutdown the
// agent flushes once more within ShutdownTimeout.
//
// The publish interval trades cost for detection latency. PutMetricData is billed per
// request (about $0.01 per 1,000), not per datum, so batching is almost free in memory
// and divides the bill: at the default 5 s (one call per probe) one host makes 518,400
// calls a month (about $5.20), at 10 s half that, at 60 s a twelfth. What batching costs
// is time: a sample waits up to one publish interval before CloudWatch has it, on top of
// ingestion. The default sends every probe at once, because the product's promise is a
// failover in well under a minute at a 20 s grace window; operators who value the cost
// more raise -publish-interval. The configuration refuses intervals over a minute.
//
// Time comes from a clock.Clock: timestamps, the waits between rounds and the timeouts
// of calls (probes, role checks, the final flush, through clock.WithTimeout) use it, so
// a Scaled clock compresses time in the demo and a clock.Sim runs the agent in
// simulated time in the deterministic drill. The flusher is started with clock.Go and
// woken with a clock.Kick, so that a simulated clock sees the hand-off.
package agent
