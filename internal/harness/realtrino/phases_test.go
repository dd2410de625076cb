package realtrino

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMeasureStartupPhases measures a coordinator's start-up as an agent sees it on
// loopback: refused, then accepted without an answer (silent), then starting: true,
// then ready. It prints the durations the simulated hosts of make demo use
// (drill.Settings Refused, Silent, Startup). REALTRINO_PHASES=1 runs it; root and Java.
func TestMeasureStartupPhases(t *testing.T) {
	if os.Getenv("REALTRINO_PHASES") != "1" {
		t.Skip("REALTRINO_PHASES=1 runs it")
	}
	needNamespaces(t)
	home, _, err := Fetch(context.Background(), Trino368, CacheDir(), slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	nw, err := NewNetwork("ph", netip.MustParsePrefix("198.18.9.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	defer nw.Close()
	addr := netip.MustParseAddr("198.18.9.10")
	ns, err := nw.AddHost("c", addr)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DialContext: ns.DialContext, DisableKeepAlives: true}}
	start := time.Now()
	p, err := Start(ns, "java", home, NodeSpec{ID: "c", Environment: "phases", Coordinator: true, Addr: addr,
		Discovery: "http://127.0.0.1:8080", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	var phases []string
	for time.Since(start) < 5*time.Minute && !p.Exited() {
		ph := phaseOf(client)
		if len(phases) == 0 || phases[len(phases)-1] != ph {
			phases = append(phases, ph)
			t.Logf("%6.1fs %s", time.Since(start).Seconds(), ph)
		}
		if ph == "ready" {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("not ready: %v", phases)
}

func phaseOf(c *http.Client) string {
	resp, err := c.Get("http://127.0.0.1:8080/v1/info")
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case err != nil:
		return "silent"
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if strings.Contains(string(b), `"starting":true`) {
		return "starting"
	}
	if resp.StatusCode == http.StatusOK {
		return "ready"
	}
	return "http-" + resp.Status
}
