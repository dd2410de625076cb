package healthcheck

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/config"
	"github.com/prestoha/coordinator-ha/internal/verdict"
)

// Defaults of the configuration (the stack's parameters default to the same values).
const (
	DefaultGrace             = verdict.DefaultGrace
	DefaultCheckInterval     = 5 * time.Second
	DefaultStartupBudget     = verdict.DefaultStartupBudget
	DefaultIngestionDelay    = verdict.DefaultIngestionDelay
	DefaultBreakerMax        = 3
	DefaultBreakerWindow     = 60 * time.Minute
	DefaultHACount           = 2
	DefaultMinHealthyReports = 3
)

// Bounds the parser enforces, so a typo cannot make the health check fail over on every
// blip or never.
const (
	// The grace window must hold an agent's publish interval and one probe interval:
	// a live agent holds healthy samples up to verdict.DefaultPublishInterval (10 s).
	minGrace, maxGrace                 = verdict.DefaultPublishInterval + verdict.DefaultReportInterval, 10 * time.Minute
	minCheckInterval, maxCheckInterval = 1 * time.Second, 60 * time.Second
	minStartup, maxStartup             = 30 * time.Second, 60 * time.Minute
	maxIngestion                       = 60 * time.Second
	maxBreaker                         = 100
	minBreakerWindow, maxBreakerWindow = time.Minute, 24 * time.Hour
	minHACount, maxHACount             = 1, 5
	maxMinHealthyReports               = 60
)

// Config is the health check's configuration, read once at cold start.
type Config struct {
	Cluster           string        // CLUSTER_NAME (required)
	ENIID             string        // COORDINATOR_ENI_ID (required)
	ASGName           string        // COORDINATOR_ASG_NAME (required): the pool is the instances Auto Scaling launched for it
	HostRoleID        string        // COORDINATOR_HOST_ROLE_ID (required): names each member's report namespace (signal.ReportNamespace)
	StateMachineARN   string        // STATE_MACHINE_ARN (required)
	TopicARN          string        // NOTIFICATION_TOPIC_ARN (optional; alerts are logged only without it)
	KeepCoordinator   bool          // KEEP_COORDINATOR_NODE yes|no (default no)
	Grace             time.Duration // GRACE_SECONDS (default 30)
	CheckInterval     time.Duration // CHECK_INTERVAL_SECONDS (default 10)
	StartupBudget     time.Duration // STARTUP_BUDGET_SECONDS (default 600)
	IngestionDelay    time.Duration // INGESTION_DELAY_SECONDS (default 10; 0 is allowed)
	BreakerMax        int           // BREAKER_MAX_FAILOVERS (default 3)
	BreakerWindow     time.Duration // BREAKER_WINDOW_MINUTES (default 60)
	HACount           int           // HA_COORDINATORS_COUNT (default 2)
	MinHealthyReports int           // MIN_HEALTHY_REPORTS (default 3): for the HealthyStandbys metric
	// Doorbell (AGENTS_RING_DOORBELL yes|no, default no): the agents ring the health
	// check when the active fails, so a tick that finds the cluster calm evaluates once
	// instead of every check interval for LoopSpan (package doc, "Calm and suspect").
	Doorbell bool
	// AllMetrics publishes the event metrics and the clock skew at every evaluation, zero
	// or not, as before issue 14 (no environment variable: the bench measures what
	// publishing them only when not zero saves).
	AllMetrics bool
}

// ConfigFromEnv reads and validates the configuration from getenv (os.Getenv in the
// Lambda). The error names every bad or missing variable at once.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	p := parser{getenv: getenv}
	c := Config{
		Cluster:           p.str(config.EnvCluster),
		ENIID:             p.str(config.EnvENIID),
		ASGName:           p.str(config.EnvASGName),
		HostRoleID:        p.str(config.EnvHostRoleID),
		StateMachineARN:   p.str(config.EnvStateMachineARN),
		TopicARN:          p.str(config.EnvTopicARN),
		KeepCoordinator:   p.yesNo(config.EnvKeepCoordinator, false),
		Grace:             p.seconds(config.EnvGraceSeconds, DefaultGrace, minGrace, maxGrace),
		CheckInterval:     p.seconds(config.EnvCheckInterval, DefaultCheckInterval, minCheckInterval, maxCheckInterval),
		StartupBudget:     p.seconds(config.EnvStartupBudget, DefaultStartupBudget, minStartup, maxStartup),
		IngestionDelay:    p.seconds(config.EnvIngestionDelay, DefaultIngestionDelay, 0, maxIngestion),
		BreakerMax:        p.integer(config.EnvBreakerMax, DefaultBreakerMax, 1, maxBreaker),
		BreakerWindow:     p.minutes(config.EnvBreakerWindow, DefaultBreakerWindow, minBreakerWindow, maxBreakerWindow),
		HACount:           p.integer(config.EnvHACount, DefaultHACount, minHACount, maxHACount),
		MinHealthyReports: p.integer(config.EnvMinHealthyReport, DefaultMinHealthyReports, 1, maxMinHealthyReports),
		Doorbell:          p.yesNo(config.EnvDoorbell, false),
	}
	if err := c.Validate(); err != nil {
		p.errs = append(p.errs, strings.TrimPrefix(err.Error(), "invalid health check configuration: "))
	}
	if len(p.errs) > 0 {
		return Config{}, fmt.Errorf("invalid health check configuration: %s", strings.Join(p.errs, "; "))
	}
	return c, nil
}

// Validate checks the values (ConfigFromEnv calls it; tests and the drill that build a
// Config by hand should too).
func (c Config) Validate() error {
	var errs []string
	if c.Cluster != "" && !events.ValidCluster(c.Cluster) {
		errs = append(errs, fmt.Sprintf("%s=%q: use 1 to 40 letters, digits, '-' or '_'", config.EnvCluster, c.Cluster))
	}
	if c.Cluster == "" {
		errs = append(errs, config.EnvCluster+" is required")
	}
	if c.ENIID != "" && !events.ValidENIID(c.ENIID) {
		errs = append(errs, fmt.Sprintf("%s=%q is not an ENI id (eni-...)", config.EnvENIID, c.ENIID))
	}
	if c.ENIID == "" {
		errs = append(errs, config.EnvENIID+" is required")
	}
	if c.ASGName == "" {
		errs = append(errs, config.EnvASGName+" is required")
	}
	if c.HostRoleID == "" {
		errs = append(errs, config.EnvHostRoleID+" is required")
	} else if !strings.HasPrefix(c.HostRoleID, "AROA") || strings.ContainsAny(c.HostRoleID, ":/ ") {
		errs = append(errs, fmt.Sprintf("%s=%q is not an IAM role's unique id (AROA...)", config.EnvHostRoleID, c.HostRoleID))
	}
	if c.StateMachineARN != "" && (!strings.HasPrefix(c.StateMachineARN, "arn:") || !strings.Contains(c.StateMachineARN, ":stateMachine:")) {
		errs = append(errs, fmt.Sprintf("%s=%q is not a state machine ARN (arn:...:states:...:stateMachine:...)", config.EnvStateMachineARN, c.StateMachineARN))
	}
	if c.StateMachineARN == "" {
		errs = append(errs, config.EnvStateMachineARN+" is required")
	}
	if c.TopicARN != "" && (!strings.HasPrefix(c.TopicARN, "arn:") || !strings.Contains(c.TopicARN, ":sns:")) {
		errs = append(errs, fmt.Sprintf("%s=%q is not an SNS topic ARN (arn:...:sns:...)", config.EnvTopicARN, c.TopicARN))
	}
	if c.Grace < minGrace || c.Grace > maxGrace {
		errs = append(errs, fmt.Sprintf("grace %s is outside %s..%s", c.Grace, minGrace, maxGrace))
	}
	if c.CheckInterval < minCheckInterval || c.CheckInterval > maxCheckInterval {
		errs = append(errs, fmt.Sprintf("check interval %s is outside %s..%s", c.CheckInterval, minCheckInterval, maxCheckInterval))
	}
	if c.StartupBudget < minStartup || c.StartupBudget > maxStartup {
		errs = append(errs, fmt.Sprintf("startup budget %s is outside %s..%s", c.StartupBudget, minStartup, maxStartup))
	}
	if c.IngestionDelay < 0 || c.IngestionDelay > maxIngestion {
		errs = append(errs, fmt.Sprintf("ingestion delay %s is outside 0s..%s", c.IngestionDelay, maxIngestion))
	}
	if c.BreakerMax < 1 || c.BreakerMax > maxBreaker {
		errs = append(errs, fmt.Sprintf("breaker max %d is outside 1..%d", c.BreakerMax, maxBreaker))
	}
	if c.BreakerWindow < minBreakerWindow || c.BreakerWindow > maxBreakerWindow {
		errs = append(errs, fmt.Sprintf("breaker window %s is outside %s..%s", c.BreakerWindow, minBreakerWindow, maxBreakerWindow))
	}
	if c.HACount < minHACount || c.HACount > maxHACount {
		errs = append(errs, fmt.Sprintf("HA coordinators count %d is outside %d..%d", c.HACount, minHACount, maxHACount))
	}
	if c.MinHealthyReports < 1 || c.MinHealthyReports > maxMinHealthyReports {
		errs = append(errs, fmt.Sprintf("min healthy reports %d is outside 1..%d", c.MinHealthyReports, maxMinHealthyReports))
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid health check configuration: %s", strings.Join(errs, "; "))
	}
	return nil
}

// Params returns the verdict parameters of the configuration.
func (c Config) Params() verdict.Params {
	ingestion := c.IngestionDelay
	if ingestion == 0 {
		ingestion = -1 // verdict: a negative allowance means none; zero would mean its default
	}
	return verdict.Params{Grace: c.Grace, StartupBudget: c.StartupBudget, IngestionDelay: ingestion,
		ReportInterval: verdict.DefaultReportInterval, PublishInterval: verdict.DefaultPublishInterval}
}

// parser collects errors while reading variables; a variable that fails to parse
// yields its default so that validation can go on and report everything at once.
type parser struct {
	getenv func(string) string
	errs   []string
}

func (p *parser) fail(key, format string, args ...any) {
	p.errs = append(p.errs, key+": "+fmt.Sprintf(format, args...))
}

func (p *parser) str(key string) string { return strings.TrimSpace(p.getenv(key)) }

func (p *parser) yesNo(key string, def bool) bool {
	switch strings.ToLower(strings.TrimSpace(p.getenv(key))) {
	case "":
		return def
	case "yes", "true":
		return true
	case "no", "false":
		return false
	default:
		p.fail(key, "%q must be yes or no", p.getenv(key))
		return def
	}
}

func (p *parser) integer(key string, def, lo, hi int) int {
	raw := strings.TrimSpace(p.getenv(key))
	if raw == "" {
		return def
	}
	n, err := strconv.Atoi(raw)
	if err != nil {
		p.fail(key, "%q is not a whole number", raw)
		return def
	}
	if n < lo || n > hi {
		p.fail(key, "%d is outside %d..%d", n, lo, hi)
		return def
	}
	return n
}

func (p *parser) seconds(key string, def, lo, hi time.Duration) time.Duration {
	return p.duration(key, def, lo, hi, time.Second, "seconds")
}

func (p *parser) minutes(key string, def, lo, hi time.Duration) time.Duration {
	return p.duration(key, def, lo, hi, time.Minute, "minutes")
}

func (p *parser) duration(key string, def, lo, hi, unit time.Duration, unitName string) time.Duration {
	raw := strings.TrimSpace(p.getenv(key))
	if raw == "" {
		return def
	}
	n, err := strconv.Atoi(raw)
	if err != nil {
		p.fail(key, "%q is not a whole number of %s", raw, unitName)
		return def
	}
	d := time.Duration(n) * unit
	if d < lo || d > hi {
		p.fail(key, "%d %s is outside %d..%d", n, unitName, lo/unit, hi/unit)
		return def
	}
	return d
}
