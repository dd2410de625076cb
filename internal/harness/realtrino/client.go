package realtrino

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trinodb/trino-go-client/trino"
)

// Query is what the client runs: 25 rows counted by a worker (the tpch split runs on a
// worker, since the coordinator schedules no work on itself).
const Query = "SELECT count(*) FROM tpch.tiny.nation"

// Want is Query's answer.
const Want = 25

// nodesQuery asks the coordinator that answers who it is and how many workers it
// knows: it runs on the coordinator alone.
const nodesQuery = "SELECT node_id, coordinator FROM system.runtime.nodes WHERE state = 'active'"

// Sample is one round of the client: who answered, how many workers it knew, and the
// query's outcome.
type Sample struct {
	Start, End  time.Time
	Coordinator string `json:"coordinator,omitempty"` // node id of the coordinator that answered
	Workers     int    `json:"workers"`
	OK          bool   `json:"ok"`
	Count       int64  `json:"count,omitempty"`
	ErrName     string `json:"errName,omitempty"` // Trino's error name, or the client's failure class
	Err         string `json:"err,omitempty"`
}

// Client runs Query through the coordinator IP from its own namespace, every Interval,
// each round with Timeout.
type Client struct {
	NS       *NS
	Addr     string // host:port of the coordinator IP
	Interval time.Duration
	Timeout  time.Duration

	mu      sync.Mutex
	samples []Sample
}

var clientSeq atomic.Int64

// Run queries until ctx ends.
func (c *Client) Run(ctx context.Context) error {
	key := fmt.Sprintf("realtrino-%d", clientSeq.Add(1))
	// The client's own timeout as well as the round's context: a request to a frozen
	// coordinator must end even where the driver does not pass the context on.
	hc := &http.Client{Timeout: c.Timeout, Transport: &http.Transport{DialContext: c.NS.DialContext, DisableKeepAlives: true}}
	if err := trino.RegisterCustomClient(key, hc); err != nil {
		return err
	}
	defer trino.DeregisterCustomClient(key)
	db, err := sql.Open("trino", fmt.Sprintf("http://drill@%s?custom_client=%s", c.Addr, key))
	if err != nil {
		return err
	}
	defer db.Close()
	for ctx.Err() == nil {
		next := time.Now().Add(c.Interval)
		s := c.boundedRound(ctx, db)
		if ctx.Err() != nil {
			return nil
		}
		c.mu.Lock()
		c.samples = append(c.samples, s)
		c.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(time.Until(next)):
		}
	}
	return nil
}

// boundedRound is one round that ends by Timeout (and a second of grace) whatever the
// driver does: trino-go-client v1.1.0 retries a running query's GETs on network errors
// past the context's deadline (a round in flight at a kill -9 came back after 35 s), and
// the next rounds must not wait for it. An abandoned round finishes on its own.
func (c *Client) boundedRound(ctx context.Context, db *sql.DB) Sample {
	start := time.Now()
	done := make(chan Sample, 1)
	go func() { done <- c.round(ctx, db) }()
	select {
	case s := <-done:
		return s
	case <-time.After(c.Timeout + time.Second):
		return Sample{Start: start, End: time.Now(), ErrName: "TIMEOUT", Err: "round abandoned: the driver did not return within " + c.Timeout.String()}
	case <-ctx.Done():
		return Sample{Start: start, End: time.Now(), ErrName: "CANCELED", Err: ctx.Err().Error()}
	}
}

func (c *Client) round(ctx context.Context, db *sql.DB) (s Sample) {
	s = Sample{Start: time.Now()}
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	defer func() { s.End = time.Now() }()
	rows, err := db.QueryContext(ctx, nodesQuery)
	if err != nil {
		s.ErrName, s.Err = classify(err)
		return s
	}
	for rows.Next() {
		var id string
		var coord bool
		if rows.Scan(&id, &coord) == nil {
			if coord {
				s.Coordinator = id
			} else {
				s.Workers++
			}
		}
	}
	_ = rows.Close()
	if err := db.QueryRowContext(ctx, Query).Scan(&s.Count); err != nil {
		s.ErrName, s.Err = classify(err)
		return s
	}
	s.OK = s.Count == Want
	if !s.OK {
		s.ErrName, s.Err = "WRONG_ANSWER", fmt.Sprintf("count %d, want %d", s.Count, Want)
	}
	return s
}

// classify names a failure: Trino's own error name when the server sent one, the HTTP
// status when it refused the request, otherwise the network failure.
func classify(err error) (string, string) {
	var te *trino.ErrTrino
	if errors.As(err, &te) {
		return te.ErrorName, te.Message
	}
	var qf *trino.ErrQueryFailed
	if errors.As(err, &qf) && qf.StatusCode != 0 {
		return fmt.Sprintf("HTTP_%d", qf.StatusCode), err.Error()
	}
	msg := err.Error()
	switch {
	case errors.Is(err, context.DeadlineExceeded) || strings.Contains(msg, "deadline exceeded"):
		return "TIMEOUT", msg
	case strings.Contains(msg, "connection refused"):
		return "CONNECTION_REFUSED", msg
	case strings.Contains(msg, "no route to host") || strings.Contains(msg, "host is unreachable"):
		return "NO_ROUTE", msg
	case strings.Contains(msg, "connection reset") || strings.Contains(msg, "EOF"):
		return "CONNECTION_RESET", msg
	}
	return "ERROR", msg
}

// Samples returns the rounds so far.
func (c *Client) Samples() []Sample {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Sample(nil), c.samples...)
}

// FirstOK returns the first successful round that started at or after from, answered by
// a coordinator other than exclude.
func (c *Client) FirstOK(from time.Time, exclude string) (Sample, bool) {
	for _, s := range c.Samples() {
		if s.OK && !s.Start.Before(from) && (exclude == "" || s.Coordinator != exclude) {
			return s, true
		}
	}
	return Sample{}, false
}
