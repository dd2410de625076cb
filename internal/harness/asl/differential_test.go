package asl

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/harness/sfnlocal"
	"github.com/prestoha/coordinator-ha/internal/statemachine"
)

// TestDifferentialAgainstLocalStepFunctions feeds the same scripted step outcomes to
// this interpreter and to aws-local-stepfunctions (the reference, which follows AWS),
// both running the same rendered definition, and compares, per scenario:
//   - the states entered, in order (aws-local-stepfunctions's StateEntered events;
//     Result.Path here), and the retried attempts per state (its StateRetried events);
//   - the final status, and the error name of a FAILED execution;
//   - the final document (the execution output, or for a FAILED one the last state's
//     output, which AWS also shows), after the Catch ResultPaths wrote into it.
//
// A caught error's Cause ({"errorMessage","errorType"} as a string) is compared as the
// JSON it holds: this interpreter encodes it as aws-lambda-go encodes a function error
// (json.Marshal, which writes <, > and & as \u003c, \u003e, \u0026), the Node script
// with JSON.stringify, which does not; the scenarios' messages contain such characters.
//
// What is not compared: the Causes of a FAILED execution (each interpreter words its
// States.Runtime cause differently), timestamps, and retry pauses: aws-local-stepfunctions
// runs with every Wait and retry pause overridden to 0 (so the test takes seconds) and
// with its wall-time Task and execution timeouts lifted (sfnlocal.LiftTimeouts), so no
// wall-clock timeout can decide the verdict on a slow machine. A Task timeout is
// therefore scripted as an error named States.Timeout on both sides; this interpreter's
// own timeout on its clock is tested in TestTimeoutsOnTheClock.
func TestDifferentialAgainstLocalStepFunctions(t *testing.T) {
	if _, err := sfnlocal.FindTools(); err != nil {
		t.Skipf("!!!!!! SKIPPING: %v. Run `make tools` (make test does) to compare with aws-local-stepfunctions. !!!!!!", err)
	}
	arns := map[string]string{}
	for _, task := range statemachine.Tasks {
		arns[task.Placeholder] = "arn:aws:lambda:us-east-1:123456789012:function:chaos-" + task.Lambda
	}
	def, err := statemachine.Render(arns)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Parse(def)
	if err != nil {
		t.Fatal(err)
	}
	input, err := json.Marshal(baseDoc())
	if err != nil {
		t.Fatal(err)
	}
	opts := sfnlocal.Shortened(0)
	opts.LiftTimeouts = true
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			goRes := Run(context.Background(), m, baseDoc(), Env{Clock: clock.NewVirtual(t0), Jitter: rand.New(rand.NewPCG(1, 2)).Float64, Task: sc.script.task(t)})

			task := sc.script.task(t) // a fresh script: its own invocation counts
			handlers := map[string]sfnlocal.Handler{}
			for name, s := range m.States {
				if s.Type == "Task" {
					handlers[name] = sfnlocal.TypedHandler(func(ctx context.Context, in events.FailoverState) (events.FailoverState, error) {
						return task(ctx, name, in)
					})
				}
			}
			start := time.Now()
			ref, err := sfnlocal.Run(context.Background(), def, input, handlers, opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("aws-local-stepfunctions: %s %v in %s", ref.Status, ref.Path(), time.Since(start).Round(time.Millisecond))

			if goRes.Status != ref.Status || !slices.Equal(goRes.Path(), ref.Path()) {
				t.Errorf("status and path differ:\n  asl:                     %s %v (%s %s)\n  aws-local-stepfunctions: %s %v (%s %s)",
					goRes.Status, goRes.Path(), goRes.Error, goRes.Cause, ref.Status, ref.Path(), ref.Error, ref.Cause)
			}
			if goRes.Status == StatusFailed && goRes.Error != ref.Error {
				t.Errorf("error name: asl %q, aws-local-stepfunctions %q", goRes.Error, ref.Error)
			}
			for _, st := range ref.Path() {
				if g, r := goRes.Retries(st), ref.Count("StateRetried", st); g != r {
					t.Errorf("retries of %s: asl %d, aws-local-stepfunctions %d", st, g, r)
				}
			}
			refDoc := ref.Output
			if ref.Status != StatusSucceeded {
				refDoc = ref.LastOutput()
			}
			var got events.FailoverState
			if err := json.Unmarshal(refDoc, &got); err != nil {
				t.Fatalf("the reference's final document %s: %v", refDoc, err)
			}
			if !reflect.DeepEqual(normalize(t, goRes.Doc), normalize(t, got)) {
				a, _ := json.Marshal(goRes.Doc)
				t.Errorf("final documents differ:\n  asl:                     %s\n  aws-local-stepfunctions: %s", a, refDoc)
			}
			// And both against what the definition documents.
			if ref.Status != sc.status || !slices.Equal(ref.Path(), sc.path) {
				t.Errorf("aws-local-stepfunctions: %s %v, the scenario expects %s %v", ref.Status, ref.Path(), sc.status, sc.path)
			}
		})
	}
}

// normalize re-encodes a document so that equal JSON compares equal (times in UTC),
// with each caught error's Cause decoded when it is JSON.
func normalize(t *testing.T, d events.FailoverState) map[string]any {
	t.Helper()
	raw, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"error", "notifyError"} {
		ce, _ := out[k].(map[string]any)
		if c, ok := ce["Cause"].(string); ok {
			var v any
			if json.Unmarshal([]byte(c), &v) == nil {
				ce["Cause"] = v
			}
		}
	}
	return out
}
