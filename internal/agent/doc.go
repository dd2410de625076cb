// Package agent is the on-host agent that runs beside every coordinator, active or
// standby (binary ./agent, coordinator-agent). Every ProbeInterval it probes the local
// server's /v1/info on loopback (package probe) and records a self-report; on a standby
// it also probes the active coordinator through the ENI IP and records a witness report.
// Both go to CloudWatch through package signal's datums, stamped with the time each
// probe finished.
//
// Identity: the agent writes into its own report namespace, signal.HostNamespace of its
// aws:userid ("<role id>:<instance id>" for the instance role), which it learns from STS
// GetCallerIdentity (Identify; IAM allows that call to everyone) before its first flush;
// samples wait in the buffer until then. The hosts' policy lets it write there and
// nowhere else, which is what makes its reports count for its instance only (see
// package signal). The metadata client speaks IMDSv2 only (NewIMDSClient:
// EnableFallback off): a failed token request fails that call, never downgrades the
// process to requests without a token; the AWS credentials come from the same client.
//
// Role: a RoleSource says which instance this is and whether it holds the coordinator
// ENI. On EC2 that is IMDSRole (IMDSv2: instance-id, and the interface-id of every MAC
// under network/interfaces/macs/), re-checked every RoleInterval because a failover moves
// the ENI; a MAC whose interface-id answers 404 (an interface going away) is skipped.
// The local drill supplies its own RoleSource. Until the first role check succeeds
// nothing is probed (a sample needs an instance id); after that each check runs on its
// own goroutine, so a slow or hanging metadata service never delays a health sample: the
// probes go on with the last known role and a new answer counts from the next round.
//
// Witness: reached means the ENI IP answered HTTP 200 with a JSON /v1/info whose
// coordinator is true, whatever starting and state say (probe.Result.Answered). The
// question a witness answers is "is a coordinator process there and serving HTTP?": it
// tells a dead coordinator apart from a lost agent or a cut path to CloudWatch. Whether
// that coordinator is fit for work is its own self-report's job. The active does not
// witness itself.
//
// Publishing: samples accumulate in a bounded buffer (MaxBuffered, oldest dropped and
// counted, one warning per burst of drops) and a flusher sends them in PutMetricData
// calls of at most 1000 datums. A round that is news goes at once: a self probe that is
// not healthy, a witness that cannot reach the active, anything that differs from the
// round before, a new role. Healthy repeats wait: up to PublishInterval (5 s) on the
// active, StandbyPublish (10 s) on a standby, each sample keeping its own probe time
// (one-second resolution), so holding them costs the health check no precision.
// Throttling, 5xx and network errors are retried with exponential backoff and full
// jitter; a batch that still fails goes back to the buffer for the next flush, so a long
// CloudWatch outage costs neither memory (the buffer is bounded) nor a crash. Errors
// CloudWatch returns for the batch itself (validation, access denied: a namespace not
// its own) drop the batch with a log. On shutdown the agent flushes once more within
// ShutdownTimeout.
//
// The publish intervals trade cost for margin. PutMetricData is billed per request
// (about $0.01 per 1,000), not per datum: at 5 s one host makes 525,600 calls a month
// (about $5.26), at 10 s half that. The active's silence is what a dead host looks like,
// so it keeps 5 s (its newest report is at most 5 s plus the ingestion time old, well
// inside the 30 s the health check allows); a standby's reports matter for its own
// health and as a witness, and a witness that cannot reach the active sends at once, so
// it holds 10 s. Neither may exceed MaxPublishInterval (verdict.DefaultPublishInterval,
// what the health check allows for).
//
// The doorbell (doorbell.go): when the active's own probe fails, or a standby's probe
// through the ENI IP, the agent invokes the health check function asynchronously
// (-doorbell-function), once per failure and again after DoorbellRepeat while it goes
// on (at the next probe when a ring fails), so the health check, which evaluates once a
// minute while calm, looks at once. The ring carries no evidence.
//
// Time comes from a clock.Clock: timestamps, the waits between rounds and the timeouts
// of calls (probes, role checks, the final flush, through clock.WithTimeout) use it, so
// a Scaled clock compresses time in the demo and a clock.Sim runs the agent in
// simulated time in the deterministic drill. The flusher is started with clock.Go and
// woken with a clock.Kick, so that a simulated clock sees the hand-off.
package agent
