package drill

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// runSeed is the seed of one bench run: a hash of the scenario's name and the run's
// number, so that no two scenarios share a seed (the length of a name would:
// process-exit and process-hang).
func runSeed(scenario string, run int) int64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%d", scenario, run)
	return int64(h.Sum64() >> 1)
}

// faultPhase draws from the seed how long after the warm-up the fault comes, in
// [0, period): runs meet the health check's schedule and the agents' cycles at
// different phases.
func faultPhase(seed int64, period time.Duration) time.Duration {
	r := rand.New(rand.NewPCG(uint64(seed), 0x5eed))
	return time.Duration(r.Int64N(int64(period/time.Millisecond))) * time.Millisecond
}

// LoadNote records how busy the machine was while the bench measured wall-clock
// figures (cold starts, the agent's CPU and RSS): those figures are this machine's, and
// a busy machine makes them noisy. The failover timings run on simulated time and do
// not depend on it.
type LoadNote struct {
	Cores     int     `json:"cores"`
	LoadStart float64 `json:"load1_at_start"`
	LoadEnd   float64 `json:"load1_at_end"`
	Noisy     bool    `json:"noisy"`
	Note      string  `json:"note"`
}

func newLoadNote(start, end float64) LoadNote {
	n := LoadNote{Cores: runtime.NumCPU(), LoadStart: start, LoadEnd: end}
	n.Noisy = max(start, end) > float64(n.Cores)/2
	if n.Noisy {
		n.Note = fmt.Sprintf("NOISY: the machine was busy (1-minute load %.1f to %.1f on %d cores): the wall-clock measurements (cold starts, agent footprint) are inflated; the failover timings are simulated and unaffected", start, end, n.Cores)
	} else {
		n.Note = fmt.Sprintf("quiet machine (1-minute load %.1f to %.1f on %d cores)", start, end, n.Cores)
	}
	return n
}

// loadAverage is the 1-minute load average (0 where /proc/loadavg is missing).
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f, _ := strconv.ParseFloat(strings.Fields(string(b))[0], 64)
	return f
}
