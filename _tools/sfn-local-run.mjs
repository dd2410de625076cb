// sfn-local-run.mjs: run one Step Functions execution locally with the pinned
// aws-local-stepfunctions, for internal/harness/sfnlocal (Go). Read the Go side's doc there.
//
// stdin: one JSON object
//   { "definition": <ASL object or string>, "input": <any JSON>,
//     "taskURL": "http://127.0.0.1:PORT/task",
//     "waitOverrides":  { "<Wait state>" | "*": milliseconds },
//     "retryOverrides": { "<state>" | "*": milliseconds } }
// Every Task state (top level) runs through taskURL: POST {"state","resource","input"};
// the reply is {"output": <any>} or {"errorType": "...", "errorMessage": "..."}, which
// becomes a thrown Error whose name is errorType (so Retry/Catch ErrorEquals match it)
// and whose message is {"errorMessage","errorType"} as JSON, the Cause AWS shows for a
// Lambda function error.
// stdout: one JSON object
//   { "status": "SUCCEEDED" | "FAILED" | "TIMED_OUT", "output": <any>, "error": "...",
//     "cause": "...", "events": [ {type, timestamp, state, stateType, output, error, cause, attempt} ] }
// Exit 0 when an execution ran (whatever its status), 2 when it could not be run.

// aws-local-stepfunctions 3.0.0 uses Promise.withResolvers, which Node 20 lacks.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers() {
    let resolve, reject;
    const promise = new this((res, rej) => { resolve = res; reject = rej; });
    return { promise, resolve, reject };
  };
}

const { StateMachine } = await import('aws-local-stepfunctions');

async function readStdin() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

function expand(overrides, states, want) {
  const out = {};
  if (!overrides) return out;
  for (const [name, ms] of Object.entries(overrides)) {
    if (name === '*') {
      for (const [s, def] of Object.entries(states)) if (want(def)) out[s] = ms;
    } else {
      out[name] = ms;
    }
  }
  return out;
}

async function main() {
  const req = await readStdin();
  const definition = typeof req.definition === 'string' ? JSON.parse(req.definition) : req.definition;
  const states = definition.States || {};
  const taskResourceLocalHandlers = {};
  for (const [name, def] of Object.entries(states)) {
    if (def.Type !== 'Task') continue;
    taskResourceLocalHandlers[name] = async (input) => {
      const res = await fetch(req.taskURL, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ state: name, resource: def.Resource, input }),
      });
      const body = await res.json();
      if (body.errorType) {
        const err = new Error(JSON.stringify({ errorMessage: body.errorMessage, errorType: body.errorType }));
        err.name = body.errorType;
        throw err;
      }
      return body.output;
    };
  }
  const machine = new StateMachine(definition, { validationOptions: { checkPaths: true, checkArn: true } });
  const execution = machine.run(req.input, {
    overrides: {
      taskResourceLocalHandlers,
      waitTimeOverrides: expand(req.waitOverrides, states, (d) => d.Type === 'Wait'),
      retryIntervalOverrides: expand(req.retryOverrides, states, (d) => Array.isArray(d.Retry)),
    },
  });
  const events = [];
  const collecting = (async () => {
    for await (const ev of execution.eventLogs) {
      const e = { type: ev.type, timestamp: ev.timestamp };
      if (ev.state) { e.state = ev.state.name; e.stateType = ev.state.type; }
      if (ev.type === 'StateExited') e.output = ev.state.output;
      if (ev.type === 'ExecutionSucceeded') e.output = ev.output;
      if (ev.Error !== undefined) { e.error = ev.Error; e.cause = typeof ev.Cause === 'string' ? ev.Cause : JSON.stringify(ev.Cause); }
      if (ev.retry) e.attempt = ev.retry.attempt;
      events.push(e);
    }
  })();
  const result = { status: 'SUCCEEDED', events };
  try {
    result.output = await execution.result;
  } catch (err) {
    if (err && err.name === 'ExecutionTimeoutError') {
      result.status = 'TIMED_OUT';
      result.error = 'States.Timeout';
    } else {
      const cause = err && err.cause ? err.cause : err;
      result.status = 'FAILED';
      result.error = cause && cause.name ? cause.name : 'Error';
      result.cause = cause && cause.message !== undefined ? String(cause.message) : String(cause);
    }
  }
  await collecting;
  // Exit once the result is out: a Task abandoned by a timeout may still have its
  // request to the Go server open, which would keep Node alive for minutes.
  process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(0));
}

main().catch((err) => {
  process.stderr.write(`sfn-local-run: ${err && err.stack ? err.stack : err}\n`);
  process.exit(2);
});
