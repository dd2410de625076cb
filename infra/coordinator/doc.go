// Package coordinator is the CDK construct for the coordinator hosts of one cluster: the
// coordinator ENI (the cluster's fixed private IP), the security groups, the hosts'
// role and instance profile, the SSH host-key secret, the launch template whose user
// data installs the agent, and the Auto Scaling group that keeps HACoordinatorsCount
// coordinators in the ENI's subnet.
package coordinator
