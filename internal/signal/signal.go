// Package signal is the contract between the on-host agent and the health check: how
// a coordinator's health is written to CloudWatch and read back. Both sides use only
// this package, so the metric names, dimensions and value codes exist in one place.
//
// Every coordinator's agent publishes, as high-resolution (1 s) custom metrics in
// Namespace with dimensions Cluster and InstanceId:
//
//	CoordinatorHealth  its own probe of GET /v1/info on loopback: 1 healthy, 0 unhealthy, 2 starting
//	WitnessReach       (standbys only) its probe of the active coordinator through the ENI IP:
//	                   1 a coordinator answered GET /v1/info (HTTP 200, coordinator true,
//	                   whatever starting or state say), 0 no such answer
//
// Each sample carries the probe's own timestamp, so batching and ingestion delay do not
// blur the time line. The health check reads both with one GetMetricData call using
// Period 1 and Stat Maximum, which returns the samples one by one.
package signal

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// Namespace is the CloudWatch namespace of every metric the product publishes.
const Namespace = "PrestoCoordinatorHA"

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

// Query ids: "h<index>" for a coordinator's health, "w<index>" for its witness reports.
func healthID(i int) string  { return fmt.Sprintf("h%d", i) }
func witnessID(i int) string { return fmt.Sprintf("w%d", i) }

// MaxInstancesPerQuery bounds one GetMetricData call (500 queries, two per instance).
const MaxInstancesPerQuery = 250

// Query builds the single GetMetricData request that fetches every listed coordinator's
// self-reports and witness reports between start and end, one sample per second.
func Query(cluster string, instanceIDs []string, start, end time.Time) (*cloudwatch.GetMetricDataInput, error) {
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
		q = append(q, metricQuery(healthID(i), MetricHealth, cluster, id), metricQuery(witnessID(i), MetricWitness, cluster, id))
	}
	return &cloudwatch.GetMetricDataInput{
		MetricDataQueries: q,
		StartTime:         aws.Time(start.UTC().Truncate(time.Second)),
		EndTime:           aws.Time(end.UTC().Truncate(time.Second).Add(time.Second)),
		ScanBy:            cwtypes.ScanByTimestampAscending,
	}, nil
}

func metricQuery(id, name, cluster, instanceID string) cwtypes.MetricDataQuery {
	return cwtypes.MetricDataQuery{
		Id: aws.String(id),
		MetricStat: &cwtypes.MetricStat{
			Metric: &cwtypes.Metric{
				Namespace:  aws.String(Namespace),
				MetricName: aws.String(name),
				Dimensions: Dimensions(cluster, instanceID),
			},
			Period: aws.Int32(1),
			Stat:   aws.String("Maximum"),
		},
		ReturnData: aws.Bool(true),
	}
}

// Reports is what GetMetricData said about one coordinator, oldest sample first.
type Reports struct {
	Health  []Sample
	Witness []Sample
}

// Parse maps the results of the request built by Query (possibly over several pages)
// back to instances. Results for ids it did not ask for are an error, as are
// non-finite values.
func Parse(instanceIDs []string, results []cwtypes.MetricDataResult) (map[string]*Reports, error) {
	byID := make(map[string]*[]Sample, 2*len(instanceIDs))
	out := make(map[string]*Reports, len(instanceIDs))
	for i, id := range instanceIDs {
		r := &Reports{}
		out[id] = r
		byID[healthID(i)] = &r.Health
		byID[witnessID(i)] = &r.Witness
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
