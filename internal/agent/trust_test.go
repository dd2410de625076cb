package agent

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/prestoha/coordinator-ha/internal/clock"
)

// The metadata service refuses the first token request (403, as an IMDS with a
// transient fault or a hop limit would). The SDK's default client then falls back to
// IMDSv1 for the life of the process; the agent's client must not: that role check
// fails, the next one asks for a token again, and no request ever goes without one.
func TestIMDSv2OnlyNoFallbackAfterARefusedToken(t *testing.T) {
	f := &fakeIMDS{instanceID: testInstance, enis: map[string]string{"0a:00:00:00:00:01": "eni-0000000000000aaaa"}, gets: map[string]int{}}
	var refused atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/latest/api/token" && refused.CompareAndSwap(false, true) {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		f.ServeHTTP(w, r)
	}))
	defer srv.Close()
	r := NewIMDSRole("eni-0123456789abcdef0", srv.URL)
	ctx := context.Background()
	if _, err := r.Role(ctx); err == nil {
		t.Log("the first role check succeeded despite the refused token (it retried with a token)")
	}
	got, err := r.Role(ctx)
	if err != nil {
		t.Fatalf("second role check: %v", err)
	}
	if got.InstanceID != testInstance {
		t.Fatalf("role %+v", got)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.unauthGets != 0 {
		t.Fatalf("%d metadata requests went without a token (IMDSv1 fallback)", f.unauthGets)
	}
	if f.tokens == 0 {
		t.Fatal("no token was ever obtained")
	}
}

// One MAC whose interface-id answers 404 (an interface going away) is skipped; the
// coordinator ENI on another MAC is still found.
func TestIMDSRoleSkipsABadMAC(t *testing.T) {
	f := &fakeIMDS{instanceID: testInstance, gets: map[string]int{}, enis: map[string]string{
		"0a:00:00:00:00:01": "eni-0000000000000aaaa",
		"0a:00:00:00:00:02": "eni-0123456789abcdef0",
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/latest/meta-data/network/interfaces/macs/" {
			f.ServeHTTP(w, r)
			_, _ = w.Write([]byte("0a:00:00:00:00:09/\n")) // listed, but its interface-id is 404
			return
		}
		f.ServeHTTP(w, r)
	}))
	defer srv.Close()
	got, err := NewIMDSRole("eni-0123456789abcdef0", srv.URL).Role(context.Background())
	if err != nil {
		t.Fatalf("a bad MAC entry failed the role check: %v", err)
	}
	if !got.HoldsENI {
		t.Fatalf("role %+v: the coordinator ENI on a good MAC was missed", got)
	}
}

// hangingRole answers once, then every later check hangs until its context ends (a
// metadata service that stopped answering).
type hangingRole struct{ calls atomic.Int32 }

func (h *hangingRole) Role(ctx context.Context) (Role, error) {
	if h.calls.Add(1) == 1 {
		return Role{InstanceID: testInstance}, nil
	}
	<-ctx.Done()
	return Role{}, ctx.Err()
}

// The role check runs apart from the probes: a metadata service that hangs never
// delays a health sample; every sample keeps the probe grid.
func TestRoleCheckNeverDelaysASample(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	self := coordinatorUntil(t, cancel, 6)
	cw := &fakeCW{}
	role := &hangingRole{}
	a, err := New(testConfig(self.URL+"/v1/info"), Deps{STS: fakeSTS{}, CloudWatch: cw, Clock: clock.NewVirtual(t0), Role: role,
		Logger: quietLogger(), HTTPClient: routedClient("127.0.0.1:1", "127.0.0.1:1")})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := a.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Run took %s of wall time: the probes waited for the hanging role check", d)
	}
	health, _ := split(cw.accepted())
	if len(health) != 5 {
		t.Fatalf("%d health samples, want 5 (the sixth round is cut by shutdown)", len(health))
	}
	for i, d := range health {
		if at := aws.ToTime(d.Timestamp); !at.Equal(t0.Add(time.Duration(i) * 5 * time.Second)) {
			t.Fatalf("sample %d at %v, want %v: a role check delayed it", i, at, t0.Add(time.Duration(i)*5*time.Second))
		}
	}
	if role.calls.Load() < 2 {
		t.Fatalf("%d role checks, want the later ones started too", role.calls.Load())
	}
}

// The agent publishes into the namespace of its own aws:userid, as STS tells it.
func TestAgentPublishesIntoItsOwnNamespace(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	self := coordinatorUntil(t, cancel, 3)
	cw := &fakeCW{}
	a, err := New(testConfig(self.URL+"/v1/info"), Deps{STS: fakeSTS{}, CloudWatch: cw, Clock: clock.NewVirtual(t0),
		Role: NewStaticRole(Role{InstanceID: testInstance}), Logger: quietLogger(), HTTPClient: routedClient("127.0.0.1:1", "127.0.0.1:1")})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Run(ctx); err != nil {
		t.Fatal(err)
	}
	cw.mu.Lock()
	defer cw.mu.Unlock()
	if len(cw.calls) == 0 {
		t.Fatal("nothing published")
	}
	for _, c := range cw.calls {
		if got := aws.ToString(c.Namespace); got != "PrestoCoordinatorHA/"+testUserID {
			t.Fatalf("published into %s, want PrestoCoordinatorHA/<role id>:<instance id>", got)
		}
	}
}
