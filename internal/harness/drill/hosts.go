package drill

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"

	"github.com/prestoha/coordinator-ha/internal/agent"
	"github.com/prestoha/coordinator-ha/internal/awsapi"
	"github.com/prestoha/coordinator-ha/internal/harness/drill/host"
	"github.com/prestoha/coordinator-ha/internal/harness/realtrino"
	"github.com/prestoha/coordinator-ha/internal/harness/sim"
	"github.com/prestoha/coordinator-ha/internal/probe"
)

// errAgentDead is what a killed agent's CloudWatch calls get: a dead process sends nothing.
var errAgentDead = errors.New("drill: the agent process is dead")

// gatedCW is the agent's CloudWatch client; closing the gate is the agent dying (its
// final flush on the way out sends nothing, as after kill -9).
type gatedCW struct {
	awsapi.CloudWatchAPI
	mu   sync.Mutex
	dead bool
}

func (g *gatedCW) kill() {
	g.mu.Lock()
	g.dead = true
	g.mu.Unlock()
}

func (g *gatedCW) PutMetricData(ctx context.Context, in *cloudwatch.PutMetricDataInput, opt ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error) {
	g.mu.Lock()
	dead := g.dead
	g.mu.Unlock()
	if dead {
		return nil, errAgentDead
	}
	return g.CloudWatchAPI.PutMetricData(ctx, in, opt...)
}

// simRole is the agent's RoleSource in the drill: what IMDS would say, read from the
// simulated ENI (the interface shows on the instance once the attachment is attached).
type simRole struct {
	acct      *sim.Account
	eniID, id string
}

func (r *simRole) Role(context.Context) (agent.Role, error) {
	e, ok := r.acct.ENI(r.eniID)
	if !ok {
		return agent.Role{}, fmt.Errorf("drill: no ENI %s", r.eniID)
	}
	holds := e.Attachment != nil && e.Attachment.InstanceID == r.id && e.Attachment.Status == "attached"
	return agent.Role{InstanceID: r.id, HoldsENI: holds}, nil
}

// Host is one simulated coordinator instance: its Presto/Trino server and its agent.
type Host struct {
	ID     string
	Server *host.Server // the simulated Presto/Trino (nil for real Trino)
	Trino  *trinoHost   // the real one (nil otherwise)

	mu        sync.Mutex
	cw        *gatedCW
	agent     *agent.Agent
	cancel    context.CancelFunc
	done      chan struct{}
	agentDead bool
	startedAt time.Time
}

// KillAgent stops the agent as a crash would: no more samples.
func (h *Host) KillAgent() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.agentDead {
		return
	}
	h.agentDead = true
	h.cw.kill()
	h.cancel()
}

// AgentAlive reports whether the agent runs.
func (h *Host) AgentAlive() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return !h.agentDead
}

// Agent returns the host's agent.
func (h *Host) Agent() *agent.Agent { return h.agent }

// PowerOff is the instance going away: the server stops and the agent dies.
func (h *Host) PowerOff() {
	h.KillAgent()
	if h.Server != nil {
		h.Server.Exit()
	}
	if h.Trino != nil {
		h.Trino.powerOff()
	}
}

// witnessClient is the agents' HTTP client: loopback connections go where they say,
// and connections to the ENI's private IP go to the coordinator-IP proxy, which forwards
// to whichever host holds the ENI now. Keep-alives are off so that every probe follows
// the IP as a new connection would.
func witnessClient(eniIP, proxyAddr string) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Transport: &http.Transport{
			DisableKeepAlives: true,
			Proxy:             nil,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				if h, _, err := net.SplitHostPort(addr); err == nil && h == eniIP {
					addr = proxyAddr
				}
				return d.DialContext(ctx, network, addr)
			},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// probeHost asks a host's coordinator for /v1/info as its own agent would (loopback,
// the probe timeout in drill time).
func (c *Cluster) probeHost(h *Host) probe.Result {
	if h.Trino != nil {
		return probe.New("http://127.0.0.1:"+strconv.Itoa(realtrino.Port)+"/v1/info", h.Trino.httpClient(), c.spec.Settings.ProbeTimeout, c.Clock).Probe(c.ctx)
	}
	if c.spec.Simulated {
		return probe.New("http://127.0.0.1:"+coordinatorPort+"/v1/info", hostNet{c: c, self: h.Server}.client(), c.spec.Settings.ProbeTimeout, c.Clock).Probe(c.ctx)
	}
	return probe.New(h.Server.URL()+"/v1/info", &http.Client{}, c.spec.Settings.ProbeTimeout, c.Clock).Probe(context.Background())
}
