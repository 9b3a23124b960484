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

// Score is a steering strategy's traffic-weighted result: how much traffic
// its map entries answered (Coverage), the share at its best PoP (AtBest),
// the mean extra latency over the best (Regret, ms) and latency
// percentiles (ms). steer eval prints it for the truth and for held-out
// data alike.
type Score struct {
	Networks int     `json:"networks"`
	Traffic  float64 `json:"traffic"`
	Coverage float64 `json:"coverage"`
	AtBest   float64 `json:"at_best"`
	Regret   float64 `json:"regret_ms"`
	P50      float64 `json:"p50_ms"`
	P75      float64 `json:"p75_ms"`
	P95      float64 `json:"p95_ms"`
}

// Scorer accumulates a Score.
type Scorer struct {
	n                        int
	w, covered, best, regret float64
	h                        Histogram
}

// Add counts one network (or client) of traffic w whose latency is lat
// where the best achievable is best; covered says a map entry answered it.
func (a *Scorer) Add(w, lat, best float64, covered bool) {
	a.n++
	a.w += w
	if covered {
		a.covered += w
	}
	if lat <= best+1e-6 {
		a.best += w
	}
	a.regret += w * (lat - best)
	a.h.Add(lat, w)
}

// Score returns what was added.
func (a *Scorer) Score() Score {
	s := Score{Networks: a.n, Traffic: a.w}
	if a.w > 0 {
		s.Coverage, s.AtBest, s.Regret = a.covered/a.w, a.best/a.w, a.regret/a.w
	}
	p := a.h.Percentiles(0.5, 0.75, 0.95)
	s.P50, s.P75, s.P95 = p[0], p[1], p[2]
	return s
}
