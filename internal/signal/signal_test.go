package signal

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

func TestQueryAndParseRoundTrip(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	ids := []string{"i-0aaaaaaaaaaaaaaaa", "i-0bbbbbbbbbbbbbbbb"}
	in, err := Query("prod", ids, t0, t0.Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(in.MetricDataQueries) != 4 {
		t.Fatalf("want 4 queries (health and witness per instance), got %d", len(in.MetricDataQueries))
	}
	for _, q := range in.MetricDataQueries {
		if aws.ToInt32(q.MetricStat.Period) != 1 || aws.ToString(q.MetricStat.Stat) != "Maximum" {
			t.Fatalf("query %s: want period 1 and Maximum", aws.ToString(q.Id))
		}
		if aws.ToString(q.MetricStat.Metric.Namespace) != Namespace {
			t.Fatalf("query %s: wrong namespace", aws.ToString(q.Id))
		}
	}
	res := []cwtypes.MetricDataResult{
		{Id: aws.String("h0"), Timestamps: []time.Time{t0.Add(10 * time.Second), t0.Add(5 * time.Second)}, Values: []float64{0, 1}},
		{Id: aws.String("w1"), Timestamps: []time.Time{t0}, Values: []float64{1}},
	}
	got, err := Parse(ids, res)
	if err != nil {
		t.Fatal(err)
	}
	h := got[ids[0]].Health
	if len(h) != 2 || !h[0].At.Equal(t0.Add(5*time.Second)) || h[0].Value != 1 || h[1].Value != 0 {
		t.Fatalf("health samples not parsed oldest first: %+v", h)
	}
	if w := got[ids[1]].Witness; len(w) != 1 || w[0].Value != 1 {
		t.Fatalf("witness samples of the second instance: %+v", w)
	}
}

func TestQueryAndParseErrors(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		err  func() error
		want string
	}{
		{"no instances", func() error { _, err := Query("c", nil, t0, t0.Add(time.Minute)); return err }, "no instances"},
		{"inverted window", func() error { _, err := Query("c", []string{"i-1"}, t0, t0); return err }, "not after"},
		{"too many", func() error {
			_, err := Query("c", make([]string, MaxInstancesPerQuery+1), t0, t0.Add(time.Minute))
			return err
		}, "exceed"},
		{"unknown id", func() error {
			_, err := Parse([]string{"i-1"}, []cwtypes.MetricDataResult{{Id: aws.String("h7")}})
			return err
		}, "unexpected query id"},
		{"length mismatch", func() error {
			_, err := Parse([]string{"i-1"}, []cwtypes.MetricDataResult{{Id: aws.String("h0"), Timestamps: []time.Time{t0}}})
			return err
		}, "timestamps"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.err()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want error containing %q, got %v", c.want, err)
			}
		})
	}
}

func TestStatusOf(t *testing.T) {
	for _, s := range []Status{Unhealthy, Healthy, Starting} {
		d := HealthDatum("c", "i-1", s, time.Unix(0, 0))
		got, ok := StatusOf(aws.ToFloat64(d.Value))
		if !ok || got != s {
			t.Fatalf("StatusOf(HealthDatum(%v)) = %v, %v", s, got, ok)
		}
		if aws.ToInt32(d.StorageResolution) != 1 {
			t.Fatal("self-reports must be high resolution")
		}
	}
	if _, ok := StatusOf(3); ok {
		t.Fatal("StatusOf(3) accepted a value no agent writes")
	}
}
