package drill

import (
	"context"
	"fmt"
	"hash/fnv"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"

	"github.com/prestoha/coordinator-ha/internal/agent"
	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/harness/drill/report"
	"github.com/prestoha/coordinator-ha/internal/harness/drill/vip"
	"github.com/prestoha/coordinator-ha/internal/harness/realtrino"
	"github.com/prestoha/coordinator-ha/internal/harness/sim"
)

// TrinoOptions make a cluster the third kind: real Trino coordinators and a worker in
// network namespaces, on the wall clock at real time (internal/harness/realtrino).
type TrinoOptions struct {
	Home string // the unpacked, pruned Trino server (realtrino.Fetch)
	Java string // the java binary
	Dir  string // where the nodes' configuration and logs go
}

// trinoSubnet is the pool's subnet in the real-Trino drill: the simulated account
// allocates the instances' and the ENI's addresses from it, and the namespaces use them.
// The worker and the client take addresses at the top, which the account does not reach
// with a handful of instances.
var trinoSubnet = netip.MustParsePrefix("198.18.1.0/24")

var (
	workerAddr = netip.MustParseAddr("198.18.1.250")
	clientAddr = netip.MustParseAddr("198.18.1.251")
)

// realTime is the wall clock as drill time, at speed 1: nothing pauses it, because real
// processes do not pause.
type realTime struct{ clock.Real }

func (realTime) Pause() func()             { return func() {} }
func (realTime) PausedWall() time.Duration { return 0 }

// servedWatcher is the client that decides when clients are served: GET /v1/info through
// the coordinator IP (vip.Watcher), or a real query (trinoWatcher).
type servedWatcher interface {
	Run(ctx context.Context)
	FirstHealthy(from time.Time, exclude string) (vip.Sample, bool)
}

// trinoWatcher is served when the query returns its 25 rows through the coordinator IP.
type trinoWatcher struct{ *realtrino.Client }

func (w trinoWatcher) Run(ctx context.Context) { _ = w.Client.Run(ctx) }

func (w trinoWatcher) FirstHealthy(from time.Time, exclude string) (vip.Sample, bool) {
	s, ok := w.FirstOK(from, exclude)
	return vip.Sample{At: s.End, Healthy: ok, NodeID: s.Coordinator}, ok
}

// trinoNet is a cluster's real network: the namespaces, the ENI, the worker and the client.
type trinoNet struct {
	opts   TrinoOptions
	nw     *realtrino.Network
	eni    *realtrino.ENI
	worker *realtrino.Process
	client *realtrino.Client
}

// eniMAC is a locally administered MAC derived from the ENI id.
func eniMAC(id string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	s := h.Sum32()
	return fmt.Sprintf("02:00:%02x:%02x:%02x:%02x", byte(s>>24), byte(s>>16), byte(s>>8), byte(s))
}

// newTrinoNet makes the namespaces, the ENI (detached), the worker (which announces to
// the coordinator IP) and the client (which queries it).
func newTrinoNet(o TrinoOptions, tag, cluster, eniID, eniIP string) (*trinoNet, error) {
	nw, err := realtrino.NewNetwork(tag, trinoSubnet)
	if err != nil {
		return nil, err
	}
	t := &trinoNet{opts: o, nw: nw}
	fail := func(err error) (*trinoNet, error) { t.close(); return nil, err }
	addr, err := netip.ParseAddr(eniIP)
	if err != nil {
		return fail(err)
	}
	if t.eni, err = nw.NewENI(addr, eniMAC(eniID)); err != nil {
		return fail(err)
	}
	coordURL := "http://" + net.JoinHostPort(eniIP, strconv.Itoa(realtrino.Port))
	wns, err := nw.AddHost("worker", workerAddr)
	if err != nil {
		return fail(err)
	}
	t.worker, err = realtrino.Start(wns, o.Java, o.Home, realtrino.NodeSpec{ID: "worker", Environment: trinoEnvironment(cluster),
		Addr: workerAddr, Discovery: coordURL, Dir: filepath.Join(o.Dir, cluster, "worker")})
	if err != nil {
		return fail(err)
	}
	cns, err := nw.AddHost("client", clientAddr)
	if err != nil {
		return fail(err)
	}
	t.client = &realtrino.Client{NS: cns, Addr: coordURL[len("http://"):], Interval: time.Second, Timeout: 5 * time.Second}
	return t, nil
}

func (t *trinoNet) close() {
	if t.worker != nil {
		t.worker.Kill()
	}
	_ = t.nw.Close()
}

// onAttachmentChange moves the real interface as the instance's operating system sees
// the simulated attachment: it appears in the holder's namespace once attached and
// leaves it when the detach starts.
func (c *Cluster) onAttachmentChange(ch sim.AttachmentChange) {
	if ch.ENIID != c.ENIID || c.trino == nil {
		return
	}
	var err error
	switch ch.Status {
	case "attached":
		if c.Host(ch.InstanceID) != nil {
			err = c.trino.eni.Attach(ch.InstanceID)
		}
	case "detaching", "":
		err = c.trino.eni.Detach()
	}
	if err != nil && c.ctx.Err() == nil {
		c.violate("moving the ENI (%s %s): %v", ch.InstanceID, ch.Status, err)
	}
}

// trinoHost is a coordinator instance's namespace, its Trino and its metadata stub.
type trinoHost struct {
	t    *trinoNet
	id   string
	ns   *realtrino.NS
	proc *realtrino.Process
	imds *fakeIMDS
	once sync.Once
}

// httpClient dials from inside the host: 127.0.0.1 is its own Trino, the ENI IP is
// whichever host holds the ENI.
func (h *trinoHost) httpClient() *http.Client {
	return &http.Client{
		Transport:     &http.Transport{DialContext: h.ns.DialContext, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// bootTrino starts an instance's namespace with its primary address, its coordinator
// and its metadata stub, and returns the host and the agent's role source.
func (c *Cluster) bootTrino(id string) (*trinoHost, agent.RoleSource, error) {
	inst, ok := c.Acct.Instance(id)
	if !ok {
		return nil, nil, fmt.Errorf("no instance %s", id)
	}
	addr, err := netip.ParseAddr(inst.PrivateIP)
	if err != nil {
		return nil, nil, err
	}
	ns, err := c.trino.nw.AddHost(id, addr)
	if err != nil {
		return nil, nil, err
	}
	h := &trinoHost{t: c.trino, id: id, ns: ns}
	h.proc, err = realtrino.Start(ns, c.trino.opts.Java, c.trino.opts.Home, realtrino.NodeSpec{ID: id, Environment: trinoEnvironment(c.spec.Name),
		Coordinator: true, Addr: addr, Discovery: "http://127.0.0.1:" + strconv.Itoa(realtrino.Port),
		Dir: filepath.Join(c.trino.opts.Dir, c.spec.Name, id)})
	if err != nil {
		h.powerOff()
		return nil, nil, err
	}
	ln, err := ns.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.powerOff()
		return nil, nil, err
	}
	primary := inst.Attachments[0].ENIID
	h.imds = serveIMDS(ln, id, func() map[string]string { return c.interfacesOf(id, primary) })
	client := imds.New(imds.Options{Endpoint: h.imds.URL(), HTTPClient: h.httpClient()})
	return h, agent.NewIMDSRoleWith(client, c.ENIID), nil
}

// interfacesOf is what IMDS lists for an instance: its primary interface, and the ENI
// once the simulated account has it attached there.
func (c *Cluster) interfacesOf(id, primary string) map[string]string {
	out := map[string]string{eniMAC(primary): primary}
	if e, ok := c.Acct.ENI(c.ENIID); ok && e.Attachment != nil && e.Attachment.InstanceID == id && e.Attachment.Status == "attached" {
		out[eniMAC(c.ENIID)] = c.ENIID
	}
	return out
}

// powerOff is the instance going away: its processes killed, the ENI taken out (the
// instance no longer has it) and its namespace removed.
func (h *trinoHost) powerOff() {
	h.once.Do(func() {
		if h.imds != nil {
			h.imds.Close()
		}
		if h.proc != nil {
			h.proc.Kill()
		}
		if h.t.eni.Holder() == h.id {
			_ = h.t.eni.Detach()
		}
		_ = h.t.nw.RemoveHost(h.id)
	})
}

// trinoLogDir is where a run keeps the nodes' configuration and logs.
func trinoLogDir(out string) string {
	dir, _ := filepath.Abs(filepath.Join(out, "nodes"))
	_ = os.MkdirAll(dir, 0o755)
	return dir
}

// TrinoScenarios are the vendor's four failures and a pause shorter than the grace, as
// real faults on real processes.
func TrinoScenarios(st Settings) []Scenario {
	pause := shortPause(st)
	return []Scenario{
		{Name: "host-unresponsive", ExpectFailover: true,
			Description: "every process of the host's namespace frozen (SIGSTOP), the agent silent",
			Fault: func(_ *Cluster, h *Host) error {
				h.Trino.ns.Signal(syscall.SIGSTOP)
				h.KillAgent() // the agent runs in the drill's process: frozen means silent
				return nil
			}},
		{Name: "instance-gone", ExpectFailover: true,
			Description: "the instance is terminated outside the control plane; its processes die with it",
			Fault:       func(c *Cluster, h *Host) error { return c.Acct.TerminateFromOutside(h.ID) }},
		{Name: "process-exit", ExpectFailover: true,
			Description: "kill -9 of the coordinator's JVM",
			Fault:       func(_ *Cluster, h *Host) error { return h.Trino.proc.Signal(syscall.SIGKILL) }},
		{Name: "process-hang", ExpectFailover: true,
			Description: fmt.Sprintf("the coordinator's JVM stopped (SIGSTOP) for longer than the %s grace", st.Grace),
			Fault:       func(_ *Cluster, h *Host) error { return h.Trino.proc.Signal(syscall.SIGSTOP) }},
		{Name: "short-pause", ExpectFailover: false,
			Description: fmt.Sprintf("the coordinator's JVM stopped (SIGSTOP) for %s, shorter than the %s grace", pause, st.Grace),
			Fault: func(_ *Cluster, h *Host) error {
				time.AfterFunc(pause, func() { _ = h.Trino.proc.Signal(syscall.SIGCONT) })
				return h.Trino.proc.Signal(syscall.SIGSTOP)
			}},
	}
}

// TrinoSettings are the product's defaults at real time; EC2's pending-to-running is
// shortened to 5 s, since a real Trino start-up follows it anyway.
func TrinoSettings() Settings {
	st := DefaultSettings()
	st.Speed = 1
	st.PendingToRun = 5 * time.Second
	st.Coordinators = 2
	return st
}

// clientRecord summarizes the client's rounds around the fault: the last that returned
// the rows before it, every failed round after it until the first that returned them
// again (runs of one error name merged), and when the worker showed on the new holder.
func (c *Cluster) clientRecord(fault time.Time, failed string) *report.ClientRecord {
	rec := &report.ClientRecord{Query: realtrino.Query}
	rel := func(t time.Time) float64 { return t.Sub(fault).Seconds() }
	after := false
	for _, s := range c.trino.client.Samples() {
		rec.Rounds++
		switch {
		case s.End.Before(fault): // a round in flight at the fault counts as after it
			if s.OK {
				rec.LastOKBeforeS = report.Seconds(s.End.Sub(fault))
			}
			continue
		case rec.WorkerSeenS == nil && s.Coordinator != "" && s.Coordinator != failed && s.Workers > 0:
			rec.WorkerSeenS = report.Seconds(s.End.Sub(fault))
		}
		if s.OK {
			if !after {
				rec.FirstOKAfterS, after = report.Seconds(s.End.Sub(fault)), true
			}
			continue
		}
		if after {
			continue
		}
		if n := len(rec.Errors); n > 0 && rec.Errors[n-1].Name == s.ErrName {
			rec.Errors[n-1].ToS, rec.Errors[n-1].Count = rel(s.End), rec.Errors[n-1].Count+1
			continue
		}
		rec.Errors = append(rec.Errors, report.ClientError{FromS: rel(s.Start), ToS: rel(s.End), Name: s.ErrName, Count: 1, Example: s.Err})
	}
	return rec
}

// collectTrino adds what the real client saw and checks that the network stayed sealed.
func (c *Cluster) collectTrino(res *report.Scenario, failed string) {
	res.Client = c.clientRecord(res.FaultAt, failed)
	if err := c.trino.nw.CheckIsolated(); err != nil {
		res.Violations = append(res.Violations, "network isolation: "+err.Error())
	}
	if res.Client.FirstOKAfterS == nil {
		res.Violations = append(res.Violations, "the client never got the query's rows after the fault")
	}
}

// trinoEnvironment is the cluster name as Trino accepts a node.environment
// ([a-z0-9][_a-z0-9]*).
func trinoEnvironment(cluster string) string {
	return strings.ReplaceAll(strings.ToLower(cluster), "-", "_")
}

// trinoDead returns an error when a Trino process the drill did not kill has exited
// (a configuration or start-up failure), with the end of its log.
func (c *Cluster) trinoDead() error {
	if c.trino == nil {
		return nil
	}
	if c.trino.worker.Exited() {
		return fmt.Errorf("the Trino worker exited: %s", c.trino.worker.LogTail())
	}
	for _, h := range c.Hosts() {
		if h.Trino != nil && h.Trino.proc.Exited() && c.stateAt(h.ID, c.Clock.Now()) == "running" {
			return fmt.Errorf("the Trino coordinator on %s exited: %s", h.ID, h.Trino.proc.LogTail())
		}
	}
	return nil
}
