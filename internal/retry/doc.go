// Package retry runs an AWS call again on throttling and server faults: exponential
// backoff with full jitter (a wait drawn from [0, ceiling), the ceiling doubling from
// Policy.Base up to Policy.Max), at most Policy.Attempts attempts, and never a wait that
// would end past Policy.Deadline on the injected clock. Do says why it stopped with an
// *Error (Reason NotRetryable, Exhausted, NoTimeLeft, Canceled or Stopped), so each
// caller words and types the failure its own way. The failover steps use it; any other
// caller with the same rule (the agent's publisher) can.
package retry
