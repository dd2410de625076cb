package drill

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/harness/drill/host"
	"github.com/prestoha/coordinator-ha/internal/harness/drill/procstat"
)

// AgentFootprint is the host agent's CPU and memory over a run of the real binary.
type AgentFootprint struct {
	Binary     string           `json:"binary"`
	Args       []string         `json:"args"`
	Summary    procstat.Summary `json:"summary"`
	Datums     int              `json:"datums_written"` // JSON lines on stdout (-publish=stdout)
	ProbeCalls int              `json:"probe_calls"`    // /v1/info requests the simulated host answered
}

// MeasureAgent builds ./agent for this machine, runs it with -publish=stdout at its
// default intervals against one simulated coordinator (real time) and a fake IMDS that
// says the host holds the ENI, and samples /proc for d of wall time.
func MeasureAgent(ctx context.Context, moduleDir, tmp string, d time.Duration) (AgentFootprint, error) {
	bin := filepath.Join(tmp, "coordinator-agent")
	b := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./agent")
	b.Dir = moduleDir
	b.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := b.CombinedOutput(); err != nil {
		return AgentFootprint{}, fmt.Errorf("building the agent: %w: %s", err, out)
	}
	const instanceID, eniID = "i-0123456789abcdef0", "eni-0123456789abcdef0"
	srv, err := host.Start(host.Options{NodeID: instanceID, Clock: clock.Real{}})
	if err != nil {
		return AgentFootprint{}, err
	}
	defer srv.Close()
	imds, err := startFakeIMDS(instanceID, eniID)
	if err != nil {
		return AgentFootprint{}, err
	}
	defer imds.Close()
	args := []string{"-cluster", "bench", "-eni-id", eniID, "-eni-ip", "10.0.1.4", "-probe-url", srv.URL() + "/v1/info",
		"-publish", "stdout", "-imds-endpoint", imds.URL(), "-log-level", "warn"}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + tmp}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return AgentFootprint{}, err
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		return AgentFootprint{}, fmt.Errorf("starting the agent: %w", err)
	}
	lines := make(chan int, 1)
	go func() {
		n := 0
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			n++
		}
		lines <- n
	}()
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	sum, werr := procstat.Watch(wctx, cmd.Process.Pid, 500*time.Millisecond)
	_ = cmd.Process.Signal(os.Interrupt)
	_ = cmd.Wait()
	n := <-lines
	if werr != nil {
		return AgentFootprint{}, werr
	}
	return AgentFootprint{Binary: "go build ./agent (" + hostArch() + ")", Args: args, Summary: sum, Datums: n, ProbeCalls: srv.Served()}, nil
}
