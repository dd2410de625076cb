package signal

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

const testRole = "AROAEXAMPLEROLEID0001"

func TestQueryAndParseRoundTrip(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	ids := []string{"i-0aaaaaaaaaaaaaaaa", "i-0bbbbbbbbbbbbbbbb"}
	in, err := Query("prod", testRole, ids, t0, t0.Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(in.MetricDataQueries) != 6 {
		t.Fatalf("want 6 queries (health, its sample count and witness per instance), got %d", len(in.MetricDataQueries))
	}
	for _, q := range in.MetricDataQueries {
		id := aws.ToString(q.Id)
		want := "Maximum"
		if id[0] == 'c' {
			want = "SampleCount"
		}
		if aws.ToInt32(q.MetricStat.Period) != 1 || aws.ToString(q.MetricStat.Stat) != want {
			t.Fatalf("query %s: want period 1 and %s", id, want)
		}
		// Each instance's metrics come from the namespace only its own role session can write.
		inst := ids[id[1]-'0']
		if ns := aws.ToString(q.MetricStat.Metric.Namespace); ns != "PrestoCoordinatorHA/"+testRole+":"+inst || ns != ReportNamespace(testRole, inst) {
			t.Fatalf("query %s: namespace %s, want the one of %s", id, ns, inst)
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
		{"no instances", func() error { _, err := Query("c", testRole, nil, t0, t0.Add(time.Minute)); return err }, "no instances"},
		{"inverted window", func() error { _, err := Query("c", testRole, []string{"i-1"}, t0, t0); return err }, "not after"},
		{"too many", func() error {
			_, err := Query("c", testRole, make([]string, MaxInstancesPerQuery+1), t0, t0.Add(time.Minute))
			return err
		}, "exceed"},
		{"no role", func() error { _, err := Query("c", "", []string{"i-1"}, t0, t0.Add(time.Minute)); return err }, "no host role id"},
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

func TestCheckSetsAsideWhatNoAgentWrites(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	r := &Reports{
		Health:       []Sample{{at(0), 1}, {at(5), 7}, {at(10), 1}, {at(15), 0}, {at(20), -1}},
		HealthCounts: []Sample{{at(0), 1}, {at(5), 1}, {at(10), 2}, {at(15), 1}, {at(20), 1}},
		Witness:      []Sample{{at(0), 1}, {at(5), 0.5}, {at(10), 0}},
	}
	tp := Check(r)
	if !tp.Found() || len(tp.BadHealth) != 2 || len(tp.BadWitness) != 1 || len(tp.Crowded) != 1 || !tp.Crowded[0].Equal(at(10)) {
		t.Fatalf("Check found %+v", tp)
	}
	if len(r.Health) != 2 || r.Health[0].Value != 1 || !r.Health[1].At.Equal(at(15)) {
		t.Fatalf("health left %+v, want the samples at 0 s and 15 s", r.Health)
	}
	if len(r.Witness) != 2 {
		t.Fatalf("witness left %+v", r.Witness)
	}
	for _, want := range []string{"2 self-report(s) outside the encoding", "1 witness report(s)", "1 second(s) with more than one self-report"} {
		if !strings.Contains(tp.String(), want) {
			t.Errorf("%q lacks %q", tp.String(), want)
		}
	}
	clean := &Reports{Health: []Sample{{at(0), 1}, {at(5), 2}}, HealthCounts: []Sample{{at(0), 1}, {at(5), 1}}}
	if tp := Check(clean); tp.Found() || len(clean.Health) != 2 {
		t.Fatalf("an honest agent's reports flagged: %+v", tp)
	}
}

func TestHostNamespace(t *testing.T) {
	if got := HostNamespace("${aws:userid}"); got != "PrestoCoordinatorHA/${aws:userid}" {
		t.Fatalf("HostNamespace = %s", got)
	}
	// CloudWatch namespaces allow letters, digits and . - _ / # : (and spaces), up to 255.
	ns := ReportNamespace("AROA1234567890EXAMPLE", "i-0123456789abcdef0")
	if len(ns) > 255 || strings.ContainsFunc(ns, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".-_/#: ", r))
	}) {
		t.Fatalf("%s is not a valid CloudWatch namespace", ns)
	}
}
