package failover

import (
	"time"

	"github.com/prestoha/coordinator-ha/internal/signal"
)

// consecutiveHealthy counts a coordinator's healthy self-reports in a row, newest
// first, that end no earlier than maxGap before now and have no gap longer than maxGap
// between them. A starting, unhealthy or unreadable report ends the streak, as does
// silence. Reports stamped after now are ignored.
//
// internal/verdict was being written concurrently and did not export a
// ConsecutiveHealthy when this was written; this local copy follows the same rule and
// can be replaced by it.
func consecutiveHealthy(samples []signal.Sample, now time.Time, maxGap time.Duration) int {
	n := 0
	prev := now
	for i := len(samples) - 1; i >= 0; i-- {
		s := samples[i]
		if s.At.After(now) {
			continue
		}
		if prev.Sub(s.At) > maxGap {
			break
		}
		if st, ok := signal.StatusOf(s.Value); !ok || st != signal.Healthy {
			break
		}
		n++
		prev = s.At
	}
	return n
}
