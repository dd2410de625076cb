package asl

import (
	"context"
	"errors"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/failover"
	"github.com/prestoha/coordinator-ha/internal/statemachine"
)

var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

// definition renders the real failover definition with each Task's Resource set to its
// Lambda's name (statemachine.Tasks).
func definition(t *testing.T) *Machine {
	t.Helper()
	arns := map[string]string{}
	for _, task := range statemachine.Tasks {
		arns[task.Placeholder] = task.Lambda
	}
	def, err := statemachine.Render(arns)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Parse(def)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestInterpreterFollowsTheDefinition checks the interpreter against the real
// definition's state graph: every state is reachable from StartAt, every Next, Default,
// Choice and Catch target exists, and scripted step outcomes take the paths the
// definition documents. (differential_test.go checks the same paths, and more, against
// aws-local-stepfunctions.)
func TestInterpreterFollowsTheDefinition(t *testing.T) {
	m := definition(t)
	seen := map[string]bool{}
	var walk func(string)
	walk = func(n string) {
		if seen[n] {
			return
		}
		s, ok := m.States[n]
		if !ok {
			t.Fatalf("transition to unknown state %q", n)
		}
		seen[n] = true
		for _, nx := range []string{s.Next, s.Default} {
			if nx != "" {
				walk(nx)
			}
		}
		for _, c := range s.Choices {
			walk(c.Next)
		}
		for _, c := range s.Catch {
			walk(c.Next)
		}
	}
	walk(m.StartAt)
	for n := range m.States {
		if !seen[n] {
			t.Errorf("state %s is unreachable", n)
		}
	}
	for _, task := range statemachine.Tasks {
		for _, st := range task.States {
			if s := m.States[st]; s.Type != "Task" || s.Resource != task.Lambda {
				t.Errorf("state %s: type %s resource %q, statemachine.Tasks says a Task of %s", st, s.Type, s.Resource, task.Lambda)
			}
		}
	}

	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			r := Run(context.Background(), m, baseDoc(), Env{Clock: clock.NewVirtual(t0), Jitter: rand.New(rand.NewPCG(1, 2)).Float64, Task: sc.script.task(t)})
			if r.Status != sc.status || !slices.Equal(r.Path(), sc.path) {
				t.Fatalf("status %s path %v (%s %s); want %s %v", r.Status, r.Path(), r.Error, r.Cause, sc.status, sc.path)
			}
			got := map[string]int{}
			for _, st := range r.Path() {
				if n := r.Retries(st); n > 0 {
					got[st] = n
				}
			}
			if !maps.Equal(got, sc.retries) && !(len(got) == 0 && len(sc.retries) == 0) {
				t.Fatalf("retries %v, want %v", got, sc.retries)
			}
			if sc.caught != "" && (r.Doc.Error == nil || r.Doc.Error.Error != sc.caught) && (r.Doc.NotifyError == nil || r.Doc.NotifyError.Error != sc.caught) {
				t.Fatalf("Catch did not store %s at its ResultPath: error %+v notifyError %+v", sc.caught, r.Doc.Error, r.Doc.NotifyError)
			}
		})
	}
}

// TestTimeoutsOnTheClock: a Task that takes longer than its TimeoutSeconds on the clock
// fails with States.Timeout (caught here to NotifyFailure), and Wait states and retry
// pauses advance the clock, not wall time.
func TestTimeoutsOnTheClock(t *testing.T) {
	m := definition(t)
	clk := clock.NewVirtual(t0)
	task := func(ctx context.Context, state string, doc events.FailoverState) (events.FailoverState, error) {
		if d, ok := ctx.Deadline(); !ok || time.Until(d) < 20*time.Second {
			t.Errorf("state %s: the Task's context has no deadline of its TimeoutSeconds (%v %v)", state, d, ok)
		}
		if state == statemachine.StateTerminate {
			_ = clk.Sleep(ctx, 171*time.Second) // TimeoutSeconds is 170
		}
		return doc, nil
	}
	start := time.Now()
	r := Run(context.Background(), m, baseDoc(), Env{Clock: clk, Task: task})
	if want := []string{statemachine.StateTerminate, statemachine.StateNotifyFailure, statemachine.StateFailed}; r.Status != StatusFailed || !slices.Equal(r.Path(), want) {
		t.Fatalf("status %s path %v, want FAILED %v", r.Status, r.Path(), want)
	}
	if r.Doc.Error == nil || r.Doc.Error.Error != ErrTimeout {
		t.Fatalf("$.error = %+v, want %s", r.Doc.Error, ErrTimeout)
	}
	if time.Since(start) > 10*time.Second {
		t.Logf("note: the run took %s of wall time (a loaded machine?); its verdict does not depend on it", time.Since(start))
	}
}

func TestErrorName(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&failover.TransientError{Err: errors.New("x")}, failover.ErrorTypeTransient},
		{&failover.PermanentError{Err: errors.New("x")}, failover.ErrorTypePermanent},
		{&Error{Name: "Lambda.ServiceException", Cause: "crash"}, "Lambda.ServiceException"},
		{errors.New("plain"), "errorString"},
	} {
		if got := ErrorName(tc.err); got != tc.want {
			t.Errorf("ErrorName(%T) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestParseRefusesWhatItDoesNotModel(t *testing.T) {
	for _, tc := range []struct{ name, def string }{
		{"unknown field", `{"StartAt":"A","States":{"A":{"Type":"Succeed","Bogus":1}}}`},
		{"Pass state", `{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}`},
		{"Task paths", `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"r","InputPath":"$.x","End":true}}}`},
		{"nested ResultPath", `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"r","End":true,"Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":"$.a.b","Next":"A"}]}}}`},
		{"jitter", `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"r","End":true,"Retry":[{"ErrorEquals":["States.ALL"],"JitterStrategy":"HALF"}]}}}`},
		{"no StartAt state", `{"StartAt":"B","States":{"A":{"Type":"Succeed"}}}`},
		{"dangling", `{"StartAt":"A","States":{"A":{"Type":"Wait","Seconds":1}}}`},
	} {
		if _, err := Parse(tc.def); err == nil {
			t.Errorf("%s: Parse accepted %s", tc.name, tc.def)
		}
	}
}
