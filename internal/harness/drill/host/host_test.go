package host

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/probe"
	"github.com/prestoha/coordinator-ha/internal/signal"
)

func get(t *testing.T, url string, timeout time.Duration) (*Info, error) {
	t.Helper()
	c := &http.Client{Timeout: timeout}
	resp, err := c.Get(url + "/v1/info")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var info Info
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		return nil, err
	}
	return &info, nil
}

func TestStartingThenReady(t *testing.T) {
	clk := clock.NewVirtual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s, err := Start(Options{NodeID: "i-0123456789abcdef0", Clock: clk, Startup: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	info, err := get(t, s.URL(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !info.Starting || !info.Coordinator || info.NodeID != "i-0123456789abcdef0" || info.NodeVersion.Version == "" {
		t.Fatalf("first answer %+v, want starting coordinator", info)
	}
	clk.Advance(31 * time.Second)
	info, err = get(t, s.URL(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if info.Starting || info.Uptime != "31.00s" {
		t.Fatalf("after startup %+v, want ready with uptime 31.00s", info)
	}
	if s.Served() != 2 {
		t.Fatalf("served %d, want 2", s.Served())
	}
}

func TestFaults(t *testing.T) {
	tests := []struct {
		name   string
		fault  func(s *Server, clk *clock.Virtual)
		wantOK bool
		refuse bool
	}{
		{"healthy", func(*Server, *clock.Virtual) {}, true, false},
		{"exit refuses connections", func(s *Server, _ *clock.Virtual) { s.Exit() }, false, true},
		// (a hang is waited out on the server's clock: these two run on the wall clock)
		{"hang times out", func(s *Server, _ *clock.Virtual) { s.Hang(time.Minute) }, false, false},
		{"hang forever times out", func(s *Server, _ *clock.Virtual) { s.Hang(0) }, false, false},
		{"hang over answers", func(s *Server, clk *clock.Virtual) { s.Hang(time.Minute); clk.Advance(61 * time.Second) }, true, false},
		{"resumed hang answers", func(s *Server, _ *clock.Virtual) { s.Hang(0); s.Resume() }, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clock.NewVirtual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			var c clock.Clock = clk
			if strings.HasPrefix(tt.name, "hang") && !tt.wantOK {
				c = clock.Real{}
			}
			s, err := Start(Options{NodeID: "i-0123456789abcdef0", Clock: c})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			tt.fault(s, clk)
			// A request that must time out gets a short timeout; one that must succeed a
			// long one, so that a busy machine cannot fail it.
			timeout := 10 * time.Second
			if !tt.wantOK {
				timeout = 300 * time.Millisecond
			}
			_, err = get(t, s.URL(), timeout)
			if (err == nil) != tt.wantOK {
				t.Fatalf("err = %v, want ok=%v", err, tt.wantOK)
			}
			if tt.refuse && !errors.Is(err, syscall.ECONNREFUSED) {
				t.Fatalf("err = %v, want connection refused", err)
			}
		})
	}
}

func TestHangEndsWhileWaiting(t *testing.T) {
	clk := clock.NewVirtual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s, err := Start(Options{NodeID: "i-0123456789abcdef0", Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Hang(10 * time.Second)
	if !s.Hanging() {
		t.Fatal("not hanging after Hang")
	}
	done := make(chan error, 1)
	go func() { _, err := get(t, s.URL(), 10*time.Second); done <- err }()
	time.Sleep(50 * time.Millisecond)
	clk.Advance(11 * time.Second)
	if err := <-done; err != nil {
		t.Fatalf("request during a hang that ended: %v", err)
	}
}

func TestSlow(t *testing.T) {
	s, err := Start(Options{NodeID: "i-0123456789abcdef0", Clock: clock.NewScaled(time.Now(), 100)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Slow(100 * time.Second) // 1 s of wall time at factor 100
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+"/v1/info", nil)
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("slow server answered inside the timeout")
	}
	s.Slow(0)
	if _, err := get(t, s.URL(), 10*time.Second); err != nil {
		t.Fatalf("after Slow(0): %v", err)
	}
}

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		1500 * time.Microsecond: "1.50ms",
		5 * time.Second:         "5.00s",
		90 * time.Second:        "1.50m",
		3 * time.Hour:           "3.00h",
		48 * time.Hour:          "2.00d",
	} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%v) = %q, want %q", d, got, want)
		}
	}
}

// The simulated answer passes the product's own health rule, and a starting one is STARTING.
func TestAnswerPassesTheProbe(t *testing.T) {
	clk := clock.NewVirtual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s, err := Start(Options{NodeID: "i-0123456789abcdef0", Clock: clk, Startup: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p := probe.New(s.URL()+"/v1/info", &http.Client{}, 2*time.Second, nil)
	if r := p.Probe(context.Background()); r.Status != signal.Starting {
		t.Fatalf("starting host probed %v (%s), want starting", r.Status, r.Reason)
	}
	clk.Advance(2 * time.Minute)
	if r := p.Probe(context.Background()); r.Status != signal.Healthy {
		t.Fatalf("ready host probed %v (%s), want healthy", r.Status, r.Reason)
	}
}

// TestHangInSimulatedTime: off the network, on a simulated clock, a hang lasts exactly
// its simulated time and the request's simulated deadline cuts it, however slow the
// machine.
func TestHangInSimulatedTime(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		hang     time.Duration // 0: forever
		timeout  time.Duration
		answered bool
		at       time.Duration
	}{
		{"hang longer than the timeout", time.Minute, 2 * time.Second, false, 2 * time.Second},
		{"hang forever", 0, 2 * time.Second, false, 2 * time.Second},
		{"hang shorter than the timeout", 10 * time.Second, 20 * time.Second, true, 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim := clock.NewSim(t0)
			s := New(Options{NodeID: "i-0123456789abcdef0", Clock: sim})
			var answered bool
			var at time.Duration
			done := make(chan struct{})
			sim.Go(func() {
				defer close(done)
				s.Hang(tt.hang)
				ctx, cancel := clock.WithTimeout(context.Background(), sim, tt.timeout)
				defer cancel()
				req := httptest.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:8080/v1/info", nil)
				rec := httptest.NewRecorder()
				func() {
					defer func() { _ = recover() }() // a dropped request panics with http.ErrAbortHandler
					s.ServeHTTP(rec, req)
					answered = rec.Code == http.StatusOK
				}()
				at = sim.Now().Sub(t0)
			})
			<-done
			if answered != tt.answered || at != tt.at {
				t.Fatalf("answered %v at %s; want %v at %s", answered, at, tt.answered, tt.at)
			}
		})
	}
}

// The measured start-up phases: refused, then silent (a probe times out), then
// starting, then ready.
func TestStartupPhases(t *testing.T) {
	clk := clock.NewVirtual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s, err := Start(Options{NodeID: "i-0123456789abcdef0", Clock: clk, Refused: 14 * time.Second, Silent: 8 * time.Second, Startup: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !s.Refused() {
		t.Fatal("not refused at start")
	}
	if _, err := get(t, s.URL(), time.Second); err == nil {
		t.Fatal("answered before the port opened")
	}
	clk.Advance(15 * time.Second)
	if s.Refused() {
		t.Fatal("refused after the port opened")
	}
	// Silent: the answer waits until the silent phase ends (a virtual clock's Sleep
	// moves it there at once), and then says starting.
	t0 := clk.Now()
	if info, err := get(t, s.URL(), 10*time.Second); err != nil || !info.Starting {
		t.Fatalf("after the silent phase: %+v %v, want starting", info, err)
	}
	if waited := clk.Now().Sub(t0); waited != 7*time.Second {
		t.Fatalf("the silent phase held the request for %s, want 7s", waited)
	}
	clk.Advance(time.Second)
	if info, err := get(t, s.URL(), 10*time.Second); err != nil || info.Starting {
		t.Fatalf("at 23.5 s: %+v %v, want ready", info, err)
	}
}
