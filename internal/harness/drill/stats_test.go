package drill

import "testing"

func TestNewDist(t *testing.T) {
	var xs []float64
	for i := 100; i >= 1; i-- {
		xs = append(xs, float64(i))
	}
	d := NewDist(xs)
	if d.N != 100 || d.P50 != 50 || d.P99 != 99 || d.Min != 1 || d.Max != 100 || d.Mean != 50.5 {
		t.Fatalf("NewDist = %+v", d)
	}
	if one := NewDist([]float64{7}); one.P50 != 7 || one.P99 != 7 {
		t.Fatalf("one sample: %+v", one)
	}
	if NewDist(nil).N != 0 {
		t.Fatal("empty")
	}
	// 20 runs: p99 is the largest, p50 the 10th
	xs = xs[:0]
	for i := 1; i <= 20; i++ {
		xs = append(xs, float64(i))
	}
	if d := NewDist(xs); d.P99 != 20 || d.P50 != 10 {
		t.Fatalf("20 samples: %+v", d)
	}
}
