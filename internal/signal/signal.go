// Package signal is the contract between the on-host agent and the health check: how
// a coordinator's health is written to CloudWatch and read back. Both sides use only
// this package, so the namespaces, metric names, dimensions and value codes exist in one place.
//
// Every coordinator's agent publishes, as high-resolution (1 s) custom metrics with
// dimensions Cluster and InstanceId, into its own namespace (HostNamespace):
//
//	CoordinatorHealth  its own probe of GET /v1/info on loopback: 1 healthy, 0 unhealthy, 2 starting
//	WitnessReach       (standbys only) its probe of the active coordinator through the ENI IP:
//	                   1 a coordinator answered GET /v1/info (HTTP 200, coordinator true,
//	                   whatever starting or state say), 0 no such answer
//
// Each sample carries the probe's own timestamp, so batching and ingestion delay do not
// blur the time line. The health check reads them with one GetMetricData call using
// Period 1: Maximum returns the samples one by one, SampleCount of the self-reports
// tells a second that holds more than one sample.
//
// # Reports that IAM authenticates
//
// A report counts for instance X only when IAM guaranteed that X wrote it. The report
// namespace of a host embeds its role-session identity:
//
//	PrestoCoordinatorHA/<role id>:<instance id>
//
// which is exactly Namespace + "/" + aws:userid of an EC2 instance role session. The
// hosts' policy allows PutMetricData only with the condition cloudwatch:namespace =
// "PrestoCoordinatorHA/${aws:userid}", so the credentials of instance X can write into
// X's namespace and nowhere else: not another host's, not another cluster's (whose host
// role has another role id), not another stack's with the same cluster name (its role
// id differs too). The agent learns its aws:userid from STS GetCallerIdentity; the
// health check knows the role id from the stack (COORDINATOR_HOST_ROLE_ID) and reads
// for each member X the namespace ReportNamespace(role id, X), all in the one call.
// Dimensions inside a namespace are not trusted: the health check asks for X's metrics
// in X's namespace only.
//
// Why not dimensions, or a tag: a PutMetricData condition can name the namespace only
// (cloudwatch:namespace is its one condition key), and policy variables work in
// condition values, so the namespace is the one place IAM can bind a datum to its
// writer. The cost is one metric per host instead of a shared namespace: the same
// number of custom metrics, since a metric is a namespace+name+dimensions triple anyway.
//
// What IAM cannot tell is a second writer holding X's own credentials (a process on X).
// Check flags what no agent writes: values outside the encoding, and more than one
// self-report in a second (one agent sends one per probe interval). Such samples are
// tampering: the health check alerts and never acts on them.
package signal

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// Namespace is the CloudWatch namespace of the health check's own metrics, and the
// prefix of every host's report namespace.
const Namespace = "PrestoCoordinatorHA"

// HostNamespace is the report namespace of the caller whose aws:userid is userID
// (for an instance role: "<role id>:<instance id>"). The hosts' IAM policy allows
// PutMetricData into HostNamespace("${aws:userid}") only.
func HostNamespace(userID string) string { return Namespace + "/" + userID }

// ReportNamespace is the namespace that only instance instanceID, with the host role
// whose unique id is roleID, can write.
func ReportNamespace(roleID, instanceID string) string {
	return HostNamespace(roleID + ":" + instanceID)
}

// Metric and dimension names.
const (
	MetricHealth  = "CoordinatorHealth"
	MetricWitness = "WitnessReach"
	DimCluster    = "Cluster"
	DimInstance   = "InstanceId"
)

// Metrics the health check publishes about its decisions (dimension Cluster, and
// InstanceId for Verdict).
const (
	MetricVerdict          = "Verdict"          // events.Verdict.Code() of each coordinator
	MetricHealthyStandbys  = "HealthyStandbys"  // standbys eligible to take the ENI
	MetricFailoversStarted = "FailoversStarted" // executions started by the health check
	MetricBreakerOpen      = "CircuitBreakerOpen"
	MetricGuardBlocked     = "FailoverBlocked" // a failover verdict that a guard held back
	MetricTampering        = "ReportTampering" // members whose reports held what no agent writes (signal.Check)
)

// Status is one self-report.
type Status int

// Self-report values.
const (
	Unhealthy Status = 0
	Healthy   Status = 1
	Starting  Status = 2
)

func (s Status) String() string {
	switch s {
	case Unhealthy:
		return "unhealthy"
	case Healthy:
		return "healthy"
	case Starting:
		return "starting"
	}
	return fmt.Sprintf("status(%d)", int(s))
}

// Sample is one report at the time its probe finished.
type Sample struct {
	At    time.Time
	Value float64
}

// Dimensions returns the dimensions of a coordinator's metrics.
func Dimensions(cluster, instanceID string) []cwtypes.Dimension {
	return []cwtypes.Dimension{
		{Name: aws.String(DimCluster), Value: aws.String(cluster)},
		{Name: aws.String(DimInstance), Value: aws.String(instanceID)},
	}
}

// HealthDatum is one self-report as a high-resolution datum.
func HealthDatum(cluster, instanceID string, s Status, at time.Time) cwtypes.MetricDatum {
	return datum(MetricHealth, cluster, instanceID, float64(s), at)
}

// WitnessDatum is one witness report as a high-resolution datum.
// reached means a coordinator answered /v1/info at the ENI IP (see the package doc).
func WitnessDatum(cluster, instanceID string, reached bool, at time.Time) cwtypes.MetricDatum {
	v := 0.0
	if reached {
		v = 1
	}
	return datum(MetricWitness, cluster, instanceID, v, at)
}

func datum(name, cluster, instanceID string, v float64, at time.Time) cwtypes.MetricDatum {
	return cwtypes.MetricDatum{
		MetricName:        aws.String(name),
		Dimensions:        Dimensions(cluster, instanceID),
		Timestamp:         aws.Time(at.UTC()),
		Value:             aws.Float64(v),
		StorageResolution: aws.Int32(1),
		Unit:              cwtypes.StandardUnitNone,
	}
}

// Query ids: "h<index>" for a coordinator's health, "c<index>" for the number of its
// health samples per second, "w<index>" for its witness reports.
func healthID(i int) string  { return fmt.Sprintf("h%d", i) }
func countID(i int) string   { return fmt.Sprintf("c%d", i) }
func witnessID(i int) string { return fmt.Sprintf("w%d", i) }

// QueriesPerInstance is the number of metrics Query requests per coordinator.
const QueriesPerInstance = 3

// MaxInstancesPerQuery bounds one GetMetricData call (500 queries, three per instance).
const MaxInstancesPerQuery = 500 / QueriesPerInstance

// Query builds the single GetMetricData request that fetches every listed coordinator's
// self-reports (and their count per second) and witness reports between start and end,
// one sample per second, each from the coordinator's own report namespace
// (ReportNamespace of roleID, the unique id of the cluster's host role).
func Query(cluster, roleID string, instanceIDs []string, start, end time.Time) (*cloudwatch.GetMetricDataInput, error) {
	if roleID == "" {
		return nil, fmt.Errorf("building health query for cluster %s: no host role id", cluster)
	}
	if len(instanceIDs) == 0 {
		return nil, fmt.Errorf("building health query for cluster %s: no instances", cluster)
	}
	if len(instanceIDs) > MaxInstancesPerQuery {
		return nil, fmt.Errorf("building health query for cluster %s: %d instances exceed %d per call", cluster, len(instanceIDs), MaxInstancesPerQuery)
	}
	if !end.After(start) {
		return nil, fmt.Errorf("building health query for cluster %s: end %s is not after start %s", cluster, end, start)
	}
	var q []cwtypes.MetricDataQuery
	for i, id := range instanceIDs {
		ns := ReportNamespace(roleID, id)
		q = append(q, metricQuery(healthID(i), ns, MetricHealth, "Maximum", cluster, id),
			metricQuery(countID(i), ns, MetricHealth, "SampleCount", cluster, id),
			metricQuery(witnessID(i), ns, MetricWitness, "Maximum", cluster, id))
	}
	return &cloudwatch.GetMetricDataInput{
		MetricDataQueries: q,
		StartTime:         aws.Time(start.UTC().Truncate(time.Second)),
		EndTime:           aws.Time(end.UTC().Truncate(time.Second).Add(time.Second)),
		ScanBy:            cwtypes.ScanByTimestampAscending,
	}, nil
}

func metricQuery(id, namespace, name, stat, cluster, instanceID string) cwtypes.MetricDataQuery {
	return cwtypes.MetricDataQuery{
		Id: aws.String(id),
		MetricStat: &cwtypes.MetricStat{
			Metric: &cwtypes.Metric{
				Namespace:  aws.String(namespace),
				MetricName: aws.String(name),
				Dimensions: Dimensions(cluster, instanceID),
			},
			Period: aws.Int32(1),
			Stat:   aws.String(stat),
		},
		ReturnData: aws.Bool(true),
	}
}

// Reports is what GetMetricData said about one coordinator, oldest sample first.
type Reports struct {
	Health  []Sample
	Witness []Sample
	// HealthCounts is the number of self-reports in each second that has any (the
	// SampleCount query); Check compares it with Health.
	HealthCounts []Sample
}

// Parse maps the results of the request built by Query (possibly over several pages)
// back to instances. Results for ids it did not ask for are an error, as are
// non-finite values.
func Parse(instanceIDs []string, results []cwtypes.MetricDataResult) (map[string]*Reports, error) {
	byID := make(map[string]*[]Sample, QueriesPerInstance*len(instanceIDs))
	out := make(map[string]*Reports, len(instanceIDs))
	for i, id := range instanceIDs {
		r := &Reports{}
		out[id] = r
		byID[healthID(i)] = &r.Health
		byID[witnessID(i)] = &r.Witness
		byID[countID(i)] = &r.HealthCounts
	}
	for _, res := range results {
		dst, ok := byID[aws.ToString(res.Id)]
		if !ok {
			return nil, fmt.Errorf("parsing health metrics: unexpected query id %q", aws.ToString(res.Id))
		}
		if len(res.Timestamps) != len(res.Values) {
			return nil, fmt.Errorf("parsing health metrics: query %s has %d timestamps and %d values", aws.ToString(res.Id), len(res.Timestamps), len(res.Values))
		}
		for j, ts := range res.Timestamps {
			v := res.Values[j]
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("parsing health metrics: query %s has a non-finite value at %s", aws.ToString(res.Id), ts)
			}
			*dst = append(*dst, Sample{At: ts, Value: v})
		}
	}
	for _, r := range out {
		sortSamples(r.Health)
		sortSamples(r.Witness)
		sortSamples(r.HealthCounts)
	}
	return out, nil
}

func sortSamples(s []Sample) {
	sort.SliceStable(s, func(i, j int) bool { return s[i].At.Before(s[j].At) })
}

// StatusOf reads a self-report value back; ok is false for a value no agent writes.
func StatusOf(v float64) (s Status, ok bool) {
	switch v {
	case 0:
		return Unhealthy, true
	case 1:
		return Healthy, true
	case 2:
		return Starting, true
	}
	return Unhealthy, false
}

// Tampering is what Check found in one coordinator's reports: samples that no agent
// writes. Only a writer holding the coordinator's own credentials can put them there
// (see the package doc), so they are a reason to alert, never to act.
type Tampering struct {
	BadHealth  []Sample    // self-reports outside the encoding (0, 1, 2)
	BadWitness []Sample    // witness reports other than 0 and 1
	Crowded    []time.Time // seconds that hold more than one self-report (an agent sends one per probe interval, at least a second apart)
}

// Found reports whether anything was found.
func (t Tampering) Found() bool {
	return len(t.BadHealth)+len(t.BadWitness)+len(t.Crowded) > 0
}

func (t Tampering) String() string {
	if !t.Found() {
		return "none"
	}
	var parts []string
	if n := len(t.BadHealth); n > 0 {
		parts = append(parts, fmt.Sprintf("%d self-report(s) outside the encoding (first %v at %s)", n, t.BadHealth[0].Value, t.BadHealth[0].At.UTC().Format(time.RFC3339)))
	}
	if n := len(t.BadWitness); n > 0 {
		parts = append(parts, fmt.Sprintf("%d witness report(s) outside the encoding (first %v at %s)", n, t.BadWitness[0].Value, t.BadWitness[0].At.UTC().Format(time.RFC3339)))
	}
	if n := len(t.Crowded); n > 0 {
		parts = append(parts, fmt.Sprintf("%d second(s) with more than one self-report (first %s)", n, t.Crowded[0].UTC().Format(time.RFC3339)))
	}
	return strings.Join(parts, "; ")
}

// Check removes from r every sample no agent writes, and says what it removed: a
// self-report outside the encoding, a witness report other than 0 or 1, and the
// self-report of a second that holds more than one (Maximum would hide the others).
func Check(r *Reports) Tampering {
	var t Tampering
	if r == nil {
		return t
	}
	crowded := map[int64]bool{}
	for _, c := range r.HealthCounts {
		if c.Value > 1 {
			crowded[c.At.Unix()] = true
			t.Crowded = append(t.Crowded, c.At)
		}
	}
	health := r.Health[:0:0]
	for _, s := range r.Health {
		if _, ok := StatusOf(s.Value); !ok {
			t.BadHealth = append(t.BadHealth, s)
			continue
		}
		if crowded[s.At.Unix()] {
			continue
		}
		health = append(health, s)
	}
	witness := r.Witness[:0:0]
	for _, s := range r.Witness {
		if s.Value != 0 && s.Value != 1 {
			t.BadWitness = append(t.BadWitness, s)
			continue
		}
		witness = append(witness, s)
	}
	r.Health, r.Witness = health, witness
	return t
}
