// Package host simulates the Presto/Trino side of a coordinator host for the local drill:
// an HTTP handler that answers GET /v1/info the way Trino does, and that the drill can
// make misbehave the way real coordinators do (process exit, long hang, short pause,
// slow answers). Start serves it on 127.0.0.1 (the demo); New keeps it off the network
// for the drill's in-process network (the deterministic drill), where Refused tells the
// network that the process is gone and hangs are waited out on the server's clock.
package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prestoha/coordinator-ha/internal/clock"
)

// Options configure a simulated coordinator server.
type Options struct {
	NodeID      string      // Trino nodeId; the drill uses the instance id
	Environment string      // Trino environment; default "drill"
	Version     string      // nodeVersion.version; default "476"
	Clock       clock.Clock // drill time; default clock.Real
	// The start-up phases of a real Trino process, in drill time from the start (measured:
	// internal/harness/realtrino TestMeasureStartupPhases): the port refuses connections
	// for Refused, then accepts them and answers nothing for Silent, then /v1/info says
	// starting: true for Startup, then the server is ready.
	Refused time.Duration
	Silent  time.Duration
	Startup time.Duration
}

// Info is the JSON body of Trino's GET /v1/info (ServerInfo, as in
// testdata/info/trino-new-coordinator.json).
type Info struct {
	NodeID        string      `json:"nodeId"`
	State         string      `json:"state"`
	NodeVersion   NodeVersion `json:"nodeVersion"`
	Environment   string      `json:"environment"`
	Coordinator   bool        `json:"coordinator"`
	CoordinatorID *string     `json:"coordinatorId"`
	Starting      bool        `json:"starting"`
	Uptime        string      `json:"uptime"`
	NodeGroups    []string    `json:"nodeGroups"`
}

// NodeVersion is ServerInfo.nodeVersion.
type NodeVersion struct {
	Version string `json:"version"`
}

// Server is one simulated coordinator process with its HTTP port.
type Server struct {
	opts    Options
	clk     clock.Clock
	mux     *http.ServeMux
	ln      net.Listener // nil: not on the network (New)
	srv     *http.Server
	addr    string
	started time.Time

	mu        sync.Mutex
	exited    bool
	hangUntil time.Time // drill time; zero: not hanging
	hangAll   bool      // hang until Resume
	delay     time.Duration
	served    int
}

// New returns a server that is not on the network: its ServeHTTP answers requests that
// the caller hands it (the drill's in-process network), on the caller's goroutine.
func New(opts Options) *Server {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Environment == "" {
		opts.Environment = "drill"
	}
	if opts.Version == "" {
		opts.Version = "476"
	}
	s := &Server{opts: opts, clk: opts.Clock, started: opts.Clock.Now(), mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /v1/info", s.info)
	return s
}

// Start listens on an ephemeral port of 127.0.0.1 and serves /v1/info.
func Start(opts Options) (*Server, error) {
	s := New(opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for coordinator %s: %w", opts.NodeID, err)
	}
	s.ln, s.addr = ln, ln.Addr().String()
	s.srv = &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// ServeHTTP answers one request as the process would (see New).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Refused reports whether a new connection would be refused: the process has exited,
// or has not opened its port yet.
func (s *Server) Refused() bool {
	return s.Exited() || s.clk.Now().Sub(s.started) < s.opts.Refused
}

// startingUp holds a request as the start-up phases would: false when the connection
// is cut (before the port opens, a loopback listener's nearest to a refusal, since the
// in-process network refuses through Refused), true after waiting out the silent phase.
func (s *Server) startingUp(ctx context.Context) bool {
	up := s.clk.Now().Sub(s.started)
	if up < s.opts.Refused {
		return false
	}
	if rest := s.opts.Refused + s.opts.Silent - up; rest > 0 {
		return s.clk.Sleep(ctx, rest) == nil
	}
	return true
}

// Addr is host:port of the server ("" when it is not on the network).
func (s *Server) Addr() string { return s.addr }

// URL is the base URL (http://127.0.0.1:port).
func (s *Server) URL() string { return "http://" + s.addr }

// NodeID is the Trino node id.
func (s *Server) NodeID() string { return s.opts.NodeID }

// Served counts the /v1/info requests answered.
func (s *Server) Served() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.served
}

// Exit stops the process: the listener closes (connection refused from now on) and
// requests in flight are cut.
func (s *Server) Exit() {
	s.mu.Lock()
	if s.exited {
		s.mu.Unlock()
		return
	}
	s.exited = true
	s.endHangLocked()
	s.mu.Unlock()
	if s.ln != nil {
		_ = s.ln.Close() // Serve may not have registered the listener yet
		_ = s.srv.Close()
	}
}

// Close is Exit; it makes Server an io.Closer-like resource for cleanup.
func (s *Server) Close() { s.Exit() }

// Exited reports whether the process has exited.
func (s *Server) Exited() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exited
}

// Hang makes the server accept connections but answer nothing for d of drill time (a
// long full GC, a deadlock); d <= 0 hangs until Resume or Exit.
func (s *Server) Hang(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d <= 0 {
		s.hangAll = true
		s.hangUntil = time.Time{}
		return
	}
	s.hangAll = false
	s.hangUntil = s.clk.Now().Add(d)
}

// Pause is a short Hang (a GC pause shorter than the grace window).
func (s *Server) Pause(d time.Duration) { s.Hang(d) }

// Resume ends a hang at once.
func (s *Server) Resume() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endHangLocked()
}

func (s *Server) endHangLocked() {
	s.hangAll = false
	s.hangUntil = time.Time{}
}

// Slow delays every answer by d of drill time (0 turns it off).
func (s *Server) Slow(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// Hanging reports whether the server is hanging now.
func (s *Server) Hanging() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hangingLocked(s.clk.Now())
}

func (s *Server) hangingLocked(now time.Time) bool {
	return s.hangAll || (!s.hangUntil.IsZero() && now.Before(s.hangUntil))
}

// hangPoll is how often, in the server's time, a hanging request looks again whether
// the hang has ended (by its time, Resume or Exit).
const hangPoll = 100 * time.Millisecond

// wait blocks while the server hangs; it returns false when the request should be
// dropped (client gone or process exited). It waits on the server's clock, so that on a
// simulated clock the hang lasts simulated time, and the request's own (simulated)
// deadline cuts it.
func (s *Server) wait(ctx context.Context) bool {
	for {
		s.mu.Lock()
		if s.exited {
			s.mu.Unlock()
			return false
		}
		now := s.clk.Now()
		hanging := s.hangingLocked(now)
		step := hangPoll
		if !s.hangAll && s.hangUntil.Sub(now) < step {
			step = s.hangUntil.Sub(now)
		}
		s.mu.Unlock()
		if !hanging {
			return true
		}
		if s.clk.Sleep(ctx, step) != nil {
			return false
		}
	}
}

func (s *Server) info(w http.ResponseWriter, r *http.Request) {
	if !s.startingUp(r.Context()) || !s.wait(r.Context()) {
		panic(http.ErrAbortHandler) // cut the connection without an answer
	}
	s.mu.Lock()
	delay := s.delay
	s.mu.Unlock()
	if delay > 0 {
		if err := s.clk.Sleep(r.Context(), delay); err != nil {
			panic(http.ErrAbortHandler)
		}
	}
	now := s.clk.Now()
	up := now.Sub(s.started)
	body := Info{
		NodeID:      s.opts.NodeID,
		State:       "ACTIVE",
		NodeVersion: NodeVersion{Version: s.opts.Version},
		Environment: s.opts.Environment,
		Coordinator: true,
		Starting:    up < s.opts.Refused+s.opts.Silent+s.opts.Startup,
		Uptime:      Duration(up),
		NodeGroups:  []string{},
	}
	if !body.Starting {
		body.CoordinatorID = &body.NodeID
	}
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(body); err != nil && !errors.Is(err, http.ErrHandlerTimeout) {
		return
	}
	s.mu.Lock()
	s.served++
	s.mu.Unlock()
}

// Duration formats d the way airlift's Duration.toString does for Trino's uptime
// ("123.45ms", "5.00s", "2.58m", "1.20h", "3.00d").
func Duration(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	case d < time.Minute:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%.2fm", d.Minutes())
	case d < 24*time.Hour:
		return fmt.Sprintf("%.2fh", d.Hours())
	}
	return fmt.Sprintf("%.2fd", d.Hours()/24)
}
