package agent

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/signal"
)

const (
	testInstance = "i-0123456789abcdef0"
	testENIIP    = "10.0.1.10"
)

// routedClient dials the ENI IP through to a loopback server (tests reach only 127/8).
func routedClient(selfAddr, witnessAddr string) *http.Client {
	_, port, _ := net.SplitHostPort(selfAddr)
	d := &net.Dialer{}
	return &http.Client{
		Transport: &http.Transport{
			Proxy: nil,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				if addr == net.JoinHostPort(testENIIP, port) {
					addr = witnessAddr
				}
				return d.DialContext(ctx, network, addr)
			},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func testConfig(probeURL string) Config {
	return Config{
		Cluster: "prod", ENIID: "eni-0123456789abcdef0", ENIIP: testENIIP, ProbeURL: probeURL,
		ProbeInterval: 5 * time.Second, ProbeTimeout: 2 * time.Second, PublishInterval: 10 * time.Second, StandbyPublish: 10 * time.Second,
		RoleInterval: 5 * time.Second, ShutdownTimeout: 2 * time.Second, MaxBuffered: 4096,
		Publish: PublishCloudWatch, LogLevel: "info",
	}
}

func split(ds []cwtypes.MetricDatum) (health, witness []cwtypes.MetricDatum) {
	for _, d := range ds {
		switch aws.ToString(d.MetricName) {
		case signal.MetricHealth:
			health = append(health, d)
		case signal.MetricWitness:
			witness = append(witness, d)
		}
	}
	return
}

func TestRunStandbyThenActive(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	role := NewStaticRole(Role{InstanceID: testInstance})
	var n atomic.Int32
	self := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 3:
			// The ENI moves here, during round 3's probe. The role check started at round 3
			// runs beside the probes, off the probe loop, and on the simulated clock it reads
			// the role after this probe: its answer counts from round 4 on.
			role.Set(Role{InstanceID: testInstance, HoldsENI: true})
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		case 6:
			cancel()
		}
		_, _ = w.Write([]byte(`{"coordinator":true,"starting":false,"state":"ACTIVE"}`))
	}))
	defer self.Close()
	var witnessed atomic.Int32
	active := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		witnessed.Add(1)
		_, _ = w.Write([]byte(`{"coordinator":true,"starting":true}`)) // starting still counts as reached
	}))
	defer active.Close()

	cw := &fakeCW{}
	clk := clock.NewSim(t0) // the asynchronous role check runs as a participant: deterministic
	u, _ := url.Parse(self.URL)
	a, err := New(testConfig(self.URL+"/v1/info"), Deps{
		STS: fakeSTS{}, CloudWatch: cw, Clock: clk, Role: role, Logger: quietLogger(),
		HTTPClient: routedClient(u.Host, active.Listener.Addr().String()),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := runOn(clk, func() error { return a.Run(ctx) }); err != nil {
		t.Fatalf("Run: %v", err)
	}

	health, witness := split(cw.accepted())
	wantHealth := []float64{1, 1, 0, 1, 1} // round 6 was cut by shutdown and is not reported
	if len(health) != len(wantHealth) {
		t.Fatalf("%d health datums, want %d", len(health), len(wantHealth))
	}
	for i, d := range health {
		if valueOf(d) != wantHealth[i] {
			t.Fatalf("health[%d] = %v, want %v", i, valueOf(d), wantHealth[i])
		}
		if at := aws.ToTime(d.Timestamp); !at.Equal(t0.Add(time.Duration(i) * 5 * time.Second)) {
			t.Fatalf("health[%d] stamped %v, want the probe's own time %v", i, at, t0.Add(time.Duration(i)*5*time.Second))
		}
		if aws.ToString(d.Dimensions[1].Value) != testInstance || aws.ToInt32(d.StorageResolution) != 1 {
			t.Fatalf("health[%d] dimensions/resolution: %+v", i, d)
		}
	}
	if len(witness) != 3 || witnessed.Load() != 3 {
		t.Fatalf("a standby witnesses every round and the active none: %d datums, %d witness requests, want 3 (rounds 1 to 3)",
			len(witness), witnessed.Load())
	}
	for _, d := range witness {
		if valueOf(d) != 1 {
			t.Fatalf("witness datum %v, want 1 (reached)", valueOf(d))
		}
	}
	// Urgent rounds go at once: the first, the unhealthy one, the recovery, and the
	// first round as the active (a new role); the healthy repeats wait.
	// (Kicks that arrive during a flush coalesce, so fewer calls are possible.)
	if calls := cw.callCount(); calls < 2 || calls > 4 {
		t.Fatalf("%d PutMetricData calls for 5 rounds, want 2 to 4 (first, unhealthy, recovered, new role at once; repeats held)", calls)
	}
	if last := a.Last(); !last.Role.HoldsENI || last.Witness != nil || last.Probes != 5 {
		t.Fatalf("last observation %+v", last)
	}
}

func TestRunWitnessCannotReach(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	self := coordinatorUntil(t, cancel, 4)
	// The ENI IP answers with a worker's /v1/info, then refuses.
	var m atomic.Int32
	worker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.Add(1)
		_, _ = w.Write([]byte(`{"coordinator":false,"starting":false}`))
	}))
	defer worker.Close()
	cw := &fakeCW{}
	u, _ := url.Parse(self.URL)
	a, err := New(testConfig(self.URL+"/v1/info"), Deps{
		STS: fakeSTS{}, CloudWatch: cw, Clock: clock.NewVirtual(t0), Role: NewStaticRole(Role{InstanceID: testInstance}),
		Logger: quietLogger(), HTTPClient: routedClient(u.Host, worker.Listener.Addr().String()),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Run(ctx); err != nil {
		t.Fatal(err)
	}
	_, witness := split(cw.accepted())
	if n := m.Load(); len(witness) != 3 || n < 3 || n > 4 { // round 4 may reach the server before shutdown cuts it
		t.Fatalf("witness datums %d, requests %d; want 3 datums", len(witness), n)
	}
	for _, d := range witness {
		if valueOf(d) != 0 {
			t.Fatal("a worker's answer at the ENI IP is not a reached coordinator")
		}
	}
}

func TestRunWaitsForRole(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	role := NewStaticRole(Role{})
	role.Fail(errors.New("IMDS unreachable"))
	self := coordinatorUntil(t, cancel, 3)
	clk := clock.NewVirtual(t0)
	cfg := testConfig(self.URL + "/v1/info")
	a, err := New(cfg, Deps{STS: fakeSTS{}, CloudWatch: &fakeCW{}, Clock: clk, Role: &countdownRole{StaticRole: role, failures: 3,
		then: Role{InstanceID: testInstance, HoldsENI: true}}, Logger: quietLogger(), HTTPClient: routedClient("127.0.0.1:1", "127.0.0.1:1")})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Run(ctx); err != nil {
		t.Fatal(err)
	}
	health, _ := split(a.pub.cw.(*fakeCW).accepted())
	if len(health) != 2 {
		t.Fatalf("%d health datums, want 2 (nothing before the role is known)", len(health))
	}
	// Three failed role checks, retried every probe interval: the first sample is at t0+15s.
	if at := aws.ToTime(health[0].Timestamp); !at.Equal(t0.Add(15 * time.Second)) {
		t.Fatalf("first sample at %v, want %v", at, t0.Add(15*time.Second))
	}
}

// countdownRole fails a set number of times, then answers then.
type countdownRole struct {
	*StaticRole
	mu       sync.Mutex
	failures int
	then     Role
}

func (c *countdownRole) Role(ctx context.Context) (Role, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failures > 0 {
		c.failures--
		return c.StaticRole.Role(ctx)
	}
	return c.then, nil
}

func TestRunFinalFlushOnShutdown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	self := coordinatorUntil(t, cancel, 3)
	cw := &fakeCW{}
	cfg := testConfig(self.URL + "/v1/info")
	cfg.PublishInterval = MaxPublishInterval // no periodic flush before shutdown
	cfg.StandbyPublish = MaxPublishInterval
	a, err := New(cfg, Deps{STS: fakeSTS{}, CloudWatch: cw, Clock: clock.NewVirtual(t0), Role: NewStaticRole(Role{InstanceID: testInstance, HoldsENI: true}), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Run(ctx); err != nil {
		t.Fatal(err)
	}
	// The first round is news and is kicked at once (the flusher may take the second
	// with it); the second, healthy and unchanged, is otherwise held for the final flush.
	// Either way nothing is left behind.
	if n := cw.callCount(); n < 1 || n > 2 || len(cw.accepted()) != 2 || a.Publisher().Stats().Buffered != 0 {
		t.Fatalf("shutdown flush: %d calls, %d datums, %d left; want 1 or 2 calls with both datums, none left",
			n, len(cw.accepted()), a.Publisher().Stats().Buffered)
	}
}

func TestNewRejects(t *testing.T) {
	if _, err := New(testConfig("http://127.0.0.1:8080/v1/info"), Deps{}); err == nil {
		t.Fatal("New without CloudWatch accepted")
	}
	bad := testConfig("http://10.0.0.1:8080/v1/info")
	if _, err := New(bad, Deps{STS: fakeSTS{}, CloudWatch: &fakeCW{}}); err == nil {
		t.Fatal("New with a non-loopback probe URL accepted")
	}
}

// coordinatorUntil is a healthy coordinator's loopback /v1/info that cancels the agent's
// run on its rounds-th probe, so a test runs a known number of rounds.
func coordinatorUntil(t *testing.T, cancel context.CancelFunc, rounds int32) *httptest.Server {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == rounds {
			cancel()
		}
		_, _ = w.Write([]byte(`{"coordinator":true,"starting":false}`))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// A clock that steps back never makes the agent write two self-reports in one second
// (the health check's sign of a second writer): the stamps stay one second apart at
// least until the clock catches up.
func TestStampsStayUniqueWhenTheClockStepsBack(t *testing.T) {
	a := &Agent{}
	base := t0.Add(100*time.Second + 300*time.Millisecond)
	var got []time.Time
	for _, at := range []time.Time{base, base.Add(5 * time.Second), base.Add(-4 * time.Second), base.Add(1 * time.Second), base.Add(6 * time.Second), base.Add(20 * time.Second)} {
		got = append(got, a.stampAfter(at))
	}
	seen := map[time.Time]bool{}
	for i, g := range got {
		s := g.Truncate(time.Second)
		if seen[s] {
			t.Fatalf("stamps %v: two in the second %v", got, s)
		}
		seen[s] = true
		if i > 0 && !g.After(got[i-1]) {
			t.Fatalf("stamps %v: not increasing at %d", got, i)
		}
	}
	if !got[5].Equal(base.Add(20 * time.Second)) {
		t.Fatalf("stamps %v: the clock's own time once it has caught up", got)
	}
}
