package healthcheck

import (
	"strings"
	"testing"
	"time"

	"github.com/prestoha/coordinator-ha/internal/config"
)

func goodEnv() map[string]string {
	return map[string]string{
		config.EnvCluster:         "prod",
		config.EnvENIID:           "eni-0a1b2c3d4e5f60718",
		config.EnvStateMachineARN: "arn:aws:states:us-east-1:123456789012:stateMachine:prod-failover",
		config.EnvASGName:         "prod-coordinators",
		config.EnvHostRoleID:      "AROAEXAMPLEHOSTROLE01",
	}
}

func TestConfigFromEnvDefaults(t *testing.T) {
	env := goodEnv()
	c, err := ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Cluster: "prod", ENIID: "eni-0a1b2c3d4e5f60718", StateMachineARN: env[config.EnvStateMachineARN],
		ASGName: "prod-coordinators", HostRoleID: "AROAEXAMPLEHOSTROLE01",
		Grace: 20 * time.Second, CheckInterval: 5 * time.Second, StartupBudget: 10 * time.Minute, IngestionDelay: 10 * time.Second,
		BreakerMax: 3, BreakerWindow: time.Hour, HACount: 2, MinHealthyReports: 3}
	if c != want {
		t.Errorf("config\n%+v\nwant\n%+v", c, want)
	}
}

func TestConfigFromEnvValues(t *testing.T) {
	env := goodEnv()
	env[config.EnvTopicARN] = "arn:aws:sns:us-east-1:123456789012:prod-alerts"
	env[config.EnvASGName] = "prod-coordinators"
	env[config.EnvKeepCoordinator] = "YES"
	env[config.EnvGraceSeconds] = "45"
	env[config.EnvCheckInterval] = "5"
	env[config.EnvStartupBudget] = "900"
	env[config.EnvIngestionDelay] = "0"
	env[config.EnvBreakerMax] = "5"
	env[config.EnvBreakerWindow] = "120"
	env[config.EnvHACount] = "3"
	env[config.EnvMinHealthyReport] = "4"
	c, err := ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if !c.KeepCoordinator || c.Grace != 45*time.Second || c.CheckInterval != 5*time.Second || c.StartupBudget != 15*time.Minute ||
		c.IngestionDelay != 0 || c.BreakerMax != 5 || c.BreakerWindow != 2*time.Hour || c.HACount != 3 || c.MinHealthyReports != 4 ||
		c.TopicARN == "" || c.ASGName != "prod-coordinators" {
		t.Errorf("config %+v", c)
	}
	if p := c.Params(); p.IngestionDelay >= 0 {
		t.Errorf("an ingestion delay of 0 must reach the verdict as no allowance, got %s", p.IngestionDelay)
	}
}

func TestConfigFromEnvErrors(t *testing.T) {
	cases := []struct {
		name string
		set  map[string]string
		want []string // substrings of the error
	}{
		{name: "nothing set", set: map[string]string{config.EnvCluster: "", config.EnvENIID: "", config.EnvStateMachineARN: ""},
			want: []string{"CLUSTER_NAME is required", "COORDINATOR_ENI_ID is required", "STATE_MACHINE_ARN is required"}},
		{name: "bad cluster", set: map[string]string{config.EnvCluster: "prod cluster!"}, want: []string{`CLUSTER_NAME="prod cluster!"`}},
		{name: "no group, no host role", set: map[string]string{config.EnvASGName: "", config.EnvHostRoleID: ""},
			want: []string{"COORDINATOR_ASG_NAME is required", "COORDINATOR_HOST_ROLE_ID is required"}},
		{name: "host role ARN, not id", set: map[string]string{config.EnvHostRoleID: "arn:aws:iam::123456789012:role/hosts"}, want: []string{"is not an IAM role's unique id"}},
		{name: "bad eni", set: map[string]string{config.EnvENIID: "i-0123456789abcdef0"}, want: []string{"is not an ENI id"}},
		{name: "bad state machine", set: map[string]string{config.EnvStateMachineARN: "prod-failover"}, want: []string{"is not a state machine ARN"}},
		{name: "bad topic", set: map[string]string{config.EnvTopicARN: "alerts@example.com"}, want: []string{"is not an SNS topic ARN"}},
		{name: "keep not yes/no", set: map[string]string{config.EnvKeepCoordinator: "maybe"}, want: []string{`KEEP_COORDINATOR_NODE: "maybe" must be yes or no`}},
		{name: "grace not a number", set: map[string]string{config.EnvGraceSeconds: "30s"}, want: []string{`GRACE_SECONDS: "30s" is not a whole number of seconds`}},
		{name: "grace too small", set: map[string]string{config.EnvGraceSeconds: "1"}, want: []string{"GRACE_SECONDS: 1 seconds is outside 15..600"}},
		{name: "interval too large", set: map[string]string{config.EnvCheckInterval: "120"}, want: []string{"CHECK_INTERVAL_SECONDS: 120 seconds is outside 1..60"}},
		{name: "startup budget", set: map[string]string{config.EnvStartupBudget: "10"}, want: []string{"STARTUP_BUDGET_SECONDS"}},
		{name: "ingestion negative", set: map[string]string{config.EnvIngestionDelay: "-1"}, want: []string{"INGESTION_DELAY_SECONDS: -1 seconds is outside 0..60"}},
		{name: "breaker zero", set: map[string]string{config.EnvBreakerMax: "0"}, want: []string{"BREAKER_MAX_FAILOVERS: 0 is outside 1..100"}},
		{name: "breaker window", set: map[string]string{config.EnvBreakerWindow: "abc"}, want: []string{`BREAKER_WINDOW_MINUTES: "abc" is not a whole number of minutes`}},
		{name: "ha count", set: map[string]string{config.EnvHACount: "6"}, want: []string{"HA_COORDINATORS_COUNT: 6 is outside 1..5"}},
		{name: "several at once", set: map[string]string{config.EnvHACount: "0", config.EnvGraceSeconds: "x", config.EnvCluster: ""},
			want: []string{"HA_COORDINATORS_COUNT", "GRACE_SECONDS", "CLUSTER_NAME is required"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := goodEnv()
			for k, v := range tc.set {
				env[k] = v
			}
			_, err := ConfigFromEnv(func(k string) string { return env[k] })
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), "invalid health check configuration: ") {
				t.Errorf("error %q does not say what was invalid", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}
