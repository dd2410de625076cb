package sfnlocal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sync"
	"time"
)

// Handler serves one Task state: it gets the state's input and returns its result. A
// returned error becomes a Lambda function error whose errorType is ErrorType(err), so
// the definition's Retry and Catch match it as they would in AWS.
type Handler func(ctx context.Context, input json.RawMessage) (json.RawMessage, error)

// Typed is implemented by errors that name their Step Functions errorType themselves
// (for example "Lambda.TooManyRequestsException" to play the Lambda service).
type Typed interface{ ErrorType() string }

// ErrorType is the errorType Step Functions sees for err: Typed's answer if it has one,
// else the Go type name of err, as aws-lambda-go computes it (the element type's name
// for a pointer), so a *failover.TransientError is "TransientError".
func ErrorType(err error) string {
	var t Typed
	if errors.As(err, &t) {
		return t.ErrorType()
	}
	rt := reflect.TypeOf(err)
	if rt.Kind() == reflect.Pointer {
		rt = rt.Elem()
	}
	if rt.Name() == "" {
		return "Error"
	}
	return rt.Name()
}

// ServiceError is an error with an explicit errorType.
type ServiceError struct{ Type, Message string }

func (e *ServiceError) Error() string     { return e.Type + ": " + e.Message }
func (e *ServiceError) ErrorType() string { return e.Type }

// Options tune a run. The zero value runs the definition as written (real Wait and
// Retry intervals).
type Options struct {
	// ToolsDir is the directory holding sfn-local-run.mjs and node_modules; "" finds
	// _tools by walking up from the working directory.
	ToolsDir string
	// Node is the node binary; "" means "node" on PATH.
	Node string
	// WaitOverrides replaces the duration of Wait states, by state name; the key "*"
	// applies to every Wait state.
	WaitOverrides map[string]time.Duration
	// RetryOverrides replaces the pause before a retry, by state name; "*" applies to
	// every state with a Retry.
	RetryOverrides map[string]time.Duration
	// LiftTimeouts raises every Task's and the execution's TimeoutSeconds to a week
	// (LiftedTimeoutSeconds) before the run. aws-local-stepfunctions applies them in wall
	// time, so on a loaded machine a slow reply could become States.Timeout; a test
	// whose verdict must not depend on the machine's speed lifts them, and plays a
	// timeout as a handler error named States.Timeout instead.
	LiftTimeouts bool
	// Stderr receives the Node script's standard error (nil discards it).
	Stderr io.Writer
}

// LiftedTimeoutSeconds is the TimeoutSeconds LiftTimeouts sets: a week, well within
// the 2^31-1 ms that Node's setTimeout accepts.
const LiftedTimeoutSeconds = 7 * 24 * 3600

// liftTimeouts returns def with every top-level Task's and the machine's TimeoutSeconds
// set to LiftedTimeoutSeconds (TimeoutSecondsPath is dropped).
func liftTimeouts(def string) (string, error) {
	var m map[string]any
	if err := json.Unmarshal([]byte(def), &m); err != nil {
		return "", fmt.Errorf("sfnlocal: lifting timeouts: %w", err)
	}
	m["TimeoutSeconds"] = LiftedTimeoutSeconds
	states, _ := m["States"].(map[string]any)
	for _, v := range states {
		if st, ok := v.(map[string]any); ok && st["Type"] == "Task" {
			delete(st, "TimeoutSecondsPath")
			st["TimeoutSeconds"] = LiftedTimeoutSeconds
		}
	}
	out, err := json.Marshal(m)
	return string(out), err
}

// Shortened returns Options that make every Wait and every retry pause take d.
func Shortened(d time.Duration) Options {
	return Options{WaitOverrides: map[string]time.Duration{"*": d}, RetryOverrides: map[string]time.Duration{"*": d}}
}

// Event is one entry of the execution history.
type Event struct {
	Type      string          `json:"type"` // ExecutionStarted, StateEntered, StateExited, StateFailed, StateRetried, StateCaught, ExecutionSucceeded, ExecutionFailed
	Timestamp int64           `json:"timestamp"`
	State     string          `json:"state,omitempty"`
	StateType string          `json:"stateType,omitempty"`
	Output    json.RawMessage `json:"output,omitempty"` // StateExited and ExecutionSucceeded
	Error     string          `json:"error,omitempty"`
	Cause     string          `json:"cause,omitempty"`
	Attempt   int             `json:"attempt,omitempty"` // StateRetried
}

// At is the event's wall-clock time.
func (e Event) At() time.Time { return time.UnixMilli(e.Timestamp) }

// Execution statuses.
const (
	StatusSucceeded = "SUCCEEDED"
	StatusFailed    = "FAILED"
	StatusTimedOut  = "TIMED_OUT"
)

// Result is how an execution ended.
type Result struct {
	Status string          `json:"status"`
	Output json.RawMessage `json:"output,omitempty"` // with SUCCEEDED
	Error  string          `json:"error,omitempty"`  // with FAILED: the Fail state's or the uncaught error's name
	Cause  string          `json:"cause,omitempty"`
	Events []Event         `json:"events"`
}

// LastOutput is the output of the last state that exited: the execution output when it
// succeeded, and the last document before a Fail state when it failed (which AWS also
// shows in the console's history).
func (r Result) LastOutput() json.RawMessage {
	for i := len(r.Events) - 1; i >= 0; i-- {
		if r.Events[i].Type == "StateExited" && len(r.Events[i].Output) > 0 {
			return r.Events[i].Output
		}
	}
	return r.Output
}

// Path lists the states entered, in order.
func (r Result) Path() []string {
	var p []string
	for _, e := range r.Events {
		if e.Type == "StateEntered" {
			p = append(p, e.State)
		}
	}
	return p
}

// Count counts events of a type in a state ("" for any state).
func (r Result) Count(typ, state string) int {
	n := 0
	for _, e := range r.Events {
		if e.Type == typ && (state == "" || e.State == state) {
			n++
		}
	}
	return n
}

// ErrToolsMissing reports that node_modules is not installed (run `make tools`).
var ErrToolsMissing = errors.New("aws-local-stepfunctions is not installed: run `make tools`")

// FindTools returns the _tools directory, walking up from the working directory, or
// ErrToolsMissing when it has no installed aws-local-stepfunctions.
func FindTools() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		t := filepath.Join(dir, "_tools")
		if _, err := os.Stat(filepath.Join(t, "sfn-local-run.mjs")); err == nil {
			if _, err := os.Stat(filepath.Join(t, "node_modules", "aws-local-stepfunctions", "package.json")); err != nil {
				return t, ErrToolsMissing
			}
			return t, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no _tools/sfn-local-run.mjs above the working directory: %w", ErrToolsMissing)
		}
		dir = parent
	}
}

// Run executes the definition (ASL JSON, placeholders already rendered) on input with
// aws-local-stepfunctions. Every top-level Task state is served by handlers[state name],
// or else handlers[its Resource]; a Task without a handler fails with errorType
// "sfnlocal.NoHandler". Handlers run in this process, on the goroutine of an HTTP
// request from the Node script to a server on 127.0.0.1, with ctx. Run returns when
// the execution ends; a failed execution is a Result with Status FAILED, not an error.
func Run(ctx context.Context, def string, input []byte, handlers map[string]Handler, opts Options) (Result, error) {
	tools := opts.ToolsDir
	if tools == "" {
		t, err := FindTools()
		if err != nil {
			return Result{}, err
		}
		tools = t
	}
	node := opts.Node
	if node == "" {
		node = "node"
	}
	if !json.Valid([]byte(def)) {
		return Result{}, errors.New("sfnlocal: definition is not JSON")
	}
	if !json.Valid(input) {
		return Result{}, errors.New("sfnlocal: input is not JSON")
	}
	if opts.LiftTimeouts {
		d, err := liftTimeouts(def)
		if err != nil {
			return Result{}, err
		}
		def = d
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Result{}, fmt.Errorf("sfnlocal: listening on loopback: %w", err)
	}
	srv := &http.Server{Handler: taskServer(ctx, handlers), ReadHeaderTimeout: 10 * time.Second}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = srv.Serve(ln) }()
	defer func() {
		_ = srv.Close()
		wg.Wait()
	}()

	req := map[string]any{
		"definition":     json.RawMessage(def),
		"input":          json.RawMessage(input),
		"taskURL":        "http://" + ln.Addr().String() + "/task",
		"waitOverrides":  millis(opts.WaitOverrides),
		"retryOverrides": millis(opts.RetryOverrides),
	}
	stdin, err := json.Marshal(req)
	if err != nil {
		return Result{}, err
	}
	cmd := exec.CommandContext(ctx, node, filepath.Join(tools, "sfn-local-run.mjs"))
	cmd.Dir = tools
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if opts.Stderr != nil {
		cmd.Stderr = io.MultiWriter(&stderr, opts.Stderr)
	}
	if err := cmd.Run(); err != nil {
		return Result{}, fmt.Errorf("sfnlocal: running %s: %w: %s", cmd.Args[1], err, bytes.TrimSpace(stderr.Bytes()))
	}
	var res Result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		return Result{}, fmt.Errorf("sfnlocal: reading the script's result: %w: %q", err, stdout.String())
	}
	return res, nil
}

func millis(m map[string]time.Duration) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, d := range m {
		out[k] = d.Milliseconds()
	}
	return out
}

type taskRequest struct {
	State    string          `json:"state"`
	Resource string          `json:"resource"`
	Input    json.RawMessage `json:"input"`
}

type taskReply struct {
	Output       json.RawMessage `json:"output,omitempty"`
	ErrorType    string          `json:"errorType,omitempty"`
	ErrorMessage string          `json:"errorMessage,omitempty"`
}

func taskServer(ctx context.Context, handlers map[string]Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /task", func(w http.ResponseWriter, r *http.Request) {
		var req taskRequest
		var reply taskReply
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			reply = taskReply{ErrorType: "sfnlocal.BadRequest", ErrorMessage: err.Error()}
		} else if h, ok := handlers[req.State]; ok {
			reply = invoke(ctx, h, req.Input)
		} else if h, ok := handlers[req.Resource]; ok {
			reply = invoke(ctx, h, req.Input)
		} else {
			reply = taskReply{ErrorType: "sfnlocal.NoHandler", ErrorMessage: fmt.Sprintf("no handler for Task state %q (resource %q)", req.State, req.Resource)}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(reply)
	})
	return mux
}

func invoke(ctx context.Context, h Handler, input json.RawMessage) (reply taskReply) {
	defer func() {
		if p := recover(); p != nil {
			reply = taskReply{ErrorType: "Runtime.Panic", ErrorMessage: fmt.Sprint(p)}
		}
	}()
	out, err := h(ctx, input)
	if err != nil {
		return taskReply{ErrorType: ErrorType(err), ErrorMessage: err.Error()}
	}
	if len(out) == 0 {
		out = json.RawMessage("null")
	}
	return taskReply{Output: out}
}

// TypedHandler adapts a typed step function, func(ctx, In) (Out, error), into a Handler that
// decodes the input and encodes the output as aws-lambda-go would (with unknown fields
// rejected, as the step Lambdas are started with).
func TypedHandler[In, Out any](f func(context.Context, In) (Out, error)) Handler {
	return func(ctx context.Context, raw json.RawMessage) (json.RawMessage, error) {
		var in In
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			return nil, &ServiceError{Type: "Runtime.UnmarshalError", Message: err.Error()}
		}
		out, err := f(ctx, in)
		if err != nil {
			return nil, err
		}
		return json.Marshal(out)
	}
}
