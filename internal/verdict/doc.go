// Package verdict judges one coordinator from what the health check saw: its EC2 state,
// whether it holds the coordinator ENI, its agent's self-reports and the standbys'
// witness reports. It is a pure function of its input (no AWS, no clock), so every row of
// the verdict table in design.md is a table-driven test.
//
// # Time line
//
// All times are compared against Input.Now, the health check's clock. With G the grace
// window and I the ingestion allowance, the evaluation window is [Now-I-G, Now-I]:
// reports younger than Now-I may not have reached CloudWatch yet, so their absence is
// never counted as silence (but a report that did arrive early is used). The ingestion
// allowance also absorbs an agent clock that runs behind the Lambda's; a clock that runs
// ahead produces future timestamps, which are clamped to Now.
//
// # Rules, in order
//
//   - GONE: the instance is missing, shutting-down, terminated, stopping or stopped.
//   - STARTING: launched less than the startup budget ago and never reported healthy since,
//     or reporting "starting" for less than the budget (measured from the first starting
//     report of the current run, or from the launch when the run is the first thing the
//     agent ever said). Beyond the budget: FAILED.
//   - Silent (no self-report at or after Now-I-G): for the ENI holder, AGENT_LOST if a
//     present witness reached it inside the window after the agent's next report was due
//     (so a host that answered a witness a second before it died is not taken for a lost
//     agent; only witness reports taken after the ENI's attach time count: earlier ones
//     probed whoever held the IP before), FAILED otherwise, that is when every present
//     witness failed to reach it or there is no present witness. A standby that is silent
//     is FAILED (reported, never acted on).
//   - Latest report unhealthy: FAILED when the trailing run of unhealthy reports spans at
//     least G on the agent's own clock (first unhealthy report of the run to the latest,
//     none healthy or starting in between), SUSPECT otherwise. Measuring the span on the
//     agent's clock makes it immune to clock skew, and a missing late report can only
//     shorten a span, never lengthen it, so late datapoints cannot cause a false FAILED.
//   - Latest report healthy: PARTITIONED for the ENI holder when every present witness
//     failed to reach it throughout the window, HEALTHY otherwise (a short blip such as
//     a GC pause that has ended is HEALTHY again, with the blip in the reason).
//
// ConsecutiveHealthy counts the trailing healthy reports of one agent; the AttachENI
// step uses it to choose a standby that has been healthy for several reports in a row.
package verdict
