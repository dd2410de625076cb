package drill

import (
	"time"

	"github.com/prestoha/coordinator-ha/internal/agent"
	"github.com/prestoha/coordinator-ha/internal/healthcheck"
)

// Settings are the production-equivalent timings of a drill run. Every duration is
// drill time; Speed compresses all of them on the wall clock alike.
type Settings struct {
	Speed           float64       // drill seconds per wall second (1: real time)
	Grace           time.Duration // GRACE_SECONDS
	CheckInterval   time.Duration // CHECK_INTERVAL_SECONDS: evaluations inside one health-check invocation
	Schedule        time.Duration // EventBridge rate (1 minute)
	ProbeInterval   time.Duration // agent -probe-interval
	ProbeTimeout    time.Duration // agent -probe-timeout
	PublishInterval time.Duration // agent -publish-interval (the active's)
	StandbyPublish  time.Duration // agent -standby-publish-interval
	RoleInterval    time.Duration // agent -role-interval
	IngestionMin    time.Duration // CloudWatch ingestion delay, drawn per datum batch in [min, max]
	IngestionMax    time.Duration
	IngestionAllow  time.Duration // INGESTION_DELAY_SECONDS: the health check's allowance
	PendingToRun    time.Duration // EC2 pending -> running
	Refused         time.Duration // Presto/Trino start-up: port refused, then
	Silent          time.Duration // connections accepted and not answered, then
	Startup         time.Duration // /v1/info says starting: true
	StartupBudget   time.Duration // STARTUP_BUDGET_SECONDS
	MinHealthy      int           // MIN_HEALTHY_REPORTS
	Coordinators    int           // HA_COORDINATORS_COUNT for the ordinary scenarios
	Doorbell        bool          // agents ring the health check (AGENT_DOORBELL_FUNCTION, AGENTS_RING_DOORBELL)
	AllMetrics      bool          // the health check publishes zero event metrics too (healthcheck.Config.AllMetrics)
}

// DefaultSettings are the product's defaults (the agent's from internal/agent, the
// health check's from internal/healthcheck, which the stack's parameters default to) and
// AWS-like EC2 and Presto timings.
func DefaultSettings() Settings {
	return Settings{
		Speed:           10,
		Grace:           healthcheck.DefaultGrace,
		CheckInterval:   healthcheck.DefaultCheckInterval,
		Schedule:        healthcheck.SchedulePeriod,
		ProbeInterval:   agent.DefaultProbeInterval,
		ProbeTimeout:    agent.DefaultProbeTimeout,
		PublishInterval: agent.DefaultPublishInterval,
		StandbyPublish:  agent.DefaultStandbyPublish,
		RoleInterval:    agent.DefaultRoleInterval,
		IngestionMin:    2 * time.Second,
		IngestionMax:    5 * time.Second,
		IngestionAllow:  healthcheck.DefaultIngestionDelay,
		PendingToRun:    30 * time.Second,
		// Trino 368 (pruned to tpch, 2 busy cores), measured by realtrino's
		// TestMeasureStartupPhases: refused 13.5 s, silent 7.6 s, starting 1.1 s. A server
		// with every plugin takes longer (aws-facts.md: about 48 s to healthy).
		Refused:       14 * time.Second,
		Silent:        8 * time.Second,
		Startup:       time.Second,
		StartupBudget: healthcheck.DefaultStartupBudget,
		MinHealthy:    healthcheck.DefaultMinHealthyReports,
		Coordinators:  3,
		Doorbell:      true,
	}
}

// Lever is one of issue 14's cost levers: its name and how to turn it off.
type Lever struct {
	Name string
	Off  func(*Settings)
}

// Levers are the cost levers the bench measures, each turned off alone.
var Levers = []Lever{
	{"doorbell and calm ticks (one evaluation a minute while calm)", func(s *Settings) { s.Doorbell = false }},
	{"standbys hold healthy samples up to 10 s", func(s *Settings) { s.StandbyPublish = s.ProbeInterval }},
	{"event metrics and clock skew only when not zero", func(s *Settings) { s.AllMetrics = true }},
}

// WithoutLevers returns s with every lever off: the control plane before issue 14.
func (s Settings) WithoutLevers() Settings {
	for _, l := range Levers {
		l.Off(&s)
	}
	return s
}

// Floor is the shortest fault-to-detection the configuration allows for a coordinator
// that stops answering: the grace window, plus one check interval (the evaluation that
// first sees a full window), one publish interval (the agent batches its reports) and
// the ingestion allowance (reports younger than it are not yet trusted).
func (s Settings) Floor() time.Duration {
	return s.Grace + s.CheckInterval + s.PublishInterval + s.IngestionAllow
}
