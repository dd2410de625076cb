// Package statemachine is the one source of the failover state machine's definition
// (failover.asl.json, embedded). The CDK stack passes Definition() to
// DefinitionBody.fromString with definitionSubstitutions for the Placeholders (the four
// step Lambdas' ARNs); tests and the local drill call Render and run the result with
// internal/harness/sfnlocal.
//
//	Terminate -> FenceOutcome
//	  SUPERSEDED            -> Notify -> FailoverDone
//	  FENCED | NO_HOLDER    -> AttachENI -> AttachOutcome
//	    ATTACHED                          -> LaunchStandby -> Notify -> FailoverDone
//	    NO_STANDBY, attempts < max        -> LaunchStandbyForAttach -> WaitForStandby (30 s) -> AttachENI
//	    otherwise                         -> NotifyFailure -> FailoverFailed
//	any Task error after its retries (Catch States.ALL, ResultPath $.error) -> NotifyFailure -> FailoverFailed
//	  except Notify's own: Catch States.ALL, ResultPath $.notifyError -> FailoverDoneNotNotified (Succeed),
//	  because the failover itself worked; NotifyFailure has no Catch and always ends in FailoverFailed
//
// Every Task retries TransientError and the Lambda service errors with backoff 2 and
// full jitter, has a TimeoutSeconds under its Lambda's timeout (LambdaTimeoutSeconds),
// and passes the whole document in and out (no InputPath, ResultSelector, ResultPath
// or OutputPath on Tasks), since each step returns the whole FailoverState. Catch
// ResultPaths ($.error, $.notifyError) are fields of events.FailoverState.
package statemachine
