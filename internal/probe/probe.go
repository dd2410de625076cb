package probe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/signal"
)

// MaxBody is the most the probe reads of a /v1/info answer; a real one is a few hundred bytes.
const MaxBody = 64 << 10

// Info is the part of a /v1/info answer the probe reads. Pointers tell an absent field
// from a zero one; the types are strict (a string "true" is not a boolean).
type Info struct {
	NodeVersion *struct {
		Version string `json:"version"`
	} `json:"nodeVersion"`
	Environment   string  `json:"environment"`
	Coordinator   *bool   `json:"coordinator"`
	Starting      *bool   `json:"starting"`
	State         *string `json:"state"`
	NodeID        string  `json:"nodeId"`
	CoordinatorID *string `json:"coordinatorId"`
	Uptime        string  `json:"uptime"`
}

// Version returns nodeVersion.version, or "".
func (i *Info) Version() string {
	if i == nil || i.NodeVersion == nil {
		return ""
	}
	return i.NodeVersion.Version
}

// Result is one probe's outcome.
type Result struct {
	Status signal.Status
	// Reason says why the status is not Healthy ("" when healthy).
	Reason string
	// Answered: HTTP 200 and a JSON answer with coordinator true, whatever starting/state.
	Answered bool
	// Info is the parsed answer, nil when there was none.
	Info *Info
	// Latency is the wall time the request took.
	Latency time.Duration
}

// Classify maps an HTTP status code and body to a Result. It is the whole health rule.
func Classify(code int, body []byte) Result {
	if code != http.StatusOK {
		return Result{Status: signal.Unhealthy, Reason: fmt.Sprintf("HTTP %d", code)}
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return Result{Status: signal.Unhealthy, Reason: "body is not a JSON object"}
	}
	var info Info
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if err := dec.Decode(&info); err != nil {
		return Result{Status: signal.Unhealthy, Reason: fmt.Sprintf("decoding /v1/info: %v", err)}
	}
	if dec.More() {
		return Result{Status: signal.Unhealthy, Reason: "decoding /v1/info: trailing data after the JSON object"}
	}
	r := Result{Info: &info}
	switch {
	case info.Coordinator == nil:
		r.Status, r.Reason = signal.Unhealthy, `field "coordinator" is missing`
		return r
	case !*info.Coordinator:
		r.Status, r.Reason = signal.Unhealthy, "server is not a coordinator (coordinator=false)"
		return r
	}
	r.Answered = true
	switch {
	case info.Starting != nil && *info.Starting:
		r.Status, r.Reason = signal.Starting, "server is starting"
	case info.State != nil && *info.State != "ACTIVE":
		r.Status, r.Reason = signal.Unhealthy, fmt.Sprintf("node state is %s", *info.State)
	default:
		r.Status = signal.Healthy
	}
	return r
}

// Prober probes one /v1/info URL.
type Prober struct {
	url     string
	client  *http.Client
	timeout time.Duration
	clock   clock.Clock
}

// New returns a prober of url using client (which must not follow redirects; see
// NewHTTPClient) with a per-request timeout on clk's time (nil: the wall clock), so
// that a simulated clock decides when a hung coordinator has timed out.
func New(url string, client *http.Client, timeout time.Duration, clk clock.Clock) *Prober {
	if clk == nil {
		clk = clock.Real{}
	}
	return &Prober{url: url, client: client, timeout: timeout, clock: clk}
}

// URL returns the probed URL.
func (p *Prober) URL() string { return p.url }

// Probe makes one request. It never returns an error: failures are Unhealthy results.
func (p *Prober) Probe(ctx context.Context) Result {
	start := p.clock.Now()
	r := p.probe(ctx)
	r.Latency = p.clock.Now().Sub(start)
	return r
}

func (p *Prober) probe(ctx context.Context) Result {
	ctx, cancel := clock.WithTimeout(ctx, p.clock, p.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil {
		return Result{Status: signal.Unhealthy, Reason: fmt.Sprintf("building request: %v", err)}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "coordinator-agent")
	resp, err := p.client.Do(req)
	if err != nil {
		return Result{Status: signal.Unhealthy, Reason: describe(ctx, err, p.timeout)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil {
		return Result{Status: signal.Unhealthy, Reason: "reading body: " + describe(ctx, err, p.timeout)}
	}
	if len(body) > MaxBody {
		return Result{Status: signal.Unhealthy, Reason: fmt.Sprintf("body exceeds %d bytes", MaxBody)}
	}
	return Classify(resp.StatusCode, body)
}

func describe(ctx context.Context, err error, timeout time.Duration) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Sprintf("timed out after %s", timeout)
	}
	return err.Error()
}
