package failover

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/prestoha/coordinator-ha/events"
)

const childEnv = "FAILOVER_ERRORTYPE_CHILD"

// TestErrorTypeThroughLambdaRuntime runs a real aws-lambda-go runtime loop (in a child
// process of this test binary) against a stand-in Lambda Runtime API on loopback, and
// checks the errorType it reports for each error a step can return: the Go type name,
// which is what the state machine's Retry and Catch match.
func TestErrorTypeThroughLambdaRuntime(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		return // the child runs from TestMain
	}
	tests := []struct {
		kind string
		want string
	}{
		{"transient", ErrorTypeTransient},
		{"fence", ErrorTypeFenceNotConfirmed},
		{"invalid", ErrorTypeInvalidInput},
		{"permanent", ErrorTypePermanent},
	}
	for _, tc := range tests {
		t.Run(tc.kind, func(t *testing.T) {
			got := make(chan map[string]string, 1)
			var once sync.Once
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.Method == http.MethodGet && r.URL.Path == "/2018-06-01/runtime/invocation/next":
					served := false
					once.Do(func() {
						served = true
						w.Header().Set("Lambda-Runtime-Aws-Request-Id", "req-1")
						w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10))
						w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:terminate")
						_, _ = w.Write([]byte(`{"kind":"` + tc.kind + `"}`))
					})
					if !served {
						http.Error(w, "done", http.StatusGone) // ends the child's loop
					}
				case r.Method == http.MethodPost && r.URL.Path == "/2018-06-01/runtime/invocation/req-1/error":
					body, _ := io.ReadAll(r.Body)
					var m map[string]string
					var raw map[string]any
					_ = json.Unmarshal(body, &raw)
					m = map[string]string{}
					for k, v := range raw {
						if s, ok := v.(string); ok {
							m[k] = s
						}
					}
					got <- m
					w.WriteHeader(http.StatusAccepted)
				default:
					w.WriteHeader(http.StatusAccepted)
				}
			}))
			defer srv.Close()
			cmd := exec.Command(os.Args[0], "-test.run=^TestErrorTypeThroughLambdaRuntime$")
			cmd.Env = append(os.Environ(), childEnv+"=1", "AWS_LAMBDA_RUNTIME_API="+srv.Listener.Addr().String(), "_LAMBDA_SERVER_PORT=")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
			select {
			case m := <-got:
				if m["errorType"] != tc.want {
					t.Errorf("errorType %q, want %q (message %q)", m["errorType"], tc.want, m["errorMessage"])
				}
			case <-time.After(20 * time.Second):
				t.Fatal("the Lambda runtime did not report an error")
			}
		})
	}
}

// TestMain lets the test binary play a Lambda function for TestErrorTypeThroughLambdaRuntime.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		lambda.Start(func(ctx context.Context, in struct{ Kind string }) (events.FailoverState, error) {
			// The errors come out of classify, as every step's do.
			var err error
			switch in.Kind {
			case "transient":
				err = classify(transient("describing ENI: throttled"))
			case "fence":
				err = classify(fenceNotConfirmed("refusing to attach"))
			case "invalid":
				err = &InvalidInputError{Err: errors.New("bad input")}
			default:
				err = classify(errors.New("access denied"))
			}
			return events.FailoverState{}, err
		})
		return
	}
	os.Exit(m.Run())
}

func TestClassify(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{transient("x"), ErrorTypeTransient},
		{context.DeadlineExceeded, ErrorTypeTransient},
		{errors.Join(errors.New("ctx"), fenceNotConfirmed("x")), ErrorTypeFenceNotConfirmed},
		{permanent("x"), ErrorTypePermanent},
		{errors.New("unknown"), ErrorTypePermanent},
	}
	for _, tc := range tests {
		got := classify(tc.err)
		if ErrorType(got) != tc.want || got.Error() != tc.err.Error() {
			t.Errorf("classify(%v) = %T %q, want %s", tc.err, got, got, tc.want)
		}
	}
}
