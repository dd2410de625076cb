// Package coldstart measures a Lambda function's init time on the local machine: it
// serves the Lambda Runtime API on 127.0.0.1 (the part a custom runtime uses: GET
// invocation/next, POST invocation/<id>/response and /error, POST init/error), starts the
// function's real bootstrap binary against it, and times process start to the first
// GET invocation/next, which is the moment the runtime has finished its init phase
// (config read, clients built) and asks for work.
package coldstart

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/prestoha/coordinator-ha/internal/config"
)

// RuntimeAPI is a local stand-in of the Lambda Runtime API.
type RuntimeAPI struct {
	ln  net.Listener
	srv *http.Server

	mu        sync.Mutex
	next      chan time.Time // one value per GET invocation/next
	initError chan string
	queue     chan Invocation
	responses map[string][]byte
	seq       int
}

// Invocation is one event queued for the function.
type Invocation struct {
	ID      string
	Payload []byte
}

// StartRuntimeAPI listens on an ephemeral port of 127.0.0.1.
func StartRuntimeAPI() (*RuntimeAPI, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the runtime API: %w", err)
	}
	a := &RuntimeAPI{ln: ln, next: make(chan time.Time, 16), initError: make(chan string, 4),
		queue: make(chan Invocation, 16), responses: map[string][]byte{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", a.handleNext)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", a.handleResponse)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", a.handleResponse)
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", a.handleInitError)
	a.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = a.srv.Serve(ln) }()
	return a, nil
}

// Addr is host:port, the value of AWS_LAMBDA_RUNTIME_API.
func (a *RuntimeAPI) Addr() string { return a.ln.Addr().String() }

// Close stops the server.
func (a *RuntimeAPI) Close() error {
	_ = a.ln.Close()
	return a.srv.Close()
}

// Invoke queues one event and returns its request id.
func (a *RuntimeAPI) Invoke(payload []byte) string {
	a.mu.Lock()
	a.seq++
	id := fmt.Sprintf("drill-%06d", a.seq)
	a.mu.Unlock()
	a.queue <- Invocation{ID: id, Payload: payload}
	return id
}

// Response returns what the function answered for an invocation, if it has.
func (a *RuntimeAPI) Response(id string) ([]byte, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	b, ok := a.responses[id]
	return b, ok
}

func (a *RuntimeAPI) handleNext(w http.ResponseWriter, r *http.Request) {
	select {
	case a.next <- time.Now():
	default:
	}
	select {
	case <-r.Context().Done():
		return
	case inv := <-a.queue:
		w.Header().Set("Lambda-Runtime-Aws-Request-Id", inv.ID)
		w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10))
		w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:000000000000:function:drill")
		w.Header().Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(inv.Payload)
	}
}

func (a *RuntimeAPI) handleResponse(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(io.LimitReader(r.Body, 6<<20))
	a.mu.Lock()
	a.responses[r.PathValue("id")] = b
	a.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func (a *RuntimeAPI) handleInitError(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	select {
	case a.initError <- string(b):
	default:
	}
	w.WriteHeader(http.StatusAccepted)
}

// ClosedPort returns 127.0.0.1:<port> of a port nothing listens on, for AWS_ENDPOINT_URL:
// any AWS call the function makes during init fails at once on loopback.
func ClosedPort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// Env is the environment of a Lambda function in the measurement: a fake region and
// credentials, every setting internal/config defines with a dummy value, and an endpoint
// override that keeps every AWS call on loopback.
func Env(function, runtimeAPI, endpoint string) []string {
	return []string{
		"PATH=/usr/bin:/bin",
		"HOME=" + os.TempDir(),
		"AWS_LAMBDA_RUNTIME_API=" + runtimeAPI,
		"AWS_LAMBDA_FUNCTION_NAME=" + function,
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/" + function,
		"AWS_LAMBDA_LOG_STREAM_NAME=drill",
		"AWS_REGION=us-east-1",
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=test",
		"AWS_SECRET_ACCESS_KEY=test",
		"AWS_SESSION_TOKEN=test",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_ENDPOINT_URL=http://" + endpoint,
		config.EnvCluster + "=drill",
		config.EnvENIID + "=eni-0123456789abcdef0",
		config.EnvASGName + "=drill-coordinators",
		config.EnvHostRoleID + "=AROAEXAMPLEHOSTROLE01",
		config.EnvStateMachineARN + "=arn:aws:states:us-east-1:000000000000:stateMachine:drill-failover",
		config.EnvTopicARN + "=arn:aws:sns:us-east-1:000000000000:drill-failover",
		config.EnvKeepCoordinator + "=no",
		config.EnvHACount + "=2",
		config.EnvGraceSeconds + "=30",
		config.EnvCheckInterval + "=10",
		config.EnvStartupBudget + "=600",
		config.EnvIngestionDelay + "=5",
		config.EnvBreakerMax + "=3",
		config.EnvBreakerWindow + "=60",
		config.EnvMinHealthyReport + "=3",
		config.EnvPrestoPort + "=8080",
	}
}

// BuildNative builds ./lambdas/<name> for the host's OS and architecture (the product
// ships linux/arm64; the init work is the same code) into dir/<name>/bootstrap.
func BuildNative(ctx context.Context, moduleDir, dir, name string) (string, error) {
	out := filepath.Join(dir, name, "bootstrap")
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", out, "./lambdas/"+name)
	cmd.Dir = moduleDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building lambda %s natively: %w: %s", name, err, b)
	}
	return out, nil
}

// InitTime starts bootstrap once and returns the time from process start to its first
// GET invocation/next. An init error reported by the function, an early exit or a
// timeout is an error.
func InitTime(ctx context.Context, bootstrap, function string, timeout time.Duration) (time.Duration, error) {
	api, err := StartRuntimeAPI()
	if err != nil {
		return 0, err
	}
	defer api.Close()
	endpoint, err := ClosedPort()
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.Command(bootstrap)
	cmd.Env = Env(function, api.Addr(), endpoint)
	var stderr limitedBuffer
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("starting %s: %w", bootstrap, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Kill()
		<-exited
	}()
	select {
	case at := <-api.next:
		return at.Sub(start), nil
	case msg := <-api.initError:
		return 0, fmt.Errorf("%s reported an init error: %s", function, msg)
	case err := <-exited:
		exited <- err
		return 0, fmt.Errorf("%s exited during init (%v): %s", function, err, stderr.String())
	case <-ctx.Done():
		return 0, fmt.Errorf("%s did not ask for an invocation within %s: %w", function, timeout, ctx.Err())
	}
}

// Stats are percentiles of repeated measurements.
type Stats struct {
	Runs int     `json:"runs"`
	P50  float64 `json:"p50_ms"`
	P99  float64 `json:"p99_ms"`
	Min  float64 `json:"min_ms"`
	Max  float64 `json:"max_ms"`
}

// Measure runs InitTime n times.
func Measure(ctx context.Context, bootstrap, function string, n int) (Stats, error) {
	var ds []time.Duration
	for i := 0; i < n; i++ {
		d, err := InitTime(ctx, bootstrap, function, 20*time.Second)
		if err != nil {
			return Stats{}, err
		}
		ds = append(ds, d)
	}
	return Summarize(ds), nil
}

// Summarize computes nearest-rank percentiles in milliseconds.
func Summarize(ds []time.Duration) Stats {
	if len(ds) == 0 {
		return Stats{}
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return Stats{Runs: len(s), P50: ms(Percentile(s, 50)), P99: ms(Percentile(s, 99)), Min: ms(s[0]), Max: ms(s[len(s)-1])}
}

// Percentile is the nearest-rank percentile of sorted durations.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted))+0.999999) - 1
	if rank < 0 {
		rank = 0
	}
	if rank >= len(sorted) {
		rank = len(sorted) - 1
	}
	return sorted[rank]
}

type limitedBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf) < 8<<10 {
		b.buf = append(b.buf, p...)
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
