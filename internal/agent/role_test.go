package agent

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakeIMDS is an IMDSv2 endpoint: PUT /latest/api/token hands out a token, and every
// metadata GET must carry it.
type fakeIMDS struct {
	mu         sync.Mutex
	instanceID string
	enis       map[string]string // MAC -> interface id
	tokens     int
	unauthGets int
	gets       map[string]int
}

func (f *fakeIMDS) attach(mac, eni string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.enis[mac] = eni
}

func (f *fakeIMDS) detach(mac string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.enis, mac)
}

const fakeToken = "AQAEAFakeTokenForTests=="

func (f *fakeIMDS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.URL.Path == "/latest/api/token" {
		if r.Method != http.MethodPut || r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds") == "" {
			http.Error(w, "bad token request", http.StatusBadRequest)
			return
		}
		f.tokens++
		w.Header().Set("X-aws-ec2-metadata-token-ttl-seconds", "21600")
		_, _ = w.Write([]byte(fakeToken))
		return
	}
	if r.Method != http.MethodGet || r.Header.Get("X-aws-ec2-metadata-token") != fakeToken {
		f.unauthGets++
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	f.gets[r.URL.Path]++
	p := strings.TrimPrefix(r.URL.Path, "/latest/meta-data/")
	switch {
	case p == "instance-id":
		_, _ = w.Write([]byte(f.instanceID))
	case p == "network/interfaces/macs/":
		var b strings.Builder
		for mac := range f.enis {
			b.WriteString(mac + "/\n")
		}
		_, _ = w.Write([]byte(b.String()))
	case strings.HasPrefix(p, "network/interfaces/macs/") && strings.HasSuffix(p, "/interface-id"):
		mac := strings.TrimSuffix(strings.TrimPrefix(p, "network/interfaces/macs/"), "/interface-id")
		eni, ok := f.enis[mac]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(eni))
	default:
		http.NotFound(w, r)
	}
}

func TestIMDSRoleFollowsTheENI(t *testing.T) {
	f := &fakeIMDS{
		instanceID: "i-0123456789abcdef0",
		enis:       map[string]string{"0a:00:00:00:00:01": "eni-0000000000000aaaa"},
		gets:       map[string]int{},
	}
	srv := httptest.NewServer(f)
	defer srv.Close()
	const coordENI = "eni-0123456789abcdef0"
	r := NewIMDSRole(coordENI, srv.URL)
	ctx := context.Background()

	steps := []struct {
		name string
		do   func()
		want Role
	}{
		{"standby: only the primary ENI", func() {}, Role{InstanceID: "i-0123456789abcdef0"}},
		{"failover attaches the coordinator ENI", func() { f.attach("0a:00:00:00:00:02", coordENI) }, Role{InstanceID: "i-0123456789abcdef0", HoldsENI: true}},
		{"another ENI is not the coordinator ENI", func() { f.attach("0a:00:00:00:00:03", "eni-0000000000000bbbb") }, Role{InstanceID: "i-0123456789abcdef0", HoldsENI: true}},
		{"ENI moved away", func() { f.detach("0a:00:00:00:00:02") }, Role{InstanceID: "i-0123456789abcdef0"}},
	}
	for _, s := range steps {
		s.do()
		got, err := r.Role(ctx)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got != s.want {
			t.Fatalf("%s: got %+v, want %+v", s.name, got, s.want)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.unauthGets != 0 || f.tokens == 0 {
		t.Fatalf("IMDSv2 not used: %d tokens, %d GETs without a token", f.tokens, f.unauthGets)
	}
	if n := f.gets["/latest/meta-data/instance-id"]; n != 1 {
		t.Fatalf("instance id read %d times, want once (it never changes)", n)
	}
	if n := f.gets["/latest/meta-data/network/interfaces/macs/"]; n != len(steps) {
		t.Fatalf("interfaces listed %d times, want on every check (%d)", n, len(steps))
	}
}

func TestIMDSRoleErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/latest/api/token" {
			_, _ = w.Write([]byte(fakeToken))
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	_, err := NewIMDSRole("eni-0123456789abcdef0", srv.URL).Role(context.Background())
	if err == nil || !strings.Contains(err.Error(), "reading instance id") {
		t.Fatalf("want an instance id error, got %v", err)
	}
}
