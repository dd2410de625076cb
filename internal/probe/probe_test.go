package probe

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/signal"
)

func testClient(t *testing.T) *http.Client {
	t.Helper()
	c, err := NewHTTPClient(TLSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClassifyTestdata(t *testing.T) {
	want := map[string]struct {
		status   signal.Status
		answered bool
		reason   string
	}{
		"prestodb-old-coordinator.json": {signal.Healthy, true, ""},
		"prestodb-coordinator.json":     {signal.Healthy, true, ""},
		"prestodb-starting.json":        {signal.Starting, true, "starting"},
		"trino-old-coordinator.json":    {signal.Healthy, true, ""},
		"trino-old-starting.json":       {signal.Starting, true, "starting"},
		"trino-old-worker.json":         {signal.Unhealthy, false, "not a coordinator"},
		"trino-new-coordinator.json":    {signal.Healthy, true, ""},
		"trino-new-starting.json":       {signal.Starting, true, "starting"},
		"trino-new-shutting-down.json":  {signal.Unhealthy, true, "SHUTTING_DOWN"},
		"trino-new-worker.json":         {signal.Unhealthy, false, "not a coordinator"},
	}
	files, err := filepath.Glob("../../testdata/info/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		w, ok := want[name]
		if !ok {
			t.Errorf("%s: no expectation; add one", name)
			continue
		}
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// Through a real server on loopback, so the whole path (HTTP, body limit) runs.
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/v1/info" {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(body)
		}))
		got := New(srv.URL+"/v1/info", testClient(t), 2*time.Second, nil).Probe(context.Background())
		srv.Close()
		if got.Status != w.status || got.Answered != w.answered || !strings.Contains(got.Reason, w.reason) {
			t.Errorf("%s: got status %v answered %v reason %q; want %v %v containing %q", name, got.Status, got.Answered, got.Reason, w.status, w.answered, w.reason)
		}
		if w.status == signal.Healthy && got.Reason != "" {
			t.Errorf("%s: healthy with a reason %q", name, got.Reason)
		}
		if got.Info == nil || got.Info.Version() == "" {
			t.Errorf("%s: nodeVersion.version not parsed", name)
		}
	}
}

func TestClassifyRejects(t *testing.T) {
	cases := []struct {
		name   string
		code   int
		body   string
		status signal.Status
		reason string
	}{
		{"503", 503, `{"coordinator":true,"starting":false}`, signal.Unhealthy, "HTTP 503"},
		{"401", 401, ``, signal.Unhealthy, "HTTP 401"},
		{"empty", 200, ``, signal.Unhealthy, "not a JSON object"},
		{"html", 200, `<html>hi</html>`, signal.Unhealthy, "not a JSON object"},
		{"array", 200, `[{"coordinator":true}]`, signal.Unhealthy, "not a JSON object"},
		{"null", 200, `null`, signal.Unhealthy, "not a JSON object"},
		{"truncated", 200, `{"coordinator":true,"start`, signal.Unhealthy, "decoding"},
		{"trailing", 200, `{"coordinator":true}{"x":1}`, signal.Unhealthy, "trailing"},
		{"coordinator string", 200, `{"coordinator":"true","starting":false}`, signal.Unhealthy, "decoding"},
		{"starting number", 200, `{"coordinator":true,"starting":0}`, signal.Unhealthy, "decoding"},
		{"state number", 200, `{"coordinator":true,"starting":false,"state":1}`, signal.Unhealthy, "decoding"},
		{"no coordinator", 200, `{"starting":false}`, signal.Unhealthy, "missing"},
		{"draining", 200, `{"coordinator":true,"starting":false,"state":"DRAINING"}`, signal.Unhealthy, "DRAINING"},
		{"inactive", 200, `{"coordinator":true,"starting":false,"state":"INACTIVE"}`, signal.Unhealthy, "INACTIVE"},
		{"unknown fields ok", 200, `{"coordinator":true,"starting":false,"state":"ACTIVE","future":{"a":[1,2]},"nodeGroups":["x"]}`, signal.Healthy, ""},
		{"starting wins over state", 200, `{"coordinator":true,"starting":true,"state":"ACTIVE"}`, signal.Starting, "starting"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Classify(c.code, []byte(c.body))
			if got.Status != c.status || !strings.Contains(got.Reason, c.reason) {
				t.Fatalf("Classify = %v %q; want %v containing %q", got.Status, got.Reason, c.status, c.reason)
			}
			if c.status == signal.Healthy && got.Reason != "" {
				t.Fatalf("healthy result carries reason %q", got.Reason)
			}
		})
	}
}

func TestProbeTransportFailures(t *testing.T) {
	// A port that refuses: listen, note the address, close.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + l.Addr().String() + "/v1/info"
	l.Close()

	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)

	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"coordinator":true,"pad":"`))
		_, _ = w.Write([]byte(strings.Repeat("x", MaxBody)))
		_, _ = w.Write([]byte(`"}`))
	}))
	defer big.Close()

	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://127.0.0.1:1/v1/info", http.StatusTemporaryRedirect)
	}))
	defer redirect.Close()

	cases := []struct {
		name, url, reason string
		timeout           time.Duration
	}{
		{"refused", refused, "refused", 2 * time.Second},
		{"timeout", slow.URL + "/v1/info", "timed out after 50ms", 50 * time.Millisecond},
		{"body too big", big.URL + "/v1/info", "exceeds", 2 * time.Second},
		{"redirect not followed", redirect.URL + "/v1/info", "HTTP 307", 2 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := New(c.url, testClient(t), c.timeout, nil).Probe(context.Background())
			if got.Status != signal.Unhealthy || got.Answered || !strings.Contains(got.Reason, c.reason) {
				t.Fatalf("got %v answered=%v %q; want unhealthy containing %q", got.Status, got.Answered, got.Reason, c.reason)
			}
		})
	}
}

// roundTripFunc is an in-process transport.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestTimeoutOnTheProbesClock: with a simulated clock, a coordinator that never answers
// times out after exactly the probe timeout of simulated time, however long the machine
// takes.
func TestTimeoutOnTheProbesClock(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sim := clock.NewSim(t0)
	hang := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		time.Sleep(20 * time.Millisecond) // the machine is slow: it does not count
		_ = sim.Sleep(r.Context(), time.Hour)
		return nil, r.Context().Err()
	})}
	var got Result
	done := make(chan struct{})
	sim.Go(func() {
		defer close(done)
		got = New("http://coordinator.invalid/v1/info", hang, 2*time.Second, sim).Probe(context.Background())
	})
	<-done
	if got.Status != signal.Unhealthy || got.Reason != "timed out after 2s" || got.Latency != 2*time.Second {
		t.Fatalf("probe of a hung coordinator: %+v; want unhealthy, timed out after 2s, latency exactly 2s", got)
	}
}
