package asl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/harness/sfnlocal"
)

// Machine is a parsed definition.
type Machine struct {
	Comment        string           `json:"Comment"`
	StartAt        string           `json:"StartAt"`
	TimeoutSeconds int              `json:"TimeoutSeconds"`
	States         map[string]State `json:"States"`
}

// State is one state of a Machine (the fields of every type it models).
type State struct {
	Type           string    `json:"Type"`
	Resource       string    `json:"Resource"`
	Next           string    `json:"Next"`
	End            bool      `json:"End"`
	TimeoutSeconds int       `json:"TimeoutSeconds"`
	Retry          []Retrier `json:"Retry"`
	Catch          []Catcher `json:"Catch"`
	Choices        []Rule    `json:"Choices"`
	Default        string    `json:"Default"`
	Seconds        int       `json:"Seconds"`
	Error          string    `json:"Error"`
	Cause          string    `json:"Cause"`
	ResultPath     *string   `json:"ResultPath"`
	InputPath      *string   `json:"InputPath"`
	OutputPath     *string   `json:"OutputPath"`
	ResultSelector any       `json:"ResultSelector"`
	Parameters     any       `json:"Parameters"`
	Comment        string    `json:"Comment"`
}

// Retrier is one entry of a Task's Retry.
type Retrier struct {
	ErrorEquals     []string `json:"ErrorEquals"`
	IntervalSeconds *float64 `json:"IntervalSeconds"`
	BackoffRate     *float64 `json:"BackoffRate"`
	MaxAttempts     *int     `json:"MaxAttempts"`
	MaxDelaySeconds float64  `json:"MaxDelaySeconds"`
	JitterStrategy  string   `json:"JitterStrategy"`
}

// Catcher is one entry of a Task's Catch.
type Catcher struct {
	ErrorEquals []string `json:"ErrorEquals"`
	ResultPath  string   `json:"ResultPath"`
	Next        string   `json:"Next"`
}

// Rule is a Choice rule (or a nested And/Or/Not operand).
type Rule struct {
	Variable            string  `json:"Variable"`
	StringEquals        *string `json:"StringEquals"`
	NumericLessThanPath *string `json:"NumericLessThanPath"`
	And                 []Rule  `json:"And"`
	Or                  []Rule  `json:"Or"`
	Not                 *Rule   `json:"Not"`
	Next                string  `json:"Next"`
}

// Step Functions' defaults where a field is absent.
const (
	defaultTaskTimeout  = 60 // seconds, a Task without TimeoutSeconds
	defaultMaxAttempts  = 3
	defaultInterval     = 1.0
	defaultBackoffRate  = 2.0
	maxStateTransitions = 500 // the interpreter's own guard against a definition that loops forever
)

// Execution statuses, as Step Functions reports them.
const (
	StatusSucceeded = "SUCCEEDED"
	StatusFailed    = "FAILED"
	StatusTimedOut  = "TIMED_OUT"
)

// Error names of the States Language the interpreter produces or treats specially.
const (
	ErrAll        = "States.ALL"
	ErrTaskFailed = "States.TaskFailed"
	ErrTimeout    = "States.Timeout"
	ErrRuntime    = "States.Runtime"
	// ErrLoop is the interpreter's own: more than 500 state transitions.
	ErrLoop = "asl.Loop"
)

// Parse reads a definition (placeholders already rendered) and refuses constructs the
// interpreter does not model, so a new construct in the definition cannot be skipped
// silently.
func Parse(def string) (*Machine, error) {
	var m Machine
	dec := json.NewDecoder(strings.NewReader(def))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("parsing the state machine definition (an ASL field the interpreter does not model?): %w", err)
	}
	if _, ok := m.States[m.StartAt]; !ok {
		return nil, fmt.Errorf("StartAt %q is not a state", m.StartAt)
	}
	for name, s := range m.States {
		if err := s.check(); err != nil {
			return nil, fmt.Errorf("state %s: %w", name, err)
		}
	}
	return &m, nil
}

func (s State) check() error {
	switch s.Type {
	case "Task":
		if s.InputPath != nil || s.OutputPath != nil || s.ResultPath != nil || s.ResultSelector != nil || s.Parameters != nil {
			return errors.New("the paths of a Task (InputPath, Parameters, ResultSelector, ResultPath, OutputPath) are not modelled: each step takes and returns the whole document")
		}
		for _, c := range s.Catch {
			if _, err := setResultPath(events.FailoverState{}, c.ResultPath, events.CatchError{Error: "x", Cause: "y"}); err != nil {
				return fmt.Errorf("the ResultPath of a Catch: %w", err)
			}
		}
		for _, r := range s.Retry {
			if r.JitterStrategy != "" && r.JitterStrategy != "FULL" && r.JitterStrategy != "NONE" {
				return fmt.Errorf("JitterStrategy %q is not modelled", r.JitterStrategy)
			}
		}
	case "Choice", "Wait", "Succeed", "Fail":
	default:
		return fmt.Errorf("type %s is not modelled", s.Type)
	}
	if s.Type != "Succeed" && s.Type != "Fail" && s.Type != "Choice" && s.Next == "" && !s.End {
		return errors.New("neither Next nor End")
	}
	return nil
}

// Error is a Task failure with an explicit name: what a crashed Lambda (Lambda.ServiceException,
// Sandbox.Timedout) or Step Functions itself (States.Timeout) reports. Its ErrorType method
// is the one sfnlocal.Typed asks for, so the same value names itself alike in both interpreters.
type Error struct {
	Name, Cause string
}

func (e *Error) Error() string     { return e.Name + ": " + e.Cause }
func (e *Error) ErrorType() string { return e.Name }

// ErrorName is the name Retry and Catch match for an error a Task function returned, as
// a Lambda function error carries it: aws-lambda-go's errorType, the same rule by which
// aws-local-stepfunctions sees it (sfnlocal.ErrorType), so that both interpreters name
// an error alike.
func ErrorName(err error) string { return sfnlocal.ErrorType(err) }

// matches reports whether a Retry or Catch ErrorEquals list matches an error name:
// exactly, by States.ALL (never a States.Runtime error), or by States.TaskFailed (any
// Task error but States.Timeout).
func matches(list []string, name string) bool {
	if slices.Contains(list, name) {
		return true
	}
	if strings.HasPrefix(name, ErrRuntime) {
		return false
	}
	return slices.Contains(list, ErrAll) || (slices.Contains(list, ErrTaskFailed) && name != ErrTimeout)
}

// TaskFunc runs one Task state: it gets the state's name and the document, and returns
// the new document or an error whose name (ErrorName) Retry and Catch match.
type TaskFunc func(ctx context.Context, state string, doc events.FailoverState) (events.FailoverState, error)

// Env is what an execution runs with.
type Env struct {
	// Clock tells the time; Wait states and retry pauses sleep on it, and Task and
	// execution timeouts are measured on it.
	Clock clock.Clock
	// Jitter draws in [0,1) for JitterStrategy FULL; nil uses math/rand/v2's global source.
	Jitter func() float64
	// Task serves every Task state.
	Task TaskFunc
	// Observe, if set, runs after every Task attempt (to check invariants between steps).
	Observe func()
}

// Visit is one state entered by an execution, or one retried attempt of a Task.
type Visit struct {
	State   string
	At      time.Time
	Outcome string // "ok", an uncaught error's name, "retry <error>" (an attempt that was retried), "caught <error>"
}

// Result is how an execution ended.
type Result struct {
	Status string // StatusSucceeded, StatusFailed, StatusTimedOut
	Doc    events.FailoverState
	// Visits are the states entered in order, with one more entry before it for every
	// retried attempt of a Task ("retry <error>").
	Visits  []Visit
	Error   string
	Cause   string
	Retried int
	// Completed are the Task states whose function returned a document.
	Completed []string
}

// Path lists the states entered, in order: what Step Functions records as StateEntered
// events (a retry is no new entry).
func (r Result) Path() []string {
	var p []string
	for _, v := range r.Visits {
		if !strings.HasPrefix(v.Outcome, "retry ") {
			p = append(p, v.State)
		}
	}
	return p
}

// Retries counts the retried attempts of one state.
func (r Result) Retries(state string) int {
	n := 0
	for _, v := range r.Visits {
		if v.State == state && strings.HasPrefix(v.Outcome, "retry ") {
			n++
		}
	}
	return n
}

// execution is one run of a Machine.
type execution struct {
	m     *Machine
	env   Env
	start time.Time
	res   Result
	doc   events.FailoverState
}

func (x *execution) end(status, errName, cause string) Result {
	x.res.Status, x.res.Doc, x.res.Error, x.res.Cause = status, x.doc, errName, cause
	return x.res
}

// Run interprets the machine on the input document until it ends.
func Run(ctx context.Context, m *Machine, in events.FailoverState, env Env) Result {
	if env.Jitter == nil {
		env.Jitter = rand.Float64
	}
	if env.Observe == nil {
		env.Observe = func() {}
	}
	x := &execution{m: m, env: env, start: env.Clock.Now(), doc: in}
	name := m.StartAt
	for steps := 0; ; steps++ {
		if steps > maxStateTransitions {
			return x.end(StatusFailed, ErrLoop, fmt.Sprintf("more than %d state transitions", maxStateTransitions))
		}
		if m.TimeoutSeconds > 0 && env.Clock.Now().Sub(x.start) > time.Duration(m.TimeoutSeconds)*time.Second {
			return x.end(StatusTimedOut, ErrTimeout, "")
		}
		s := m.States[name]
		v := Visit{State: name, At: env.Clock.Now(), Outcome: "ok"}
		switch s.Type {
		case "Succeed":
			x.res.Visits = append(x.res.Visits, v)
			return x.end(StatusSucceeded, "", "")
		case "Fail":
			x.res.Visits = append(x.res.Visits, v)
			return x.end(StatusFailed, s.Error, s.Cause)
		case "Wait":
			x.res.Visits = append(x.res.Visits, v)
			_ = env.Clock.Sleep(ctx, time.Duration(s.Seconds)*time.Second)
			name = s.Next
		case "Choice":
			next, err := choose(s, x.doc)
			if err != nil {
				v.Outcome = ErrRuntime
				x.res.Visits = append(x.res.Visits, v)
				return x.end(StatusFailed, ErrRuntime, err.Error())
			}
			x.res.Visits = append(x.res.Visits, v)
			name = next
		case "Task":
			next, done, ended := x.task(ctx, name, s, v)
			if ended {
				return done
			}
			name = next
		}
	}
}

// task runs a Task state with its Retry and Catch. It returns the next state, or the
// execution's Result with ended set.
func (x *execution) task(ctx context.Context, name string, s State, v Visit) (next string, res Result, ended bool) {
	attempts := make([]int, len(s.Retry))
	for {
		err := x.attempt(ctx, name, s)
		x.env.Observe()
		if err == nil {
			x.res.Visits = append(x.res.Visits, v)
			x.res.Completed = append(x.res.Completed, name)
			if s.End {
				return "", x.end(StatusSucceeded, "", ""), true
			}
			return s.Next, Result{}, false
		}
		en := ErrorName(err)
		if wait, ok := x.retry(s.Retry, attempts, en); ok {
			x.res.Retried++
			x.res.Visits = append(x.res.Visits, Visit{State: name, At: x.env.Clock.Now(), Outcome: "retry " + en})
			_ = x.env.Clock.Sleep(ctx, wait)
			continue
		}
		for _, c := range s.Catch {
			if !matches(c.ErrorEquals, en) {
				continue
			}
			cause, _ := json.Marshal(map[string]string{"errorMessage": err.Error(), "errorType": en})
			d, perr := setResultPath(x.doc, c.ResultPath, events.CatchError{Error: en, Cause: string(cause)})
			if perr != nil {
				return "", x.end(StatusFailed, ErrRuntime, perr.Error()), true
			}
			x.doc = d
			v.Outcome = "caught " + en
			x.res.Visits = append(x.res.Visits, v)
			return c.Next, Result{}, false
		}
		v.Outcome = en
		x.res.Visits = append(x.res.Visits, v)
		return "", x.end(StatusFailed, en, err.Error()), true
	}
}

// attempt runs the Task function once. Its context carries the Task's deadline
// (TimeoutSeconds from now, for handlers that size their own waits by it) but never
// expires by wall time: the timeout is judged on the Clock, after the function returns,
// so a run on a simulated clock does not depend on the machine's speed.
func (x *execution) attempt(ctx context.Context, name string, s State) error {
	timeout := time.Duration(s.TimeoutSeconds) * time.Second
	if timeout <= 0 {
		timeout = defaultTaskTimeout * time.Second
	}
	t0 := x.env.Clock.Now()
	out, err := x.env.Task(budget{ctx, time.Now().Add(timeout)}, name, x.doc)
	if elapsed := x.env.Clock.Now().Sub(t0); err == nil && elapsed > timeout {
		err = &Error{Name: ErrTimeout, Cause: fmt.Sprintf("task ran %s, over its %s", elapsed, timeout)}
	}
	if err == nil {
		x.doc = out
	}
	return err
}

// retry decides as Step Functions does: the first retrier whose ErrorEquals matches
// decides; when its attempts are used up there is no retry (later retriers are not
// asked). It returns the pause before the next attempt.
func (x *execution) retry(rs []Retrier, attempts []int, errName string) (time.Duration, bool) {
	for i, r := range rs {
		if !matches(r.ErrorEquals, errName) {
			continue
		}
		maxA := defaultMaxAttempts
		if r.MaxAttempts != nil {
			maxA = *r.MaxAttempts
		}
		if attempts[i] >= maxA {
			return 0, false
		}
		interval, rate := defaultInterval, defaultBackoffRate
		if r.IntervalSeconds != nil {
			interval = *r.IntervalSeconds
		}
		if r.BackoffRate != nil {
			rate = *r.BackoffRate
		}
		wait := interval * math.Pow(rate, float64(attempts[i]))
		if r.MaxDelaySeconds > 0 {
			wait = math.Min(wait, r.MaxDelaySeconds)
		}
		if r.JitterStrategy == "FULL" {
			wait *= x.env.Jitter()
		}
		attempts[i]++
		return time.Duration(wait * float64(time.Second)), true
	}
	return 0, false
}

// budget is a Task's context: the parent's cancellation and values, with a deadline
// that is reported but not enforced (see attempt).
type budget struct {
	context.Context
	deadline time.Time
}

func (b budget) Deadline() (time.Time, bool) { return b.deadline, true }

// choose evaluates a Choice state on the document as JSON, as Step Functions does: a
// rule that reads a path the document lacks is a States.Runtime error.
func choose(s State, doc events.FailoverState) (string, error) {
	raw, err := json.Marshal(doc)
	if err != nil {
		return "", err
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", err
	}
	for _, r := range s.Choices {
		ok, err := evalRule(r, v)
		if err != nil {
			return "", err
		}
		if ok {
			return r.Next, nil
		}
	}
	if s.Default == "" {
		return "", errors.New("States.NoChoiceMatched")
	}
	return s.Default, nil
}

func evalRule(r Rule, doc any) (bool, error) {
	switch {
	case len(r.And) > 0:
		for _, c := range r.And {
			ok, err := evalRule(c, doc)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case len(r.Or) > 0:
		for _, c := range r.Or {
			ok, err := evalRule(c, doc)
			if err != nil {
				return false, err
			}
			if ok {
				return true, nil
			}
		}
		return false, nil
	case r.Not != nil:
		ok, err := evalRule(*r.Not, doc)
		return !ok, err
	}
	val, err := jsonPath(doc, r.Variable)
	if err != nil {
		return false, err
	}
	switch {
	case r.StringEquals != nil:
		s, ok := val.(string)
		return ok && s == *r.StringEquals, nil
	case r.NumericLessThanPath != nil:
		other, err := jsonPath(doc, *r.NumericLessThanPath)
		if err != nil {
			return false, err
		}
		a, ok1 := val.(float64)
		b, ok2 := other.(float64)
		if !ok1 || !ok2 {
			return false, fmt.Errorf("States.Runtime: %s or %s is not a number", r.Variable, *r.NumericLessThanPath)
		}
		return a < b, nil
	}
	return false, fmt.Errorf("choice rule on %s uses an operator the interpreter does not model", r.Variable)
}

// jsonPath resolves "$.a.b" on decoded JSON; a missing field is Step Functions'
// States.Runtime error ("Invalid path").
func jsonPath(doc any, path string) (any, error) {
	if !strings.HasPrefix(path, "$.") {
		return nil, fmt.Errorf("path %q is not modelled", path)
	}
	cur := doc
	for _, p := range strings.Split(path[2:], ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("States.Runtime: invalid path %s: %s is not an object", path, p)
		}
		if cur, ok = m[p]; !ok {
			return nil, fmt.Errorf("States.Runtime: invalid path %s: no field %q in the document", path, p)
		}
	}
	return cur, nil
}

// setResultPath stores a caught error at a top-level path ("$.error", "$.notifyError") of
// the document, as a Catch's ResultPath does; the field must exist in events.FailoverState.
func setResultPath(doc events.FailoverState, path string, ce events.CatchError) (events.FailoverState, error) {
	key, ok := strings.CutPrefix(path, "$.")
	if !ok || key == "" || strings.Contains(key, ".") {
		return doc, fmt.Errorf("ResultPath %q is not modelled (a top-level field only)", path)
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return doc, err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return doc, err
	}
	m[key] = ce
	raw, err = json.Marshal(m)
	if err != nil {
		return doc, err
	}
	var out events.FailoverState
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		return doc, fmt.Errorf("ResultPath %q does not fit the failover document: %w", path, err)
	}
	return out, nil
}
