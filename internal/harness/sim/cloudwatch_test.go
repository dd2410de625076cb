package sim

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/prestoha/coordinator-ha/internal/awserr"
)

func dims(kv ...string) []cwtypes.Dimension {
	var out []cwtypes.Dimension
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, cwtypes.Dimension{Name: aws.String(kv[i]), Value: aws.String(kv[i+1])})
	}
	return out
}

func (f *fixture) put(t *testing.T, ts time.Time, v float64, res int32, d []cwtypes.Dimension) {
	t.Helper()
	_, err := f.c.CloudWatch.PutMetricData(f.ctx, &cloudwatch.PutMetricDataInput{
		Namespace: aws.String("PrestoHA"),
		MetricData: []cwtypes.MetricDatum{{MetricName: aws.String("Healthy"), Dimensions: d, Timestamp: aws.Time(ts),
			Value: aws.Float64(v), StorageResolution: aws.Int32(res)}},
	})
	must(t, err)
}

func (f *fixture) get(t *testing.T, start, end time.Time, period int32, stat string, d []cwtypes.Dimension) ([]time.Time, []float64) {
	t.Helper()
	out, err := f.c.CloudWatch.GetMetricData(f.ctx, &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(start), EndTime: aws.Time(end),
		MetricDataQueries: []cwtypes.MetricDataQuery{{Id: aws.String("q1"), MetricStat: &cwtypes.MetricStat{
			Metric: &cwtypes.Metric{Namespace: aws.String("PrestoHA"), MetricName: aws.String("Healthy"), Dimensions: d},
			Period: aws.Int32(period), Stat: aws.String(stat)}}},
	})
	must(t, err)
	r := out.MetricDataResults[0]
	if r.StatusCode != cwtypes.StatusCodeComplete || *r.Id != "q1" {
		t.Fatalf("result %+v", r)
	}
	return r.Timestamps, r.Values
}

// CloudWatch: a datapoint is not visible to GetMetricData until ingested.
func TestMetricIngestionDelay(t *testing.T) {
	f := newFixture(t)
	d := dims("InstanceId", "i-1")
	f.put(t, t0, 1, 1, d)
	if ts, _ := f.get(t, t0.Add(-time.Minute), t0.Add(time.Minute), 10, "Sum", d); len(ts) != 0 {
		t.Fatalf("visible before ingestion: %v", ts)
	}
	f.clk.Advance(2 * time.Second)
	if ts, _ := f.get(t, t0.Add(-time.Minute), t0.Add(time.Minute), 10, "Sum", d); len(ts) != 1 {
		t.Fatalf("not visible after ingestion: %v", ts)
	}
	f.acct.SetMetricIngestionDelay(time.Minute)
	f.put(t, f.clk.Now(), 1, 1, d)
	f.clk.Advance(30 * time.Second)
	if _, vs := f.get(t, t0.Add(-time.Minute), t0.Add(time.Minute), 60, "SampleCount", d); !slices.Equal(vs, []float64{1}) {
		t.Fatalf("longer delay not honoured: %v", vs)
	}
}

// CloudWatch: buckets start at multiples of the period; statistics per bucket; newest
// first by default; dimensions must match exactly.
func TestMetricBucketsAndStats(t *testing.T) {
	f := newFixture(t)
	d := dims("InstanceId", "i-1", "Cluster", "c1")
	for k, v := range []float64{1, 0, 1, 1, 0, 1} { // at t0+0s, +10s, ... +50s
		f.put(t, t0.Add(time.Duration(k)*10*time.Second), v, 1, d)
	}
	f.put(t, t0, 5, 1, dims("InstanceId", "i-1")) // another metric: fewer dimensions
	f.clk.Advance(time.Minute)
	cases := []struct {
		period int32
		stat   string
		times  []time.Duration
		values []float64
	}{
		{60, "Sum", []time.Duration{0}, []float64{4}},
		{60, "Average", []time.Duration{0}, []float64{4.0 / 6}},
		{60, "SampleCount", []time.Duration{0}, []float64{6}},
		{60, "Minimum", []time.Duration{0}, []float64{0}},
		{60, "Maximum", []time.Duration{0}, []float64{1}},
		{30, "Sum", []time.Duration{30 * time.Second, 0}, []float64{2, 2}},
		{10, "Sum", []time.Duration{50, 40, 30, 20, 10, 0}, []float64{1, 0, 1, 1, 0, 1}},
	}
	for _, tc := range cases {
		ts, vs := f.get(t, t0.Add(-time.Hour), t0.Add(time.Hour), tc.period, tc.stat, dims("Cluster", "c1", "InstanceId", "i-1"))
		var want []time.Time
		for _, d := range tc.times {
			if tc.period == 10 {
				d *= time.Second
			}
			want = append(want, t0.Add(d))
		}
		if !slices.EqualFunc(ts, want, time.Time.Equal) || !slices.EqualFunc(vs, tc.values, func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }) {
			t.Errorf("period %d %s: got %v %v, want %v %v", tc.period, tc.stat, ts, vs, want, tc.values)
		}
	}
	// StartTime inclusive, EndTime exclusive.
	if _, vs := f.get(t, t0.Add(10*time.Second), t0.Add(30*time.Second), 10, "Sum", d); !slices.Equal(vs, []float64{1, 0}) {
		t.Errorf("window: %v", vs)
	}
	// A dimension subset is another metric.
	if _, vs := f.get(t, t0.Add(-time.Hour), t0.Add(time.Hour), 60, "Sum", dims("InstanceId", "i-1")); !slices.Equal(vs, []float64{5}) {
		t.Errorf("subset metric: %v", vs)
	}
	if ts, _ := f.get(t, t0.Add(-time.Hour), t0.Add(time.Hour), 60, "Sum", dims("Cluster", "c1")); len(ts) != 0 {
		t.Errorf("partial dimensions matched: %v", ts)
	}
	// Standard-resolution data counts at its minute for sub-minute periods.
	sd := dims("InstanceId", "i-std")
	f.put(t, t0.Add(125*time.Second), 7, 60, sd)
	f.clk.Advance(time.Minute)
	if ts, _ := f.get(t, t0, t0.Add(time.Hour), 10, "Sum", sd); len(ts) != 1 || !ts[0].Equal(t0.Add(2*time.Minute)) {
		t.Errorf("standard resolution at 10s period: %v", ts)
	}
}

// Values/Counts and StatisticValues aggregate like CloudWatch.
func TestMetricValuesCountsAndStatisticSets(t *testing.T) {
	f := newFixture(t)
	_, err := f.c.CloudWatch.PutMetricData(f.ctx, &cloudwatch.PutMetricDataInput{
		Namespace: aws.String("PrestoHA"),
		MetricData: []cwtypes.MetricDatum{
			{MetricName: aws.String("Healthy"), Timestamp: aws.Time(t0), Values: []float64{1, 3}, Counts: []float64{2, 1}},
			{MetricName: aws.String("Healthy"), Timestamp: aws.Time(t0), StatisticValues: &cwtypes.StatisticSet{
				Sum: aws.Float64(10), SampleCount: aws.Float64(2), Minimum: aws.Float64(4), Maximum: aws.Float64(6)}},
		},
	})
	must(t, err)
	f.clk.Advance(time.Minute)
	for stat, want := range map[string]float64{"Sum": 15, "SampleCount": 5, "Average": 3, "Minimum": 1, "Maximum": 6} {
		if _, vs := f.get(t, t0, t0.Add(time.Minute), 60, stat, nil); len(vs) != 1 || vs[0] != want {
			t.Errorf("%s = %v, want %v", stat, vs, want)
		}
	}
}

func TestPutMetricDataValidation(t *testing.T) {
	f := newFixture(t)
	datum := func(mut func(*cwtypes.MetricDatum)) []cwtypes.MetricDatum {
		d := cwtypes.MetricDatum{MetricName: aws.String("m"), Value: aws.Float64(1)}
		mut(&d)
		return []cwtypes.MetricDatum{d}
	}
	many := make([]cwtypes.MetricDatum, 1001)
	for i := range many {
		many[i] = cwtypes.MetricDatum{MetricName: aws.String("m"), Value: aws.Float64(1)}
	}
	cases := []struct {
		name string
		ns   string
		data []cwtypes.MetricDatum
		code string
	}{
		{"namespace required", "", datum(func(*cwtypes.MetricDatum) {}), "MissingParameter"},
		{"AWS/ namespaces are reserved", "AWS/EC2", datum(func(*cwtypes.MetricDatum) {}), awserr.CodeInvalidParameterValue},
		{"at most 1000 datums", "ns", many, awserr.CodeInvalidParameterValue},
		{"NaN", "ns", datum(func(d *cwtypes.MetricDatum) { d.Value = aws.Float64(math.NaN()) }), awserr.CodeInvalidParameterValue},
		{"+Inf in Values", "ns", datum(func(d *cwtypes.MetricDatum) { d.Value = nil; d.Values = []float64{math.Inf(1)} }), awserr.CodeInvalidParameterValue},
		{"Value and Values", "ns", datum(func(d *cwtypes.MetricDatum) { d.Values = []float64{1} }), awserr.CodeInvalidParameterCombination},
		{"Counts length", "ns", datum(func(d *cwtypes.MetricDatum) { d.Value = nil; d.Values = []float64{1, 2}; d.Counts = []float64{1} }), awserr.CodeInvalidParameterValue},
		{"StorageResolution 30", "ns", datum(func(d *cwtypes.MetricDatum) { d.StorageResolution = aws.Int32(30) }), awserr.CodeInvalidParameterValue},
		{"metric name required", "ns", datum(func(d *cwtypes.MetricDatum) { d.MetricName = nil }), "MissingParameter"},
		{"timestamp three weeks old", "ns", datum(func(d *cwtypes.MetricDatum) { d.Timestamp = aws.Time(t0.Add(-21 * 24 * time.Hour)) }), awserr.CodeInvalidParameterValue},
		{"empty dimension value", "ns", datum(func(d *cwtypes.MetricDatum) { d.Dimensions = dims("InstanceId", "") }), awserr.CodeInvalidParameterValue},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.c.CloudWatch.PutMetricData(f.ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String(tc.ns), MetricData: tc.data})
			wantCode(t, err, tc.code)
		})
	}
	if n := len(f.acct.Datapoints("")); n != 0 {
		t.Fatalf("rejected calls stored %d datapoints", n)
	}
}

func TestGetMetricDataValidation(t *testing.T) {
	f := newFixture(t)
	q := func(id string, period int32, stat string) cwtypes.MetricDataQuery {
		return cwtypes.MetricDataQuery{Id: aws.String(id), MetricStat: &cwtypes.MetricStat{
			Metric: &cwtypes.Metric{Namespace: aws.String("ns"), MetricName: aws.String("m")}, Period: aws.Int32(period), Stat: aws.String(stat)}}
	}
	tooMany := make([]cwtypes.MetricDataQuery, 501)
	for i := range tooMany {
		tooMany[i] = q(fmt.Sprintf("q%d", i), 60, "Sum")
	}
	cases := []struct {
		name    string
		queries []cwtypes.MetricDataQuery
	}{
		{"id must start with a lowercase letter", []cwtypes.MetricDataQuery{q("Q1", 60, "Sum")}},
		{"id must not start with a digit", []cwtypes.MetricDataQuery{q("1q", 60, "Sum")}},
		{"ids unique", []cwtypes.MetricDataQuery{q("a", 60, "Sum"), q("a", 60, "Sum")}},
		{"period 45", []cwtypes.MetricDataQuery{q("a", 45, "Sum")}},
		{"period 90", []cwtypes.MetricDataQuery{q("a", 90, "Sum")}},
		{"unsupported stat", []cwtypes.MetricDataQuery{q("a", 60, "Median")}},
		{"at most 500 queries", tooMany},
		{"no queries", nil},
		{"metric math", []cwtypes.MetricDataQuery{{Id: aws.String("e1"), Expression: aws.String("SUM(METRICS())")}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.c.CloudWatch.GetMetricData(f.ctx, &cloudwatch.GetMetricDataInput{
				StartTime: aws.Time(t0.Add(-time.Hour)), EndTime: aws.Time(t0), MetricDataQueries: tc.queries})
			wantCode(t, err, awserr.CodeValidationError)
		})
	}
	for _, p := range []int32{1, 5, 10, 30, 60, 300} {
		_, err := f.c.CloudWatch.GetMetricData(f.ctx, &cloudwatch.GetMetricDataInput{
			StartTime: aws.Time(t0.Add(-time.Hour)), EndTime: aws.Time(t0), MetricDataQueries: []cwtypes.MetricDataQuery{q("a", p, "Average")}})
		must(t, err)
	}
	_, err := f.c.CloudWatch.GetMetricData(f.ctx, &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(t0), EndTime: aws.Time(t0), MetricDataQueries: []cwtypes.MetricDataQuery{q("a", 60, "Sum")}})
	wantCode(t, err, awserr.CodeValidationError)
}

// Sub-minute periods only answer for the last three hours (high-resolution retention).
func TestHighResolutionRetention(t *testing.T) {
	f := newFixture(t)
	f.put(t, t0, 1, 1, nil)
	f.clk.Advance(4 * time.Hour)
	if ts, _ := f.get(t, t0.Add(-time.Minute), t0.Add(time.Minute), 10, "Sum", nil); len(ts) != 0 {
		t.Fatalf("10s data older than 3h still answered: %v", ts)
	}
	if ts, _ := f.get(t, t0.Add(-time.Minute), t0.Add(time.Minute), 60, "Sum", nil); len(ts) != 1 {
		t.Fatalf("minute data lost: %v", ts)
	}
}
