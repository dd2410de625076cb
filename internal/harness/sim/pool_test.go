package sim

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/config"
	"github.com/prestoha/coordinator-ha/internal/signal"
)

func TestNewPool(t *testing.T) {
	tests := []struct {
		name          string
		spec          PoolSpec
		wantN         int
		wantState     string // every instance's state after NewPool
		wantHolder    string // "active" or ""
		wantRoles     bool
		wantSetupActs []string
		wantSM, wantT bool
		wantNow       time.Duration // clock after NewPool, from t0
	}{
		{name: "defaults: two pending coordinators, ENI available", spec: PoolSpec{Cluster: "c1"},
			wantN: 2, wantState: "pending"},
		{name: "one coordinator", spec: PoolSpec{Cluster: "c1", Coordinators: 1}, wantN: 1, wantState: "pending"},
		{name: "five coordinators attached", spec: PoolSpec{Cluster: "c1", Coordinators: 5, AttachActive: true},
			wantN: 5, wantState: "running", wantHolder: "active",
			wantSetupActs: []string{"ec2:AttachNetworkInterface"}, wantNow: 30*time.Second + 2*time.Second},
		{name: "attached, roles tagged, state machine and topic, custom waits",
			spec: PoolSpec{Cluster: "c1", Coordinators: 3, AttachActive: true, TagRoles: true, StateMachine: "c1-failover",
				Topic: "c1-alerts", Warmup: time.Minute, AttachSettle: 5 * time.Second},
			wantN: 3, wantState: "running", wantHolder: "active", wantRoles: true, wantSM: true, wantT: true,
			wantSetupActs: []string{"ec2:AttachNetworkInterface", "ec2:CreateTags"}, wantNow: time.Minute + 5*time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clock.NewVirtual(t0)
			acct := New(Options{Clock: clk, Seed: 3})
			p, err := NewPool(acct, tt.spec)
			must(t, err)
			if len(p.Instances) != tt.wantN {
				t.Fatalf("instances %v, want %d", p.Instances, tt.wantN)
			}
			if p.SubnetID != DefaultPoolSubnetID || p.AZ != DefaultPoolAZ || p.ASGName != "c1-coordinators" {
				t.Errorf("subnet %s, AZ %s, group %s: want the defaults", p.SubnetID, p.AZ, p.ASGName)
			}
			e, ok := acct.ENI(p.ENIID)
			if !ok || e.PrivateIP != p.ENIIP || e.Tags[config.TagCluster] != "c1" || e.SubnetID != p.SubnetID {
				t.Errorf("ENI %+v, pool says %s %s", e, p.ENIID, p.ENIIP)
			}
			g, _ := acct.ASG(p.ASGName)
			if g.Desired != tt.wantN || g.Max != tt.wantN+1 || g.Tags[config.TagCluster] != "c1" {
				t.Errorf("group %+v", g)
			}
			for i, id := range p.Instances {
				inst, _ := acct.Instance(id)
				if inst.State != tt.wantState || inst.Tags[config.TagCluster] != "c1" || inst.ASG != p.ASGName {
					t.Errorf("instance %s: %+v, want %s in %s", id, inst, tt.wantState, p.ASGName)
				}
				wantRole := ""
				if tt.wantRoles {
					wantRole = map[bool]string{true: config.RoleActive, false: config.RoleStandby}[i == 0]
				}
				if inst.Tags[config.TagRole] != wantRole {
					t.Errorf("instance %s role %q, want %q", id, inst.Tags[config.TagRole], wantRole)
				}
			}
			holder, status := p.Holder()
			switch tt.wantHolder {
			case "active":
				if p.Active() != p.Instances[0] || holder != p.Active() || status != "attached" {
					t.Errorf("active %s, holder %s (%s): want the first member, attached", p.Active(), holder, status)
				}
				if !slices.Equal(p.Standbys(), p.Instances[1:]) {
					t.Errorf("standbys %v, want %v", p.Standbys(), p.Instances[1:])
				}
			default:
				if p.Active() != "" || holder != "" || !slices.Equal(p.Standbys(), p.Instances) {
					t.Errorf("active %q, holder %q, standbys %v: want no active, every member a standby", p.Active(), holder, p.Standbys())
				}
			}
			if got := acct.Actions(SetupCaller); !slices.Equal(got, tt.wantSetupActs) {
				t.Errorf("setup actions %v, want %v", got, tt.wantSetupActs)
			}
			if (p.StateMachineARN != "") != tt.wantSM || (p.TopicARN != "") != tt.wantT {
				t.Errorf("state machine %q, topic %q", p.StateMachineARN, p.TopicARN)
			}
			if got := clk.Now().Sub(t0); got != tt.wantNow {
				t.Errorf("NewPool let %s pass, want %s", got, tt.wantNow)
			}
		})
	}
}

// The pool's ids are those of the same resources created by hand in the same order, so
// tests that moved to NewPool keep their ids.
func TestNewPoolIDsMatchHandBuilt(t *testing.T) {
	hand := New(Options{Clock: clock.NewVirtual(t0), Seed: 7})
	must(t, hand.AddSubnet(DefaultPoolSubnetID, DefaultPoolAZ, DefaultPoolCIDR))
	eni, err := hand.CreateNetworkInterface(DefaultPoolSubnetID, "", "coordinator", nil)
	must(t, err)
	must(t, hand.CreateAutoScalingGroup(ASGSpec{Name: "prod-coordinators", SubnetID: DefaultPoolSubnetID, Max: 5, Desired: 3}))
	g, _ := hand.ASG("prod-coordinators")

	p, err := NewPool(New(Options{Clock: clock.NewVirtual(t0), Seed: 7}), PoolSpec{Cluster: "prod", Coordinators: 3, Max: 5})
	must(t, err)
	if p.ENIID != eni {
		t.Errorf("ENI %s, hand-built %s", p.ENIID, eni)
	}
	for i, m := range g.Members {
		if p.Instances[i] != m.InstanceID {
			t.Errorf("instance %d: %s, hand-built %s", i, p.Instances[i], m.InstanceID)
		}
	}
}

func TestNewPoolOptions(t *testing.T) {
	clk := clock.NewVirtual(t0)
	acct := New(Options{Clock: clk, Seed: 3})
	must(t, acct.AddSubnet("subnet-b", "us-east-1b", "10.0.2.0/24"))
	var launched []string
	acct.OnInstanceLaunched(func(id string) { launched = append(launched, id) })
	waited := time.Duration(0)
	p, err := NewPool(acct, PoolSpec{Cluster: "c2", SubnetID: "subnet-b", ExistingSubnet: true, ENIIP: "10.0.2.10",
		ENIDescription: "Presto coordinator c2", ENITags: map[string]string{"Owner": "me"}, ASGName: "pool",
		ASGTags: map[string]string{config.TagRole: config.RoleStandby}, Min: 1, Max: 4, NewInstancesProtected: true,
		AttachActive: true, Wait: func(d time.Duration) { waited += d; clk.Advance(d); acct.Tick() }})
	must(t, err)
	if p.AZ != "us-east-1b" || p.ENIIP != "10.0.2.10" || p.ASGName != "pool" {
		t.Errorf("pool %+v", p)
	}
	if e, _ := acct.ENI(p.ENIID); e.Description != "Presto coordinator c2" || e.Tags["Owner"] != "me" || e.Tags[config.TagCluster] != "" {
		t.Errorf("ENI %+v", e)
	}
	g, _ := acct.ASG("pool")
	if g.Min != 1 || g.Max != 4 || g.Tags[config.TagRole] != config.RoleStandby || g.Tags[config.TagCluster] != "c2" {
		t.Errorf("group %+v", g)
	}
	for _, m := range g.Members {
		if !m.Protected {
			t.Errorf("member %s not protected from scale-in", m.InstanceID)
		}
	}
	if !slices.Equal(launched, p.Instances) {
		t.Errorf("launch hooks saw %v, want %v", launched, p.Instances)
	}
	if want := acct.Timings().PendingToRunning + acct.Timings().AttachDelay; waited != want {
		t.Errorf("Wait called for %s, want %s", waited, want)
	}
}

func TestNewPoolErrors(t *testing.T) {
	tests := []struct {
		name  string
		clk   clock.Clock
		setup func(*Account)
		spec  PoolSpec
		want  string
	}{
		{name: "no cluster", spec: PoolSpec{}, want: "needs a cluster name"},
		{name: "roles without attachment", spec: PoolSpec{Cluster: "c", TagRoles: true}, want: "TagRoles needs AttachActive"},
		{name: "attach on a real clock without Wait", clk: clock.Real{}, spec: PoolSpec{Cluster: "c", AttachActive: true}, want: "needs PoolSpec.Wait"},
		{name: "existing subnet missing", spec: PoolSpec{Cluster: "c", ExistingSubnet: true}, want: "no subnet"},
		{name: "subnet already there", setup: func(a *Account) { must(t, a.AddSubnet(DefaultPoolSubnetID, "us-east-1a", "10.0.9.0/24")) },
			spec: PoolSpec{Cluster: "c"}, want: "exists"},
		{name: "ENI address outside the subnet", spec: PoolSpec{Cluster: "c", ENIIP: "10.9.9.9"}, want: "not in subnet"},
		{name: "bad bounds", spec: PoolSpec{Cluster: "c", Coordinators: 3, Max: 2}, want: "min (0) <= desired (3) <= max (2)"},
		{name: "warmup too short", spec: PoolSpec{Cluster: "c", AttachActive: true, Warmup: time.Second}, want: "is pending after a 1s warmup"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.clk == nil {
				tt.clk = clock.NewVirtual(t0)
			}
			acct := New(Options{Clock: tt.clk})
			if tt.setup != nil {
				tt.setup(acct)
			}
			_, err := NewPool(acct, tt.spec)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewPool: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestPoolReport(t *testing.T) {
	clk := clock.NewVirtual(t0)
	acct := New(Options{Clock: clk})
	p, err := NewPool(acct, PoolSpec{Cluster: "c", AttachActive: true})
	must(t, err)
	from := clk.Now().Add(-time.Minute)
	must(t, p.Report(p.Standbys()[0], signal.Healthy, from, 10*time.Second, 501))
	pts := acct.Datapoints(p.ReportNamespace(p.Standbys()[0]))
	if len(pts) != 501 {
		t.Fatalf("%d datapoints, want 501", len(pts))
	}
	if pts[0].Timestamp != from || pts[500].Timestamp != from.Add(5000*time.Second) ||
		pts[0].Dimensions["InstanceId"] != p.Standbys()[0] || pts[0].Dimensions["Cluster"] != "c" {
		t.Errorf("first %+v, last %+v", pts[0], pts[500])
	}
	puts := 0
	for _, c := range acct.Calls() {
		if c.Caller == AgentCaller && c.Operation == "PutMetricData" && c.Err == "" {
			puts++
		}
	}
	if puts != 2 {
		t.Errorf("%d PutMetricData calls, want 2 (at most 500 datapoints each)", puts)
	}
}
