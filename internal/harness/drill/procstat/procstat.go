// Package procstat samples a running process's CPU time and resident memory from Linux
// /proc, for the bench's measurement of the host agent's footprint.
package procstat

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clkTck is USER_HZ, 100 on every Linux architecture Go supports.
const clkTck = 100

// Sample is one reading of a process.
type Sample struct {
	At       time.Time
	CPU      time.Duration // utime + stime so far
	RSSBytes int64         // VmRSS
	HWMBytes int64         // VmHWM: peak RSS so far
}

// Read reads /proc/<pid>/stat and /proc/<pid>/status.
func Read(pid int) (Sample, error) {
	s := Sample{At: time.Now()}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, fmt.Errorf("reading stat of %d: %w", pid, err)
	}
	// The command name is in parentheses and may contain spaces: split after the last ')'.
	str := string(stat)
	i := strings.LastIndexByte(str, ')')
	if i < 0 {
		return s, fmt.Errorf("parsing stat of %d: no ')'", pid)
	}
	f := strings.Fields(str[i+1:])
	// fields after ")": state(3) ... utime is field 14, stime 15 (1-based in proc(5)).
	if len(f) < 13 {
		return s, fmt.Errorf("parsing stat of %d: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return s, fmt.Errorf("parsing cpu times of %d: %q %q", pid, f[11], f[12])
	}
	s.CPU = time.Duration(ut+st) * time.Second / clkTck
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, fmt.Errorf("reading status of %d: %w", pid, err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch k {
		case "VmRSS":
			s.RSSBytes = kb(v)
		case "VmHWM":
			s.HWMBytes = kb(v)
		}
	}
	return s, nil
}

func kb(v string) int64 {
	f := strings.Fields(v)
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.ParseInt(f[0], 10, 64)
	return n * 1024
}

// Summary is a process's footprint over a run.
type Summary struct {
	WallSeconds   float64 `json:"wall_s"`
	CPUSeconds    float64 `json:"cpu_s"`
	CPUPercent    float64 `json:"cpu_percent"` // of one core, averaged over the run
	RSSMeanMiB    float64 `json:"rss_mean_mib"`
	RSSMaxMiB     float64 `json:"rss_max_mib"`
	PeakRSSMiB    float64 `json:"peak_rss_mib"` // VmHWM at the end
	Samples       int     `json:"samples"`
	FirstSampleAt float64 `json:"first_sample_s"`
}

// Watch samples pid every interval until ctx ends or the process is gone, and
// summarizes CPU from the first to the last sample.
func Watch(ctx context.Context, pid int, interval time.Duration) (Summary, error) {
	var samples []Sample
	t := time.NewTicker(interval)
	defer t.Stop()
	start := time.Now()
	for {
		s, err := Read(pid)
		if err != nil {
			break
		}
		samples = append(samples, s)
		select {
		case <-ctx.Done():
			return Summarize(samples, start), nil
		case <-t.C:
		}
	}
	if len(samples) < 2 {
		return Summary{}, fmt.Errorf("process %d: only %d samples", pid, len(samples))
	}
	return Summarize(samples, start), nil
}

// Summarize turns samples into a Summary.
func Summarize(samples []Sample, start time.Time) Summary {
	if len(samples) == 0 {
		return Summary{}
	}
	first, last := samples[0], samples[len(samples)-1]
	const mib = 1 << 20
	var sum, maxRSS int64
	for _, s := range samples {
		sum += s.RSSBytes
		maxRSS = max(maxRSS, s.RSSBytes)
	}
	wall := last.At.Sub(first.At).Seconds()
	cpu := (last.CPU - first.CPU).Seconds()
	out := Summary{
		WallSeconds:   wall,
		CPUSeconds:    last.CPU.Seconds(),
		RSSMeanMiB:    float64(sum) / float64(len(samples)) / mib,
		RSSMaxMiB:     float64(maxRSS) / mib,
		PeakRSSMiB:    float64(last.HWMBytes) / mib,
		Samples:       len(samples),
		FirstSampleAt: first.At.Sub(start).Seconds(),
	}
	if wall > 0 {
		out.CPUPercent = 100 * cpu / wall
	}
	return out
}
