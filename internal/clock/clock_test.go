package clock

import (
	"context"
	"testing"
	"time"
)

func TestVirtualSleepAdvancesAndHonoursContext(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	v := NewVirtual(start)
	if err := v.Sleep(context.Background(), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := v.Now().Sub(start); got != 5*time.Second {
		t.Fatalf("after Sleep(5s) the clock moved %v", got)
	}
	v.Advance(-time.Second)
	v.Set(start)
	if got := v.Now().Sub(start); got != 5*time.Second {
		t.Fatalf("clock went backward: %v", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := v.Sleep(ctx, time.Hour); err == nil {
		t.Fatal("Sleep on a cancelled context returned nil")
	}
	if got := v.Now().Sub(start); got != 5*time.Second {
		t.Fatalf("a cancelled Sleep moved the clock to %v", got)
	}
}

func TestScaledRunsFaster(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := NewScaled(start, 100)
	if err := s.Sleep(context.Background(), time.Second); err != nil { // 10 ms of wall time
		t.Fatal(err)
	}
	if got := s.Now().Sub(start); got < time.Second {
		t.Fatalf("scaled clock advanced only %v after sleeping 1s of scaled time", got)
	}
	if w := s.Wall(10 * time.Second); w != 100*time.Millisecond {
		t.Fatalf("Wall(10s) at factor 100 = %v", w)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := (Real{}).Sleep(ctx, time.Hour); err == nil {
		t.Fatal("Real.Sleep on a cancelled context returned nil")
	}
}
