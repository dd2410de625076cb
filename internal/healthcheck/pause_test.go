package healthcheck

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/prestoha/coordinator-ha/internal/config"
	"github.com/prestoha/coordinator-ha/internal/signal"
)

func (w *world) pause(until time.Time, by, reason string) {
	w.t.Helper()
	_, err := w.acct.Clients("setup").EC2.CreateTags(context.Background(), &ec2.CreateTagsInput{Resources: []string{w.eni}, Tags: []ec2types.Tag{
		{Key: aws.String(config.TagPausedUntil), Value: aws.String(until.UTC().Format(time.RFC3339))},
		{Key: aws.String(config.TagPausedBy), Value: aws.String(by)},
		{Key: aws.String(config.TagPausedAt), Value: aws.String(w.clk.Now().UTC().Format(time.RFC3339))},
		{Key: aws.String(config.TagPauseReason), Value: aws.String(reason)},
	}})
	must(w.t, err)
}

// The active coordinator fails during a pause that expires 4 minutes later: no
// failover while paused (every evaluation logs the pause and publishes Paused=1), a
// failover at the first evaluation after the expiry, and no Paused datapoint after it.
func TestPauseExpiresDuringFailure(t *testing.T) {
	w := newWorld(t)
	h := w.handler(w.config())
	active := w.holder()
	until := w.clk.Now().Add(4 * time.Minute)
	w.pause(until, "arn:aws:iam::123456789012:user/alice", "kernel patch on the standbys")
	w.schedule(w.clk.Now().Add(7*time.Second), func() { w.change(active, func(h *host) { h.proc = signal.Unhealthy }) })

	sums := w.runUntil(h, until.Add(2*time.Minute))
	execs := w.acct.Executions()
	if len(execs) != 1 {
		t.Fatalf("%d executions, want exactly one failover, after the pause expired", len(execs))
	}
	if at := execs[0].StartDate; at.Before(until) || at.After(until.Add(DefaultCheckInterval)) {
		t.Errorf("failover started at %s; the pause expired at %s (want within one check interval after)", at, until)
	}
	blocked := 0
	for _, s := range sums {
		blocked += s.Actions[ActionBlockedPause]
	}
	// The fault at +7 s, FAILED after the grace window and ingestion: every evaluation
	// from then until the expiry is held back.
	if min := int((until.Sub(t0.Add(3*time.Minute)) - time.Minute) / DefaultCheckInterval); blocked < min {
		t.Fatalf("%d evaluations blocked by the pause, want at least %d: %+v", blocked, min, sums)
	}
	logs := w.logs.String()
	for _, want := range []string{`"msg":"failover paused"`, "user/alice", "kernel patch on the standbys", `"guard":"pause"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s", want)
		}
	}
	if got := maxDatum(w, config.MetricPaused); got != 1 {
		t.Errorf("%s max %v while paused, want 1", config.MetricPaused, got)
	}
	for _, d := range w.acct.Datapoints(signal.Namespace) {
		if d.MetricName == config.MetricPaused && !d.Timestamp.Before(until) {
			t.Errorf("Paused published at %s, after the pause expired at %s", d.Timestamp, until)
		}
	}
}

func TestParsePause(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	tags := func(until string) map[string]string {
		return map[string]string{config.TagPausedUntil: until, config.TagPausedBy: "arn:x", config.TagPauseReason: "r",
			config.TagPausedAt: "2026-11-24T09:00:00Z"}
	}
	cases := []struct {
		name   string
		tags   map[string]string
		paused bool
		err    bool
	}{
		{"none", map[string]string{config.TagCluster: "prod"}, false, false},
		{"in force", tags("2026-11-24T10:00:01Z"), true, false},
		{"expired exactly now", tags("2026-11-24T10:00:00Z"), false, false},
		{"expired", tags("2026-11-24T09:59:00Z"), false, false},
		{"other zone", tags("2026-11-24T11:30:00+01:00"), true, false},
		{"malformed", tags("in two hours"), false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := ParsePause(c.tags, now)
			if (err != nil) != c.err || (p != nil) != c.paused {
				t.Fatalf("ParsePause = %+v, %v; want paused %v, error %v", p, err, c.paused, c.err)
			}
			if p != nil && (p.By != "arn:x" || p.Reason != "r" || p.At.IsZero()) {
				t.Errorf("pause %+v lost who, why or when", p)
			}
		})
	}
}
