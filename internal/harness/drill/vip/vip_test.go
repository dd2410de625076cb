package vip

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/harness/drill/host"
)

func TestProxyFollowsTheHolder(t *testing.T) {
	clk := clock.Real{}
	a, err := host.Start(host.Options{NodeID: "i-aaaaaaaaaaaaaaaaa", Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := host.Start(host.Options{NodeID: "i-bbbbbbbbbbbbbbbbb", Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	var mu sync.Mutex
	var holder *host.Server
	p, err := Listen(func(context.Context) (string, string, bool) {
		mu.Lock()
		defer mu.Unlock()
		if holder == nil {
			return "", "", false
		}
		return holder.URL(), holder.NodeID(), true
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	set := func(h *host.Server) { mu.Lock(); holder = h; mu.Unlock() }

	w := &Watcher{URL: p.URL(), Clock: clk, Timeout: 10 * time.Second} // long: a busy machine must not fail the answering cases
	c := &http.Client{Timeout: 10 * time.Second}
	cases := []struct {
		name   string
		setup  func()
		status int
		node   string
	}{
		{"nobody holds the IP", func() { set(nil) }, http.StatusServiceUnavailable, ""},
		{"a holds it", func() { set(a) }, http.StatusOK, "i-aaaaaaaaaaaaaaaaa"},
		{"a exited", func() { a.Exit() }, http.StatusBadGateway, ""},
		{"moved to b", func() { set(b) }, http.StatusOK, "i-bbbbbbbbbbbbbbbbb"},
	}
	for _, tc := range cases {
		tc.setup()
		s := w.call(context.Background(), c)
		if s.Status != tc.status || s.NodeID != tc.node || s.Healthy != (tc.status == 200) {
			t.Errorf("%s: got %+v, want status %d from %q", tc.name, s, tc.status, tc.node)
		}
	}
}

func TestWatcherRecordsRecovery(t *testing.T) {
	clk := clock.Real{}
	a, err := host.Start(host.Options{NodeID: "i-aaaaaaaaaaaaaaaaa", Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	var mu sync.Mutex
	up := false
	p, err := Listen(func(context.Context) (string, string, bool) {
		mu.Lock()
		defer mu.Unlock()
		return a.URL(), a.NodeID(), up
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	w := &Watcher{URL: p.URL(), Clock: clk, Interval: 20 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	start := clk.Now()
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	up = true
	flip := clk.Now()
	mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, ok := w.FirstHealthy(start, ""); ok || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	s, ok := w.FirstHealthy(start, "")
	if !ok || s.At.Before(flip) || s.NodeID != "i-aaaaaaaaaaaaaaaaa" {
		t.Fatalf("first healthy %+v ok=%v, want after %v from a", s, ok, flip)
	}
	if _, ok := w.FirstHealthy(start, "i-aaaaaaaaaaaaaaaaa"); ok {
		t.Fatal("FirstHealthy ignored exclude")
	}
	if u, ok := w.LastUnhealthy(start); !ok || u.Status != http.StatusServiceUnavailable {
		t.Fatalf("last unhealthy %+v ok=%v, want a 503", u, ok)
	}
}
