package drill

import (
	"context"
	"errors"
	"io"
)

// BenchOptions configure Bench.
type BenchOptions struct {
	Scenarios     []string
	Speed         float64
	Production    bool
	Out           string
	Runs          int
	Parallel      int
	AgentSeconds  int
	ColdStartRuns int
	Progress      io.Writer
}

// Bench is written below.
func Bench(ctx context.Context, o BenchOptions) error { return errors.New("bench: not yet") }
