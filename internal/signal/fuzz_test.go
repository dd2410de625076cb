package signal

import (
	"encoding/binary"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// resultsFrom turns fuzz bytes into GetMetricData results: each result picks a query id
// (known or not), a number of samples, possibly a mismatched number of timestamps, and
// arbitrary float64 values (NaN and infinities included) at arbitrary times.
func resultsFrom(data []byte) []cwtypes.MetricDataResult {
	ids := []string{"h0", "w0", "h1", "w1", "h2", "w2", "h9", "", "x0"}
	base := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	var out []cwtypes.MetricDataResult
	next := func(n int) []byte {
		if len(data) < n {
			data = append(data, make([]byte, n-len(data))...)
		}
		b := data[:n]
		data = data[n:]
		return b
	}
	for len(data) > 0 && len(out) < 64 {
		hdr := next(2)
		r := cwtypes.MetricDataResult{Id: aws.String(ids[int(hdr[0])%len(ids)])}
		if hdr[0] == 0xff {
			r.Id = nil
		}
		n := int(hdr[1] % 8)
		nts := n
		if hdr[1]&0x80 != 0 {
			nts = (n + 1) % 8 // a malformed answer: timestamps and values disagree
		}
		for i := 0; i < n; i++ {
			r.Values = append(r.Values, math.Float64frombits(binary.LittleEndian.Uint64(next(8))))
		}
		for i := 0; i < nts; i++ {
			off := int32(binary.LittleEndian.Uint32(next(4)))
			r.Timestamps = append(r.Timestamps, base.Add(time.Duration(off)*time.Millisecond))
		}
		out = append(out, r)
	}
	return out
}

// FuzzParse: Parse never panics on any answer; when it accepts one, every requested
// instance has an entry, samples are in time order and finite, and no sample is lost or
// invented.
func FuzzParse(f *testing.F) {
	f.Add(2, []byte{})
	f.Add(1, []byte{0, 2, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xe8, 3, 0, 0, 0, 0, 0, 0})
	f.Add(3, []byte{7, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add(2, []byte{0, 0x81, 0, 0, 0, 0, 0, 0, 0xf8, 0x7f, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, nIDs int, data []byte) {
		if nIDs < 0 {
			nIDs = -nIDs
		}
		nIDs %= 4
		var ids []string
		for i := 0; i < nIDs; i++ {
			ids = append(ids, fmt.Sprintf("i-%017x", i+1))
		}
		results := resultsFrom(data)
		got, err := Parse(ids, results)
		if err != nil {
			if got != nil {
				t.Fatalf("Parse returned both a result and an error: %v", err)
			}
			return
		}
		if len(got) != len(ids) {
			t.Fatalf("%d entries for %d instances", len(got), len(ids))
		}
		want := 0
		for _, r := range results {
			want += len(r.Values)
		}
		total := 0
		for _, id := range ids {
			r := got[id]
			if r == nil {
				t.Fatalf("no entry for %s", id)
			}
			for _, ss := range [][]Sample{r.Health, r.Witness} {
				total += len(ss)
				for i, s := range ss {
					if math.IsNaN(s.Value) || math.IsInf(s.Value, 0) {
						t.Fatalf("non-finite sample accepted: %v", s)
					}
					if i > 0 && ss[i-1].At.After(s.At) {
						t.Fatalf("samples out of order: %v then %v", ss[i-1].At, s.At)
					}
				}
			}
		}
		if total != want {
			t.Fatalf("%d samples in, %d out", want, total)
		}
	})
}
