package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/prestoha/coordinator-ha/internal/awsapi"
	"github.com/prestoha/coordinator-ha/internal/awserr"
	"github.com/prestoha/coordinator-ha/internal/clock"
)

// Retry policy of one flush: exponential backoff with full jitter (a random wait in
// [0, min(cap, base*2^attempt))), a few attempts, then the batch goes back to the
// buffer for the next flush. The SDK client retries a few times underneath as well.
const (
	retryBase        = 250 * time.Millisecond
	retryCap         = 4 * time.Second
	retryMaxAttempts = 4
)

// PublisherStats count what happened to samples.
type PublisherStats struct {
	Calls    int // PutMetricData calls made (including failed ones)
	Sent     int // datums accepted by CloudWatch
	Dropped  int // datums dropped because the buffer was full (oldest first)
	Rejected int // datums dropped because CloudWatch rejected them with a non-retryable error
	Buffered int // datums waiting
}

// Publisher buffers datums and sends them in batches of at most MaxDatumsPerCall. It is
// safe for concurrent use: the probe loop adds, one flusher sends.
type Publisher struct {
	cw    awsapi.CloudWatchAPI
	clock clock.Clock
	log   *slog.Logger
	max   int

	mu           sync.Mutex
	namespace    string                // the host's report namespace; "" until the agent knows who it is
	buf          []cwtypes.MetricDatum // oldest first
	stats        PublisherStats
	burstDropped int // drops since the last successful send; logged once per burst

	flushMu sync.Mutex // one flush at a time
	jitter  func(n int64) int64
}

// NewPublisher returns a publisher that keeps at most maxBuffered datums.
func NewPublisher(cw awsapi.CloudWatchAPI, clk clock.Clock, log *slog.Logger, maxBuffered int) *Publisher {
	if maxBuffered < 1 {
		maxBuffered = DefaultMaxBuffered
	}
	return &Publisher{cw: cw, clock: clk, log: log, max: maxBuffered, jitter: rand.Int64N}
}

// Add queues datums; when the buffer is full the oldest are dropped and counted.
func (p *Publisher) Add(ds ...cwtypes.MetricDatum) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, ds...)
	p.trimLocked()
}

// trimLocked drops the oldest datums beyond the bound.
func (p *Publisher) trimLocked() {
	excess := len(p.buf) - p.max
	if excess <= 0 {
		return
	}
	n := copy(p.buf, p.buf[excess:])
	clear(p.buf[n:])
	p.buf = p.buf[:n]
	p.stats.Dropped += excess
	if p.burstDropped == 0 {
		p.log.Warn("sample buffer full, dropping the oldest samples until CloudWatch accepts again",
			"maxBuffered", p.max)
	}
	p.burstDropped += excess
}

// Stats returns the counters.
func (p *Publisher) Stats() PublisherStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Buffered = len(p.buf)
	return s
}

// take removes up to n of the oldest datums.
func (p *Publisher) take(n int) []cwtypes.MetricDatum {
	p.mu.Lock()
	defer p.mu.Unlock()
	n = min(n, len(p.buf))
	batch := make([]cwtypes.MetricDatum, n)
	copy(batch, p.buf[:n])
	rest := copy(p.buf, p.buf[n:])
	clear(p.buf[rest:])
	p.buf = p.buf[:rest]
	return batch
}

// requeue puts a batch that could not be sent back in front of newer datums.
func (p *Publisher) requeue(batch []cwtypes.MetricDatum) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(batch, p.buf...)
	p.trimLocked()
}

// ErrNoNamespace is returned by Flush while the report namespace is unknown: the
// samples stay buffered.
var ErrNoNamespace = errors.New("the report namespace is not known yet (STS GetCallerIdentity has not answered)")

// SetNamespace sets the namespace the samples go to: signal.HostNamespace of the host's
// own aws:userid, the only one its credentials may write.
func (p *Publisher) SetNamespace(ns string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.namespace = ns
}

// Namespace returns the namespace the samples go to ("" while unknown).
func (p *Publisher) Namespace() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.namespace
}

// Flush sends everything buffered, oldest first, in batches of MaxDatumsPerCall. A batch
// that keeps failing with a retryable error is put back and Flush returns the error; a
// batch rejected for good is dropped and logged, and Flush goes on.
func (p *Publisher) Flush(ctx context.Context) error {
	p.flushMu.Lock()
	defer p.flushMu.Unlock()
	if p.Namespace() == "" {
		p.mu.Lock()
		n := len(p.buf)
		p.mu.Unlock()
		if n == 0 {
			return nil
		}
		return ErrNoNamespace
	}
	for {
		batch := p.take(MaxDatumsPerCall)
		if len(batch) == 0 {
			return nil
		}
		err := p.send(ctx, batch)
		switch {
		case err == nil:
			p.mu.Lock()
			p.stats.Sent += len(batch)
			if p.burstDropped > 0 {
				p.log.Warn("CloudWatch accepts samples again", "droppedWhileFull", p.burstDropped)
				p.burstDropped = 0
			}
			p.mu.Unlock()
		case retryable(err) || awserr.IsContextDone(err):
			p.requeue(batch)
			return err
		default:
			p.mu.Lock()
			p.stats.Rejected += len(batch)
			p.mu.Unlock()
			p.log.Error("CloudWatch rejected a batch, dropping it", "datums", len(batch), "code", awserr.Code(err), "err", err)
		}
	}
}

// send makes one PutMetricData call, retried with backoff while the error is retryable.
func (p *Publisher) send(ctx context.Context, batch []cwtypes.MetricDatum) error {
	in := &cloudwatch.PutMetricDataInput{Namespace: aws.String(p.Namespace()), MetricData: batch}
	var err error
	for attempt := 0; attempt < retryMaxAttempts; attempt++ {
		if attempt > 0 {
			ceiling := min(retryCap, retryBase<<(attempt-1))
			if serr := p.clock.Sleep(ctx, time.Duration(p.jitter(int64(ceiling)+1))); serr != nil {
				return fmt.Errorf("putting %d datums: %w (last error: %w)", len(batch), serr, err)
			}
		}
		p.mu.Lock()
		p.stats.Calls++
		p.mu.Unlock()
		_, err = p.cw.PutMetricData(ctx, in)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || !retryable(err) {
			break
		}
		p.log.Debug("PutMetricData failed, backing off", "attempt", attempt+1, "code", awserr.Code(err), "err", err)
	}
	return fmt.Errorf("putting %d datums: %w", len(batch), err)
}

// retryable: AWS's transient errors (throttling, 5xx), and errors that carry no AWS
// error code at all (a network without a route, DNS, a dial timeout): CloudWatch was not
// reached, so the batch was not judged and trying again later is right.
func retryable(err error) bool {
	if err == nil || awserr.IsContextDone(err) {
		return false
	}
	if awserr.IsTransient(err) {
		return true
	}
	return awserr.Code(err) == "" && !errors.Is(err, errStdoutUnsupported)
}
