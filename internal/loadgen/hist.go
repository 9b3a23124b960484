package loadgen

import (
	"math/bits"
	"time"
)

// hist is a log-linear latency histogram in nanoseconds: 64 linear
// sub-buckets per power of two, so a reported quantile is within 1/64
// (1.6 %) of the true value. Recording is a few instructions and never
// allocates; merging is a loop over ~2k counters.
type hist struct {
	n      uint64
	max    int64
	counts [histBuckets]uint32
}

const (
	histSub     = 64
	histSubBits = 6
	histBuckets = (64 - histSubBits + 1) * histSub
)

func histIndex(v int64) int {
	if v < histSub {
		if v < 0 {
			return 0
		}
		return int(v)
	}
	e := bits.Len64(uint64(v)) - histSubBits // ≥ 1
	return e*histSub + int(uint64(v)>>(e-1)) - histSub
}

// histValue returns the upper bound of bucket i.
func histValue(i int) int64 {
	if i < histSub {
		return int64(i)
	}
	e := i / histSub
	sub := i%histSub + histSub
	return int64(sub+1)<<(e-1) - 1
}

func (h *hist) record(v int64) {
	h.counts[histIndex(v)]++
	h.n++
	if v > h.max {
		h.max = v
	}
}

func (h *hist) merge(o *hist) {
	if o == nil {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the q-quantile (0..1); the maximum is exact.
func (h *hist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	if q >= 1 {
		return time.Duration(h.max)
	}
	rank := uint64(q*float64(h.n-1)) + 1
	var acc uint64
	for i, c := range h.counts {
		acc += uint64(c)
		if acc >= rank {
			return time.Duration(min(histValue(i), h.max))
		}
	}
	return time.Duration(h.max)
}
