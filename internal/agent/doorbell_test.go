package agent

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/clock"
)

// recordingBell records rings; the first failN rings fail.
type recordingBell struct {
	mu    sync.Mutex
	rings []string
	at    []time.Time
	clk   clock.Clock
	failN int
}

func (b *recordingBell) Ring(_ context.Context, instanceID, reason string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failN > 0 {
		b.failN--
		return errors.New("throttled")
	}
	b.rings = append(b.rings, instanceID+": "+reason)
	b.at = append(b.at, b.clk.Now())
	return nil
}

func (b *recordingBell) got() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.rings...)
}

// answering serves a coordinator that is healthy except in the rounds listed (answered
// 503 there), and cancels after `rounds` requests.
func answering(t *testing.T, cancel context.CancelFunc, rounds int32, down map[int32]bool) *httptest.Server {
	var n atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k := n.Add(1)
		if k >= rounds {
			cancel()
		}
		if down[k] {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte(`{"coordinator":true,"starting":false,"state":"ACTIVE"}`))
	}))
	t.Cleanup(s.Close)
	return s
}

// The active rings once when its own probe fails, not again while the failure goes on
// (the health check keeps itself fast), and again for a new failure after a recovery.
func TestActiveRingsOncePerFailure(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clk := clock.NewSim(t0) // the ring runs as a participant: time waits for it
	self := answering(t, cancel, 10, map[int32]bool{3: true, 4: true, 5: true, 8: true})
	bell := &recordingBell{clk: clk}
	a, err := New(testConfig(self.URL+"/v1/info"), Deps{STS: fakeSTS{}, CloudWatch: &fakeCW{}, Clock: clk, Doorbell: bell,
		Role: NewStaticRole(Role{InstanceID: testInstance, HoldsENI: true}), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := runOn(clk, func() error { return a.Run(ctx) }); err != nil {
		t.Fatal(err)
	}
	got := bell.got()
	if len(got) != 2 || !strings.Contains(got[0], "the active coordinator's own probe: unhealthy") {
		t.Fatalf("rings %q, want one at round 3 and one at round 8", got)
	}
	// The ring runs beside the probe loop, in the round that failed.
	if outside(bell.at[0], 10, 12) || outside(bell.at[1], 35, 37) {
		t.Fatalf("rang at %v, want in rounds 3 (t0+10s) and 8 (t0+35s)", bell.at)
	}
}

// A standby rings when the coordinator does not answer at the ENI IP; a failed ring is
// tried again at the next probe; a healthy standby whose own probe fails does not ring
// (no failover is decided on a standby).
func TestStandbyRingsWhenTheActiveDoesNotAnswer(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clk := clock.NewSim(t0)
	self := answering(t, cancel, 8, map[int32]bool{2: true})
	var wn atomic.Int32
	active := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if wn.Add(1) >= 5 {
			http.Error(w, "gone", http.StatusBadGateway)
			return
		}
		_, _ = w.Write([]byte(`{"coordinator":true,"starting":false}`))
	}))
	defer active.Close()
	bell := &recordingBell{clk: clk, failN: 1}
	u, _ := url.Parse(self.URL)
	a, err := New(testConfig(self.URL+"/v1/info"), Deps{STS: fakeSTS{}, CloudWatch: &fakeCW{}, Clock: clk, Doorbell: bell,
		Role: NewStaticRole(Role{InstanceID: testInstance}), Logger: quietLogger(),
		HTTPClient: routedClient(u.Host, active.Listener.Addr().String())})
	if err != nil {
		t.Fatal(err)
	}
	if err := runOn(clk, func() error { return a.Run(ctx) }); err != nil {
		t.Fatal(err)
	}
	got := bell.got()
	if len(got) != 1 || !strings.Contains(got[0], "does not answer at the ENI IP") {
		t.Fatalf("rings %q, want exactly one about the ENI IP", got)
	}
	if outside(bell.at[0], 25, 27) {
		t.Fatalf("rang at %v, want t0+25s: round 5 failed to ring, round 6 rang", bell.at[0])
	}
}

// The Lambda doorbell invokes asynchronously with an event the health check accepts.
func TestLambdaDoorbellInvokesAsync(t *testing.T) {
	var in *lambda.InvokeInput
	d := NewLambdaDoorbell(invokeFunc(func(p *lambda.InvokeInput) { in = p }), "prod-healthcheck", clock.NewVirtual(t0))
	if err := d.Ring(context.Background(), testInstance, "why"); err != nil {
		t.Fatal(err)
	}
	if aws.ToString(in.FunctionName) != "prod-healthcheck" || in.InvocationType != lambdatypes.InvocationTypeEvent {
		t.Fatalf("invoke %+v", in)
	}
	e, err := events.DecodeScheduleEvent(in.Payload)
	if err != nil || !e.IsDoorbell() || e.Resources[0] != testInstance {
		t.Fatalf("payload %s: %v", in.Payload, err)
	}
	var detail map[string]string
	if json.Unmarshal(e.Detail, &detail) != nil || detail["reason"] != "why" {
		t.Fatalf("detail %s", e.Detail)
	}
}

// within reports whether at is outside [t0+from s, t0+to s].
func outside(at time.Time, from, to int) bool {
	return at.Before(t0.Add(time.Duration(from)*time.Second)) || at.After(t0.Add(time.Duration(to)*time.Second))
}

// runOn runs f as a participant of the simulated clock and waits for it.
func runOn(sim *clock.Sim, f func() error) error {
	var err error
	done := make(chan struct{})
	sim.Go(func() { defer close(done); err = f() })
	<-done
	return err
}

type invokeFunc func(*lambda.InvokeInput)

func (f invokeFunc) Invoke(_ context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	f(in)
	return &lambda.InvokeOutput{StatusCode: 202}, nil
}
