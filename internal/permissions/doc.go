// Package permissions is the one table of the IAM actions each component of the product
// may call, and of the statements that grant them (Statements: resources and
// conditions, in plain Go, which infra/policy turns into CDK statements and the
// simulated account evaluates), keyed by the caller names that internal/harness/sim records ("healthcheck",
// "terminate", "attacheni", "launchstandby", "notify", "agent"). The CDK stack (infra/)
// builds every Lambda's and the coordinator hosts' policies from Actions and Scopes, and
// a test runs the real handlers against the simulated account and proves that every
// recorded call is granted and every granted action is used.
//
// BootActions lists what the coordinator hosts' user data calls with the AWS CLI at boot
// (the shared SSH host key, the ready signal, the coordinator ENI's MAC); no Go code
// makes those calls, so the simulation cannot record them and they are kept apart from
// Actions.
package permissions
