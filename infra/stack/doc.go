// Package stack is the CloudFormation stack of one Presto/Trino cluster with coordinator
// HA: the parameters a user sets (with console groups and labels), the conditions for
// the optional ones, the coordinator tier, the control plane, the dashboard and alarms,
// and the outputs. infra/main.go synthesizes one stack per cluster.
package stack
