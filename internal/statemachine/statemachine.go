package statemachine

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/prestoha/coordinator-ha/events"
)

//go:embed failover.asl.json
var definition string

// State names. The four step states carry the events.Step* names so the timeline and
// the console agree.
const (
	StateTerminate      = "Terminate"
	StateFenceOutcome   = "FenceOutcome"
	StateAttachENI      = "AttachENI"
	StateAttachOutcome  = "AttachOutcome"
	StateLaunchStandby  = "LaunchStandby"
	StateLaunchForWait  = "LaunchStandbyForAttach"
	StateWaitForStandby = "WaitForStandby"
	StateNotify         = "Notify"
	StateNotifyFailure  = "NotifyFailure"
	StateDone           = "FailoverDone"
	// StateDoneNotNotified is where the success-path Notify's Catch leads: the failover
	// worked, the notification did not (the output's notifyError says why).
	StateDoneNotNotified = "FailoverDoneNotNotified"
	StateFailed          = "FailoverFailed"
)

// Placeholders of the definition: the Lambda function ARNs, substituted by CDK
// (DefinitionBody.fromString with definitionSubstitutions) or by Render.
const (
	TerminateFunctionArn     = "TerminateFunctionArn"
	AttachENIFunctionArn     = "AttachENIFunctionArn"
	LaunchStandbyFunctionArn = "LaunchStandbyFunctionArn"
	NotifyFunctionArn        = "NotifyFunctionArn"
)

// Task is one step Lambda of the failover state machine. Tasks is the one table of
// them: the stack, the drill, the chaos campaign, the tests and the CDK test frame
// all read it rather than spelling the steps again.
type Task struct {
	// Step is the step's name: its first Task state and its entries in the timeline
	// (events.Step*). failover.Steps.Handler(Step) is its handler.
	Step string
	// Lambda names the function: lambdas/<Lambda>, and the caller name the permissions
	// table and the simulated account record its AWS calls under.
	Lambda string
	// Placeholder is the definition's ${...} placeholder for the function's ARN.
	Placeholder string
	// TimeoutSeconds is the timeout the stack must give the Lambda. Each Task state's
	// TimeoutSeconds is below it, and each step stops its own waits
	// failover.Timing.DeadlineMargin (15 s) before the Lambda deadline, which is
	// earlier still: the step returns a typed error that Retry/Catch see before the
	// Task times out, and the Task times out before Lambda kills the function.
	TimeoutSeconds int
	// States are the Task states that invoke the Lambda.
	States []string
}

// Tasks lists the step Lambdas in the order a failover runs them.
var Tasks = []Task{
	{Step: events.StepTerminate, Lambda: "terminate", Placeholder: TerminateFunctionArn, TimeoutSeconds: 180, States: []string{StateTerminate}},
	{Step: events.StepAttachENI, Lambda: "attacheni", Placeholder: AttachENIFunctionArn, TimeoutSeconds: 120, States: []string{StateAttachENI}},
	{Step: events.StepLaunch, Lambda: "launchstandby", Placeholder: LaunchStandbyFunctionArn, TimeoutSeconds: 120, States: []string{StateLaunchStandby, StateLaunchForWait}},
	{Step: events.StepNotify, Lambda: "notify", Placeholder: NotifyFunctionArn, TimeoutSeconds: 30, States: []string{StateNotify, StateNotifyFailure}},
}

// HealthCheckLambda is the scheduled health check that starts the state machine's
// executions.
const HealthCheckLambda = "healthcheck"

// TeardownLambda is the stack's delete-time step, a CloudFormation custom resource that
// releases the coordinator group when the stack is deleted (internal/teardown).
const TeardownLambda = "teardown"

// ServiceLambdas are the Lambdas outside the state machine: the health check, then the
// delete-time step.
var ServiceLambdas = []string{HealthCheckLambda, TeardownLambda}

// Lambdas lists every function the stack deploys (lambdas/<name>, built by make build):
// ServiceLambdas, then the step Lambdas in the order of Tasks. It is the one list: the
// Makefile's LAMBDAS, the CDK tests' fake assets and the bench follow it
// (TestLambdasMatchMakefile).
var Lambdas = func() []string {
	out := append([]string{}, ServiceLambdas...)
	for _, t := range Tasks {
		out = append(out, t.Lambda)
	}
	return out
}()

// TaskForStep returns the Task of a step (events.Step*).
func TaskForStep(step string) (Task, bool) {
	for _, t := range Tasks {
		if t.Step == step {
			return t, true
		}
	}
	return Task{}, false
}

// TaskForState returns the Task a Task state invokes.
func TaskForState(state string) (Task, bool) {
	for _, t := range Tasks {
		if slices.Contains(t.States, state) {
			return t, true
		}
	}
	return Task{}, false
}

// TaskForPlaceholder returns the Task whose ARN a placeholder stands for.
func TaskForPlaceholder(ph string) (Task, bool) {
	for _, t := range Tasks {
		if t.Placeholder == ph {
			return t, true
		}
	}
	return Task{}, false
}

// Placeholders lists every placeholder the definition uses, in the order of Tasks.
var Placeholders = func() []string {
	out := make([]string, len(Tasks))
	for i, t := range Tasks {
		out[i] = t.Placeholder
	}
	return out
}()

// TaskStates maps each Task state to the placeholder of the Lambda it invokes.
var TaskStates = func() map[string]string {
	out := map[string]string{}
	for _, t := range Tasks {
		for _, s := range t.States {
			out[s] = t.Placeholder
		}
	}
	return out
}()

// LambdaTimeoutSeconds is each step Lambda's timeout (Task.TimeoutSeconds), keyed by
// placeholder.
var LambdaTimeoutSeconds = func() map[string]int {
	out := map[string]int{}
	for _, t := range Tasks {
		out[t.Placeholder] = t.TimeoutSeconds
	}
	return out
}()

// Definition returns the Amazon States Language definition with its ${...}
// placeholders, exactly as embedded.
func Definition() string { return definition }

var placeholderRe = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`)

// Render substitutes every placeholder with values[name]. It fails when a placeholder
// has no value, a value names no placeholder, or a value is empty; the result is
// checked to be JSON.
func Render(values map[string]string) (string, error) {
	known := map[string]bool{}
	for _, p := range Placeholders {
		known[p] = true
	}
	var problems []string
	for _, p := range Placeholders {
		if v, ok := values[p]; !ok {
			problems = append(problems, "missing value for ${"+p+"}")
		} else if strings.TrimSpace(v) == "" {
			problems = append(problems, "empty value for ${"+p+"}")
		}
	}
	var unknown []string
	for k := range values {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		problems = append(problems, "unknown placeholder "+k)
	}
	if len(problems) > 0 {
		return "", fmt.Errorf("rendering the failover state machine: %s", strings.Join(problems, "; "))
	}
	out := placeholderRe.ReplaceAllStringFunc(definition, func(m string) string {
		name := placeholderRe.FindStringSubmatch(m)[1]
		b, _ := json.Marshal(values[name])
		return strings.Trim(string(b), `"`)
	})
	if !json.Valid([]byte(out)) {
		return "", fmt.Errorf("rendering the failover state machine: result is not JSON")
	}
	return out, nil
}
