package operator

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/config"
	"github.com/prestoha/coordinator-ha/internal/signal"
	"github.com/prestoha/coordinator-ha/internal/verdict"
)

// member is one coordinator as the command sees it.
type member struct {
	ID        string
	State     string // EC2 state
	AZ        string
	Lifecycle string // the group's lifecycle state; "" when the group no longer lists it
	Protected bool   // from scale-in
	Version   string // launch template version it was launched with
	Launched  time.Time
	Active    bool // holds the ENI

	Streak     int           // consecutive healthy self-reports up to now
	LastReport time.Time     // newest self-report ("" when none in the lookback)
	LastStatus signal.Status // its value
	Tampered   string        // what signal.Check found, if anything
	Verdict    events.Verdict
	VerdictAt  time.Time // of the health check's newest published verdict
}

// view is one look at the cluster.
type view struct {
	At           time.Time
	ENIStatus    string // available, in-use
	AttachStatus string // attaching, attached, detaching ("" when available)
	Holder       string
	ENIAZ        string
	Tags         map[string]string // the ENI's

	Desired, Min, Max int
	Version           string // the group's launch template version
	Members           []*member
}

func (v *view) member(id string) *member {
	for _, m := range v.Members {
		if m.ID == id {
			return m
		}
	}
	return nil
}

// healthyStandby says whether m could take the ENI now, by AttachENI's rule: a running
// InService member in the ENI's Availability Zone, not the holder, healthy for
// MinHealthyReports consecutive self-reports, its reports not tampered with. The
// empty string means yes; otherwise why not.
func (o *Operator) whyNotStandby(v *view, m *member) string {
	switch {
	case m.Active:
		return "it holds the ENI"
	case m.Lifecycle != "InService":
		return fmt.Sprintf("not InService in group %s (%s)", o.Stack.ASGName, orNone(m.Lifecycle))
	case m.State != "running":
		return "not running (" + m.State + ")"
	case v.ENIAZ != "" && m.AZ != v.ENIAZ:
		return fmt.Sprintf("in %s; the ENI is bound to %s", m.AZ, v.ENIAZ)
	case m.Tampered != "":
		return "reports tampered with: " + m.Tampered
	case m.Streak < o.opt.MinHealthyReports:
		return fmt.Sprintf("%d consecutive healthy reports, needs %d", m.Streak, o.opt.MinHealthyReports)
	}
	return ""
}

func (o *Operator) healthyStandbys(v *view) []*member {
	var out []*member
	for _, m := range v.Members {
		if o.whyNotStandby(v, m) == "" {
			out = append(out, m)
		}
	}
	// Best first, as AttachENI ranks them: longest healthy streak, then longest uptime.
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Streak != out[j].Streak {
			return out[i].Streak > out[j].Streak
		}
		return out[i].Launched.Before(out[j].Launched)
	})
	return out
}

func orNone(s string) string {
	if s == "" {
		return "not a member"
	}
	return s
}

// look reads the cluster: the ENI, the group, the pool's instances and every member's
// self-reports (and, with verdicts, the health check's published verdict per member).
func (o *Operator) look(ctx context.Context, verdicts bool) (*view, error) {
	now := o.clk.Now()
	v := &view{At: now.UTC(), Tags: map[string]string{}}

	eniOut, err := o.c.EC2.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{o.Stack.ENIID}})
	if err != nil {
		return nil, fmt.Errorf("describing the coordinator ENI %s: %w", o.Stack.ENIID, err)
	}
	if len(eniOut.NetworkInterfaces) != 1 {
		return nil, fmt.Errorf("describing the coordinator ENI %s: got %d interfaces", o.Stack.ENIID, len(eniOut.NetworkInterfaces))
	}
	eni := eniOut.NetworkInterfaces[0]
	v.ENIStatus, v.ENIAZ = string(eni.Status), aws.ToString(eni.AvailabilityZone)
	for _, t := range eni.TagSet {
		v.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	if a := eni.Attachment; a != nil && a.Status != ec2types.AttachmentStatusDetached {
		v.Holder, v.AttachStatus = aws.ToString(a.InstanceId), string(a.Status)
	}

	gOut, err := o.c.AutoScaling.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{o.Stack.ASGName}})
	if err != nil {
		return nil, fmt.Errorf("describing group %s: %w", o.Stack.ASGName, err)
	}
	if len(gOut.AutoScalingGroups) != 1 {
		return nil, fmt.Errorf("describing group %s: it does not exist", o.Stack.ASGName)
	}
	g := gOut.AutoScalingGroups[0]
	v.Desired, v.Min, v.Max = int(aws.ToInt32(g.DesiredCapacity)), int(aws.ToInt32(g.MinSize)), int(aws.ToInt32(g.MaxSize))
	if g.LaunchTemplate != nil {
		v.Version = aws.ToString(g.LaunchTemplate.Version)
	}
	byID := map[string]*member{}
	for _, gi := range g.Instances {
		m := &member{ID: aws.ToString(gi.InstanceId), Lifecycle: string(gi.LifecycleState), Protected: aws.ToBool(gi.ProtectedFromScaleIn),
			AZ: aws.ToString(gi.AvailabilityZone)}
		if gi.LaunchTemplate != nil {
			m.Version = aws.ToString(gi.LaunchTemplate.Version)
		}
		byID[m.ID] = m
	}

	// The pool as EC2 sees it: every instance Auto Scaling launched for the group (the
	// aws: tag nobody else can write), in every state but terminated, so a member that
	// left the group while shutting down still shows.
	in := &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:" + config.TagASGName), Values: []string{o.Stack.ASGName}},
		{Name: aws.String("instance-state-name"), Values: []string{"pending", "running", "shutting-down", "stopping", "stopped"}},
	}}
	for {
		out, err := o.c.EC2.DescribeInstances(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("describing the coordinators of %s: %w", o.Stack.Cluster, err)
		}
		for _, r := range out.Reservations {
			for _, i := range r.Instances {
				id := aws.ToString(i.InstanceId)
				m := byID[id]
				if m == nil {
					m = &member{ID: id}
					byID[id] = m
				}
				if i.State != nil {
					m.State = string(i.State.Name)
				}
				if i.Placement != nil {
					m.AZ = aws.ToString(i.Placement.AvailabilityZone)
				}
				m.Launched = aws.ToTime(i.LaunchTime)
			}
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	for _, m := range byID {
		m.Active = m.ID == v.Holder
		if m.State == "" {
			m.State = "unknown" // listed by the group, not (yet) by EC2: eventual consistency
		}
		v.Members = append(v.Members, m)
	}
	sort.Slice(v.Members, func(i, j int) bool {
		a, b := v.Members[i], v.Members[j]
		if a.Active != b.Active {
			return a.Active
		}
		if !a.Launched.Equal(b.Launched) {
			return a.Launched.Before(b.Launched)
		}
		return a.ID < b.ID
	})
	if err := o.readReports(ctx, v, now); err != nil {
		return nil, err
	}
	if verdicts {
		if err := o.readVerdicts(ctx, v, now); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// readReports reads every member's self-reports from its own namespace (one
// GetMetricData, as the health check and AttachENI read them).
func (o *Operator) readReports(ctx context.Context, v *view, now time.Time) error {
	var ids []string
	for _, m := range v.Members {
		if m.State != "terminated" {
			ids = append(ids, m.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	ids = ids[:min(len(ids), signal.MaxInstancesPerQuery)]
	in, err := signal.Query(o.Stack.Cluster, o.Stack.HostRoleID, ids, now.Add(-healthLookback), now)
	if err != nil {
		return err
	}
	results, err := o.getMetricData(ctx, in)
	if err != nil {
		return fmt.Errorf("reading the coordinators' reports: %w", err)
	}
	reports, err := signal.Parse(ids, results)
	if err != nil {
		return err
	}
	for _, m := range v.Members {
		r := reports[m.ID]
		if r == nil {
			continue
		}
		if t := signal.Check(r); t.Found() {
			m.Tampered = t.String()
		}
		m.Streak = verdict.ConsecutiveHealthy(r.Health, now, healthMaxGap)
		if n := len(r.Health); n > 0 {
			last := r.Health[n-1]
			m.LastReport = last.At
			m.LastStatus, _ = signal.StatusOf(last.Value)
		}
	}
	return nil
}

// readVerdicts reads the health check's newest Verdict per member (the metric it
// publishes every evaluation, with Cluster and InstanceId) over the last three minutes.
// A member without one is shown as such: the health check has not judged it lately.
func (o *Operator) readVerdicts(ctx context.Context, v *view, now time.Time) error {
	if len(v.Members) == 0 {
		return nil
	}
	var q []cwtypes.MetricDataQuery
	for i, m := range v.Members {
		q = append(q, cwtypes.MetricDataQuery{Id: aws.String(fmt.Sprintf("v%d", i)), ReturnData: aws.Bool(true),
			MetricStat: &cwtypes.MetricStat{Period: aws.Int32(1), Stat: aws.String("Maximum"),
				Metric: &cwtypes.Metric{Namespace: aws.String(signal.Namespace), MetricName: aws.String(signal.MetricVerdict),
					Dimensions: signal.Dimensions(o.Stack.Cluster, m.ID)}}})
	}
	results, err := o.getMetricData(ctx, &cloudwatch.GetMetricDataInput{MetricDataQueries: q,
		StartTime: aws.Time(now.Add(-verdictLookback).UTC().Truncate(time.Second)), EndTime: aws.Time(now.UTC().Truncate(time.Second).Add(time.Second)),
		ScanBy: cwtypes.ScanByTimestampDescending})
	if err != nil {
		return fmt.Errorf("reading the health check's verdicts: %w", err)
	}
	for _, r := range results {
		var i int
		if _, err := fmt.Sscanf(aws.ToString(r.Id), "v%d", &i); err != nil || i < 0 || i >= len(v.Members) {
			continue
		}
		m := v.Members[i]
		for k, ts := range r.Timestamps {
			if ts.After(m.VerdictAt) && k < len(r.Values) {
				code := int(r.Values[k])
				if code >= 0 && code < len(events.Verdicts) {
					m.VerdictAt, m.Verdict = ts, events.Verdicts[code]
				}
			}
		}
	}
	return nil
}

// verdictLookback: a verdict older than this is not shown (the health check publishes
// one every check interval).
const verdictLookback = 3 * time.Minute

func (o *Operator) getMetricData(ctx context.Context, in *cloudwatch.GetMetricDataInput) ([]cwtypes.MetricDataResult, error) {
	var results []cwtypes.MetricDataResult
	for pages := cloudwatch.NewGetMetricDataPaginator(o.c.CloudWatch, in); pages.HasMorePages(); {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		results = append(results, page.MetricDataResults...)
	}
	if err := signal.CheckStatus(results); err != nil {
		return nil, err
	}
	return results, nil
}
