package signal

// MetricClockSkew is the health check's estimate of an agent's clock skew in seconds
// (positive: the agent's clock is behind the health check's), per Cluster and
// InstanceId. See internal/healthcheck/skew.go.
const MetricClockSkew = "AgentClockSkew"
