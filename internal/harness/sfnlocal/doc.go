// Package sfnlocal runs a Step Functions definition locally with the pinned
// aws-local-stepfunctions (in _tools/node_modules; `make tools` installs it), serving
// its Task states with Go handlers. Tests of internal/statemachine and the local drill
// use it to run the real definition against the real step handlers.
//
// How: Run starts an HTTP server on 127.0.0.1 and runs node _tools/sfn-local-run.mjs,
// passing the definition, the input and the server's URL on stdin. The script overrides
// every top-level Task state with a function that POSTs the state's input to the
// server; Run calls handlers[state name] (or handlers[resource ARN]) and replies with
// the output, or with the error's errorType (ErrorType: the Go type name, as
// aws-lambda-go reports it, or Typed.ErrorType()) and message. The script throws an
// Error named after the errorType, so Retry and Catch match it exactly as they match a
// Lambda function error in AWS, and the Cause is AWS's {"errorMessage","errorType"}.
// Options shorten Wait states and retry pauses (aws-local-stepfunctions's
// waitTimeOverrides and retryIntervalOverrides), and LiftTimeouts raises the Task and
// execution timeouts, which aws-local-stepfunctions applies in wall time, out of reach
// of a slow machine. The Result has the status, the output
// and the history (state entered/exited/failed/retried/caught with timestamps and
// each state's output).
//
// Not modelled (aws-local-stepfunctions's limits): the Lambda service itself (throttling
// of Invoke, payload limits), Task states nested in Map or Parallel (only top-level
// Tasks are routed to Go), and Task TimeoutSeconds is applied in wall time (LiftTimeouts takes it out of play).
package sfnlocal
