package drill

import (
	"math"
	"runtime"
	"sort"
)

// Dist summarizes a sample of seconds (nearest-rank percentiles).
type Dist struct {
	N    int     `json:"n"`
	P50  float64 `json:"p50"`
	P99  float64 `json:"p99"`
	Min  float64 `json:"min"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// NewDist computes the distribution of xs.
func NewDist(xs []float64) Dist {
	if len(xs) == 0 {
		return Dist{}
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	sum := 0.0
	for _, x := range s {
		sum += x
	}
	return Dist{N: len(s), P50: rank(s, 50), P99: rank(s, 99), Min: s[0], Max: s[len(s)-1], Mean: round3(sum / float64(len(s)))}
}

func rank(sorted []float64, p float64) float64 {
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	i = max(0, min(i, len(sorted)-1))
	return round3(sorted[i])
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

func hostArch() string { return runtime.GOOS + "/" + runtime.GOARCH }
