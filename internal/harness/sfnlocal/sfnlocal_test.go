package sfnlocal

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// requireTools skips LOUDLY when the npm tools are missing; `make test` installs them,
// so in CI this never skips.
func requireTools(t *testing.T) {
	t.Helper()
	if _, err := FindTools(); err != nil {
		t.Skipf("!!!!!! SKIPPING: %v. Run `make tools` (make test does) to run the local Step Functions tests. !!!!!!", err)
	}
}

type FlakyError struct{ msg string }

func (e *FlakyError) Error() string { return e.msg }

const def = `{
  "StartAt": "First",
  "States": {
    "First": {
      "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:first",
      "Retry": [{"ErrorEquals": ["FlakyError"], "IntervalSeconds": 30, "MaxAttempts": 3, "BackoffRate": 2}],
      "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}],
      "Next": "Pause"
    },
    "Pause": {"Type": "Wait", "Seconds": 3600, "Next": "Second"},
    "Second": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:second", "End": true},
    "Caught": {"Type": "Fail", "Error": "Boom", "Cause": "caught"}
  }
}`

func TestRunRetriesWaitsAndCatches(t *testing.T) {
	requireTools(t)
	tests := []struct {
		name       string
		failures   int32 // FlakyError replies before First succeeds
		finalErr   error // returned after the flaky ones, nil = succeed
		wantStatus string
		wantRetry  int
		wantError  string
		wantPath   string
	}{
		{name: "succeeds after two retries", failures: 2, wantStatus: StatusSucceeded, wantRetry: 2, wantPath: "First,Pause,Second"},
		{name: "retries exhausted then caught", failures: 10, wantStatus: StatusFailed, wantRetry: 3, wantError: "Boom", wantPath: "First,Caught"},
		{name: "other error caught at once", finalErr: errors.New("plain"), wantStatus: StatusFailed, wantRetry: 0, wantError: "Boom", wantPath: "First,Caught"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			handlers := map[string]Handler{
				"First": func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
					n := calls.Add(1)
					if n <= tc.failures {
						return nil, &FlakyError{msg: "flaky"}
					}
					if tc.finalErr != nil {
						return nil, tc.finalErr
					}
					return json.RawMessage(`{"first":true}`), nil
				},
				// by resource ARN
				"arn:aws:lambda:us-east-1:123456789012:function:second": TypedHandler(func(ctx context.Context, in map[string]any) (map[string]any, error) {
					in["second"] = true
					return in, nil
				}),
			}
			start := time.Now()
			res, err := Run(context.Background(), def, []byte(`{"x":1}`), handlers, Shortened(time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			if time.Since(start) > 30*time.Second {
				t.Errorf("overrides did not shorten the waits: %s", time.Since(start))
			}
			if res.Status != tc.wantStatus || res.Error != tc.wantError {
				t.Fatalf("status %s error %q, want %s %q (cause %s)", res.Status, res.Error, tc.wantStatus, tc.wantError, res.Cause)
			}
			if got := strings.Join(res.Path(), ","); got != tc.wantPath {
				t.Errorf("path %s, want %s", got, tc.wantPath)
			}
			if got := res.Count("StateRetried", "First"); got != tc.wantRetry {
				t.Errorf("%d retries, want %d", got, tc.wantRetry)
			}
			if tc.wantStatus == StatusSucceeded {
				var out map[string]any
				if err := json.Unmarshal(res.Output, &out); err != nil || out["first"] != true || out["second"] != true {
					t.Errorf("output %s", res.Output)
				}
			}
		})
	}
}

func TestCatchCarriesErrorTypeAndCause(t *testing.T) {
	requireTools(t)
	def := `{"StartAt":"T","States":{
	  "T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:t",
	       "Catch":[{"ErrorEquals":["FlakyError"],"ResultPath":"$.error","Next":"Done"}],"End":true},
	  "Done":{"Type":"Succeed"}}}`
	res, err := Run(context.Background(), def, []byte(`{"keep":"me"}`), map[string]Handler{
		"T": func(context.Context, json.RawMessage) (json.RawMessage, error) {
			return nil, &FlakyError{msg: "disk on fire"}
		},
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Keep  string `json:"keep"`
		Error struct{ Error, Cause string }
	}
	if err := json.Unmarshal(res.Output, &out); err != nil {
		t.Fatal(err)
	}
	if out.Keep != "me" || out.Error.Error != "FlakyError" || !strings.Contains(out.Error.Cause, `"errorMessage":"disk on fire"`) {
		t.Errorf("output %s", res.Output)
	}
}

func TestMissingHandlerFailsTheExecution(t *testing.T) {
	requireTools(t)
	res, err := Run(context.Background(), def, []byte(`{}`), nil, Shortened(0))
	if err != nil {
		t.Fatal(err)
	}
	// sfnlocal.NoHandler is not FlakyError: caught by States.ALL at once.
	if res.Status != StatusFailed || res.Count("StateCaught", "First") != 1 {
		t.Errorf("status %s events %+v", res.Status, res.Events)
	}
}

func TestErrorType(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&FlakyError{}, "FlakyError"},
		{&ServiceError{Type: "Lambda.TooManyRequestsException"}, "Lambda.TooManyRequestsException"},
		{errors.New("x"), "errorString"},
	}
	for _, tc := range tests {
		if got := ErrorType(tc.err); got != tc.want {
			t.Errorf("ErrorType(%T) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestRunRejectsBadInput(t *testing.T) {
	requireTools(t)
	if _, err := Run(context.Background(), "{", []byte(`{}`), nil, Options{}); err == nil {
		t.Error("bad definition accepted")
	}
	if _, err := Run(context.Background(), def, []byte(`{`), nil, Options{}); err == nil {
		t.Error("bad input accepted")
	}
	if _, err := Run(context.Background(), `{"StartAt":"X","States":{}}`, []byte(`{}`), nil, Options{}); err == nil {
		t.Error("invalid ASL accepted")
	}
}

// TestLiftTimeouts: a Task slower than its TimeoutSeconds times out as written, and
// does not with LiftTimeouts.
func TestLiftTimeouts(t *testing.T) {
	requireTools(t)
	def := `{"StartAt":"Slow","TimeoutSeconds":60,"States":{
	  "Slow":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:slow","TimeoutSeconds":1,"End":true}}}`
	release := make(chan struct{})
	h := map[string]Handler{"Slow": func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
		<-release // the test decides when the Task answers, not a timer
		return in, nil
	}}
	t.Run("as written", func(t *testing.T) {
		res, err := Run(context.Background(), def, []byte(`{}`), h, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != StatusFailed || res.Error != "States.Timeout" {
			t.Errorf("status %s error %q, want FAILED States.Timeout", res.Status, res.Error)
		}
	})
	release <- struct{}{} // the timed-out invocation's handler returns
	t.Run("lifted", func(t *testing.T) {
		go func() {
			time.Sleep(1500 * time.Millisecond) // past the 1 s as written; the verdict needs no more than "later"
			release <- struct{}{}
		}()
		res, err := Run(context.Background(), def, []byte(`{"x":1}`), h, Options{LiftTimeouts: true})
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != StatusSucceeded {
			t.Errorf("status %s error %q, want SUCCEEDED", res.Status, res.Error)
		}
	})
	if d, err := liftTimeouts(def); err != nil || !strings.Contains(d, `"TimeoutSeconds":604800`) || strings.Contains(d, `"TimeoutSeconds":1,`) {
		t.Errorf("liftTimeouts: %v %s", err, d)
	}
}
