// Package wstats holds traffic-weighted latency statistics in constant
// memory: the simulator's report and the map evaluator share it.
package wstats

import "math"

// Histogram holds weight by latency in 0.1 ms bins up to 60 s: percentiles
// to 0.1 ms however many values went in. The zero value is empty.
type Histogram struct {
	bins  []float64
	total float64
}

const bins = 600_000

// Add adds weight w at latency v (ms); values outside [0, 60 s) go to the
// first or last bin.
func (h *Histogram) Add(v, w float64) {
	if h.bins == nil {
		h.bins = make([]float64, bins)
	}
	h.bins[min(max(int(v*10+0.5), 0), bins-1)] += w
	h.total += w
}

// Total is the weight added.
func (h *Histogram) Total() float64 { return h.total }

// Percentiles returns, for each q in [0, 1], the smallest bin value at or
// below which a share q of the weight lies (NaN when empty).
func (h *Histogram) Percentiles(qs ...float64) []float64 {
	out := make([]float64, len(qs))
	for i, q := range qs {
		target, cum := q*h.total, 0.0
		out[i] = math.NaN()
		for b, w := range h.bins {
			cum += w
			if w > 0 && cum >= target*(1-1e-12) {
				out[i] = float64(b) / 10
				break
			}
		}
	}
	return out
}
