package statemachine

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
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

// Placeholders lists every placeholder the definition uses.
var Placeholders = []string{TerminateFunctionArn, AttachENIFunctionArn, LaunchStandbyFunctionArn, NotifyFunctionArn}

// TaskStates maps each Task state to the placeholder of the Lambda it invokes.
var TaskStates = map[string]string{
	StateTerminate:     TerminateFunctionArn,
	StateAttachENI:     AttachENIFunctionArn,
	StateLaunchStandby: LaunchStandbyFunctionArn,
	StateLaunchForWait: LaunchStandbyFunctionArn,
	StateNotify:        NotifyFunctionArn,
	StateNotifyFailure: NotifyFunctionArn,
}

// LambdaTimeoutSeconds is the timeout the stack must give each step Lambda, keyed by
// placeholder. Each Task's TimeoutSeconds is below it, and each step stops its own
// waits failover.Timing.DeadlineMargin (15 s) before the Lambda deadline, which is
// earlier still: the step returns a typed error that Retry/Catch see before the Task
// times out, and the Task times out before Lambda kills the function.
var LambdaTimeoutSeconds = map[string]int{
	TerminateFunctionArn:     180,
	AttachENIFunctionArn:     120,
	LaunchStandbyFunctionArn: 120,
	NotifyFunctionArn:        30,
}

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
