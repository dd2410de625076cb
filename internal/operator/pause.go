package operator

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/prestoha/coordinator-ha/internal/config"
	"github.com/prestoha/coordinator-ha/internal/healthcheck"
)

// Bounds of a pause: long enough for maintenance, short enough that a forgotten pause
// does not leave the cluster without automatic failover for days.
const (
	DefaultPauseFor = 2 * time.Hour
	MaxPauseFor     = 24 * time.Hour
	maxReason       = 200 // of EC2's 256 characters per tag value
)

// PauseResult is what pause and resume did.
type PauseResult struct {
	Pause    *healthcheck.Pause `json:"pause,omitempty"`    // the pause now in force (pause) or the one removed (resume)
	Replaced *healthcheck.Pause `json:"replaced,omitempty"` // pause: the pause it replaced
	Expired  bool               `json:"expired,omitempty"`  // resume: the removed pause had already expired
}

// Pause pauses automatic failover for d: tags on the coordinator ENI that the health
// check reads at every evaluation (healthcheck/pause.go). No stack update; it expires by
// itself. It records who (the caller's ARN), when and why.
func (o *Operator) Pause(ctx context.Context, d time.Duration, reason string) (*PauseResult, error) {
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "":
		return nil, &UsageError{Msg: "pause needs --reason: it is shown in status, on the dashboard's log widget and in the health check's logs"}
	case len(reason) > maxReason:
		return nil, &UsageError{Msg: fmt.Sprintf("--reason is %d characters; at most %d", len(reason), maxReason)}
	case d <= 0 || d > MaxPauseFor:
		return nil, &UsageError{Msg: fmt.Sprintf("--for %s: a pause lasts more than 0 and at most %s", d, MaxPauseFor)}
	}
	v, err := o.look(ctx, false)
	if err != nil {
		return nil, err
	}
	now := o.clk.Now().UTC()
	res := &PauseResult{}
	if p, err := healthcheck.ParsePause(v.Tags, now); err == nil && p != nil {
		res.Replaced = p
	}
	who, err := o.caller(ctx)
	if err != nil {
		return nil, err
	}
	p := &healthcheck.Pause{Until: now.Add(d).Truncate(time.Second), By: who, At: now.Truncate(time.Second), Reason: reason}
	tags := []ec2types.Tag{
		{Key: aws.String(config.TagPausedUntil), Value: aws.String(p.Until.Format(time.RFC3339))},
		{Key: aws.String(config.TagPausedBy), Value: aws.String(p.By)},
		{Key: aws.String(config.TagPausedAt), Value: aws.String(p.At.Format(time.RFC3339))},
		{Key: aws.String(config.TagPauseReason), Value: aws.String(p.Reason)},
	}
	if _, err := o.c.EC2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{o.Stack.ENIID}, Tags: tags}); err != nil {
		return nil, fmt.Errorf("tagging %s with the pause: %w", o.Stack.ENIID, err)
	}
	res.Pause = p
	return res, nil
}

// Resume ends a pause at once by removing the tags. Without a pause there is nothing to
// do; an expired pause's tags are removed all the same (and reported as such).
func (o *Operator) Resume(ctx context.Context) (*PauseResult, error) {
	v, err := o.look(ctx, false)
	if err != nil {
		return nil, err
	}
	if _, ok := v.Tags[config.TagPausedUntil]; !ok {
		return nil, &NothingToDoError{Why: "automatic failover is not paused"}
	}
	now := o.clk.Now()
	res := &PauseResult{}
	p, perr := healthcheck.ParsePause(v.Tags, now)
	if p == nil { // expired, or malformed (a malformed pause pauses nothing): removed all the same
		res.Expired = perr == nil
		until, _ := time.Parse(time.RFC3339, v.Tags[config.TagPausedUntil])
		p = &healthcheck.Pause{Until: until, By: v.Tags[config.TagPausedBy], Reason: v.Tags[config.TagPauseReason]}
	}
	res.Pause = p
	var tags []ec2types.Tag
	for _, k := range config.PauseTags {
		tags = append(tags, ec2types.Tag{Key: aws.String(k)})
	}
	if _, err := o.c.EC2.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: []string{o.Stack.ENIID}, Tags: tags}); err != nil {
		return nil, fmt.Errorf("removing the pause tags from %s: %w", o.Stack.ENIID, err)
	}
	return res, nil
}
