// Package controlplane is the CDK construct for the control plane of one cluster: the
// five Lambdas (healthcheck, terminate, attacheni, launchstandby, notify), the failover
// state machine built from internal/statemachine's one definition, the one-minute
// schedule of the health check, and the encrypted notification topic (NewTopic, built
// first because the coordinator tier and the alarms use it too).
//
// Every role is built from internal/permissions through infra/policy; no managed
// policy is attached: each Lambda may write to its own log group only.
package controlplane
