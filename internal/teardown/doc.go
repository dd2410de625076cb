// Package teardown is the delete-time step of the stack: a CloudFormation custom
// resource that, when the stack (or the group it names) is deleted, releases the
// coordinator Auto Scaling group so that CloudFormation can delete it. Without it a
// delete hangs: the active coordinator is protected from scale-in, CloudFormation does
// not force-delete the group, and the group, the ENI it holds and the security groups
// wait on it for ever.
//
// The custom resource depends on the group, and every control-plane resource (the
// schedule, the Lambdas, the state machine) depends on the custom resource, so
// CloudFormation deletes them in this order: the control plane (nothing can start a
// failover, protect a standby or raise the group's capacity any more), then this step
// (Release), then the group, then the ENI and the security groups.
package teardown
