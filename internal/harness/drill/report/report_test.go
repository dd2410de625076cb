package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func sample() []Scenario {
	fault := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return []Scenario{
		{Name: "process-exit", ExpectFailover: true, FailedOver: true, OK: true, FaultAt: fault, FailedInstance: "i-0aaaaaaaaaaaaaaaa",
			NewHolder: "i-0bbbbbbbbbbbbbbbb", Verdict: "FAILED", DetectS: Seconds(41 * time.Second), FencedS: Seconds(43 * time.Second),
			ENIAttachedS: Seconds(45 * time.Second), ServingS: Seconds(45500 * time.Millisecond), StandbyReplacedS: Seconds(80 * time.Second)},
		{Name: "short-pause", OK: false, FaultAt: fault, Violations: []string{"failed over"}},
	}
}

func TestWriteAndPrint(t *testing.T) {
	dir := t.TempDir()
	r := &Report{Scenarios: sample()}
	if err := r.Write(dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Scenarios []map[string]any `json:"scenarios"`
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	first := back.Scenarios[0]
	for _, k := range []string{"name", "expect_failover", "failed_over", "ok", "detect_s", "eni_attached_s", "serving_s", "fenced_s", "standby_replaced_s"} {
		if _, ok := first[k]; !ok {
			t.Errorf("report.json scenario lacks %q", k)
		}
	}
	if _, ok := back.Scenarios[1]["detect_s"]; ok {
		t.Error("detect_s present for a scenario without a failover")
	}
	svg, err := os.ReadFile(filepath.Join(dir, "timeline.svg"))
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(svg))
	for {
		if _, err := dec.Token(); err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("timeline.svg is not well-formed XML: %v", err)
			}
			break
		}
	}
	if strings.Count(string(svg), "<circle") != 6+1+6 { // 6 marks + 1 fault + legend
		t.Errorf("timeline.svg has %d circles", strings.Count(string(svg), "<circle"))
	}
	var out bytes.Buffer
	PrintTimeline(&out, &r.Scenarios[0])
	PrintSummary(&out, r.Scenarios)
	for _, want := range []string{"T+   41.0s", "ENI attached to i-0bbbbbbbbbbbbbbbb", "short-pause", "NO"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("printed output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestMarksSorted(t *testing.T) {
	s := sample()[0]
	m := s.Marks()
	for i := 1; i < len(m); i++ {
		if m[i].S < m[i-1].S {
			t.Fatalf("marks out of order: %v", m)
		}
	}
	if m[0].Name != MarkFault || len(m) != 6 {
		t.Fatalf("marks %v", m)
	}
}
