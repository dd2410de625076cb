package procstat

import (
	"context"
	"os"
	"testing"
	"time"
)

func TestReadSelf(t *testing.T) {
	s, err := Read(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.RSSBytes <= 0 || s.HWMBytes < s.RSSBytes/2 {
		t.Fatalf("implausible sample %+v", s)
	}
	// burn a little CPU and check it is counted
	deadline := time.Now().Add(60 * time.Millisecond)
	x := 0
	for time.Now().Before(deadline) {
		x++
	}
	s2, err := Read(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s2.CPU < s.CPU || x == 0 {
		t.Fatalf("cpu went backwards: %v then %v", s.CPU, s2.CPU)
	}
	if _, err := Read(1 << 30); err == nil {
		t.Fatal("reading a missing process succeeded")
	}
}

func TestWatchAndSummarize(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second) // about 50 samples; 3 are enough, even on a busy machine
	defer cancel()
	sum, err := Watch(ctx, os.Getpid(), 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Samples < 3 || sum.RSSMaxMiB <= 0 || sum.WallSeconds <= 0 {
		t.Fatalf("summary %+v", sum)
	}
	t0 := time.Unix(0, 0)
	got := Summarize([]Sample{
		{At: t0, CPU: time.Second, RSSBytes: 10 << 20},
		{At: t0.Add(10 * time.Second), CPU: 2 * time.Second, RSSBytes: 20 << 20, HWMBytes: 25 << 20},
	}, t0)
	if got.CPUPercent != 10 || got.RSSMeanMiB != 15 || got.RSSMaxMiB != 20 || got.PeakRSSMiB != 25 {
		t.Fatalf("Summarize = %+v", got)
	}
}
