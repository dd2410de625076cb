package sim

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go"

	"github.com/prestoha/coordinator-ha/internal/awserr"
)

// CloudWatch keeps sub-minute (StorageResolution=1) data for three hours.
const highResRetention = 3 * time.Hour

// series holds the datapoints of one metric (namespace, name and exact dimension set).
type series struct {
	points []datapoint
}

// datapoint is one PutMetricData datum, pre-aggregated (Value, Values/Counts and
// StatisticValues all reduce to sum, count, min and max).
type datapoint struct {
	ts                  time.Time
	sum, count, min, mx float64
	highRes             bool
	visibleAt           time.Time
}

func cwErr(code, format string, args ...any) error {
	return awserr.New(code, fmt.Sprintf(format, args...), smithy.FaultClient)
}

// metricKey identifies a metric the way CloudWatch does: namespace, name and the exact
// set of dimensions (order does not matter; a missing or extra dimension is another
// metric).
func metricKey(namespace, name string, dims []cwtypes.Dimension) string {
	parts := make([]string, 0, len(dims))
	for _, d := range dims {
		parts = append(parts, aws.ToString(d.Name)+"="+aws.ToString(d.Value))
	}
	sort.Strings(parts)
	return namespace + "\x00" + name + "\x00" + strings.Join(parts, "\x00")
}

// Datapoint is a stored CloudWatch datapoint, for assertions.
type Datapoint struct {
	Namespace, MetricName string
	Dimensions            map[string]string
	Timestamp             time.Time
	Sum, SampleCount      float64
	Min, Max              float64
	HighResolution        bool
	VisibleAt             time.Time // when GetMetricData starts returning it
}

// Datapoints returns every stored datapoint of namespace (all namespaces when ""),
// visible or not, ordered by metric then timestamp.
func (a *Account) Datapoints(namespace string) []Datapoint {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []Datapoint
	for _, k := range sortedKeys(a.metrics) {
		parts := strings.Split(k, "\x00")
		if namespace != "" && parts[0] != namespace {
			continue
		}
		dims := map[string]string{}
		for _, p := range parts[2:] {
			if n, v, ok := strings.Cut(p, "="); ok {
				dims[n] = v
			}
		}
		for _, p := range a.metrics[k].points {
			out = append(out, Datapoint{
				Namespace: parts[0], MetricName: parts[1], Dimensions: dims, Timestamp: p.ts, Sum: p.sum,
				SampleCount: p.count, Min: p.min, Max: p.mx, HighResolution: p.highRes, VisibleAt: p.visibleAt,
			})
		}
	}
	return out
}

// cwClient implements awsapi.CloudWatchAPI for one caller.
type cwClient struct{ client }

func (c *cwClient) PutMetricData(ctx context.Context, in *cloudwatch.PutMetricDataInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error) {
	return write(ctx, c.client, "PutMetricData", in, ack[cloudwatch.PutMetricDataOutput](c.a.putMetricData))
}

func (c *cwClient) GetMetricData(ctx context.Context, in *cloudwatch.GetMetricDataInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error) {
	return read(ctx, c.client, "GetMetricData", in, c.a.getMetricData)
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// putMetricData validates the whole request first (a bad datum rejects the call, as in
// CloudWatch) and then stores every datum, visible after Timings.MetricIngestionDelay.
// Rules: Namespace required (MissingParameter) and not starting with "AWS/"
// (InvalidParameterValue); 1 to 1000 datums; MetricName required; at most 30
// dimensions with non-empty names and values, no name twice; Value and Values are
// exclusive (InvalidParameterCombination); Counts as long as Values; every number
// finite; StorageResolution 1 or 60; Timestamp no more than two weeks old nor two
// hours ahead.
func (a *Account) putMetricData(in *cloudwatch.PutMetricDataInput) error {
	ns := aws.ToString(in.Namespace)
	if ns == "" {
		return cwErr("MissingParameter", "The parameter Namespace is required.")
	}
	if strings.HasPrefix(ns, "AWS/") {
		return cwErr(awserr.CodeInvalidParameterValue, "The value %s for parameter Namespace is invalid.", ns)
	}
	if len(ns) > 255 {
		return cwErr(awserr.CodeInvalidParameterValue, "The parameter Namespace must be at most 255 characters.")
	}
	if len(in.MetricData) == 0 {
		return cwErr("MissingParameter", "The parameter MetricData is required.")
	}
	if len(in.MetricData) > 1000 {
		return cwErr(awserr.CodeInvalidParameterValue, "The collection MetricData must not have a size greater than 1000.")
	}
	now := a.clk.Now()
	tail := a.draw(a.cons.MetricTailP, a.cons.MetricTailMax) // the visibility tail (Consistency)
	type staged struct {
		key string
		p   datapoint
	}
	var batch []staged
	for n, d := range in.MetricData {
		at := fmt.Sprintf("MetricData.member.%d", n+1)
		name := aws.ToString(d.MetricName)
		if name == "" {
			return cwErr("MissingParameter", "The parameter %s.MetricName is required.", at)
		}
		if len(d.Dimensions) > 30 {
			return cwErr(awserr.CodeInvalidParameterValue, "The collection %s.Dimensions must not have a size greater than 30.", at)
		}
		seen := map[string]bool{}
		for _, dim := range d.Dimensions {
			dn, dv := aws.ToString(dim.Name), aws.ToString(dim.Value)
			if dn == "" || dv == "" {
				return cwErr(awserr.CodeInvalidParameterValue, "The dimensions of %s must have a non-empty name and value.", at)
			}
			if seen[dn] {
				return cwErr(awserr.CodeInvalidParameterValue, "The dimension %s appears more than once in %s.", dn, at)
			}
			seen[dn] = true
		}
		p := datapoint{ts: now, visibleAt: now.Add(a.timings.MetricIngestionDelay + tail), min: math.Inf(1), mx: math.Inf(-1)}
		if d.Timestamp != nil {
			p.ts = *d.Timestamp
		}
		if p.ts.Before(now.Add(-14*24*time.Hour)) || p.ts.After(now.Add(2*time.Hour)) {
			return cwErr(awserr.CodeInvalidParameterValue, "The parameter %s.Timestamp must specify a time no more than two weeks in the past and no more than two hours in the future.", at)
		}
		switch r := aws.ToInt32(d.StorageResolution); r {
		case 0, 60:
		case 1:
			p.highRes = true
		default:
			return cwErr(awserr.CodeInvalidParameterValue, "The value %d for parameter %s.StorageResolution is invalid: use 1 or 60.", r, at)
		}
		kinds := 0
		if d.Value != nil {
			kinds++
			v := *d.Value
			if !finite(v) {
				return cwErr(awserr.CodeInvalidParameterValue, "The value %v for parameter %s.Value is invalid.", v, at)
			}
			p.sum, p.count, p.min, p.mx = v, 1, v, v
		}
		if len(d.Values) > 0 {
			kinds++
			if len(d.Counts) > 0 && len(d.Counts) != len(d.Values) {
				return cwErr(awserr.CodeInvalidParameterValue, "The parameters %s.Values and %s.Counts must be of the same size.", at, at)
			}
			for k, v := range d.Values {
				c := 1.0
				if len(d.Counts) > 0 {
					c = d.Counts[k]
				}
				if !finite(v) || !finite(c) || c < 0 {
					return cwErr(awserr.CodeInvalidParameterValue, "The parameter %s.Values contains an invalid value.", at)
				}
				p.sum += v * c
				p.count += c
				p.min, p.mx = math.Min(p.min, v), math.Max(p.mx, v)
			}
		}
		if sv := d.StatisticValues; sv != nil {
			kinds++
			vals := []*float64{sv.Sum, sv.SampleCount, sv.Minimum, sv.Maximum}
			for _, v := range vals {
				if v == nil || !finite(*v) {
					return cwErr(awserr.CodeInvalidParameterValue, "The parameter %s.StatisticValues needs finite Sum, SampleCount, Minimum and Maximum.", at)
				}
			}
			p.sum, p.count, p.min, p.mx = *sv.Sum, *sv.SampleCount, *sv.Minimum, *sv.Maximum
		}
		if kinds == 0 {
			return cwErr("MissingParameter", "The parameter %s.Value is required (or Values, or StatisticValues).", at)
		}
		if kinds > 1 {
			return cwErr(awserr.CodeInvalidParameterCombination, "The parameters %s.Value, %s.Values and %s.StatisticValues are mutually exclusive.", at, at, at)
		}
		batch = append(batch, staged{key: metricKey(ns, name, d.Dimensions), p: p})
	}
	for _, s := range batch {
		sr := a.metrics[s.key]
		if sr == nil {
			sr = &series{}
			a.metrics[s.key] = sr
		}
		// Kept in time order (stable for equal times), so a query finds its range by
		// binary search; agents send in time order, so this is almost always an append.
		i := len(sr.points)
		for i > 0 && sr.points[i-1].ts.After(s.p.ts) {
			i--
		}
		sr.points = slices.Insert(sr.points, i, s.p)
	}
	return nil
}

var queryIDRe = regexp.MustCompile(`^[a-z][a-zA-Z0-9_]*$`)

var supportedStats = []string{"Average", "Sum", "Minimum", "Maximum", "SampleCount"}

func validPeriod(p int32) bool {
	switch p {
	case 1, 5, 10, 30:
		return true
	}
	return p >= 60 && p%60 == 0
}

// getMetricData answers MetricStat queries (no metric math). Rules, each a
// ValidationError: StartTime and EndTime required, StartTime before EndTime; 1 to 500
// queries; ids unique, starting with a lowercase letter then letters, digits and _;
// each query a MetricStat (an Expression is rejected: the simulation does no metric
// math); Period 1, 5, 10, 30 or a multiple of 60; Stat one of Average, Sum, Minimum,
// Maximum, SampleCount.
//
// Datapoints are visible once their ingestion delay has passed. Each is placed in the
// bucket floor(Timestamp / Period) * Period; only datapoints with StartTime <=
// Timestamp < EndTime count. For a sub-minute period only the last three hours
// answer, and standard-resolution data counts at its minute (its timestamp truncated
// to the minute), as CloudWatch stores it. Results come newest first unless ScanBy is
// TimestampAscending, with StatusCode Complete.
func (a *Account) getMetricData(_ *world, in *cloudwatch.GetMetricDataInput) (*cloudwatch.GetMetricDataOutput, error) {
	if in == nil || in.StartTime == nil || in.EndTime == nil {
		return nil, cwErr(awserr.CodeValidationError, "The parameters StartTime and EndTime are required.")
	}
	start, end := *in.StartTime, *in.EndTime
	if !start.Before(end) {
		return nil, cwErr(awserr.CodeValidationError, "The parameter StartTime must be less than the parameter EndTime.")
	}
	if len(in.MetricDataQueries) == 0 || len(in.MetricDataQueries) > 500 {
		return nil, cwErr(awserr.CodeValidationError, "The collection MetricDataQueries must have between 1 and 500 members.")
	}
	ids := map[string]bool{}
	for n, q := range in.MetricDataQueries {
		at := fmt.Sprintf("MetricDataQueries.member.%d", n+1)
		id := aws.ToString(q.Id)
		if !queryIDRe.MatchString(id) {
			return nil, cwErr(awserr.CodeValidationError, "The value %q for parameter %s.Id is invalid: it must start with a lowercase letter and contain only letters, numbers and underscore.", id, at)
		}
		if ids[id] {
			return nil, cwErr(awserr.CodeValidationError, "The value %q for parameter %s.Id is not unique.", id, at)
		}
		ids[id] = true
		if q.Expression != nil {
			return nil, cwErr(awserr.CodeValidationError, "%s: metric math expressions are not supported by the simulated account.", at)
		}
		ms := q.MetricStat
		if ms == nil || ms.Metric == nil || aws.ToString(ms.Metric.Namespace) == "" || aws.ToString(ms.Metric.MetricName) == "" {
			return nil, cwErr(awserr.CodeValidationError, "%s must have a MetricStat with a Metric (Namespace and MetricName).", at)
		}
		if ms.Period == nil || !validPeriod(*ms.Period) {
			return nil, cwErr(awserr.CodeValidationError, "%s.MetricStat.Period must be 1, 5, 10, 30 or a multiple of 60.", at)
		}
		if !slices.Contains(supportedStats, aws.ToString(ms.Stat)) {
			return nil, cwErr(awserr.CodeValidationError, "%s.MetricStat.Stat %q is not supported (use %s).", at, aws.ToString(ms.Stat), strings.Join(supportedStats, ", "))
		}
	}
	now := a.clk.Now()
	out := &cloudwatch.GetMetricDataOutput{}
	for _, q := range in.MetricDataQueries {
		if q.ReturnData != nil && !*q.ReturnData {
			continue
		}
		ms := q.MetricStat
		period := time.Duration(*ms.Period) * time.Second
		label := aws.ToString(q.Label)
		if label == "" {
			label = aws.ToString(ms.Metric.MetricName)
		}
		res := cwtypes.MetricDataResult{Id: q.Id, Label: aws.String(label), StatusCode: cwtypes.StatusCodeComplete}
		// Buckets in ascending time: the points are in time order, so almost every point
		// falls in the last bucket or opens the next one.
		type agg struct {
			at                  time.Time
			sum, count, min, mx float64
		}
		var buckets []agg
		if sr := a.metrics[metricKey(aws.ToString(ms.Metric.Namespace), aws.ToString(ms.Metric.MetricName), ms.Metric.Dimensions)]; sr != nil {
			from, _ := slices.BinarySearchFunc(sr.points, start, func(p datapoint, t time.Time) int { return p.ts.Compare(t) })
			for _, p := range sr.points[from:] {
				if !p.ts.Before(end) {
					break
				}
				if p.visibleAt.After(now) {
					continue
				}
				ts := p.ts
				if period < time.Minute {
					if ts.Before(now.Add(-highResRetention)) {
						continue
					}
					if !p.highRes {
						ts = ts.Truncate(time.Minute)
					}
				}
				b := ts.Truncate(period)
				k := len(buckets)
				for k > 0 && buckets[k-1].at.After(b) {
					k--
				}
				if k == 0 || !buckets[k-1].at.Equal(b) {
					buckets = slices.Insert(buckets, k, agg{at: b, min: math.Inf(1), mx: math.Inf(-1)})
					k++
				}
				g := &buckets[k-1]
				g.sum += p.sum
				g.count += p.count
				g.min, g.mx = math.Min(g.min, p.min), math.Max(g.mx, p.mx)
			}
		}
		if in.ScanBy != cwtypes.ScanByTimestampAscending {
			slices.Reverse(buckets) // newest first, CloudWatch's default
		}
		for _, g := range buckets {
			t := g.at
			var v float64
			switch aws.ToString(ms.Stat) {
			case "Average":
				if g.count == 0 {
					continue
				}
				v = g.sum / g.count
			case "Sum":
				v = g.sum
			case "Minimum":
				v = g.min
			case "Maximum":
				v = g.mx
			case "SampleCount":
				v = g.count
			}
			res.Timestamps = append(res.Timestamps, t)
			res.Values = append(res.Values, v)
		}
		switch a.plan.query {
		case QueryError:
			res.StatusCode, res.Timestamps, res.Values = cwtypes.StatusCodeInternalError, nil, nil
		case QueryPartial:
			res.StatusCode = cwtypes.StatusCodePartialData
			keep := len(res.Timestamps) / 2 // the older half
			if in.ScanBy == cwtypes.ScanByTimestampAscending {
				res.Timestamps, res.Values = res.Timestamps[:keep], res.Values[:keep]
			} else {
				res.Timestamps, res.Values = res.Timestamps[len(res.Timestamps)-keep:], res.Values[len(res.Values)-keep:]
			}
		}
		out.MetricDataResults = append(out.MetricDataResults, res)
	}
	return out, nil
}
