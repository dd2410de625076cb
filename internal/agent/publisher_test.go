package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"

	"github.com/prestoha/coordinator-ha/internal/awserr"
	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/signal"
)

var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

func addSamples(p *Publisher, n int, from time.Time) {
	for i := range n {
		p.Add(signal.HealthDatum("prod", "i-0123456789abcdef0", signal.Healthy, from.Add(time.Duration(i)*time.Second)))
	}
}

func TestPublisherBatching(t *testing.T) {
	cases := []struct{ samples, calls int }{{0, 0}, {1, 1}, {2, 1}, {1000, 1}, {1001, 2}, {2500, 3}}
	for _, c := range cases {
		cw := &fakeCW{}
		p := testPublisher(cw, clock.NewVirtual(t0), quietLogger(), 4096)
		addSamples(p, c.samples, t0)
		if err := p.Flush(context.Background()); err != nil {
			t.Fatalf("%d samples: %v", c.samples, err)
		}
		if cw.callCount() != c.calls {
			t.Fatalf("%d samples: %d PutMetricData calls, want %d", c.samples, cw.callCount(), c.calls)
		}
		got := cw.accepted()
		if len(got) != c.samples || p.Stats().Sent != c.samples || p.Stats().Buffered != 0 {
			t.Fatalf("%d samples: sent %d, stats %+v", c.samples, len(got), p.Stats())
		}
		for i, d := range got { // oldest first, timestamps preserved
			if !aws.ToTime(d.Timestamp).Equal(t0.Add(time.Duration(i) * time.Second)) {
				t.Fatalf("datum %d has timestamp %v", i, aws.ToTime(d.Timestamp))
			}
		}
		for _, in := range cw.calls {
			if aws.ToString(in.Namespace) != testNamespace {
				t.Fatalf("namespace %q", aws.ToString(in.Namespace))
			}
		}
	}
}

func TestPublisherRetriesThrottlingThenSucceeds(t *testing.T) {
	cw := &fakeCW{errs: []error{
		awserr.New(awserr.CodeThrottling, "Rate exceeded", smithy.FaultClient),
		awserr.New(awserr.CodeInternalFailure, "oops", smithy.FaultServer),
	}}
	clk := clock.NewVirtual(t0)
	p := testPublisher(cw, clk, quietLogger(), 4096)
	addSamples(p, 3, t0)
	if err := p.Flush(context.Background()); err != nil {
		t.Fatalf("flush after two transient errors: %v", err)
	}
	if cw.callCount() != 3 || len(cw.accepted()) != 3 {
		t.Fatalf("want 2 failed calls and 1 success carrying 3 datums; calls %d accepted %d", cw.callCount(), len(cw.accepted()))
	}
	// Full jitter: waited at most base + 2*base of virtual time, and the clock moved only by sleeping.
	if waited := clk.Now().Sub(t0); waited > retryBase+2*retryBase {
		t.Fatalf("backoff waited %v, more than the two ceilings allow", waited)
	}
}

func TestPublisherBackoffIsExponentialFullJitter(t *testing.T) {
	cw := &fakeCW{always: awserr.New(awserr.CodeThrottling, "Rate exceeded", smithy.FaultClient)}
	clk := clock.NewVirtual(t0)
	p := testPublisher(cw, clk, quietLogger(), 4096)
	var ceilings []time.Duration
	p.jitter = func(n int64) int64 { ceilings = append(ceilings, time.Duration(n-1)); return n - 1 } // always the ceiling
	addSamples(p, 1, t0)
	err := p.Flush(context.Background())
	if err == nil || !awserr.IsThrottle(err) {
		t.Fatalf("want the throttling error back after the attempts, got %v", err)
	}
	want := []time.Duration{retryBase, 2 * retryBase, 4 * retryBase}
	if len(ceilings) != len(want) {
		t.Fatalf("ceilings %v, want %v", ceilings, want)
	}
	for i := range want {
		if ceilings[i] != want[i] {
			t.Fatalf("ceilings %v, want %v", ceilings, want)
		}
	}
	if cw.callCount() != retryMaxAttempts {
		t.Fatalf("%d calls, want %d", cw.callCount(), retryMaxAttempts)
	}
	if st := p.Stats(); st.Buffered != 1 || st.Sent != 0 {
		t.Fatalf("a batch that kept failing must go back to the buffer: %+v", st)
	}
}

func TestPublisherNonRetryableDropsBatch(t *testing.T) {
	cw := &fakeCW{errs: []error{awserr.New(awserr.CodeInvalidParameterValue, "timestamp too old", smithy.FaultClient)}}
	p := testPublisher(cw, clock.NewVirtual(t0), quietLogger(), 4096)
	addSamples(p, 1500, t0) // two batches: the first is rejected, the second goes through
	if err := p.Flush(context.Background()); err != nil {
		t.Fatalf("a rejected batch is dropped, not returned: %v", err)
	}
	st := p.Stats()
	if cw.callCount() != 2 || st.Rejected != 1000 || st.Sent != 500 || st.Buffered != 0 {
		t.Fatalf("calls %d, stats %+v", cw.callCount(), st)
	}
}

func TestPublisherLongOutageIsBounded(t *testing.T) {
	// CloudWatch unreachable: errors without an AWS code (no route, DNS) are retried later.
	cw := &fakeCW{always: errors.New("dial tcp 10.0.0.1:443: connect: no route to host")}
	var logs bytes.Buffer
	p := testPublisher(cw, clock.NewVirtual(t0), slogTo(&logs), 1000)
	// An hour at one probe round (two datums) every 5 s, flushing every 10 s.
	for i := range 720 {
		addSamples(p, 2, t0.Add(time.Duration(i)*5*time.Second))
		if i%2 == 1 {
			if err := p.Flush(context.Background()); err == nil {
				t.Fatal("flush during the outage reported success")
			}
		}
	}
	st := p.Stats()
	if st.Buffered != 1000 || st.Dropped != 1440-1000 || st.Sent != 0 {
		t.Fatalf("buffer not bounded or drops not counted: %+v", st)
	}
	if n := strings.Count(logs.String(), "dropping the oldest"); n != 1 {
		t.Fatalf("drop warning logged %d times during one burst, want once", n)
	}
	// CloudWatch comes back: the newest 1000 samples go out, oldest first, in one call.
	cw.setAlways(nil)
	before := cw.callCount()
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := cw.accepted()
	if cw.callCount() != before+1 || len(got) != 1000 {
		t.Fatalf("recovery: %d calls, %d datums", cw.callCount()-before, len(got))
	}
	if first := aws.ToTime(got[0].Timestamp); !first.After(t0) {
		t.Fatalf("the oldest samples should have been dropped, first sent is %v", first)
	}
	if !strings.Contains(logs.String(), "accepts samples again") {
		t.Fatal("recovery after drops not logged")
	}
}

func TestPublisherShutdownDeadline(t *testing.T) {
	cw := &fakeCW{always: awserr.New(awserr.CodeServiceUnavailable, "down", smithy.FaultServer)}
	p := testPublisher(cw, clock.Real{}, quietLogger(), 4096)
	addSamples(p, 5, t0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the deadline has already passed
	err := p.Flush(ctx)
	if err == nil || !awserr.IsContextDone(err) && !awserr.IsTransient(err) {
		t.Fatalf("flush with an ended context: %v", err)
	}
	if p.Stats().Buffered != 5 {
		t.Fatalf("samples lost on a cut flush: %+v", p.Stats())
	}
}

func TestStdoutCloudWatchWritesJSONLines(t *testing.T) {
	var out bytes.Buffer
	p := testPublisher(NewStdoutCloudWatch(&out), clock.NewVirtual(t0), quietLogger(), 4096)
	p.Add(signal.HealthDatum("prod", "i-0123456789abcdef0", signal.Starting, t0),
		signal.WitnessDatum("prod", "i-0123456789abcdef0", true, t0.Add(time.Second)))
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got %q", out.String())
	}
	var l StdoutLine
	if err := json.Unmarshal([]byte(lines[0]), &l); err != nil {
		t.Fatal(err)
	}
	if l.Batch != 1 || l.Metric != signal.MetricHealth || l.Value != 2 || l.Resolution != 1 ||
		l.Dimensions[signal.DimInstance] != "i-0123456789abcdef0" || !l.Timestamp.Equal(t0) || l.Namespace != testNamespace {
		t.Fatalf("line %+v", l)
	}
}
