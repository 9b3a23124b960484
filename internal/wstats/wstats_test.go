package wstats

import (
	"math"
	"slices"
	"testing"
)

func TestPercentiles(t *testing.T) {
	var h Histogram
	if p := h.Percentiles(0.5); !math.IsNaN(p[0]) {
		t.Errorf("empty: %v", p)
	}
	h.Add(10, 1)
	h.Add(30, 1)
	h.Add(20.04, 2)
	h.Add(-5, 0) // clamped into bin 0 with no weight: never a percentile
	h.Add(1e9, 0)
	got := h.Percentiles(0.25, 0.5, 0.75, 1)
	if want := []float64{10, 20, 20, 30}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if h.Total() != 4 {
		t.Errorf("total %v", h.Total())
	}
}
