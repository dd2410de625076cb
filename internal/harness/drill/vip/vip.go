// Package vip stands in for the coordinator's fixed private IP in the local drill: a
// loopback reverse proxy on one fixed port that forwards every request to whichever
// simulated host holds the coordinator ENI at that moment (asked per request), and a
// client that keeps calling GET /v1/info through it, as Trino clients and workers do,
// recording when the coordinator URL answers and who answered.
package vip

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"

	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/probe"
	"github.com/prestoha/coordinator-ha/internal/signal"
)

// Resolver says where the ENI points now: the base URL of the holder's coordinator
// (http://127.0.0.1:port) and its instance id, or ok=false when no instance holds it.
type Resolver func(ctx context.Context) (backend, instanceID string, ok bool)

// HeaderBackend is set on every proxied answer: the instance id the request went to.
const HeaderBackend = "X-Drill-Backend"

// Proxy is the coordinator IP.
type Proxy struct {
	ln      net.Listener
	srv     *http.Server
	resolve Resolver
}

type ctxKey struct{}

// Listen starts the proxy on an ephemeral port of 127.0.0.1.
func Listen(resolve Resolver) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the coordinator IP: %w", err)
	}
	p := &Proxy{ln: ln, resolve: resolve}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			target := r.In.Context().Value(ctxKey{}).(*url.URL)
			r.SetURL(target)
			r.Out.Host = r.In.Host
		},
		Transport: &http.Transport{
			// A new connection per request: the IP moves between hosts, and a real client's
			// connection to the old holder does not survive the move either.
			DisableKeepAlives: true,
			DialContext:       (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			w.Header().Set(HeaderBackend, r.Header.Get(HeaderBackend))
			http.Error(w, "coordinator unreachable: "+err.Error(), http.StatusBadGateway)
		},
	}
	p.srv = &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			backend, id, ok := p.resolve(r.Context())
			if !ok {
				http.Error(w, "no coordinator holds the IP", http.StatusServiceUnavailable)
				return
			}
			u, err := url.Parse(backend)
			if err != nil {
				http.Error(w, "bad backend "+backend, http.StatusInternalServerError)
				return
			}
			w.Header().Set(HeaderBackend, id)
			r.Header.Set(HeaderBackend, id)
			rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, u)))
		}),
	}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// URL is the coordinator URL (http://127.0.0.1:port), the PrestoCoordinatorURL of the drill.
func (p *Proxy) URL() string { return "http://" + p.ln.Addr().String() }

// Close stops the proxy.
func (p *Proxy) Close() error {
	_ = p.ln.Close()
	return p.srv.Close()
}

// Sample is one client call through the coordinator IP.
type Sample struct {
	At      time.Time `json:"at"` // drill time when the answer (or failure) came
	Healthy bool      `json:"healthy"`
	Status  int       `json:"status,omitempty"`
	NodeID  string    `json:"nodeId,omitempty"` // who answered, from /v1/info
	Err     string    `json:"err,omitempty"`
}

// Watcher is a client that calls GET <coordinator URL>/v1/info every Interval.
// Interval and Timeout are on Clock (a timeout through clock.WithTimeout).
type Watcher struct {
	URL      string
	Clock    clock.Clock
	Client   *http.Client  // nil: a new connection for every call, no keep-alive
	Interval time.Duration // between calls; default 1 s
	Timeout  time.Duration // of one call; default 2 s

	mu      sync.Mutex
	samples []Sample
}

// Run calls until ctx ends.
func (w *Watcher) Run(ctx context.Context) {
	if w.Interval <= 0 {
		w.Interval = time.Second
	}
	if w.Timeout <= 0 {
		w.Timeout = 2 * time.Second
	}
	if w.Clock == nil {
		w.Clock = clock.Real{}
	}
	c := w.Client
	if c == nil {
		c = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	}
	next := w.Clock.Now()
	for {
		s := w.call(ctx, c)
		if ctx.Err() != nil {
			return
		}
		w.mu.Lock()
		w.samples = append(w.samples, s)
		w.mu.Unlock()
		next = next.Add(w.Interval)
		if now := w.Clock.Now(); next.Before(now) {
			next = now // a slow call: no burst of calls to catch up
		}
		if w.Clock.Sleep(ctx, next.Sub(w.Clock.Now())) != nil {
			return
		}
	}
}

func (w *Watcher) call(ctx context.Context, c *http.Client) Sample {
	ctx, cancel := clock.WithTimeout(ctx, w.Clock, w.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.URL+"/v1/info", nil)
	if err != nil {
		return Sample{At: w.Clock.Now(), Err: err.Error()}
	}
	resp, err := c.Do(req)
	if err != nil {
		return Sample{At: w.Clock.Now(), Err: err.Error()}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	s := Sample{At: w.Clock.Now(), Status: resp.StatusCode}
	if err != nil {
		s.Err = err.Error()
		return s
	}
	if resp.StatusCode != http.StatusOK {
		return s
	}
	// The product's own health rule decides what "answering" means.
	res := probe.Classify(resp.StatusCode, body)
	if res.Info != nil {
		s.NodeID = res.Info.NodeID
	}
	s.Healthy = res.Status == signal.Healthy
	if !s.Healthy {
		s.Err = res.Reason
	}
	return s
}

// Samples returns a copy of what was recorded so far.
func (w *Watcher) Samples() []Sample {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Sample(nil), w.samples...)
}

// FirstHealthy returns the first healthy answer at or after from, from a node other than
// exclude (empty: any node).
func (w *Watcher) FirstHealthy(from time.Time, exclude string) (Sample, bool) {
	for _, s := range w.Samples() {
		if s.Healthy && !s.At.Before(from) && (exclude == "" || s.NodeID != exclude) {
			return s, true
		}
	}
	return Sample{}, false
}

// LastUnhealthy returns the last unhealthy answer at or after from (the end of the outage
// as clients saw it), if any.
func (w *Watcher) LastUnhealthy(from time.Time) (Sample, bool) {
	var last Sample
	found := false
	for _, s := range w.Samples() {
		if !s.Healthy && !s.At.Before(from) {
			last, found = s, true
		}
	}
	return last, found
}
