package store

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// series draws n RTTs of a path: base + jitter·Exp(1), as the simulator's
// truth model does, rounded to float32 as a store keeps them.
func series(r *rand.Rand, n int, base, jitter float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(base + jitter*r.ExpFloat64())
	}
	return out
}

// TestShiftedSeries runs the detector on synthetic series: an older
// stretch of samples from one path and a recent stretch from the same
// path (noise) or another (a shift), many times each. It must find the
// shifts that matter and almost never call noise a shift.
func TestShiftedSeries(t *testing.T) {
	const q = 0.75
	test := ShiftTest{Z: 3, MinMs: 2, MinRecent: 3} // the builder's defaults
	cases := []struct {
		name             string
		nOld, nRecent    int
		base, jit        float64 // the older path
		rBase, rJit      float64 // the recent path
		minRate, maxRate float64 // share of trials detected
	}{
		{"noise, short path", 40, 6, 12, 3, 12, 3, 0, 0.01},
		{"noise, long path", 40, 6, 180, 15, 180, 15, 0, 0.01},
		{"noise, few old samples", 4, 3, 25, 5, 25, 5, 0, 0.01},
		{"noise, many recent", 200, 60, 40, 6, 40, 6, 0, 0.01},
		// jitter twice the spread model's: noise the model underrates
		{"noise, jittery Wi-Fi", 40, 6, 20, 10, 20, 10, 0, 0.06},
		{"peering lost: +25 ms", 40, 6, 15, 3, 40, 4, 0.99, 1},
		// a shift as large as the old path's spread four times over: the
		// recent samples widen the whole window's spread too; about two in
		// three are found by one build (the next ones test more samples)
		{"peering lost: +12 ms", 40, 6, 15, 3, 27, 3, 0.6, 1},
		{"peering lost: +12 ms, 3 recent", 40, 3, 15, 3, 27, 3, 0.5, 0.8},
		{"peering added: -20 ms", 40, 6, 45, 5, 25, 4, 0.95, 1},
		{"reroute: +60 ms on a long path", 60, 5, 120, 10, 180, 12, 0.95, 1},
		{"shift under MinMs: +1.5 ms", 400, 200, 10, 0.5, 11.5, 0.5, 0, 0},
		{"too few recent (2)", 40, 2, 15, 3, 60, 3, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, uint64(len(tc.name))))
			const trials = 2000
			hits := 0
			for range trials {
				old := series(r, tc.nOld, tc.base, tc.jit)
				rec := series(r, tc.nRecent, tc.rBase, tc.rJit)
				whole := append(slices.Clone(old), rec...)
				slices.Sort(whole)
				slices.Sort(rec)
				sigma := SampleSpread(Quantile(whole, q), Quantile(whole, q/3), q, q/3, len(whole))
				if Shifted(Quantile(whole, q), len(whole), Quantile(rec, q), len(rec), sigma, q, test) {
					hits++
				}
			}
			rate := float64(hits) / trials
			if rate < tc.minRate || rate > tc.maxRate {
				t.Errorf("detected in %.1f %% of %d trials, want %.1f–%.1f %%", 100*rate, trials, 100*tc.minRate, 100*tc.maxRate)
			}
		})
	}
}

func TestShiftedEdges(t *testing.T) {
	test := ShiftTest{Z: 3, MinMs: 2, MinRecent: 3}
	for _, tc := range []struct {
		name    string
		whole   float64
		nWhole  int
		recent  float64
		nRecent int
		want    bool
	}{
		{"every sample recent", 10, 5, 50, 5, false},
		{"NaN", 10, 50, 0 / zero, 5, false},
		{"zero whole", 0, 50, 30, 5, false},
		{"clear", 10, 50, 50, 5, true},
	} {
		if got := Shifted(tc.whole, tc.nWhole, tc.recent, tc.nRecent, Spread(tc.whole), 0.75, test); got != tc.want {
			t.Errorf("%s: Shifted = %v, want %v", tc.name, got, tc.want)
		}
	}
}

var zero float64
