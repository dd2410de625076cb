// Package events holds the JSON contracts between the parts of the control plane:
// the EventBridge schedule event the health check receives, the document that flows
// through the failover state machine (its input, each step's result, the timeline the
// execution accumulates, and the error a Catch records), and the vocabulary they share
// (verdicts, step names).
//
// The struct tags are the wire format. Every type has a sample in events/*.json that a
// person can feed to a handler by hand (see the README), and a round-trip test that
// decodes the sample, re-encodes it and compares. Decode functions reject unknown fields,
// malformed JSON and missing required fields with errors that name the field.
package events
