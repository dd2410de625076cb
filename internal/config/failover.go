package config

// Environment variables of the failover step Lambdas beyond those in keys.go.
const (
	// EnvMaxAttachAttempts bounds the slow path: how many times AttachENI may find no
	// healthy standby (each followed by LaunchStandby and a wait) before the execution
	// notifies and fails. Default 10.
	EnvMaxAttachAttempts = "MAX_ATTACH_ATTEMPTS"
)
