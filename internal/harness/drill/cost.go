package drill

import (
	"context"
	"fmt"
	"io"
	"maps"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"

	"github.com/prestoha/coordinator-ha/internal/awsapi"
)

// Published us-east-1 prices the cost model uses, from /work/shared/aws-facts.md (AWS
// pricing pages as of late 2025; re-check before publishing).
const (
	PricesAsOf             = "late 2025 (AWS pricing pages, us-east-1, as recorded in the project's aws-facts.md)"
	PricePutMetricData     = 0.01 / 1000    // USD per PutMetricData request
	PriceGetMetricData     = 0.01 / 1000    // USD per metric requested by GetMetricData
	PriceCustomMetricMonth = 0.30           // USD per custom metric per month
	PriceLambdaGBSecond    = 0.0000133334   // USD per GB-second, arm64
	PriceLambdaRequest     = 0.20 / 1000000 // USD per request
	PriceSFNTransition     = 0.025 / 1000   // USD per state transition (Standard, after 4,000 free)
	SecondsPerMonth        = 730 * 3600.0   // AWS's billing month
	HealthCheckMemoryMB    = 128.0          // the health check Lambda's memory in the model
	// EvaluationBilledS is what one evaluation adds to an invocation's billed duration:
	// its 4 to 6 AWS calls in the region (about 50 to 100 ms each; an assumption, the
	// simulated account answers in no time) and the code around them.
	EvaluationBilledS      = 0.5
	healthCheckSchedule    = 60.0 // seconds between health-check invocations (rate 1 minute)
	costModelDescription   = "calls counted in the drill's steady state (all coordinators healthy), scaled from drill time to a 730-hour month"
	costModelFailoverNote  = "a failover adds one Step Functions execution (its transitions) and a few Lambda invocations; cents per year at any sane failure rate"
	costModelEC2Note       = "EC2, Auto Scaling, IMDS and SNS (a few notifications) calls are free or negligible and are not priced"
	costModelInstancesNote = "the coordinator instances and the ENI themselves are not part of the control plane's cost"
)

// CWCounter wraps a CloudWatch client and counts what is billed: PutMetricData requests
// and their datums, GetMetricData requests and the metrics they request, and the distinct
// custom metrics written.
type CWCounter struct {
	awsapi.CloudWatchAPI
	into *CWCounter // counts go here when set (Via)

	mu         sync.Mutex
	puts       int
	datums     int
	gets       int
	metricsReq int
	metrics    map[string]int // datums written per metric
}

// NewCWCounter wraps cw.
func NewCWCounter(cw awsapi.CloudWatchAPI) *CWCounter {
	return &CWCounter{CloudWatchAPI: cw, metrics: map[string]int{}}
}

// Via returns a client that forwards to cw and counts into c: each agent calls with its
// own identity, and all of them are counted together.
func (c *CWCounter) Via(cw awsapi.CloudWatchAPI) *CWCounter {
	return &CWCounter{CloudWatchAPI: cw, into: c}
}

func (c *CWCounter) counter() *CWCounter {
	if c.into != nil {
		return c.into
	}
	return c
}

// PutMetricData counts and forwards.
func (c *CWCounter) PutMetricData(ctx context.Context, in *cloudwatch.PutMetricDataInput, opt ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error) {
	next := c.CloudWatchAPI
	c = c.counter()
	c.mu.Lock()
	c.puts++
	c.datums += len(in.MetricData)
	for _, d := range in.MetricData {
		var b strings.Builder
		b.WriteString(aws.ToString(in.Namespace) + "/" + aws.ToString(d.MetricName))
		dims := make([]string, 0, len(d.Dimensions))
		for _, dim := range d.Dimensions {
			dims = append(dims, aws.ToString(dim.Name)+"="+aws.ToString(dim.Value))
		}
		sort.Strings(dims)
		b.WriteString("{" + strings.Join(dims, ",") + "}")
		c.metrics[b.String()]++
	}
	c.mu.Unlock()
	return next.PutMetricData(ctx, in, opt...)
}

// GetMetricData counts and forwards.
func (c *CWCounter) GetMetricData(ctx context.Context, in *cloudwatch.GetMetricDataInput, opt ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error) {
	next := c.CloudWatchAPI
	c = c.counter()
	c.mu.Lock()
	if in.NextToken == nil {
		c.gets++
		c.metricsReq += len(in.MetricDataQueries)
	}
	c.mu.Unlock()
	return next.GetMetricData(ctx, in, opt...)
}

// CWCounts is a snapshot of a CWCounter.
type CWCounts struct {
	Puts, Datums, Gets, MetricsRequested int
	// Metrics are the distinct custom metrics written, each with its datums so far.
	Metrics map[string]int
}

// Counts returns the counts so far.
func (c *CWCounter) Counts() CWCounts {
	c.mu.Lock()
	defer c.mu.Unlock()
	return CWCounts{Puts: c.puts, Datums: c.datums, Gets: c.gets, MetricsRequested: c.metricsReq, Metrics: maps.Clone(c.metrics)}
}

// Sub returns c minus an earlier snapshot; Metrics keeps those written in between (a
// custom metric is billed for the hours it receives data).
func (c CWCounts) Sub(o CWCounts) CWCounts {
	m := map[string]int{}
	for k, n := range c.Metrics {
		if d := n - o.Metrics[k]; d > 0 {
			m[k] = d
		}
	}
	return CWCounts{Puts: c.Puts - o.Puts, Datums: c.Datums - o.Datums, Gets: c.Gets - o.Gets,
		MetricsRequested: c.MetricsRequested - o.MetricsRequested, Metrics: m}
}

// Names returns the metrics' names, sorted.
func (c CWCounts) Names() []string {
	out := make([]string, 0, len(c.Metrics))
	for k := range c.Metrics {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// CostInput is what the cost model is computed from, measured over Window drill seconds
// of steady state.
type CostInput struct {
	WindowS             float64  `json:"window_s"`
	Coordinators        int      `json:"coordinators"`
	AgentPuts           int      `json:"agent_put_metric_data"`
	AgentDatums         int      `json:"agent_datums"`
	HealthCheckPuts     int      `json:"healthcheck_put_metric_data"`
	HealthCheckGets     int      `json:"healthcheck_get_metric_data"`
	MetricsRequested    int      `json:"metrics_requested"`
	CustomMetrics       []string `json:"custom_metrics"`
	Invocations         int      `json:"healthcheck_invocations"`
	DoorbellInvocations int      `json:"healthcheck_doorbell_invocations"` // of Invocations, started by an agent's doorbell
	Evaluations         int      `json:"healthcheck_evaluations"`
	InvocationSeconds   float64  `json:"healthcheck_billed_s"` // summed duration of the invocations in the window, with EvaluationBilledS per evaluation
	FailoverTransitions int      `json:"failover_transitions"`
	OtherCalls          []string `json:"other_calls"` // operation=count of the free APIs
}

// CostLine is one row of the cost table.
type CostLine struct {
	Item       string  `json:"item"`
	PerMonth   float64 `json:"per_month"` // units a month
	Unit       string  `json:"unit"`
	Price      float64 `json:"price_usd"`
	MonthlyUSD float64 `json:"monthly_usd"`
}

// Cost is the monthly cost model.
type Cost struct {
	Input    CostInput  `json:"input"`
	Lines    []CostLine `json:"lines"`
	TotalUSD float64    `json:"total_usd"`
	// PerFailoverUSD is the Step Functions cost of one failover (beyond the free tier).
	PerFailoverUSD float64  `json:"per_failover_usd"`
	Model          string   `json:"model"`
	Notes          []string `json:"notes"`
	PricesAsOf     string   `json:"prices_as_of"`
}

// MonthlyCost scales the counts of a steady-state window to a month and prices them.
func MonthlyCost(in CostInput) Cost {
	scale := SecondsPerMonth / in.WindowS
	c := Cost{Input: in, Model: costModelDescription, PricesAsOf: PricesAsOf,
		Notes: []string{costModelFailoverNote, costModelEC2Note, costModelInstancesNote,
			"Lambda and Step Functions free tiers are ignored (the account may use them for other things)"}}
	add := func(item string, perMonth float64, unit string, price float64) {
		c.Lines = append(c.Lines, CostLine{Item: item, PerMonth: perMonth, Unit: unit, Price: price, MonthlyUSD: perMonth * price})
	}
	add("CloudWatch PutMetricData (agents)", float64(in.AgentPuts)*scale, "requests", PricePutMetricData)
	add("CloudWatch PutMetricData (health check)", float64(in.HealthCheckPuts)*scale, "requests", PricePutMetricData)
	add("CloudWatch GetMetricData", float64(in.MetricsRequested)*scale, "metrics requested", PriceGetMetricData)
	add("CloudWatch custom metrics", float64(len(in.CustomMetrics)), "metrics", PriceCustomMetricMonth)
	// EventBridge invokes the health check once per schedule period, and the doorbells
	// of the window add theirs; each invocation bills its measured mean duration.
	invocations := SecondsPerMonth/healthCheckSchedule + float64(in.DoorbellInvocations)*scale
	add("Lambda requests (health check)", invocations, "requests", PriceLambdaRequest)
	mean := 0.0
	if in.Invocations > 0 {
		mean = in.InvocationSeconds / float64(in.Invocations)
	}
	gbs := invocations * mean * HealthCheckMemoryMB / 1024
	add(fmt.Sprintf("Lambda duration (health check, arm64, %.0f MB)", HealthCheckMemoryMB), gbs, "GB-seconds", PriceLambdaGBSecond)
	for _, l := range c.Lines {
		c.TotalUSD += l.MonthlyUSD
	}
	c.PerFailoverUSD = float64(in.FailoverTransitions) * PriceSFNTransition
	return c
}

// WriteMarkdown writes the cost table.
func (c Cost) WriteMarkdown(w io.Writer) {
	fmt.Fprintf(w, "| item | per month | unit | price (USD) | USD / month |\n|---|---:|---|---:|---:|\n")
	for _, l := range c.Lines {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %.2f |\n", l.Item, humanCount(l.PerMonth), l.Unit, strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.10f", l.Price), "0"), "."), l.MonthlyUSD)
	}
	fmt.Fprintf(w, "| **total** | | | | **%.2f** |\n\n", c.TotalUSD)
	fmt.Fprintf(w, "One failover adds %d Step Functions state transitions: $%.5f.\n\n", c.Input.FailoverTransitions, c.PerFailoverUSD)
	mean := 0.0
	if c.Input.Invocations > 0 {
		mean = c.Input.InvocationSeconds / float64(c.Input.Invocations)
	}
	fmt.Fprintf(w, "Model: %s (window %.0f s of drill time, %d coordinators; one health-check invocation a minute and %d doorbell(s) in the window, %d evaluations, each invocation billed %.2f s on average: its drill time plus %.1f s per evaluation for the AWS calls).\n",
		c.Model, c.Input.WindowS, c.Input.Coordinators, c.Input.DoorbellInvocations, c.Input.Evaluations, mean, EvaluationBilledS)
	fmt.Fprintf(w, "Prices: %s.\n", c.PricesAsOf)
	for _, n := range c.Notes {
		fmt.Fprintf(w, "- %s\n", n)
	}
}

func humanCount(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.0fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}
