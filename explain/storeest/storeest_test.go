package storeest

import (
	"math"
	"testing"
)

// The builder's percentile (DuckDB's quantile_cont): linear interpolation
// at q·(n−1). The estimator over a real store is tested by cmd/steer's
// TestExplainWorld (steer explain --store).
func TestPercentile(t *testing.T) {
	for _, tc := range []struct {
		in   []float32
		q    float64
		want float64
	}{
		{[]float32{10}, 0.75, 10},
		{[]float32{10, 20}, 0.75, 17.5},
		{[]float32{1, 2, 3, 4, 5}, 0.75, 4},
		{[]float32{1, 2, 3, 4}, 0.75, 3.25},
		{[]float32{1, 2, 3, 4}, 1, 4},
	} {
		if got := percentile(tc.in, tc.q); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("percentile(%v, %v) = %v, want %v", tc.in, tc.q, got, tc.want)
		}
	}
	if !math.IsNaN(percentile(nil, 0.75)) {
		t.Error("percentile of nothing is not NaN")
	}
}
