package failover

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/config"
)

// Defaults of the settings users may change through the environment.
const (
	DefaultMinHealthyReports = 3
	DefaultMaxAttachAttempts = 10
)

// Config is what the step Lambdas read from their environment once, at cold start,
// plus timings that only tests and the local drill change.
type Config struct {
	Cluster           string // CLUSTER_NAME (all steps)
	ENIID             string // COORDINATOR_ENI_ID (optional): when set, a state for another ENI is refused
	ASGName           string // COORDINATOR_ASG_NAME (Terminate, AttachENI, LaunchStandby)
	HACount           int    // HA_COORDINATORS_COUNT, 1 to 5 (LaunchStandby)
	MinHealthyReports int    // MIN_HEALTHY_REPORTS, default 3 (AttachENI)
	MaxAttachAttempts int    // MAX_ATTACH_ATTEMPTS, default 10: AttachENI runs before the slow path gives up
	TopicARN          string // NOTIFICATION_TOPIC_ARN (Notify; empty: log only)
	HostRoleID        string // COORDINATOR_HOST_ROLE_ID (AttachENI): names each candidate's report namespace

	Timing Timing
}

// Timing bounds the steps' waits and retries. Zero fields take the defaults.
type Timing struct {
	PollInterval   time.Duration // between two looks at an instance or ENI (1 s: a failover waits in these steps, and the calls cost nothing)
	LaunchWait     time.Duration // LaunchStandby waits this long for a replacement to appear (60 s)
	DeadlineMargin time.Duration // every wait ends this long before the Lambda deadline (15 s)
	DefaultBudget  time.Duration // budget when the context has no deadline (4 min)
	HealthLookback time.Duration // how far back AttachENI reads standby self-reports (5 min)
	HealthMaxGap   time.Duration // a larger gap between two self-reports breaks a healthy streak (30 s)
	APIAttempts    int           // attempts of one AWS call on throttling/5xx (6)
	BackoffBase    time.Duration // first backoff ceiling, doubled each attempt, full jitter (200 ms)
	BackoffMax     time.Duration // largest backoff ceiling (5 s)
	// GoneConfirm is how long every read must answer InvalidInstanceID.NotFound before an
	// instance counts as gone (10 s, and at least three reads). EC2 answers NotFound for
	// just-created ids too; a terminated instance stays describable for about an hour, so
	// a real NotFound during a failover is rare and this wait seldom costs anything.
	GoneConfirm time.Duration
	// HookWait is how long an instance terminated through its group may stay running
	// (a Terminating:Wait lifecycle hook) before it is terminated through EC2 (10 s).
	HookWait time.Duration
	// ProtectWait is how long AttachENI keeps trying to protect the chosen standby from
	// scale-in before attaching it anyway (20 s).
	ProtectWait time.Duration
}

// DefaultTiming returns the production timings.
func DefaultTiming() Timing {
	return Timing{
		PollInterval:   1 * time.Second,
		LaunchWait:     60 * time.Second,
		DeadlineMargin: 15 * time.Second,
		DefaultBudget:  4 * time.Minute,
		HealthLookback: 5 * time.Minute,
		HealthMaxGap:   30 * time.Second,
		APIAttempts:    6,
		BackoffBase:    200 * time.Millisecond,
		BackoffMax:     5 * time.Second,
		GoneConfirm:    10 * time.Second,
		HookWait:       10 * time.Second,
		ProtectWait:    20 * time.Second,
	}
}

func (t Timing) withDefaults() Timing {
	d := DefaultTiming()
	pick := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	pick(&t.PollInterval, d.PollInterval)
	pick(&t.LaunchWait, d.LaunchWait)
	pick(&t.DeadlineMargin, d.DeadlineMargin)
	pick(&t.DefaultBudget, d.DefaultBudget)
	pick(&t.HealthLookback, d.HealthLookback)
	pick(&t.HealthMaxGap, d.HealthMaxGap)
	pick(&t.GoneConfirm, d.GoneConfirm)
	pick(&t.HookWait, d.HookWait)
	pick(&t.ProtectWait, d.ProtectWait)
	pick(&t.BackoffBase, d.BackoffBase)
	pick(&t.BackoffMax, d.BackoffMax)
	if t.APIAttempts <= 0 {
		t.APIAttempts = d.APIAttempts
	}
	return t
}

// LoadConfig reads the configuration of the Lambda that runs step (events.StepTerminate,
// StepAttachENI, StepLaunch or StepNotify) with lookup (os.LookupEnv in a Lambda) and
// validates it, naming every problem in one error.
func LoadConfig(lookup func(string) (string, bool), step string) (Config, error) {
	get := func(k string) string {
		v, _ := lookup(k)
		return strings.TrimSpace(v)
	}
	var errs []string
	atoi := func(k string, def int) int {
		s := get(k)
		if s == "" {
			return def
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s=%q is not a whole number", k, s))
			return def
		}
		return n
	}
	c := Config{
		Cluster:           get(config.EnvCluster),
		ENIID:             get(config.EnvENIID),
		ASGName:           get(config.EnvASGName),
		HACount:           atoi(config.EnvHACount, 0),
		MinHealthyReports: atoi(config.EnvMinHealthyReport, DefaultMinHealthyReports),
		MaxAttachAttempts: atoi(config.EnvMaxAttachAttempts, DefaultMaxAttachAttempts),
		TopicARN:          get(config.EnvTopicARN),
		HostRoleID:        get(config.EnvHostRoleID),
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("%s configuration: %s", step, strings.Join(errs, "; "))
	}
	return c, c.Validate(step)
}

// Validate checks what step needs.
func (c Config) Validate(step string) error {
	var errs []string
	need := func(ok bool, msg string) {
		if !ok {
			errs = append(errs, msg)
		}
	}
	switch step {
	case events.StepTerminate, events.StepAttachENI, events.StepLaunch, events.StepNotify:
	default:
		return fmt.Errorf("failover configuration: unknown step %q", step)
	}
	need(c.Cluster != "", "missing "+config.EnvCluster)
	need(c.Cluster == "" || events.ValidCluster(c.Cluster), fmt.Sprintf("%s=%q: use 1 to 40 letters, digits, '-' or '_'", config.EnvCluster, c.Cluster))
	need(c.ENIID == "" || events.ValidENIID(c.ENIID), fmt.Sprintf("%s=%q is not an ENI id (eni-...)", config.EnvENIID, c.ENIID))
	if step != events.StepNotify {
		need(c.ASGName != "", "missing "+config.EnvASGName)
	}
	if step == events.StepAttachENI {
		need(strings.HasPrefix(c.HostRoleID, "AROA"), fmt.Sprintf("%s=%q is not an IAM role's unique id (AROA...)", config.EnvHostRoleID, c.HostRoleID))
	}
	if step == events.StepLaunch {
		need(c.HACount >= 1 && c.HACount <= 5, fmt.Sprintf("%s=%d: must be 1 to 5", config.EnvHACount, c.HACount))
	}
	need(c.MinHealthyReports >= 1 && c.MinHealthyReports <= 60, fmt.Sprintf("%s=%d: must be 1 to 60", config.EnvMinHealthyReport, c.MinHealthyReports))
	need(c.MaxAttachAttempts >= 1 && c.MaxAttachAttempts <= 100, fmt.Sprintf("%s=%d: must be 1 to 100", config.EnvMaxAttachAttempts, c.MaxAttachAttempts))
	need(c.TopicARN == "" || strings.HasPrefix(c.TopicARN, "arn:"), fmt.Sprintf("%s=%q is not an ARN", config.EnvTopicARN, c.TopicARN))
	if len(errs) > 0 {
		return errors.New(step + " configuration: " + strings.Join(errs, "; "))
	}
	return nil
}
