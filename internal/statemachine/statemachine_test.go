package statemachine

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/failover"
	"github.com/prestoha/coordinator-ha/internal/harness/sfnlocal"
)

func arns() map[string]string {
	m := map[string]string{}
	for _, p := range Placeholders {
		m[p] = "arn:aws:lambda:us-east-1:123456789012:function:coordinator-ha-" + strings.TrimSuffix(p, "FunctionArn")
	}
	return m
}

func toolsDir(t *testing.T) string {
	t.Helper()
	dir, err := sfnlocal.FindTools()
	if err != nil {
		t.Skipf("!!!!!! SKIPPING: %v. Run `make tools` (make test does) to validate and run the state machine. !!!!!!", err)
	}
	return dir
}

func TestRenderedDefinitionPassesASLValidator(t *testing.T) {
	dir := toolsDir(t)
	def, err := Render(arns())
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "failover.asl.json")
	if err := os.WriteFile(f, []byte(def), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(dir, "node_modules", ".bin", "asl-validator"), "--json-path", f).CombinedOutput()
	if err != nil {
		t.Fatalf("asl-validator rejected the definition: %v\n%s", err, out)
	}
	t.Logf("asl-validator: %s", strings.TrimSpace(string(out)))

	// The validator must be able to say no: the same definition with a dangling Next.
	bad := filepath.Join(t.TempDir(), "bad.asl.json")
	if err := os.WriteFile(bad, []byte(strings.Replace(def, `"Next": "FailoverDone"`, `"Next": "NoSuchState"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(filepath.Join(dir, "node_modules", ".bin", "asl-validator"), "--json-path", bad).CombinedOutput(); err == nil {
		t.Errorf("asl-validator accepted a dangling Next:\n%s", out)
	}
}

func TestRender(t *testing.T) {
	good := arns()
	tests := []struct {
		name    string
		mutate  func(map[string]string)
		wantErr string
	}{
		{name: "all placeholders", mutate: func(map[string]string) {}},
		{name: "missing", mutate: func(m map[string]string) { delete(m, NotifyFunctionArn) }, wantErr: "missing value for ${NotifyFunctionArn}"},
		{name: "unknown", mutate: func(m map[string]string) { m["HealthCheckFunctionArn"] = "arn:x" }, wantErr: "unknown placeholder HealthCheckFunctionArn"},
		{name: "empty", mutate: func(m map[string]string) { m[TerminateFunctionArn] = " " }, wantErr: "empty value for ${TerminateFunctionArn}"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := map[string]string{}
			for k, v := range good {
				m[k] = v
			}
			tc.mutate(m)
			out, err := Render(m)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(out, "${") {
				t.Errorf("placeholder left in %s", out)
			}
			for _, v := range good {
				if !strings.Contains(out, `"`+v+`"`) {
					t.Errorf("%s not substituted", v)
				}
			}
		})
	}
}

type asl struct {
	StartAt string
	States  map[string]struct {
		Type           string
		Resource       string
		Next           string
		End            bool
		TimeoutSeconds int
		InputPath      *string
		OutputPath     *string
		ResultPath     *string
		ResultSelector any
		Parameters     any
		Retry          []struct {
			ErrorEquals     []string
			IntervalSeconds int
			BackoffRate     float64
			MaxAttempts     int
			JitterStrategy  string
		}
		Catch []struct {
			ErrorEquals []string
			ResultPath  string
			Next        string
		}
	}
}

// TestDefinitionShape checks the rules every Task must follow: the whole document in and
// out, Retry on the transient errors with full jitter, Catch to the failure notice,
// timeouts under the Lambda's.
func TestDefinitionShape(t *testing.T) {
	var d asl
	if err := json.Unmarshal([]byte(Definition()), &d); err != nil {
		t.Fatal(err)
	}
	wantRetry := []string{failover.ErrorTypeTransient, "Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException", "Lambda.TooManyRequestsException"}
	margin := int(failover.DefaultTiming().DeadlineMargin.Seconds())
	for _, name := range []string{StateTerminate, StateFenceOutcome, StateAttachENI, StateAttachOutcome, StateLaunchStandby, StateLaunchForWait, StateWaitForStandby, StateNotify, StateNotifyFailure, StateDone, StateDoneNotNotified, StateFailed} {
		if _, ok := d.States[name]; !ok {
			t.Errorf("state %s missing", name)
		}
	}
	if len(d.States) != 12 {
		t.Errorf("%d states, want 12", len(d.States))
	}
	for name, s := range d.States {
		if s.Type != "Task" {
			continue
		}
		ph, ok := TaskStates[name]
		if !ok {
			t.Errorf("Task %s is not in TaskStates", name)
			continue
		}
		if s.Resource != "${"+ph+"}" {
			t.Errorf("%s: Resource %s, want ${%s}", name, s.Resource, ph)
		}
		if s.InputPath != nil || s.OutputPath != nil || s.ResultPath != nil || s.ResultSelector != nil || s.Parameters != nil {
			t.Errorf("%s: must pass the whole document in and out", name)
		}
		lt := LambdaTimeoutSeconds[ph]
		if s.TimeoutSeconds <= 0 || s.TimeoutSeconds >= lt {
			t.Errorf("%s: TimeoutSeconds %d, want 0 < x < Lambda timeout %d", name, s.TimeoutSeconds, lt)
		}
		if lt-s.TimeoutSeconds >= margin {
			t.Errorf("%s: the step's deadline margin %ds must exceed Lambda timeout - TimeoutSeconds = %d", name, margin, lt-s.TimeoutSeconds)
		}
		if len(s.Retry) != 1 || strings.Join(s.Retry[0].ErrorEquals, ",") != strings.Join(wantRetry, ",") {
			t.Errorf("%s: Retry %+v", name, s.Retry)
		} else if r := s.Retry[0]; r.BackoffRate != 2 || r.JitterStrategy != "FULL" || r.MaxAttempts < 4 || r.MaxAttempts > 6 || r.IntervalSeconds < 1 || r.IntervalSeconds > 2 {
			t.Errorf("%s: Retry parameters %+v", name, r)
		}
		isNotify := ph == NotifyFunctionArn
		if name == StateNotifyFailure && len(s.Catch) != 0 {
			t.Errorf("%s: the failure notice must not catch (into itself or anywhere): it ends in Fail", name)
		}
		// The success-path Notify catches everything into $.notifyError and still
		// succeeds: an SNS outage must not turn a working failover into a FAILED execution.
		if name == StateNotify && (len(s.Catch) != 1 || len(s.Catch[0].ErrorEquals) != 1 || s.Catch[0].ErrorEquals[0] != "States.ALL" ||
			s.Catch[0].ResultPath != "$.notifyError" || s.Catch[0].Next != StateDoneNotNotified) {
			t.Errorf("%s: Catch %+v, want States.ALL -> $.notifyError -> %s", name, s.Catch, StateDoneNotNotified)
		}
		if !isNotify && (len(s.Catch) != 1 || s.Catch[0].ErrorEquals[0] != "States.ALL" || s.Catch[0].ResultPath != "$.error" || s.Catch[0].Next != StateNotifyFailure) {
			t.Errorf("%s: Catch %+v", name, s.Catch)
		}
	}
	if d.States[StateNotify].Next != StateDone || d.States[StateNotifyFailure].Next != StateFailed {
		t.Error("Notify must lead to Succeed, NotifyFailure to Fail")
	}
	if d.States[StateDone].Type != "Succeed" || d.States[StateDoneNotNotified].Type != "Succeed" || d.States[StateFailed].Type != "Fail" {
		t.Errorf("end states: %s %s, %s %s, %s %s", StateDone, d.States[StateDone].Type, StateDoneNotNotified,
			d.States[StateDoneNotNotified].Type, StateFailed, d.States[StateFailed].Type)
	}
	// Every Catch ResultPath is a field of the document, so the next step (and the
	// strict decoder) accepts what the Catch wrote.
	fields := map[string]bool{}
	ft := reflect.TypeFor[events.FailoverState]()
	for i := range ft.NumField() {
		fields["$."+strings.Split(ft.Field(i).Tag.Get("json"), ",")[0]] = true
	}
	for name, s := range d.States {
		for _, c := range s.Catch {
			if !fields[c.ResultPath] {
				t.Errorf("%s: Catch ResultPath %s is not a field of events.FailoverState", name, c.ResultPath)
			}
		}
	}
	if d.StartAt != events.StepTerminate || TaskStates[events.StepAttachENI] == "" || TaskStates[events.StepLaunch] == "" || TaskStates[events.StepNotify] == "" {
		t.Error("step names and state names disagree")
	}
}

// TestLambdasMatchMakefile: Lambdas is the one list of functions; the Makefile builds
// exactly these, and each has its main under lambdas/.
func TestLambdasMatchMakefile(t *testing.T) {
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^LAMBDAS\s*:=\s*(.*)$`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("no LAMBDAS := line in the Makefile")
	}
	if got := strings.Fields(string(m[1])); strings.Join(got, " ") != strings.Join(Lambdas, " ") {
		t.Errorf("Makefile LAMBDAS = %v, statemachine.Lambdas = %v", got, Lambdas)
	}
	for _, l := range Lambdas {
		if _, err := os.Stat(filepath.Join("../../lambdas", l, "main.go")); err != nil {
			t.Errorf("lambda %s: %v", l, err)
		}
	}
}
