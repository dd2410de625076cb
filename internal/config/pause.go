package config

// Tags on the coordinator ENI that pause automatic failover (written by the operator
// command, `coordinator-ha pause`; removed by `coordinator-ha resume`). The health check
// reads them from the DescribeNetworkInterfaces answer it already fetches every
// evaluation, so a pause costs no call and no new service. A pause is in force while
// TagPausedUntil holds an RFC 3339 time in the future: it expires by itself.
//
// Neither the hosts nor the Lambdas can write them: the hosts' policy grants no
// ec2:CreateTags at all, and the steps' CreateTags is on the group's instances only,
// limited to TagRole (internal/permissions). Who may pause is the operator's IAM
// (internal/operator's policy table).
const (
	TagPausedUntil = "coordinator-ha:paused-until" // RFC 3339, UTC
	TagPausedBy    = "coordinator-ha:paused-by"    // the caller's ARN (sts:GetCallerIdentity)
	TagPausedAt    = "coordinator-ha:paused-at"    // RFC 3339, UTC
	TagPauseReason = "coordinator-ha:pause-reason" // free text, at most 256 characters (EC2's limit)
)

// PauseTags lists the pause tags.
var PauseTags = []string{TagPausedUntil, TagPausedBy, TagPausedAt, TagPauseReason}

// MetricPaused is the health check's metric (namespace signal.Namespace, dimension
// Cluster) while failover is paused: 1 at every evaluation of a pause in force, no
// datapoint otherwise (a custom metric is billed only for the hours it receives data).
const MetricPaused = "Paused"
