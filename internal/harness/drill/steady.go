package drill

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// measureSteady runs a healthy cluster at default settings for window of simulated
// time after warm-up and counts what the control plane calls: the input of the cost
// model.
func measureSteady(ctx context.Context, st Settings, window time.Duration, progress func(string, ...any)) (in CostInput, err error) {
	o := runOptions{Settings: st, Seed: 99, Simulated: true}
	clk := o.clock()
	var c *Cluster
	onClock(clk, func() {
		c, in, err = playSteady(ctx, o, clk, window, progress)
		c.stop()
	})
	if c != nil {
		c.Close()
	}
	return in, err
}

func playSteady(ctx context.Context, o runOptions, clk drillTime, window time.Duration, progress func(string, ...any)) (*Cluster, CostInput, error) {
	st := o.Settings
	c, err := newCluster(ctx, clusterSpec{Name: "drill-steady", HACount: st.Coordinators, Seed: o.Seed, Settings: st, Simulated: o.Simulated}, clk)
	if err != nil {
		return nil, CostInput{}, err
	}
	c.report = progress
	c.start()
	in, err := c.steady(ctx, window)
	return c, in, err
}

// steady warms the cluster up and counts its calls over window.
func (c *Cluster) steady(ctx context.Context, window time.Duration) (CostInput, error) {
	st := c.spec.Settings
	if err := c.startControlPlane(); err != nil {
		return CostInput{}, err
	}
	if err := c.waitWarm(ctx, st.Coordinators); err != nil {
		return CostInput{}, err
	}
	// Start on a schedule boundary so that the window holds whole invocations.
	first := c.Clock.Now()
	_ = c.Clock.Sleep(ctx, st.Schedule)
	a := c.costSnapshot()
	if err := c.Clock.Sleep(ctx, window); err != nil {
		return CostInput{}, err
	}
	b := c.costSnapshot()
	_ = first
	in := CostInput{WindowS: b.At.Sub(a.At).Seconds(), Coordinators: st.Coordinators}
	ag := b.Agent.Sub(a.Agent)
	hc := b.HC.Sub(a.HC)
	// Requests from the account's own call log (acct.Calls); what each request carries
	// (datums, metrics requested) from the counting wrappers around the clients.
	calls := func(k string) int { return b.Calls[k] - a.Calls[k] }
	in.AgentPuts = calls("agent/cloudwatch:PutMetricData")
	in.HealthCheckPuts = calls("healthcheck/cloudwatch:PutMetricData")
	in.HealthCheckGets = calls("healthcheck/cloudwatch:GetMetricData")
	in.AgentDatums, in.MetricsRequested = ag.Datums, hc.MetricsRequested
	_ = hc.Puts // the wrappers' request counts match the account's but for calls in flight at a snapshot
	in.CustomMetrics = mergeSorted(ag.Names(), hc.Names())
	for _, inv := range b.Invocations {
		if !inv.Start.Before(a.At) && !inv.Start.After(b.At) {
			in.Invocations++
			in.InvocationSeconds += inv.End.Sub(inv.Start).Seconds() + float64(inv.Evaluations)*EvaluationBilledS
			in.Evaluations += inv.Evaluations
			if inv.Doorbell {
				in.DoorbellInvocations++
			}
		}
	}
	var other []string
	for k, n := range b.Calls {
		if d := n - a.Calls[k]; d > 0 && !strings.Contains(k, "cloudwatch:") {
			other = append(other, fmt.Sprintf("%s=%d", k, d))
		}
	}
	sort.Strings(other)
	in.OtherCalls = other
	return in, nil
}

func mergeSorted(a, b []string) []string {
	m := map[string]bool{}
	for _, x := range append(append([]string(nil), a...), b...) {
		m[x] = true
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
