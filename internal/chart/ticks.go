package chart

import (
	"math"
	"strconv"

	"gonum.org/v1/plot"
)

// Ticks is a plot.Ticker of round, labelled major ticks (1, 2, 2.5 or 5
// times a power of ten apart) with unlabelled minor ticks between them.
// The major ticks reach the first round value at or beyond each end of
// the range, so an axis with AutoRescale widens to them.
type Ticks struct {
	N       int  // about how many major ticks; 0 means 10
	Integer bool // whole steps and minor steps only (counts)
}

// maxTicks bounds the major ticks Ticks returns for any N.
const maxTicks = 100

// Ticks implements plot.Ticker.
func (t Ticks) Ticks(lo, hi float64) []plot.Tick {
	if math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return nil
	}
	if lo > hi {
		lo, hi = hi, lo
	}
	n := t.N
	if n <= 0 {
		n = 10
	}
	n = min(n, maxTicks)
	span := hi - lo
	if span == 0 {
		span = math.Max(math.Abs(lo), 1)
	}
	step, minor, decimals := niceStep(span / float64(n))
	if t.Integer {
		if step != math.Trunc(step) {
			step, minor, decimals = niceStep(math.Ceil(step))
		}
		for minor > 1 && step/float64(minor) != math.Trunc(step/float64(minor)) {
			minor--
		}
	}
	if !(step > 1e-12*max(math.Abs(lo), math.Abs(hi))) {
		// A span too small for round steps this far from zero (or a step
		// that is not a number): label the ends.
		return []plot.Tick{{Value: lo, Label: strconv.FormatFloat(lo, 'g', -1, 64)}, {Value: hi, Label: strconv.FormatFloat(hi, 'g', -1, 64)}}
	}
	k0 := math.Floor(lo/step + 1e-9)
	if k0*step > lo { // rounding
		k0--
	}
	count := max(1, int(math.Ceil(hi/step-1e-9)-k0))
	if (k0+float64(count))*step < hi {
		count++
	}
	count = min(count, 2*maxTicks)
	ts := make([]plot.Tick, 0, count*minor+1)
	for i := 0; i <= count; i++ {
		v := (k0 + float64(i)) * step
		if v == 0 {
			v = 0 // no "-0"
		}
		ts = append(ts, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', decimals, 64)})
		for m := 1; m < minor && i < count; m++ {
			ts = append(ts, plot.Tick{Value: v + float64(m)*step/float64(minor)})
		}
	}
	return ts
}

// niceStep returns the round step at or above raw (1, 2, 2.5 or 5 times a
// power of ten), how many minor intervals a major one splits into, and the
// decimals its labels need.
func niceStep(raw float64) (step float64, minor, decimals int) {
	exp := math.Floor(math.Log10(raw))
	pow := math.Pow(10, exp)
	f := raw / pow
	var mant float64
	switch {
	case f <= 1+1e-9:
		mant, minor = 1, 5
	case f <= 2+1e-9:
		mant, minor = 2, 4
	case f <= 2.5+1e-9:
		mant, minor = 2.5, 5
	case f <= 5+1e-9:
		mant, minor = 5, 5
	default:
		mant, minor, exp, pow = 1, 5, exp+1, pow*10
	}
	decimals = max(0, -int(exp))
	if mant == 2.5 {
		decimals = max(0, 1-int(exp))
	}
	return mant * pow, minor, decimals
}
