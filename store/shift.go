package store

import "math"

// Change detection (the builder's recent-shift rule, the measurement
// planner's re-measurement of what looks changed): is a (network, PoP)'s
// quantile over its recent samples different from the one over a longer
// window by more than noise?

// ShiftTest is the change detector's settings.
type ShiftTest struct {
	// Z is how many standard errors of the difference a shift must
	// exceed; MinMs the smallest shift (ms) that counts at all.
	Z, MinMs float64
	// MinRecent is the fewest recent samples of a (network, PoP) to test.
	MinRecent int
}

// Shifted reports whether a (network, PoP)'s quantile q over its recent
// samples (recent, from nRecent samples) differs from the quantile over
// the whole window (whole, from nWhole samples, the recent ones
// included) by more than noise, given the per-sample spread sigma (ms:
// SampleSpread).
//
// Noise: the quantile q of n samples of an exponential tail with spread
// σ has a standard error of σ·sqrt(q/(1−q)/n); the recent samples are
// part of the whole window, so the difference of the two quantiles has a
// variance of about σ²·q/(1−q)·(1/nRecent − 1/nWhole). A shift exceeds Z
// of those standard errors and MinMs. Nothing is a shift when every
// sample is recent (no older data to differ from) or when either value
// is not a finite positive number.
func Shifted(whole float64, nWhole int, recent float64, nRecent int, sigma, q float64, t ShiftTest) bool {
	if nRecent < max(t.MinRecent, 1) || nRecent >= nWhole || !(whole > 0) || !(recent > 0) ||
		math.IsInf(whole, 0) || math.IsInf(recent, 0) || !(q > 0 && q < 1) || !(sigma > 0) {
		return false
	}
	d := math.Abs(recent - whole)
	if d < t.MinMs {
		return false
	}
	se := sigma * math.Sqrt(q/(1-q)*(1/float64(nRecent)-1/float64(nWhole)))
	return d > t.Z*se
}

// MinSpreadSamples is the fewest samples of a (network, PoP) whose own
// dispersion SampleSpread trusts; under it, the store's spread model.
const MinSpreadSamples = 8

// SampleSpread is the per-sample spread (ms) of a (network, PoP) whose
// n samples have the quantiles hi at qHi and lo at qLo < qHi: for an
// exponential tail of spread σ, hi − lo = σ·ln((1−qLo)/(1−qHi)), so σ is
// that difference over the logarithm. Under MinSpreadSamples samples,
// and when the quantiles make no sense, it is the store's model
// (Spread(hi)). It is at least 0.3 ms plus 2 % of hi: RTTs timed
// to 0.1 ms by a browser can have the same value at both quantiles.
func SampleSpread(hi, lo, qHi, qLo float64, n int) float64 {
	floor := 0.3 + 0.02*hi
	if n < MinSpreadSamples || !(lo <= hi) || !(qLo >= 0 && qLo < qHi && qHi < 1) || math.IsInf(hi, 0) {
		return max(Spread(hi), floor)
	}
	return max((hi-lo)/math.Log((1-qLo)/(1-qHi)), floor)
}
