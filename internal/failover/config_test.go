package failover

import (
	"strings"
	"testing"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/config"
)

func TestLoadConfig(t *testing.T) {
	full := map[string]string{
		config.EnvCluster: "prod", config.EnvASGName: "prod-coordinators", config.EnvHACount: "2",
		config.EnvTopicARN: "arn:aws:sns:us-east-1:123456789012:prod", config.EnvENIID: "eni-0123456789abcdef0",
		config.EnvHostRoleID: "AROAEXAMPLEHOSTROLE01",
	}
	tests := []struct {
		name    string
		step    string
		env     map[string]string
		wantErr string
		check   func(Config) bool
	}{
		{name: "defaults", step: events.StepAttachENI, env: full, check: func(c Config) bool {
			return c.MinHealthyReports == 3 && c.MaxAttachAttempts == 10 && c.ASGName == "prod-coordinators" && c.HostRoleID == "AROAEXAMPLEHOSTROLE01"
		}},
		{name: "attach needs the host role id", step: events.StepAttachENI, env: with(full, config.EnvHostRoleID, ""), wantErr: "COORDINATOR_HOST_ROLE_ID"},
		{name: "overrides", step: events.StepAttachENI, env: with(full, config.EnvMinHealthyReport, "5", config.EnvMaxAttachAttempts, "4"), check: func(c Config) bool {
			return c.MinHealthyReports == 5 && c.MaxAttachAttempts == 4
		}},
		{name: "notify needs no group", step: events.StepNotify, env: map[string]string{config.EnvCluster: "prod"}, check: func(c Config) bool { return c.TopicARN == "" }},
		{name: "missing cluster and group", step: events.StepTerminate, env: map[string]string{}, wantErr: "missing CLUSTER_NAME; missing COORDINATOR_ASG_NAME"},
		{name: "launch needs HA count", step: events.StepLaunch, env: with(full, config.EnvHACount, "7"), wantErr: "HA_COORDINATORS_COUNT=7: must be 1 to 5"},
		{name: "not a number", step: events.StepAttachENI, env: with(full, config.EnvMinHealthyReport, "three"), wantErr: `MIN_HEALTHY_REPORTS="three" is not a whole number`},
		{name: "bad topic", step: events.StepNotify, env: with(full, config.EnvTopicARN, "prod-topic"), wantErr: "is not an ARN"},
		{name: "bad ENI", step: events.StepTerminate, env: with(full, config.EnvENIID, "eni-x"), wantErr: "is not an ENI id"},
		{name: "unknown step", step: "Dance", env: full, wantErr: `unknown step "Dance"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := LoadConfig(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }, tc.step)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Errorf("config %+v", c)
			}
		})
	}
}

func with(m map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}
