package chaos

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
	"github.com/prestoha/coordinator-ha/internal/failover"
)

// The campaign runs the real state machine definition (internal/statemachine) with a
// small interpreter of the part of Amazon States Language it uses: Task (Retry with
// IntervalSeconds, BackoffRate, MaxAttempts, MaxDelaySeconds, JitterStrategy FULL;
// Catch with ResultPath "$.error"; TimeoutSeconds), Choice (StringEquals,
// NumericLessThanPath, And, Or, Not, Default), Wait (Seconds), Succeed and Fail. Anything
// else in the definition is an error, so a new construct cannot be skipped silently.
// Time is the campaign's simulated clock; a Task's TimeoutSeconds bounds the simulated
// time its handler took.

type aslMachine struct {
	Comment        string              `json:"Comment"`
	StartAt        string              `json:"StartAt"`
	TimeoutSeconds int                 `json:"TimeoutSeconds"`
	States         map[string]aslState `json:"States"`
}

type aslState struct {
	Type           string       `json:"Type"`
	Resource       string       `json:"Resource"`
	Next           string       `json:"Next"`
	End            bool         `json:"End"`
	TimeoutSeconds int          `json:"TimeoutSeconds"`
	Retry          []aslRetrier `json:"Retry"`
	Catch          []aslCatcher `json:"Catch"`
	Choices        []aslRule    `json:"Choices"`
	Default        string       `json:"Default"`
	Seconds        int          `json:"Seconds"`
	Error          string       `json:"Error"`
	Cause          string       `json:"Cause"`
	ResultPath     *string      `json:"ResultPath"`
	InputPath      *string      `json:"InputPath"`
	OutputPath     *string      `json:"OutputPath"`
	ResultSelector any          `json:"ResultSelector"`
	Parameters     any          `json:"Parameters"`
	Comment        string       `json:"Comment"`
}

type aslRetrier struct {
	ErrorEquals     []string `json:"ErrorEquals"`
	IntervalSeconds *float64 `json:"IntervalSeconds"`
	BackoffRate     *float64 `json:"BackoffRate"`
	MaxAttempts     *int     `json:"MaxAttempts"`
	MaxDelaySeconds float64  `json:"MaxDelaySeconds"`
	JitterStrategy  string   `json:"JitterStrategy"`
}

type aslCatcher struct {
	ErrorEquals []string `json:"ErrorEquals"`
	ResultPath  string   `json:"ResultPath"`
	Next        string   `json:"Next"`
}

type aslRule struct {
	Variable            string    `json:"Variable"`
	StringEquals        *string   `json:"StringEquals"`
	NumericLessThanPath *string   `json:"NumericLessThanPath"`
	And                 []aslRule `json:"And"`
	Or                  []aslRule `json:"Or"`
	Not                 *aslRule  `json:"Not"`
	Next                string    `json:"Next"`
}

// parseASL reads a definition and refuses constructs the interpreter does not model.
func parseASL(def string) (*aslMachine, error) {
	var m aslMachine
	dec := json.NewDecoder(strings.NewReader(def))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("parsing the state machine definition (an ASL field the chaos interpreter does not model?): %w", err)
	}
	if _, ok := m.States[m.StartAt]; !ok {
		return nil, fmt.Errorf("StartAt %q is not a state", m.StartAt)
	}
	for name, s := range m.States {
		switch s.Type {
		case "Task":
			if s.InputPath != nil || s.OutputPath != nil || s.ResultPath != nil || s.ResultSelector != nil || s.Parameters != nil {
				return nil, fmt.Errorf("state %s: Task paths are not modelled (each step takes and returns the whole document)", name)
			}
			for _, c := range s.Catch {
				if _, err := setResultPath(events.FailoverState{}, c.ResultPath, events.CatchError{Error: "x", Cause: "y"}); err != nil {
					return nil, fmt.Errorf("state %s: Catch ResultPath: %w", name, err)
				}
			}
			for _, r := range s.Retry {
				if r.JitterStrategy != "" && r.JitterStrategy != "FULL" && r.JitterStrategy != "NONE" {
					return nil, fmt.Errorf("state %s: JitterStrategy %q", name, r.JitterStrategy)
				}
			}
		case "Choice", "Wait", "Succeed", "Fail":
		default:
			return nil, fmt.Errorf("state %s: type %s is not modelled", name, s.Type)
		}
		if s.Type != "Succeed" && s.Type != "Fail" && s.Type != "Choice" && s.Next == "" && !s.End {
			return nil, fmt.Errorf("state %s has neither Next nor End", name)
		}
	}
	return &m, nil
}

// stepError is a Task failure as Step Functions sees it: an error name and a cause.
type stepError struct {
	Name, Cause string
}

func (e *stepError) Error() string { return e.Name + ": " + e.Cause }

// errorName maps a handler's error to the name Retry and Catch match, as aws-lambda-go
// reports it (the Go type name), or the name a crash carries.
func errorName(err error) string {
	var se *stepError
	if errors.As(err, &se) {
		return se.Name
	}
	return failover.ErrorType(err)
}

func matches(list []string, name string) bool {
	return slices.Contains(list, name) || (slices.Contains(list, "States.ALL") && !strings.HasPrefix(name, "States.Runtime"))
}

// taskFunc runs one Task state: the step handler for its resource, with crash faults.
type taskFunc func(ctx context.Context, state string, in events.FailoverState) (events.FailoverState, error)

// visit is one state entered by an execution.
type visit struct {
	State   string
	At      time.Time
	Outcome string // "ok", an error name, "retry <error>", "caught <error>"
}

// execResult is how an interpreted execution ended.
type execResult struct {
	Status  string // SUCCEEDED, FAILED, TIMED_OUT
	Doc     events.FailoverState
	Visits  []visit
	Error   string
	Cause   string
	Retried int
	// Completed are the Task states whose handler returned a document.
	Completed []string
}

// runASL interprets the machine on the input document.
func runASL(ctx context.Context, m *aslMachine, clk clock.Clock, rng *rand.Rand, in events.FailoverState, task taskFunc, observe func()) execResult {
	doc := in
	start := clk.Now()
	res := execResult{}
	name := m.StartAt
	for steps := 0; ; steps++ {
		if steps > 500 {
			res.Status, res.Error, res.Cause = "FAILED", "chaos.Loop", "more than 500 state transitions"
			res.Doc = doc
			return res
		}
		if m.TimeoutSeconds > 0 && clk.Now().Sub(start) > time.Duration(m.TimeoutSeconds)*time.Second {
			res.Status, res.Error, res.Doc = "TIMED_OUT", "States.Timeout", doc
			return res
		}
		s := m.States[name]
		v := visit{State: name, At: clk.Now(), Outcome: "ok"}
		switch s.Type {
		case "Succeed":
			res.Visits = append(res.Visits, v)
			res.Status, res.Doc = "SUCCEEDED", doc
			return res
		case "Fail":
			res.Visits = append(res.Visits, v)
			res.Status, res.Doc, res.Error, res.Cause = "FAILED", doc, s.Error, s.Cause
			return res
		case "Wait":
			res.Visits = append(res.Visits, v)
			_ = clk.Sleep(ctx, time.Duration(s.Seconds)*time.Second)
			name = s.Next
		case "Choice":
			next, err := choose(s, doc)
			if err != nil {
				v.Outcome = "States.Runtime"
				res.Visits = append(res.Visits, v)
				res.Status, res.Doc, res.Error, res.Cause = "FAILED", doc, "States.Runtime", err.Error()
				return res
			}
			res.Visits = append(res.Visits, v)
			name = next
		case "Task":
			attempts := make([]int, len(s.Retry))
			for {
				t0 := clk.Now()
				tctx, cancel := context.WithTimeout(ctx, time.Duration(s.TimeoutSeconds)*time.Second)
				out, err := task(tctx, name, doc)
				cancel()
				if err == nil && s.TimeoutSeconds > 0 && clk.Now().Sub(t0) > time.Duration(s.TimeoutSeconds)*time.Second {
					err = &stepError{Name: "States.Timeout", Cause: fmt.Sprintf("task ran %s of simulated time, over its %ds", clk.Now().Sub(t0), s.TimeoutSeconds)}
				}
				observe()
				if err == nil {
					res.Visits = append(res.Visits, v)
					res.Completed = append(res.Completed, name)
					doc = out
					break
				}
				en := errorName(err)
				retried := false
				for i, r := range s.Retry {
					if !matches(r.ErrorEquals, en) {
						continue
					}
					maxA := 3
					if r.MaxAttempts != nil {
						maxA = *r.MaxAttempts
					}
					if attempts[i] >= maxA {
						break // the first matching retrier decides; exhausted means no retry
					}
					interval, rate := 1.0, 2.0
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
						wait *= rng.Float64()
					}
					attempts[i]++
					res.Retried++
					res.Visits = append(res.Visits, visit{State: name, At: clk.Now(), Outcome: "retry " + en})
					_ = clk.Sleep(ctx, time.Duration(wait*float64(time.Second)))
					retried = true
					break
				}
				if retried {
					continue
				}
				caught := false
				for _, c := range s.Catch {
					if matches(c.ErrorEquals, en) {
						cause, _ := json.Marshal(map[string]string{"errorMessage": err.Error(), "errorType": en})
						d, perr := setResultPath(doc, c.ResultPath, events.CatchError{Error: en, Cause: string(cause)})
						if perr != nil {
							res.Status, res.Doc, res.Error, res.Cause = "FAILED", doc, "States.Runtime", perr.Error()
							return res
						}
						doc = d
						v.Outcome = "caught " + en
						res.Visits = append(res.Visits, v)
						name = c.Next
						caught = true
						break
					}
				}
				if !caught {
					v.Outcome = en
					res.Visits = append(res.Visits, v)
					res.Status, res.Doc, res.Error, res.Cause = "FAILED", doc, en, err.Error()
					return res
				}
				break
			}
			if res.Visits[len(res.Visits)-1].Outcome == "ok" {
				if s.End {
					res.Status, res.Doc = "SUCCEEDED", doc
					return res
				}
				name = s.Next
			}
		}
	}
}

// choose evaluates a Choice state on the document as JSON, as Step Functions does: a
// rule that reads a path the document lacks is a States.Runtime error.
func choose(s aslState, doc events.FailoverState) (string, error) {
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

func evalRule(r aslRule, doc any) (bool, error) {
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
	return false, fmt.Errorf("choice rule on %s uses an operator the chaos interpreter does not model", r.Variable)
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
